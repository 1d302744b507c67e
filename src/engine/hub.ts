/**
 * Hugging Face Hub ids (`org/name`) as models — a transformers checkpoint (safetensors) or an ONNX
 * export: found in the local Hugging Face cache first (Python's
 * layout, so a model fetched by `huggingface_hub` is reused, and ours is reused by Python), else
 * downloaded into it with @huggingface/hub, with progress and cancel.
 *
 * The cache: `<cache>/models--org--name/refs/<revision>` holds a commit sha, and
 * `snapshots/<sha>/<file>` are links to `blobs/<etag>`. A blob is written as `<etag>.incomplete` and
 * renamed when whole; the ref is written here only once every file of the model is in place, so a
 * cancelled or failed download is never taken for a complete model.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { downloadFileToCacheDir, HubApiError, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { abortError } from './abort';

/** Python's rule for repo ids: `org/name` of word characters, `-` and `.`, no `--` or `..`, at most 96 characters. */
export function isHubModelId(model: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(model) && !/--|\.\./.test(model) && !model.startsWith('.') && model.length <= 96;
}

/** Where huggingface_hub keeps models: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  return path.join(env.HF_HOME || path.join(home, '.cache', 'huggingface'), 'hub');
}

export interface HubProgress {
  /** The file being downloaded, relative to the repo. */
  file: string;
  /** Bytes of the files to download received so far, and in all. */
  loaded: number;
  total: number;
}

export interface ResolveHubOptions {
  /** Default hubCacheDir(). */
  cacheDir?: string;
  /** Default $HF_ENDPOINT (a mirror, as huggingface_hub reads it), else the public Hub. */
  hubUrl?: string;
  /** Branch, tag or commit; default `main`. */
  revision?: string;
  /** For private or gated models; default $HF_TOKEN, as huggingface_hub reads it. */
  accessToken?: string;
  /** Cancels the download; the call then rejects with an AbortError. */
  signal?: AbortSignal;
  /** Called as bytes arrive (not for a cache hit). */
  onProgress?: (progress: HubProgress) => void;
}

const COMMIT_SHA = /^[0-9a-f]{40}$/;
const TOKENIZER = 'tokenizer.json';
/** A SentencePiece model, converted in process when a repo has no tokenizer.json (Llama 2 era, DeBERTa-v3). */
const SENTENCEPIECE = ['tokenizer.model', 'spm.model'];
/** Files the engine reads besides weights and the tokenizer, fetched when the repo has them. */
const OPTIONAL_FILES = ['tokenizer_config.json', 'config.json', 'chat_template.jinja', 'special_tokens_map.json'];
/** Where an export keeps its graph: optimum at the top, transformers.js in onnx/ (modelFolder.ts reads the same two). */
const GRAPH_PATHS = ['model.onnx', 'onnx/model.onnx'];
const CHECKPOINT = 'model.safetensors';
const CHECKPOINT_INDEX = 'model.safetensors.index.json';

const repoFolder = (cacheDir: string, id: string) => path.join(cacheDir, `models--${id.replace('/', '--')}`);

async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (stat) => stat.isFile(),
    () => false,
  );
}

/** Whether a snapshot folder holds every file of a checkpoint: config, and the single file or every shard its index lists. */
async function hasCheckpoint(snapshot: string): Promise<boolean> {
  if (!(await isFile(path.join(snapshot, 'config.json')))) return false;
  if (await isFile(path.join(snapshot, CHECKPOINT))) return true;
  const index = await fs.readFile(path.join(snapshot, CHECKPOINT_INDEX), 'utf8').catch(() => undefined);
  if (index === undefined) return false;
  try {
    const shards = new Set(Object.values((JSON.parse(index) as { weight_map: Record<string, string> }).weight_map));
    for (const shard of shards) if (!(await isFile(path.join(snapshot, shard)))) return false;
    return shards.size > 0;
  } catch {
    return false;
  }
}

/** The snapshot folder of `id` in the cache when it holds a usable model (checkpoint or graph, and a tokenizer), else undefined. */
export async function findCachedModel(id: string, options: { cacheDir?: string; revision?: string } = {}): Promise<string | undefined> {
  const repo = repoFolder(options.cacheDir ?? hubCacheDir(), id);
  const revision = options.revision ?? 'main';
  const sha = COMMIT_SHA.test(revision) ? revision : (await fs.readFile(path.join(repo, 'refs', revision), 'utf8').catch(() => ''))?.trim();
  if (!sha) return undefined;
  const snapshot = path.join(repo, 'snapshots', sha);
  let tokenizer = false;
  for (const file of [TOKENIZER, ...SENTENCEPIECE]) tokenizer ||= await isFile(path.join(snapshot, file));
  if (!tokenizer) return undefined;
  if (await hasCheckpoint(snapshot)) return snapshot;
  for (const graph of GRAPH_PATHS) if (await isFile(path.join(snapshot, graph))) return snapshot;
  return undefined;
}

/**
 * The repo files a scorer needs. A transformers checkpoint (safetensors; what nearly every reward
 * model ships) is preferred: its graph is built at load, equal to transformers. Otherwise an ONNX
 * graph with its external-data files. Plus the tokenizer and the configs.
 */
function filesToFetch(id: string, entries: readonly ListFileEntry[]): ListFileEntry[] {
  const files = entries.filter((entry) => entry.type === 'file');
  const has = (name: string) => files.some((file) => file.path === name);
  const tokenizer = has(TOKENIZER) ? TOKENIZER : SENTENCEPIECE.find(has);
  if (tokenizer === undefined) {
    throw new Error(
      `${id} on the Hugging Face Hub has no tokenizer (tokenizer.json or tokenizer.model), which the scorer needs. If the ` +
        "model uses another model's tokenizer, download both into one folder and use that folder instead.",
    );
  }
  const wantedCommon = (file: string) => file === tokenizer || OPTIONAL_FILES.includes(file);
  if (has('config.json') && (has(CHECKPOINT) || has(CHECKPOINT_INDEX))) {
    // Shards are named in the index; listing `model-0000k-of-0000n.safetensors` by pattern would also match stray files.
    const shardPattern = /^model-\d{5}-of-\d{5}\.safetensors$/;
    const single = has(CHECKPOINT);
    return files.filter((file) => wantedCommon(file.path) || (single ? file.path === CHECKPOINT : file.path === CHECKPOINT_INDEX || shardPattern.test(file.path)));
  }
  const graph = GRAPH_PATHS.find(has);
  if (graph === undefined) {
    const pickle = files.some((file) => file.path.startsWith('pytorch_model') && file.path.endsWith('.bin'));
    throw new Error(
      `${id} on the Hugging Face Hub has neither safetensors weights (model.safetensors) nor an ONNX graph (${GRAPH_PATHS.join(' or ')}).` +
        (pickle
          ? ' It has only pytorch_model.bin, a pickle Preference Lens does not load (unpickling can run code): pick a revision or a fork with model.safetensors.'
          : ' Pick the repo of a sequence-classification reward model, or export one yourself with `optimum-cli export onnx -m ' +
            `${id} --task text-classification <folder>\` and set the model to that folder.`),
    );
  }
  // `model.onnx_data` (optimum) / `model.onnx.data`: weights past 2 GB live beside the graph.
  return files.filter((file) => file.path.startsWith(graph) || wantedCommon(file.path));
}

/** Turns the Hub's answers into what the user should do; anything else is passed on unchanged. */
function explain(id: string, hubUrl: string | undefined, error: unknown, cacheDir: string): unknown {
  const where = hubUrl ?? 'the Hugging Face Hub';
  // fetch() rejects with a bare "fetch failed" TypeError; what went wrong is its cause.
  if (error instanceof TypeError && (error as { cause?: Error }).cause) {
    const cause = (error as { cause: Error }).cause;
    return new Error(
      `Downloading ${id}: cannot reach ${where} (${cause.message}). A model already in the Hugging Face cache (${cacheDir}) needs no network; or give a local model folder.`,
      { cause: error },
    );
  }
  if (!(error instanceof HubApiError)) return error;
  if (error.statusCode === 404) {
    return new Error(`Model ${id} not found on ${where}: check the id (org/name). A private model also answers "not found" without HF_TOKEN.`, { cause: error });
  }
  if (error.statusCode === 401 || error.statusCode === 403) {
    return new Error(`${where} refused access to ${id} (${error.statusCode}): it is private or gated. Accept its terms on the Hub and set HF_TOKEN.`, { cause: error });
  }
  return new Error(`Downloading ${id} from ${where} failed: ${error.message}`, { cause: error });
}

/**
 * A fetch for @huggingface/hub that carries `signal` and counts the bytes of file downloads (it has
 * no progress callback of its own). Only the whole-file GET is counted: the probes it sends first
 * ask for `Range: bytes=0-0`.
 */
function countingFetch(signal: AbortSignal | undefined, onBytes: (count: number) => void): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, { ...init, signal: init?.signal && signal ? AbortSignal.any([init.signal, signal]) : (init?.signal ?? signal) });
    const url = input instanceof Request ? input.url : String(input);
    if (!response.ok || !response.body || new Headers(init?.headers).has('Range') || !url.includes('/resolve/')) return response;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        onBytes(chunk.byteLength);
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(counter), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/**
 * The local folder of a Hub model: the cached snapshot when there is one, else a fresh download of
 * the files the scorer needs. Rejects with an AbortError when `signal` fires, with a message saying
 * what to do when the model is missing, private, or has no weights the engine reads.
 */
export async function resolveHubModel(id: string, options: ResolveHubOptions = {}): Promise<string> {
  if (!isHubModelId(id)) throw new Error(`"${id}" is not a Hugging Face model id (org/name)`);
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const revision = options.revision ?? 'main';
  const cached = await findCachedModel(id, { cacheDir, revision });
  if (cached !== undefined) return cached;

  const { signal } = options;
  const hubUrl = options.hubUrl ?? (process.env.HF_ENDPOINT || undefined);
  const accessToken = options.accessToken ?? (process.env.HF_TOKEN || undefined);
  let current = '';
  let loaded = 0;
  let total = 0;
  const fetchCounting = countingFetch(signal, (count) => {
    loaded += count;
    options.onProgress?.({ file: current, loaded, total });
  });
  const common = { hubUrl, accessToken, fetch: fetchCounting };
  try {
    // Pinning the commit first puts every file in one snapshot, even if the branch moves meanwhile.
    const info = await modelInfo({ ...common, name: id, revision, additionalFields: ['sha'] });
    const sha = COMMIT_SHA.test(revision) ? revision : info.sha;
    if (typeof sha !== 'string' || !COMMIT_SHA.test(sha)) throw new Error(`${hubUrl ?? 'The Hub'} gave no commit for ${id}@${revision}`);
    const entries: ListFileEntry[] = [];
    for await (const entry of listFiles({ ...common, repo: id, revision: sha, recursive: true })) entries.push(entry);
    const files = filesToFetch(id, entries);
    total = files.reduce((sum, file) => sum + (file.lfs?.size ?? file.size), 0);
    for (const file of files) {
      if (signal?.aborted) throw abortError();
      current = file.path;
      await downloadFileToCacheDir({ ...common, repo: id, path: file.path, revision: sha, cacheDir });
    }
    const repo = repoFolder(cacheDir, id);
    if (!COMMIT_SHA.test(revision)) {
      await fs.mkdir(path.join(repo, 'refs'), { recursive: true });
      await fs.writeFile(path.join(repo, 'refs', revision), sha);
    }
    return path.join(repo, 'snapshots', sha);
  } catch (error) {
    if (signal?.aborted) throw abortError();
    throw explain(id, hubUrl, error, cacheDir);
  }
}
