/**
 * A Scorer over one model served at one or more endpoints (vLLM, TEI, KServe v2 / Triton).
 *
 * Work is shared by pulling: requests wait in one queue and every endpoint runs its own lanes, so
 * a fast endpoint takes more and a slow one less, with no weights to tune. An endpoint that stops
 * answering (no HTTP answer after its retries) is marked down and the request it held goes back to
 * the queue for the others; a request refused with an HTTP error is tried on one other endpoint
 * before its items become failures (onFailures), never scores. Errors no other request can fix — a
 * wrong token, a wrong URL — end the job.
 *
 * Scores are cached by the exact input sent and the served model, like the local engine's, so a
 * run that stops (or a shard run again) resumes where it was.
 */
import { createHash } from 'node:crypto';
import { abortError } from '../abort';
import { createEncoder, createPairEncoder, type Encoder, type PairEncoder } from '../encoder';
import { readTokenizerFolder, type TokenizerFolder } from '../modelFolder';
import { createPromptFormat, tuluFormat, type TextFormat } from '../promptFormat';
import { ScoreCache } from '../scoreCache';
import type { EndpointStats, ScoreItem, ScoreOptions, ScoreStats, Scorer, ScorerInfo } from '../scorer';
import { HttpError, type HttpOptions } from './http';
import { kserveClient, teiClient, vllmClient, type ItemOutcome, type Prepared, type ProtocolClient, type RemoteProtocolName, type ServerDescription } from './protocols';

export interface RemoteScorerOptions {
  /** Server roots of one model, e.g. `https://rm.example.com:8000` (no API path); several share the work. */
  baseUrls: string[];
  protocol: RemoteProtocolName;
  /** vLLM: served model name (default: the server's first); KServe: the model's name (required). */
  model?: string;
  /**
   * Local folder with the model's tokenizer files. KServe needs it (tokenization is ours); for vLLM
   * and TEI it cuts over-long inputs here with the local engine's rule, and gives vLLM the chat
   * template or EOS for the prompt format (default: tulu with `</s>`).
   */
  tokenizerDir?: string;
  /** Bearer token. Pass it in (the extension reads SecretStorage); never put it in settings. */
  token?: string;
  /** Requests in flight per endpoint. Default 4, or fewer when the server takes fewer. */
  concurrency?: number;
  /** Per request attempt, ms. Default 120 000: a big model's batch can take a while. */
  timeoutMs?: number;
  /** Retries per request on 429/5xx/timeouts. Default 4. */
  retries?: number;
  /** First backoff, ms, doubled per retry unless the server sends Retry-After. Default 1000. */
  backoffMs?: number;
  /** Rows per request. Default 16, lowered to the smallest limit the servers report (TEI, Triton). */
  batchSize?: number;
  /** KServe: padded tokens per request. Default 16 384. */
  batchTokens?: number;
  /** Longest input in tokens; longer ones keep their end. */
  maxLength?: number;
  /** Score cache folder (the local engine's); scores are not cached when absent. */
  cacheDir?: string;
  /** After this long without any answer, and as often after, an `endpoint-waiting` notice. Default 15 s. */
  waitNoticeMs?: number;
}

const DESCRIBE_TIMEOUT_MS = 15_000;

/** HTTP statuses that say the configuration is wrong, for every request alike. */
const FATAL_STATUS = new Set([401, 403, 404]);

const isFatal = (error: unknown): error is HttpError => error instanceof HttpError && error.status !== undefined && FATAL_STATUS.has(error.status);

/** No HTTP answer at all after the retries: the endpoint is down (or unreachable from here). */
const isUnreachable = (error: unknown): error is HttpError => error instanceof HttpError && error.status === undefined && error.retryable;

function fatalMessage(error: HttpError): string {
  if (error.status === 401 || error.status === 403) {
    return `${error.message}. Check the access token (PLENS_REMOTE_TOKEN, or the one stored in the editor).`;
  }
  return `${error.message}. Check the endpoint URL, the protocol and the model name.`;
}

const tokenText = (token: string | { content?: string } | null | undefined) => (typeof token === 'string' ? token : (token?.content ?? undefined));

/** The prompt format for a server that tokenizes itself. Without a local folder: the seed model's tulu format. */
async function remoteFormat(folder: TokenizerFolder | undefined): Promise<{ format: TextFormat; bos?: string }> {
  if (folder === undefined) return { format: tuluFormat('</s>') };
  const bos = tokenText(folder.tokenizerConfig.bos_token);
  return { format: await createPromptFormat(folder.chatTemplate, { eos: tokenText(folder.tokenizerConfig.eos_token), bos }), bos };
}

/** One client per endpoint, sharing the tokenizer work done here. */
async function clientFactory(options: RemoteScorerOptions, http: HttpOptions, describeHttp: HttpOptions): Promise<(baseUrl: string) => ProtocolClient<unknown>> {
  const folder = options.tokenizerDir === undefined ? undefined : await readTokenizerFolder(options.tokenizerDir);
  switch (options.protocol) {
    case 'vllm': {
      const { format, bos } = await remoteFormat(folder);
      const encoder: Encoder | undefined = folder && (await createEncoder(folder, { maxLength: options.maxLength }));
      const truncation = { maxLength: options.maxLength ?? encoder?.maxLength, encoder };
      return (baseUrl) => vllmClient({ baseUrl, model: options.model, format, bos, truncation, http, describeHttp }) as ProtocolClient<unknown>;
    }
    case 'tei': {
      const encoder: PairEncoder | undefined = folder && (await createPairEncoder(folder, { maxLength: options.maxLength }));
      const truncation = { maxLength: options.maxLength ?? encoder?.maxLength, encoder };
      return (baseUrl) => teiClient({ baseUrl, truncation, http, describeHttp }) as ProtocolClient<unknown>;
    }
    case 'kserve': {
      const model = options.model;
      if (model === undefined) throw new Error('A KServe endpoint needs the model name (…/v2/models/<name>)');
      if (folder === undefined) throw new Error('A KServe endpoint takes token ids: give the folder with the model’s tokenizer.json (--tokenizer)');
      const encoder = await createEncoder(folder, { maxLength: options.maxLength });
      return (baseUrl) => kserveClient({ baseUrl, model, encoder, batchTokens: options.batchTokens ?? 16_384, http, describeHttp }) as ProtocolClient<unknown>;
    }
  }
}

interface Endpoint {
  url: string;
  client: ProtocolClient<unknown>;
  description?: ServerDescription;
  /** Why it was taken out of the rotation. */
  down?: string;
}

interface Loaded {
  endpoints: Endpoint[];
  info: ScorerInfo;
  batchSize: number;
  cache?: ScoreCache;
}

/** A request waiting in the queue: indices into the prepared items, and where it has failed. */
interface Request {
  members: number[];
  refusedBy: Set<string>;
  /** The last refusal, for the items if no endpoint is left to try. */
  lastError?: string;
}

class RemoteScorer implements Scorer {
  private loading: Promise<Loaded> | undefined;
  private readonly http: HttpOptions;
  /** Aborts whatever is in flight when the scorer is disposed. */
  private readonly lifetime = new AbortController();

  constructor(private readonly options: RemoteScorerOptions) {
    if (options.baseUrls.length === 0) throw new Error('No endpoint given');
    this.http = {
      token: options.token,
      timeoutMs: options.timeoutMs ?? 120_000,
      retries: options.retries ?? 4,
      backoffMs: options.backoffMs ?? 1000,
      maxDelayMs: 60_000,
    };
  }

  private async loadOnce(): Promise<Loaded> {
    const { options } = this;
    // Asking a server what it serves is instant when it is healthy: a short limit and one retry, so a
    // server that accepts connections and never answers is reported in seconds, not minutes.
    const describeHttp: HttpOptions = { ...this.http, timeoutMs: Math.min(this.http.timeoutMs, DESCRIBE_TIMEOUT_MS), retries: Math.min(this.http.retries, 1) };
    const makeClient = await clientFactory(options, this.http, describeHttp);
    const endpoints: Endpoint[] = options.baseUrls.map((url) => ({ url, client: makeClient(url) }));
    const described = await Promise.allSettled(endpoints.map((endpoint) => endpoint.client.describe(this.lifetime.signal)));
    // A wrong token, URL or model is wrong everywhere: say so rather than scoring with what is left.
    const wrong = described.find((result): result is PromiseRejectedResult => result.status === 'rejected' && !isUnreachable(result.reason));
    if (wrong) throw isFatal(wrong.reason) ? new Error(fatalMessage(wrong.reason)) : wrong.reason;
    described.forEach((result, i) => {
      if (result.status === 'fulfilled') endpoints[i].description = result.value;
      else endpoints[i].down = (result.reason as Error).message;
    });
    const up = endpoints.filter((endpoint) => endpoint.description);
    if (up.length === 0) throw new Error(endpoints.map((endpoint) => endpoint.down).join('; '));
    const models = new Set(up.map((endpoint) => endpoint.description!.model));
    if (models.size > 1) {
      throw new Error(`The endpoints serve different models (${up.map((endpoint) => `${endpoint.url}: ${endpoint.description!.model}`).join(', ')}); give the endpoints of one model`);
    }
    const [first] = up;
    const model = first.description!.model;
    const limits = up.map((endpoint) => endpoint.description!.maxBatch).filter((n): n is number => n !== undefined);
    const batchSize = Math.max(1, Math.min(options.batchSize ?? 16, ...limits));
    const hosts = endpoints.map((endpoint) => new URL(endpoint.url).host);
    const notes = [...new Set(up.flatMap((endpoint) => endpoint.description!.notes))];
    for (const endpoint of endpoints) if (endpoint.down) notes.push(`${endpoint.url} is down and left out: ${endpoint.down}`);
    const info: ScorerInfo = {
      model,
      device: `remote ${options.protocol} (${hosts.length > 3 ? `${hosts.slice(0, 3).join(', ')} +${hosts.length - 3}` : hosts.join(', ')})`,
      template: first.client.template,
      ...(first.description!.server ? { server: first.description!.server } : {}),
      ...(notes.length ? { notes } : {}),
    };
    let cache: ScoreCache | undefined;
    if (options.cacheDir !== undefined) {
      try {
        const identity = createHash('sha256')
          .update(JSON.stringify(['remote', options.protocol, model, info.template, options.maxLength ?? null, options.tokenizerDir ? 'local-truncation' : 'server-truncation']))
          .digest('hex')
          .slice(0, 32);
        cache = await ScoreCache.open(options.cacheDir, identity, { model, protocol: options.protocol, endpoints: options.baseUrls });
        info.cache = cache.file;
      } catch (error) {
        info.cacheError = `Scores are not cached: ${(error as Error).message}`;
      }
    }
    return { endpoints, info, batchSize, cache };
  }

  load(): Promise<ScorerInfo> {
    if (!this.loading) {
      const attempt = this.loadOnce();
      // A failed load is not kept: the next call tries again (the server may be up by then).
      attempt.catch(() => {
        if (this.loading === attempt) this.loading = undefined;
      });
      this.loading = attempt;
    }
    return this.loading.then(({ info }) => info);
  }

  async score(items: ScoreItem[], options: ScoreOptions): Promise<ScoreStats> {
    const { signal } = options;
    if (signal?.aborted) throw abortError();
    await this.load();
    const loaded = await (this.loading as Promise<Loaded>);
    if (signal?.aborted) throw abortError();
    const { endpoints, batchSize } = loaded;
    const client = endpoints[0].client;
    const started = performance.now();
    const stats = { items: 0, tokens: 0, seconds: 0, tokenizeSeconds: 0, inferenceSeconds: 0, truncated: 0, modelCalls: 0, failed: 0, cached: 0 };
    const perEndpoint = new Map<string, EndpointStats>(endpoints.map((endpoint) => [endpoint.url, { url: endpoint.url, items: 0, requests: 0, errors: 0, seconds: 0, ...(endpoint.down ? { down: endpoint.down } : {}) }]));
    const report = () => options.onProgress?.(stats.items + stats.failed, items.length);
    const fail = (failures: Array<{ id: number; error: string }>) => {
      if (failures.length === 0) return;
      stats.failed += failures.length;
      options.onFailures?.(failures);
      report();
    };

    const prepared: Array<Prepared<unknown> & { key?: string }> = [];
    const prepareStart = performance.now();
    const hits: Array<{ id: number; reward: number }> = [];
    for (const item of items) {
      let one: Prepared<unknown>;
      try {
        one = client.prepare(item);
      } catch (error) {
        // A conversation the format cannot express (an unknown role) fails alone.
        fail([{ id: item.id, error: (error as Error).message }]);
        continue;
      }
      if (one.truncated) stats.truncated++;
      const key = loaded.cache?.keyOf(JSON.stringify(one.input));
      const hit = key === undefined ? undefined : loaded.cache?.get(key);
      if (hit) hits.push({ id: one.id, reward: hit.reward });
      else prepared.push({ ...one, key });
    }
    stats.tokenizeSeconds = (performance.now() - prepareStart) / 1000;
    if (hits.length > 0) {
      stats.cached = hits.length;
      stats.items += hits.length;
      options.onResults(hits);
      report();
    }

    // One controller for the job: the caller's cancel, dispose, or a fatal error stops every request.
    const job = new AbortController();
    const stop = () => job.abort();
    signal?.addEventListener('abort', stop, { once: true });
    this.lifetime.signal.addEventListener('abort', stop, { once: true });
    let fatal: Error | undefined;
    let cacheError: string | undefined;
    const queue: Request[] = client.plan(prepared, batchSize).map((members) => ({ members, refusedBy: new Set() }));
    let inFlight = 0;
    // Lanes with nothing to take wait here for a request to finish: it may come back to the queue.
    let wake: () => void = () => undefined;
    let changed = new Promise<void>((resolve) => (wake = resolve));
    const notify = () => {
      const done = wake;
      changed = new Promise<void>((resolve) => (wake = resolve));
      done();
    };
    const live = () => endpoints.filter((endpoint) => !endpoint.down);

    const deliver = async (request: Request, outcomes: ItemOutcome[], endpointStats: EndpointStats) => {
      const results: Array<{ id: number; reward: number }> = [];
      const failures: Array<{ id: number; error: string }> = [];
      const fresh: Array<{ key: string; reward: number; truncated: boolean }> = [];
      request.members.forEach((index, i) => {
        const member = prepared[index];
        const outcome = outcomes[i];
        if (typeof outcome === 'number') {
          results.push({ id: member.id, reward: outcome });
          if (member.key !== undefined) fresh.push({ key: member.key, reward: outcome, truncated: member.truncated });
          stats.tokens += member.tokens;
        } else failures.push({ id: member.id, error: outcome.error });
      });
      endpointStats.items += results.length;
      stats.items += results.length;
      if (results.length) options.onResults(results);
      fail(failures);
      report();
      if (loaded.cache && fresh.length) {
        try {
          await loaded.cache.add(fresh);
        } catch (error) {
          loaded.cache = undefined;
          cacheError = `Scores are no longer cached: ${(error as Error).message}`;
        }
      }
    };

    const lane = async (endpoint: Endpoint) => {
      const endpointStats = perEndpoint.get(endpoint.url)!;
      for (;;) {
        if (job.signal.aborted || endpoint.down) return;
        // A request this endpoint refused waits for another one.
        const position = queue.findIndex((request) => !request.refusedBy.has(endpoint.url));
        if (position < 0) {
          if (inFlight === 0) return;
          await changed;
          continue;
        }
        const [request] = queue.splice(position, 1);
        inFlight++;
        const requestStart = performance.now();
        try {
          stats.modelCalls++;
          endpointStats.requests++;
          const outcomes = await endpoint.client.score(request.members.map((index) => prepared[index]), job.signal);
          const seconds = (performance.now() - requestStart) / 1000;
          stats.inferenceSeconds += seconds;
          endpointStats.seconds += seconds;
          if (job.signal.aborted) return;
          await deliver(request, outcomes, endpointStats);
        } catch (error) {
          endpointStats.seconds += (performance.now() - requestStart) / 1000;
          if (job.signal.aborted) return;
          endpointStats.errors++;
          if (isFatal(error)) {
            fatal = new Error(fatalMessage(error));
            job.abort();
            return;
          }
          const message = error instanceof Error ? error.message : String(error);
          if (isUnreachable(error)) {
            // Down: its request goes back to the front for the endpoints still up.
            endpoint.down = message;
            endpointStats.down = message;
            queue.unshift(request);
            return;
          }
          request.refusedBy.add(endpoint.url);
          request.lastError = message;
          if (live().some((other) => !request.refusedBy.has(other.url))) queue.push(request);
          else fail(request.members.map((index) => ({ id: prepared[index].id, error: message })));
        } finally {
          lastAnswer = performance.now();
          inFlight--;
          notify();
        }
      }
    };

    // A long silence gets said: a busy server can take minutes per batch, and a dead one looks the same until the timeout.
    let lastAnswer = performance.now();
    const waitNoticeMs = this.options.waitNoticeMs ?? 15_000;
    const ticker = setInterval(() => {
      const silent = performance.now() - lastAnswer;
      if (inFlight === 0 || silent < waitNoticeMs) return;
      const seconds = silent < 10_000 ? Math.round(silent / 100) / 10 : Math.round(silent / 1000);
      const waitingOn = live().map((endpoint) => new URL(endpoint.url).host).join(', ');
      options.onNotice?.({
        kind: 'endpoint-waiting',
        seconds,
        message: `Waiting for ${waitingOn}: no answer for ${seconds} s (each request may take up to ${Math.round(this.http.timeoutMs / 1000)} s before it is retried).`,
      });
    }, waitNoticeMs);
    ticker.unref();
    try {
      const lanes = endpoints
        .filter((endpoint) => !endpoint.down)
        .flatMap((endpoint) => {
          const serverMax = endpoint.description?.maxConcurrency;
          const count = Math.max(1, Math.min(this.options.concurrency ?? 4, serverMax ?? Infinity, queue.length));
          return Array.from({ length: count }, () => lane(endpoint));
        });
      await Promise.all(lanes);
    } finally {
      clearInterval(ticker);
      signal?.removeEventListener('abort', stop);
      this.lifetime.signal.removeEventListener('abort', stop);
    }
    if (fatal) throw fatal;
    if (job.signal.aborted) throw abortError();
    // Every endpoint went down with requests left: those items fail, with each endpoint's reason.
    if (queue.length > 0) {
      const reason = `every endpoint is down (${endpoints.map((endpoint) => `${endpoint.url}: ${endpoint.down}`).join('; ')})`;
      fail(queue.flatMap((request) => request.members.map((index) => ({ id: prepared[index].id, error: request.lastError ?? reason }))));
    }
    stats.seconds = (performance.now() - started) / 1000;
    return { ...stats, endpoints: [...perEndpoint.values()], ...(cacheError ? { cacheError } : {}) };
  }

  async dispose(): Promise<void> {
    this.lifetime.abort();
  }
}

export function createRemoteScorer(options: RemoteScorerOptions): Scorer {
  return new RemoteScorer(options);
}
