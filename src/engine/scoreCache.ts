/**
 * Persisted scores, so reopening a scored dataset or re-scoring after an edit only runs the model on
 * what changed. One append-only JSONL file per model identity under the cache folder; each line maps
 * a hash of the exact text the model reads to its reward. Appends are whole lines written at once,
 * so two processes (the editor and the CLI) can share a file, and a line torn by a crash costs only
 * that entry.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelFolder } from './modelFolder';

/** Bumped when the key or the line format changes, so old files are simply never read again. */
const FORMAT_VERSION = 1;

/**
 * The per-user cache folder the CLI uses by default: $XDG_CACHE_HOME (or ~/.cache) on Linux,
 * ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows, each with a `preference-lens` folder.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = os.homedir()): string {
  if (platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'preference-lens', 'Cache');
  if (platform === 'darwin') return path.join(home, 'Library', 'Caches', 'preference-lens');
  return path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'preference-lens');
}

const SAMPLE_BYTES = 64 * 1024;
const SAMPLES = 32;
const END_BYTES = 1024 * 1024;

/**
 * Fingerprint of a weights file without reading all of it (exports run to tens of GB): its size,
 * its first and last MiB, and 32 evenly spaced 64 KiB samples. A re-export or a different
 * quantisation changes the size or the sampled bytes; copying the file (new mtime, new path) does
 * not, so a copied model keeps its cache.
 */
async function fingerprintFile(file: string, hash: ReturnType<typeof createHash>): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    hash.update(`${path.basename(file)}:${size}\n`);
    const read = async (position: number, length: number) => {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - position)));
      if (buffer.length > 0) await handle.read(buffer, 0, buffer.length, position);
      hash.update(buffer);
    };
    await read(0, END_BYTES);
    for (let i = 1; i <= SAMPLES; i++) await read(Math.floor((size * i) / (SAMPLES + 1)), SAMPLE_BYTES);
    await read(Math.max(0, size - END_BYTES), END_BYTES);
  } finally {
    await handle.close();
  }
}

/** What, besides the text, decides a reward: the engine settings that change the model's input. */
export interface ScoringSettings {
  /** Prompt format name (`tulu`, `chat_template`, …). The rendered text already reflects it. */
  template: string;
  /** Effective maximum tokens: a longer text is scored on a different (truncated) input. */
  maxLength: number;
  /** Which logit is the reward, for a multi-label model. */
  logitIndex?: number;
  /** The precision a checkpoint was built in (int8 and int4 change the rewards a little). */
  precision?: string;
}

/**
 * Model identity: the weights (safetensors, or model.onnx and its external data; fingerprinted), the
 * tokenizer, the configs (pad id, labels), the chat template, and the scoring settings. The
 * execution provider is left out on purpose: CPU and GPU scores of one model differ by float noise,
 * not meaning, and re-scoring a dataset because the device changed would defeat the cache.
 */
export async function modelIdentity(folder: ModelFolder, settings: ScoringSettings): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`preference-lens score cache v${FORMAT_VERSION}\n`);
  for (const file of folder.weightFiles) await fingerprintFile(file, hash);
  hash.update(JSON.stringify([folder.tokenizerJson, folder.tokenizerConfig, folder.config, folder.chatTemplate ?? null, settings]));
  return hash.digest('hex').slice(0, 32);
}

export interface CachedScore {
  reward: number;
  /** The text was longer than maxLength and was scored on its last tokens. */
  truncated: boolean;
}

export interface CacheEntry extends CachedScore {
  key: string;
}

interface CacheLine {
  k: string;
  r: number;
  t?: 1;
}

function isCacheLine(value: unknown): value is CacheLine {
  const line = value as CacheLine;
  return typeof line === 'object' && line !== null && typeof line.k === 'string' && typeof line.r === 'number';
}

export class ScoreCache {
  private constructor(
    /** The JSONL file of this model identity. */
    readonly file: string,
    private readonly scores: Map<string, CachedScore>,
  ) {}

  /**
   * Opens (creating the folder if needed) the cache of one model identity and reads what earlier
   * runs stored. `describe` goes into the file's first line, for a person looking at the folder.
   */
  static async open(dir: string, identity: string, describe: Record<string, unknown>): Promise<ScoreCache> {
    const folder = path.join(dir, 'scores');
    await fs.mkdir(folder, { recursive: true });
    const file = path.join(folder, `v${FORMAT_VERSION}-${identity}.jsonl`);
    const scores = new Map<string, CachedScore>();
    let text: string | undefined;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === undefined) {
      await fs.appendFile(file, `${JSON.stringify({ ...describe, created: new Date().toISOString() })}\n`);
    } else {
      for (const line of text.split('\n')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue; // empty, or torn by a crash mid-append
        }
        if (isCacheLine(parsed)) scores.set(parsed.k, { reward: parsed.r, truncated: parsed.t === 1 });
      }
    }
    return new ScoreCache(file, scores);
  }

  get size(): number {
    return this.scores.size;
  }

  /** 128 bits of SHA-256 of the exact model input text: collisions are not a practical concern. */
  keyOf(text: string): string {
    return createHash('sha256').update(text).digest('base64url').slice(0, 22);
  }

  get(key: string): CachedScore | undefined {
    return this.scores.get(key);
  }

  /** Stores rewards; non-finite ones (a broken export) are not worth keeping and JSON cannot hold them. */
  async add(entries: readonly CacheEntry[]): Promise<void> {
    const lines: string[] = [];
    for (const { key, reward, truncated } of entries) {
      if (!Number.isFinite(reward)) continue;
      this.scores.set(key, { reward, truncated });
      const line: CacheLine = truncated ? { k: key, r: reward, t: 1 } : { k: key, r: reward };
      lines.push(JSON.stringify(line));
    }
    // One write per batch: whole lines land together (O_APPEND), never interleaved mid-line.
    if (lines.length > 0) await fs.appendFile(this.file, `${lines.join('\n')}\n`);
  }
}
