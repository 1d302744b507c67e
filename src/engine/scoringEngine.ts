/**
 * The scoring pipeline that runs inside the worker: one warm onnxruntime session, tokenization,
 * length-bucketed batches, results per batch. Kept free of worker plumbing so it reads (and fails)
 * the same way in a test.
 */
import type * as ort from 'onnxruntime-node';
import type { LoadOptions, LoadProgress } from './workerProtocol';
import { abortError } from './abort';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import type { ModelVariant } from './workerProtocol';
import { MAX_BATCH_SIZE, padBatch, planBatches, type PaddedBatch } from './batching';
import { buildHfModel, type BuiltModel } from './hf/hfModel';
import type { Precision } from './hf/layers';
import { WeightStore } from './hf/safetensors';
import { createItemEncoder, type Encoded, type ItemEncoder, type ModelInput } from './encoder';
import { TokenizerThread } from './tokenizerThread';
import { readModelFolder } from './modelFolder';
import type { ScoreItem, ScoreResult, ScoreStats, ScorerInfo } from './scorer';
import { modelIdentity, ScoreCache } from './scoreCache';
import { createSession, onnxRuntime } from './session';

/**
 * Padded tokens per inference call on a CPU when the caller does not say. Small on purpose: on the
 * 0.5B benchmark model, 1024 scored 30% (fp32) to 45% (int8) faster than 4096 and needed 40% less
 * peak memory — attention's T² scores and the MLP's activations stay in cache (bench/README.md).
 */
export const DEFAULT_BATCH_TOKENS = 1024;
/** On an accelerator, bigger batches keep it busy. */
export const ACCELERATOR_BATCH_TOKENS = 8192;
/**
 * Items tokenized before their batches run. Bucketing needs lengths first, but tokenizing a whole
 * dataset up front would hold back the first result for minutes (~44k tokens/s for Llama).
 */
export const WINDOW_ITEMS = 256;
/** Tokenized items between yields to the event loop, so a cancel message is seen promptly. */
const YIELD_EVERY = 16;

interface TokenizedWindow {
  hits: ScoreResult[];
  misses: Array<{ item: ScoreItem; key: string | undefined; ids: number[]; typeIds: number[] | undefined; truncated: boolean }>;
}

export interface ScoreHooks {
  isCancelled(): boolean;
  onResults(results: ScoreResult[]): void;
  onProgress(done: number, total: number): void;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** fp16 exports return `Uint16Array` on Node 20; reads one IEEE half. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The reward of each row: its only logit, or logit `logitIndex` of a multi-label export. */
export function rewardsOf(output: ort.Tensor, rows: number, logitIndex: number | undefined, labelNames: string): number[] {
  const labels = output.dims.length === 2 ? output.dims[1] : -1;
  if (output.dims[0] !== rows || labels < 1) {
    throw new Error(
      `The model returned logits of shape [${output.dims.join(', ')}]; a reward model returns one score per item ` +
        `([${rows}, 1]). Is this a sequence-classification export?`,
    );
  }
  if (labels > 1 && logitIndex === undefined) {
    throw new Error(
      `The model has ${labels} labels (${labelNames}); a reward model has one. If one of its logits is the reward, ` +
        'say which: the preferenceLens.logitIndex setting or plens --logit <index> (0-based, in config.json id2label order).',
    );
  }
  const column = logitIndex ?? 0;
  if (column >= labels) throw new Error(`Logit ${column} was asked for, but the model has ${labels} (0-based indices 0–${labels - 1}).`);
  const data = output.data;
  let values: ArrayLike<number>;
  if (output.type === 'float16' && data instanceof Uint16Array) values = Array.from(data, halfToFloat);
  else if (data instanceof Float32Array || data instanceof Float64Array) values = data;
  else throw new Error(`Unsupported logits type ${output.type}`);
  return Array.from({ length: rows }, (_, row) => values[row * labels + column]);
}

/** Builds the feeds an export may ask for; anything else is an export this engine cannot drive. */
function feedsFor(session: ort.InferenceSession, batch: PaddedBatch): Record<string, ort.Tensor> {
  const { Tensor } = onnxRuntime();
  const shape = [batch.rows, batch.width];
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = new Tensor('int64', batch.inputIds, shape);
    else if (name === 'attention_mask') feeds[name] = new Tensor('int64', batch.attentionMask, shape);
    // Segment ids of text-pair input; all 0 for one-segment input, as BERT-style models expect.
    else if (name === 'token_type_ids') feeds[name] = new Tensor('int64', batch.tokenTypeIds, shape);
    // Right padding: real tokens sit at 0..n-1 in every row, as in training.
    else if (name === 'position_ids') {
      const positions = new BigInt64Array(batch.rows * batch.width);
      for (let i = 0; i < positions.length; i++) positions[i] = BigInt(i % batch.width);
      feeds[name] = new Tensor('int64', positions, shape);
    }
  }
  return feeds;
}

const SUPPORTED_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);

/** What batches may hold: any lengths, padded with the pad id; or only equal lengths, no padding at all. */
type Padding = { kind: 'pad' } | { kind: 'exact-length'; reason: string };

/** Relative difference past which a padded reward is taken as a different reward (float noise is ~1e-6). */
const PADDING_TOLERANCE = 1e-3;

/**
 * How a checkpoint is built when the user said `auto`: exact fp32 when its float32 weights fit in
 * half the machine's memory, else int8, else int4 — so a 13B model loads on a 24 GB machine instead
 * of failing after minutes. The user is told which.
 */
export function autoPrecision(parameters: number, totalMemory = os.totalmem()): Precision {
  if (parameters * 4 <= totalMemory / 2) return 'fp32';
  if (parameters <= totalMemory / 2) return 'int8';
  return 'int4';
}

function checkpointPrecision(variant: ModelVariant | undefined, dir: string): Precision {
  if (variant === 'fp32' || variant === 'int8' || variant === 'int4') return variant;
  if (variant === 'quantized') return 'int8';
  return autoPrecision(WeightStore.open(dir, (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined)).parameterCount());
}

export class ScoringEngine {
  private constructor(
    readonly info: ScorerInfo,
    private readonly session: ort.InferenceSession,
    private readonly encoder: ItemEncoder,
    private readonly outputName: string,
    private readonly batchTokens: number,
    /** Dropped after a failed write, so a full or read-only disk costs one warning, not every batch. */
    private cache: ScoreCache | undefined,
    private readonly logitIndex: number | undefined,
    /** The model's labels from config.json, for the message when a logit must be chosen. */
    private readonly labelNames: string,
    private readonly padding: Padding,
    private readonly tokenizer: TokenizerThread | undefined,
  ) {}

  static async load(options: LoadOptions, onProgress?: (progress: LoadProgress) => void): Promise<ScoringEngine> {
    const folder = await readModelFolder(options.modelDir, options.variant);
    // A DeBERTa/BERT-style classifier reads (prompt, response) as a pair, not a rendered chat.
    const template = (options.template ?? 'auto') === 'auto' && readsTextPair(folder.config.architectures?.[0]) ? 'text-pair' : options.template;
    // Tokenizer problems are cheaper to find than a multi-GB session load; do them first.
    const encoder = await createItemEncoder(folder, { maxLength: options.maxLength, template });
    // The tokenizer thread builds its own encoder while the session loads. If it cannot start, this
    // thread tokenizes: slower where there are idle cores, the same rewards.
    const tokenizer = options.tokenizerScript
      ? TokenizerThread.start(options.tokenizerScript, { modelDir: options.modelDir, variant: options.variant, maxLength: options.maxLength, template }).catch(() => undefined)
      : Promise.resolve(undefined);
    try {
      return await ScoringEngine.finishLoad(options, folder, encoder, tokenizer, onProgress);
    } catch (error) {
      await (await tokenizer)?.dispose();
      throw error;
    }
  }

  private static async finishLoad(
    options: LoadOptions,
    folder: Awaited<ReturnType<typeof readModelFolder>>,
    encoder: ItemEncoder,
    tokenizer: Promise<TokenizerThread | undefined>,
    onProgress?: (progress: LoadProgress) => void,
  ): Promise<ScoringEngine> {
    let modelPath: string;
    let built: BuiltModel | undefined;
    if (folder.kind === 'checkpoint') {
      const precision = checkpointPrecision(options.variant, folder.dir);
      built = buildHfModel(folder.dir, {
        precision,
        // onnxruntime's fused attention / rotary / norm: 4% faster and 10% less peak memory than the
        // plain graph on the benchmark model (bench/README.md), the same rewards to 1e-6.
        fused: options.fusedOps ?? true,
        cacheDir: options.cacheDir,
        onProgress: (done, total) => onProgress?.({ stage: 'build', done, total }),
      });
      modelPath = built.modelPath;
    } else {
      modelPath = folder.modelPath;
    }
    let created: Awaited<ReturnType<typeof createSession>>;
    try {
      created = await createSession(modelPath, options.device, options.threads, options.onnxRuntimeDir);
    } finally {
      // onnxruntime has read a temporary build's weights into memory; the files are not needed again.
      if (built?.temporary) await fs.rm(built.dir, { recursive: true, force: true });
    }
    const { session, device, fallbackReason } = created;
    const unsupported = session.inputNames.filter((name) => !SUPPORTED_INPUTS.has(name));
    if (unsupported.length > 0 || !session.inputNames.includes('input_ids')) {
      await session.release();
      throw new Error(
        `${modelPath} takes inputs [${session.inputNames.join(', ')}]; the scorer feeds input_ids, attention_mask ` +
          'and optionally token_type_ids / position_ids. Re-export with `optimum-cli export onnx --task text-classification`.',
      );
    }
    const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
    const info: ScorerInfo = { model: folder.name, device, template: encoder.format, ...(fallbackReason ? { fallbackReason } : {}) };
    if (built) {
      info.precision = built.precision;
      info.weights =
        `${built.architecture} checkpoint (${built.sourceDtype}) run in ${built.precision}` +
        (built.cached ? ', graph from the build cache' : `, graph built in ${built.seconds.toFixed(1)} s`);
    }
    const labelNames = Object.entries(folder.config.id2label ?? {})
      .map(([index, name]) => `${index}: ${name}`)
      .join(', ') || 'no id2label in config.json';
    const logitIndex = options.logitIndex;
    // A graph we built pools by a rule we know (see hf/layers.ts pooledPositions); an export's rule is checked.
    const padding = built ? ({ kind: 'pad' } as const) : await exportPadding(session, encoder, folder.config.pad_token_id, outputName, logitIndex, labelNames);
    if (padding.kind === 'exact-length') info.padding = `Scoring without padding (only inputs of equal length share a batch): ${padding.reason}`;
    let cache: ScoreCache | undefined;
    if (options.cacheDir !== undefined) {
      // The cache only saves time: when it cannot be opened, scoring goes on and the user is told why.
      try {
        const settings = {
          template: encoder.format,
          maxLength: encoder.maxLength,
          ...(logitIndex !== undefined ? { logitIndex } : {}),
          ...(built ? { precision: built.precision } : {}),
        };
        cache = await ScoreCache.open(options.cacheDir, await modelIdentity(folder, settings), { model: folder.name, modelPath, ...settings });
        info.cache = cache.file;
      } catch (error) {
        info.cacheError = `Scores are not cached: ${(error as Error).message}`;
      }
    }
    return new ScoringEngine(info, session, encoder, outputName, Math.max(1, options.batchTokens ?? (device === 'cpu' ? DEFAULT_BATCH_TOKENS : ACCELERATOR_BATCH_TOKENS)), cache, logitIndex, labelNames, padding, await tokenizer);
  }

  /**
   * Scores `items`, reporting each batch as it finishes; throws an AbortError once cancelled.
   * Items whose text is in the score cache are reported first, without running the model. With a
   * tokenizer thread, the next window is tokenized there while this one's batches run.
   */
  async score(items: readonly ScoreItem[], hooks: ScoreHooks): Promise<ScoreStats> {
    const started = performance.now();
    const stats = { items: 0, tokens: 0, seconds: 0, tokenizeSeconds: 0, inferenceSeconds: 0, truncated: 0, cached: 0, modelCalls: 0 };
    let cacheError: string | undefined;
    // With a tokenizer thread, the next window is asked for before this one's batches run, so the
    // two overlap. Without one, it waits: interleaving both on one thread only makes each slower.
    const overlap = this.tokenizer !== undefined;
    let next: Promise<TokenizedWindow> | undefined = this.tokenizeWindow(items, 0, stats, hooks);
    for (let windowStart = 0; next; windowStart += WINDOW_ITEMS) {
      // Tokenizing time is what inference waited for it: all of it on one thread, what the
      // tokenizer thread had not finished in time with one.
      const waitStart = performance.now();
      const { hits, misses } = await next;
      stats.tokenizeSeconds += (performance.now() - waitStart) / 1000;
      const nextStart = windowStart + WINDOW_ITEMS;
      const tokenizeNext = () => (nextStart < items.length ? this.tokenizeWindow(items, nextStart, stats, hooks) : undefined);
      next = overlap ? tokenizeNext() : undefined;
      // A cancel or a failed batch leaves the window in flight unread: its failure is not news.
      next?.catch(() => undefined);
      if (hits.length > 0) {
        hooks.onResults(hits);
        stats.items += hits.length;
        stats.cached += hits.length;
        hooks.onProgress(stats.items, items.length);
      }

      for (const batch of planBatches(misses.map(({ ids }) => ids.length), this.batchTokens, MAX_BATCH_SIZE, this.padding.kind === 'exact-length')) {
        await yieldToEventLoop();
        if (hooks.isCancelled()) throw abortError();
        const batchSequences = batch.map((index) => misses[index].ids);
        const inferenceStart = performance.now();
        const rewards = await this.run(
          batchSequences,
          batch.map((index) => misses[index].typeIds),
        );
        stats.inferenceSeconds += (performance.now() - inferenceStart) / 1000;
        stats.modelCalls++;
        hooks.onResults(batch.map((index, row) => ({ id: misses[index].item.id, reward: rewards[row] })));
        stats.items += batch.length;
        stats.tokens += batchSequences.reduce((sum, ids) => sum + ids.length, 0);
        hooks.onProgress(stats.items, items.length);
        if (this.cache) {
          try {
            await this.cache.add(batch.map((index, row) => ({ key: misses[index].key as string, reward: rewards[row], truncated: misses[index].truncated })));
          } catch (error) {
            this.cache = undefined;
            cacheError = `Scores are no longer cached: ${(error as Error).message}`;
          }
        }
      }
      if (!overlap) next = tokenizeNext();
    }
    stats.seconds = (performance.now() - started) / 1000;
    return cacheError === undefined ? stats : { ...stats, cacheError };
  }

  /**
   * The window of items from `windowStart`: cache hits, and the token ids of the rest. The text an
   * item is cached under is rendered here (cheap); the ids come from the tokenizer thread when there
   * is one, else from this thread.
   */
  private async tokenizeWindow(items: readonly ScoreItem[], windowStart: number, stats: { truncated: number }, hooks: ScoreHooks): Promise<TokenizedWindow> {
    const window = items.slice(windowStart, windowStart + WINDOW_ITEMS);
    const hits: ScoreResult[] = [];
    const toEncode: Array<{ item: ScoreItem; key: string | undefined; input: ModelInput | undefined }> = [];
    for (const item of window) {
      // The text is rendered here only when it is needed here: for the cache's key, or to tokenize
      // on this thread; the tokenizer thread renders its own.
      const input = this.cache || !this.tokenizer ? this.failingAs(item, () => this.encoder.input(item.prompt, item.response)) : undefined;
      const key = input && this.cache?.keyOf(input.text);
      const hit = key === undefined ? undefined : this.cache?.get(key);
      if (hit) {
        hits.push({ id: item.id, reward: hit.reward });
        if (hit.truncated) stats.truncated++;
      } else toEncode.push({ item, key, input });
    }
    let encoded: Encoded[];
    if (this.tokenizer) {
      const thread = this.tokenizer;
      encoded = await thread.encode(toEncode.map(({ item }) => item)).catch((error: Error) => {
        const item = /^item (\d+) of the window/.exec(error.message);
        throw new Error(`Item ${item ? toEncode[Number(item[1]) - 1]?.item.id : '?'}: ${error.message.replace(/^item \d+ of the window: /, '')}`, { cause: error });
      });
    } else {
      encoded = [];
      for (const [index, { item, input }] of toEncode.entries()) {
        if (index % YIELD_EVERY === 0) {
          await yieldToEventLoop();
          if (hooks.isCancelled()) throw abortError();
        }
        // Both responses of a pair share the prompt: the encoder reuses its tokens from the previous item.
        // Without a tokenizer thread every input was rendered above.
        encoded.push(this.failingAs(item, () => input!.encode()));
      }
    }
    const misses = toEncode.map(({ item, key }, index) => {
      const { ids, typeIds, truncated } = encoded[index];
      if (truncated) stats.truncated++;
      return { item, key, ids, typeIds, truncated };
    });
    return { hits, misses };
  }

  /** Runs `step` for `item`, naming the item in its error. */
  private failingAs<T>(item: ScoreItem, step: () => T): T {
    try {
      return step();
    } catch (error) {
      throw new Error(`Item ${item.id}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** One inference call: the rewards of `sequences`, right-padded into one batch. */
  private async run(sequences: readonly (readonly number[])[], typeIds?: readonly (readonly number[] | undefined)[]): Promise<number[]> {
    const padded = padBatch(sequences, this.encoder.padId, typeIds);
    const outputs = await this.session.run(feedsFor(this.session, padded));
    return rewardsOf(outputs[this.outputName], padded.rows, this.logitIndex, this.labelNames);
  }

  /**
   * Rewards of token-id sequences given directly, batched as score() batches them (same budget,
   * same padding rule): for checks against references computed from ids, and for scoring ids that
   * came from elsewhere.
   */
  async scoreTokenIds(sequences: readonly (readonly number[])[]): Promise<number[]> {
    const rewards = new Array<number>(sequences.length);
    for (const batch of planBatches(sequences.map((ids) => ids.length), this.batchTokens, MAX_BATCH_SIZE, this.padding.kind === 'exact-length')) {
      const batchRewards = await this.run(batch.map((index) => sequences[index]));
      batch.forEach((index, row) => (rewards[index] = batchRewards[row]));
    }
    return rewards;
  }

  /** Whether tokenizing overlaps inference (a tokenizer thread started), for tests and benchmarks. */
  get tokenizesOnThread(): boolean {
    return this.tokenizer !== undefined;
  }

  async dispose(): Promise<void> {
    await this.tokenizer?.dispose();
    await this.session.release();
  }
}

/** Architectures whose classifier reads two segments (a text pair), as BERT-family cross-encoders do. */
function readsTextPair(architecture: string | undefined): boolean {
  return architecture !== undefined && /^(DebertaV2|Deberta|Bert|Roberta|XLMRoberta|Electra)ForSequenceClassification$/.test(architecture);
}

/**
 * Whether an ONNX export may be fed right-padded batches. Its pooling rule is inside the graph:
 * optimum traces transformers' "last token that is not pad_token_id", which padding with that id
 * leaves alone; but a config with `pad_token_id: null` (the Tulu 2.5 RMs) or a graph that reads
 * the last position would score a pad token instead. So: no pad id, no padding; with one, a probe —
 * one input alone and the same input padded in a batch must get the same reward.
 */
async function exportPadding(
  session: ort.InferenceSession,
  encoder: ItemEncoder,
  padTokenId: number | null | undefined,
  outputName: string,
  logitIndex: number | undefined,
  labelNames: string,
): Promise<Padding> {
  if (typeof padTokenId !== 'number') {
    return { kind: 'exact-length', reason: 'config.json has no pad_token_id, so how this export pools a padded input is unknown' };
  }
  const probe = encoder.input([{ role: 'user', content: 'Which is better?' }], [{ role: 'assistant', content: 'This one.' }]).encode();
  const longer = encoder.input([{ role: 'user', content: 'Which is better? Say why, at length.' }], [{ role: 'assistant', content: 'This one, for three reasons.' }]).encode();
  if (longer.ids.length <= probe.ids.length) return { kind: 'pad' };
  const run = async (rows: Array<{ ids: number[]; typeIds?: number[] }>) => {
    const batch = padBatch(rows.map((row) => row.ids), encoder.padId, rows.map((row) => row.typeIds));
    const outputs = await session.run(feedsFor(session, batch));
    return rewardsOf(outputs[outputName], batch.rows, logitIndex ?? 0, labelNames);
  };
  const [alone] = await run([probe]);
  const [padded] = await run([probe, longer]);
  if (Math.abs(alone - padded) <= PADDING_TOLERANCE * Math.max(1, Math.abs(alone))) return { kind: 'pad' };
  return {
    kind: 'exact-length',
    reason: `padding with pad_token_id ${padTokenId} changes this export's reward (${alone.toFixed(4)} alone, ${padded.toFixed(4)} padded): its graph does not skip that id when pooling`,
  };
}
