/**
 * Messages between the extension host / CLI (host) and the scoring worker (src/engine/worker.ts).
 * Plain structured-clone data only: no class instances, functions or AbortSignals cross the port.
 */
import type { ScoreItem, ScoreResult, ScoreStats, ScorerInfo } from './scorer';

/**
 * Execution provider to run on. `auto` picks the platform's accelerator; any other name is an
 * onnxruntime provider to try first. Either way an unavailable one falls back to `cpu`, and
 * ScorerInfo.fallbackReason says why. Open-ended (`string & {}`) because it comes from settings and
 * CLI flags; the named members are the usual ones.
 */
export type Device = 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu' | (string & {});

/** The devices a user can name (setting `preferenceLens.device`'s enum, CLI `--device`). */
export const DEVICE_CHOICES = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;

/** The prompt formats a user can pick (setting `preferenceLens.template`, CLI `--template`). */
export const TEMPLATE_CHOICES = ['auto', 'tulu', 'chat_template', 'text-pair'] as const;
/**
 * `auto`: the model's chat template when its folder has one, else `tulu`. `chat_template`: the
 * model's own (an error when it has none). `tulu`: open-instruct's format (the Tulu 2.5 RMs).
 * `text-pair`: (prompt, response) joined by the tokenizer, for DeBERTa-style RMs.
 */
export type TemplateChoice = (typeof TEMPLATE_CHOICES)[number];

export const MODEL_VARIANTS = ['auto', 'fp32', 'int8', 'int4', 'fp16', 'quantized'] as const;
/**
 * Hugging Face checkpoints are built at load in `fp32` (exact), `int8` (about 2× faster on CPUs) or
 * `int4` (a quarter of the memory); `auto` takes fp32 when it fits in memory, else int8, else int4.
 * ONNX exports pick a file: `fp32` model.onnx, `fp16` model_fp16.onnx, `quantized`/`int8`
 * model_quantized.onnx (or _int8), `int4` model_q4.onnx; `auto` takes full precision when the folder
 * has it, else quantized, else fp16.
 */
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

export interface LoadOptions {
  /** Folder with model.onnx (or onnx/model.onnx), tokenizer.json and optional configs. */
  modelDir: string;
  device?: Device;
  /** Padded tokens (batch size × longest sequence) per inference call. */
  batchTokens?: number;
  /** Upper bound on tokens per sequence; the model's own limit still applies. */
  maxLength?: number;
  /** How a conversation becomes the model's input; default `auto`. */
  template?: TemplateChoice;
  /** Which ONNX file of a transformers.js folder (`onnx/model*.onnx`); default `auto`. */
  variant?: ModelVariant;
  /**
   * Which logit is the reward when the model has more than one label (a classifier exported as a
   * reward model); a single-label model needs none.
   */
  logitIndex?: number;
  /**
   * Folder for persisted scores (see engine/scoreCache.ts); no caching without it. The CLI defaults
   * to defaultCacheDir(), the extension passes its global storage folder.
   */
  cacheDir?: string;
  /**
   * An onnxruntime-node copy with the CUDA provider libraries (installed into the extension's
   * storage by *Install GPU Support*), loaded instead of the bundled one; see session.onnxRuntime.
   */
  onnxRuntimeDir?: string;
  /**
   * The worker bundle, started again as a tokenizer thread (see tokenizerThread.ts) so that
   * tokenizing overlaps inference; without it the engine tokenizes on its own thread. Set by the
   * worker itself, not the host.
   */
  tokenizerScript?: string;
  /** `false`: no tokenizer thread, tokenize between inference calls (the benchmark's baseline). Default true. */
  tokenizerThread?: boolean;
  /** CPU threads for inference; default every core but one (the editor keeps one). The CLI takes them all. */
  threads?: number;
  /**
   * Build checkpoints with onnxruntime's fused attention / rotary / norm operators instead of plain
   * ONNX ops (same rewards; see engine/hf/layers.ts). For benchmarks and tests; default true (the faster form).
   */
  fusedOps?: boolean;
}

/** Reported while a checkpoint's graph is built (minutes for a 13B model), for progress bars. */
export interface LoadProgress {
  stage: 'build';
  done: number;
  total: number;
}

export type HostToWorker =
  | ({ type: 'load' } & LoadOptions)
  | { type: 'score'; jobId: number; items: ScoreItem[] }
  | { type: 'cancel'; jobId: number }
  /** Release the session's native memory before the host terminates the worker. */
  | { type: 'unload' };

export type WorkerToHost =
  | { type: 'loaded'; info: ScorerInfo }
  /** A checkpoint's graph is being built (load() of a Hugging Face folder): `done` of `total` steps. */
  | { type: 'load-progress'; stage: 'build'; done: number; total: number }
  | { type: 'unloaded' }
  | { type: 'results'; jobId: number; results: ScoreResult[] }
  | { type: 'progress'; jobId: number; done: number; total: number }
  | { type: 'done'; jobId: number; stats: ScoreStats }
  /** Without `jobId` the error concerns loading (or a message the worker could not handle). */
  | { type: 'error'; jobId?: number; message: string };
