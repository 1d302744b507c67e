/**
 * A Hugging Face model folder as people download it (config.json + safetensors) made runnable by
 * onnxruntime: the architecture's graph is built here, in process, with the weights converted to
 * the chosen precision and streamed to a weights file beside it. The result is kept in a cache
 * folder keyed by the checkpoint and the build settings, so the second load of a model is a plain
 * onnxruntime load; without a cache folder it goes to a temporary folder the caller removes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelFolderError } from '../modelFolderError';
import { architectureOf } from './architectures';
import { ConfigReader, type HfConfig } from './config';
import { Layers, type Precision } from './layers';
import { GraphBuilder, WeightFileWriter } from './onnxGraph';
import { SHARD_INDEX, SINGLE_FILE, WeightStore } from './safetensors';

/** Bumped whenever a change to the builders changes the graph, so stale builds are never loaded. */
export const BUILDER_VERSION = 1;
/** Builds kept in a cache folder; older ones are deleted (each can be gigabytes). */
const KEPT_BUILDS = 3;
/** Rotary tables past this many rows are not built (the engine never feeds longer inputs). */
export const MAX_TABLE_POSITIONS = 32768;
const DONE_FILE = 'build.json';

export interface HfBuildOptions {
  precision: Precision;
  /** Use onnxruntime's fused attention / rotary / norm operators (same results, see layers.ts). */
  fused?: boolean;
  /** Where builds are kept between loads; without it the build goes to a temporary folder. */
  cacheDir?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface BuiltModel {
  modelPath: string;
  /** The build's folder; `temporary` ones are the caller's to delete once the session is loaded. */
  dir: string;
  temporary: boolean;
  architecture: string;
  /** The graph's inputs, in order. */
  inputs: string[];
  /** The id the graph's pooling skips (config.json's pad_token_id); undefined: it pools by the attention mask. */
  padTokenId: number | undefined;
  /** The checkpoint's own dtype (BF16, F16, F32). */
  sourceDtype: string;
  precision: Precision;
  fused: boolean;
  /** True when an earlier build was reused. */
  cached: boolean;
  /** Seconds spent building (0 when cached). */
  seconds: number;
  /** Whether the model reads a (prompt, response) pair (DeBERTa-style) rather than one conversation. */
  textPair: boolean;
}

const PICKLE_FILES = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'model.pt', 'model.ckpt'];

/** Whether `dir` is a transformers checkpoint folder (config.json and safetensors weights). */
export function isHfFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'config.json')) && (existsSync(path.join(dir, SINGLE_FILE)) || existsSync(path.join(dir, SHARD_INDEX)));
}

/**
 * Why a folder with config.json cannot be read as a checkpoint, when it cannot: pickle weights are
 * refused (loading them runs arbitrary code), and an empty folder says what is missing.
 */
export function hfFolderProblem(dir: string): string | undefined {
  if (!existsSync(path.join(dir, 'config.json')) || isHfFolder(dir)) return undefined;
  const pickle = PICKLE_FILES.find((file) => existsSync(path.join(dir, file)));
  if (pickle) {
    return (
      `${path.join(dir, pickle)} is a PyTorch pickle, which Preference Lens does not load: unpickling can run arbitrary code. ` +
      'Convert it to safetensors (e.g. `model.save_pretrained(folder, safe_serialization=True)` in Python, or the Hub\'s ' +
      '"convert to safetensors" space), or pick the repo revision that has model.safetensors.'
    );
  }
  return undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelFolderError(`Cannot read ${file}: ${(error as Error).message}`, file);
  }
}

export function readHfConfig(dir: string): ConfigReader {
  const file = path.join(dir, 'config.json');
  const text = readText(file);
  if (text === undefined) throw new ModelFolderError(`Missing ${file}`, file);
  let config: HfConfig;
  try {
    config = JSON.parse(text) as HfConfig;
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error('expected a JSON object');
  } catch (error) {
    throw new ModelFolderError(`${file} is not a valid JSON object: ${(error as Error).message}`, file);
  }
  return new ConfigReader(config, file);
}

/** What decides the built graph: the builder, the settings, and the checkpoint's files as they are on disk. */
function buildKey(dir: string, weights: WeightStore, options: HfBuildOptions, maxPositions: number): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ version: BUILDER_VERSION, precision: options.precision, fused: options.fused === true, maxPositions, dir: realpathSync(dir) }));
  hash.update(readFileSync(path.join(dir, 'config.json')));
  for (const file of weights.files) {
    const stat = statSync(file);
    hash.update(`${path.basename(file)}:${stat.size}:${stat.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 32);
}

/** Deletes all but the most recently used builds (their build.json is touched on every use). */
function pruneBuilds(root: string, keep: string): void {
  const builds = readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => path.join(root, entry.name));
  const used = (dir: string) => statSync(path.join(dir, DONE_FILE), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const stale = builds
    .filter((dir) => dir !== keep)
    .sort((a, b) => used(b) - used(a))
    .slice(KEPT_BUILDS - 1);
  for (const dir of stale) rmSync(dir, { recursive: true, force: true });
}

/**
 * The runnable graph for a checkpoint folder: a cached build when there is one, else a new build.
 * Synchronous: it runs in the scoring worker, whose thread has nothing else to do meanwhile.
 */
export function buildHfModel(dir: string, options: HfBuildOptions): BuiltModel {
  const config = readHfConfig(dir);
  const { name: architectureName, architecture } = architectureOf(config);
  const weights = WeightStore.open(dir, readText);
  const maxPositions = Math.min(config.config.max_position_embeddings ?? 4096, MAX_TABLE_POSITIONS);
  const fused = options.fused === true;
  const summary = {
    architecture: architectureName,
    inputs: architecture.inputs(config).map((input) => input.name),
    padTokenId: config.padTokenId(),
    sourceDtype: weights.dtype(),
    precision: options.precision,
    fused,
    textPair: architecture.textPair,
  };

  let target: string;
  let temporary = false;
  if (options.cacheDir) {
    const root = path.join(options.cacheDir, 'models');
    target = path.join(root, buildKey(dir, weights, options, maxPositions));
    const done = path.join(target, DONE_FILE);
    if (existsSync(done)) {
      const now = new Date();
      utimesSync(done, now, now);
      return { ...summary, modelPath: path.join(target, 'model.onnx'), dir: target, temporary: false, cached: true, seconds: 0 };
    }
    mkdirSync(root, { recursive: true });
    pruneBuilds(root, target);
  } else {
    target = path.join(os.tmpdir(), `preference-lens-model-${process.pid}-${Date.now()}`);
    temporary = true;
  }

  const started = performance.now();
  // Built beside its final place and renamed when whole: a crash never leaves a build that looks done.
  const building = `${target}.partial-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  try {
    const writer = new WeightFileWriter(path.join(building, 'weights.bin'), 'weights.bin');
    const g = new GraphBuilder(writer);
    try {
      architecture.build({
        g,
        layers: new Layers(g, { precision: options.precision, fused }),
        weights,
        config,
        maxPositions,
        progress: (done, total) => options.onProgress?.(done, total),
      });
    } finally {
      writer.close();
    }
    const graph = g.toBytes(architectureName, architecture.inputs(config), [{ name: 'logits', type: 1, dims: ['batch', config.labels()] }], `${architectureName} built from ${dir}`);
    writeFileSync(path.join(building, 'model.onnx'), graph);
    const seconds = (performance.now() - started) / 1000;
    writeFileSync(path.join(building, DONE_FILE), `${JSON.stringify({ ...summary, source: dir, builderVersion: BUILDER_VERSION, seconds, weightBytes: writer.size }, null, 2)}\n`);
    rmSync(target, { recursive: true, force: true });
    renameSync(building, target);
    return { ...summary, modelPath: path.join(target, 'model.onnx'), dir: target, temporary, cached: false, seconds };
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
}
