/**
 * One entry point for "a model": a local folder runs in the ONNX worker, an http(s) URL is a remote
 * endpoint, a Hugging Face id (`org/name`) is found in the Hub cache or downloaded, then runs like a
 * folder. The protocol comes from the caller, else from the URL's API path, else vLLM (the server
 * that serves Llama reward models).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { abortError } from './abort';
import { isHubModelId, resolveHubModel, type ResolveHubOptions } from './hub';
import { createRemoteScorer, type RemoteScorerOptions } from './remote/remoteScorer';
import { REMOTE_PROTOCOLS, type RemoteProtocolName } from './remote/protocols';
import type { ScoreItem, ScoreOptions, ScoreStats, Scorer, ScorerInfo } from './scorer';
import { createWorkerScorer, type WorkerScorerOptions } from './workerScorer';

/** Environment variable the token is read from when none is passed in. */
export const REMOTE_TOKEN_ENV = 'PLENS_REMOTE_TOKEN';

export interface CreateScorerOptions extends Omit<WorkerScorerOptions, 'modelDir'> {
  /** A model folder, an http(s) endpoint, or a Hugging Face model id (`org/name`). */
  model: string;
  /** Remote endpoints only; `baseUrl`, `protocol` and `model` come from `model` unless given here. */
  remote?: Partial<RemoteScorerOptions>;
  /**
   * Hub ids only: cache folder, Hub URL, token, download progress, and a signal that cancels the
   * download (disposing the scorer cancels it too).
   */
  hub?: ResolveHubOptions;
}

const isUrl = (text: string) => /^https?:\/\//i.test(text);

/**
 * The endpoints `model` names, or undefined when it names none: one URL, several separated by
 * commas (one model served on several machines), or a text file listing them one per line (`#`
 * starts a comment).
 */
export function endpointList(model: string): string[] | undefined {
  if (isUrl(model)) {
    const urls = model.split(',').map((part) => part.trim()).filter(Boolean);
    const notUrl = urls.find((url) => !isUrl(url));
    if (notUrl !== undefined) throw new Error(`"${notUrl}" in --model is not an http(s) endpoint; separate several endpoints of one model with commas`);
    return urls;
  }
  let stat;
  try {
    stat = statSync(model);
  } catch {
    return undefined;
  }
  if (!stat.isFile() || stat.size > 1 << 20) return undefined;
  const lines = readFileSync(model, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  if (lines.length === 0 || !lines.every(isUrl)) return undefined;
  return lines;
}

export const isEndpoint = (model: string) => endpointList(model) !== undefined;

export interface ParsedEndpoint {
  baseUrl: string;
  protocol: RemoteProtocolName;
  /** The model named in a KServe path. */
  model?: string;
}

/**
 * Splits a pasted endpoint into server root, protocol and model: `…/classify` is vLLM,
 * `…/predict` TEI, `…/v2/models/<m>[/infer]` KServe; a bare root is `fallback`.
 */
export function parseEndpoint(url: string, fallback: RemoteProtocolName = 'vllm'): ParsedEndpoint {
  const parsed = new URL(url);
  if (parsed.search || parsed.hash) throw new Error(`Give the endpoint without a query or fragment: ${parsed.origin}${parsed.pathname}`);
  const pathname = parsed.pathname.replace(/\/+$/, '');
  const root = (path: string) => `${parsed.origin}${path}`;
  const kserve = /^(.*)\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?(?:\/infer)?$/.exec(pathname);
  if (kserve) return { baseUrl: root(kserve[1]), protocol: 'kserve', model: decodeURIComponent(kserve[2]) };
  if (pathname.endsWith('/classify')) return { baseUrl: root(pathname.slice(0, -'/classify'.length)), protocol: 'vllm' };
  if (pathname.endsWith('/predict')) return { baseUrl: root(pathname.slice(0, -'/predict'.length)), protocol: 'tei' };
  return { baseUrl: root(pathname), protocol: fallback };
}

export function isRemoteProtocol(name: string): name is RemoteProtocolName {
  return (REMOTE_PROTOCOLS as readonly string[]).includes(name);
}

/**
 * A scorer for a Hub id: the first call resolves it to a local folder (the cache, else a download),
 * then everything goes to a worker scorer on that folder. A failed or cancelled resolution is not
 * kept: the next call tries again.
 */
class HubScorer implements Scorer {
  private inner: Promise<Scorer> | undefined;
  /** Aborted by dispose(), so closing the editor or the CLI stops a download in flight. */
  private readonly lifetime = new AbortController();

  constructor(
    private readonly id: string,
    private readonly hub: ResolveHubOptions,
    private readonly local: Omit<WorkerScorerOptions, 'modelDir'>,
  ) {}

  private scorer(): Promise<Scorer> {
    if (!this.inner) {
      const signal = this.hub.signal ? AbortSignal.any([this.hub.signal, this.lifetime.signal]) : this.lifetime.signal;
      const attempt = resolveHubModel(this.id, { ...this.hub, signal }).then((modelDir) => createWorkerScorer({ ...this.local, modelDir }));
      attempt.catch(() => {
        if (this.inner === attempt) this.inner = undefined;
      });
      this.inner = attempt;
    }
    return this.inner;
  }

  async load(): Promise<ScorerInfo> {
    return (await this.scorer()).load();
  }

  async score(items: ScoreItem[], options: ScoreOptions): Promise<ScoreStats> {
    if (options.signal?.aborted) throw abortError();
    // The download serves every caller, so one call's signal cancels the call, not the download.
    const scorer = await this.scorer();
    if (options.signal?.aborted) throw abortError();
    return scorer.score(items, options);
  }

  async dispose(): Promise<void> {
    this.lifetime.abort();
    const inner = this.inner;
    this.inner = undefined;
    await inner?.then(
      (scorer) => scorer.dispose(),
      () => undefined,
    );
  }
}

/** A Hub id, and no local folder of that name: as in transformers, a folder that exists wins. */
export const isHubModel = (model: string) => isHubModelId(model) && !existsSync(model);

export function createScorer(options: CreateScorerOptions): Scorer {
  const { model, remote, hub, ...local } = options;
  if (isHubModel(model)) return new HubScorer(model, hub ?? {}, local);
  const urls = endpointList(model);
  if (urls === undefined) return createWorkerScorer({ ...local, modelDir: model });
  const endpoints = urls.map((url) => parseEndpoint(url, remote?.protocol));
  // An explicit protocol wins over the URL's shape only for a bare root; a contradiction is an error.
  for (const [i, endpoint] of endpoints.entries()) {
    if (remote?.protocol !== undefined && remote.protocol !== endpoint.protocol) {
      throw new Error(`${urls[i]} looks like a ${endpoint.protocol} endpoint, but the protocol ${remote.protocol} was asked for`);
    }
    if (endpoint.protocol !== endpoints[0].protocol || endpoint.model !== endpoints[0].model) {
      throw new Error(`${urls[i]} and ${urls[0]} are not endpoints of one model (protocol or model name differ)`);
    }
  }
  return createRemoteScorer({
    maxLength: local.maxLength,
    batchTokens: local.batchTokens,
    cacheDir: local.cacheDir,
    ...remote,
    baseUrls: remote?.baseUrls ?? endpoints.map((endpoint) => endpoint.baseUrl),
    protocol: endpoints[0].protocol,
    model: remote?.model ?? endpoints[0].model,
    token: remote?.token ?? (process.env[REMOTE_TOKEN_ENV] || undefined),
  });
}
