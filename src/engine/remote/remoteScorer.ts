/**
 * A Scorer over a remote serving endpoint (vLLM, TEI, KServe v2). Requests run a few at a time;
 * a request that still fails after its retries turns its items into failures (onFailures), never
 * into scores. Errors no retry or other request can fix — a wrong token, a wrong URL — end the job.
 */
import { abortError } from '../abort';
import { createEncoder } from '../encoder';
import { readTokenizerFolder } from '../modelFolder';
import { createPromptFormat, tuluFormat, type TextFormat } from '../promptFormat';
import type { ScoreItem, ScoreOptions, ScoreStats, Scorer, ScorerInfo } from '../scorer';
import { HttpError, type HttpOptions } from './http';
import { kserveClient, teiClient, vllmClient, type Prepared, type ProtocolClient, type RemoteProtocolName } from './protocols';

export interface RemoteScorerOptions {
  /** Server root, e.g. `https://rm.example.com:8000` (no trailing API path). */
  baseUrl: string;
  protocol: RemoteProtocolName;
  /** vLLM: served model name (default: the server's first); KServe: the model's name (required). */
  model?: string;
  /**
   * Local folder with the model's tokenizer files. KServe needs it (tokenization is ours); for vLLM
   * it supplies the chat template or EOS for the prompt format (default: tulu with `</s>`).
   */
  tokenizerDir?: string;
  /** Bearer token. Pass it in (the extension reads SecretStorage); never put it in settings. */
  token?: string;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Per request attempt, ms. Default 120 000: a big model's batch can take a while. */
  timeoutMs?: number;
  /** Retries per request on 429/5xx/timeouts. Default 4. */
  retries?: number;
  /** First backoff, ms, doubled per retry unless the server sends Retry-After. Default 1000. */
  backoffMs?: number;
  /** Items per request for vLLM and TEI. Default 16 (TEI lowers it to its max_client_batch_size). */
  batchSize?: number;
  /** KServe: padded tokens per request. Default 16 384. */
  batchTokens?: number;
  /** KServe: longest input in tokens; longer ones keep their end. */
  maxLength?: number;
}

/** HTTP statuses that say the configuration is wrong, for every request alike. */
const FATAL_STATUS = new Set([401, 403, 404]);

function fatalMessage(error: HttpError): string {
  if (error.status === 401 || error.status === 403) {
    return `${error.message}. Check the access token (PLENS_REMOTE_TOKEN, or the one stored in the editor).`;
  }
  return `${error.message}. Check the endpoint URL, the protocol and the model name.`;
}

/** The prompt format for a server that tokenizes itself. Without a local folder: the seed model's tulu format. */
async function remoteFormat(tokenizerDir: string | undefined): Promise<TextFormat> {
  if (tokenizerDir === undefined) return tuluFormat('</s>');
  const folder = await readTokenizerFolder(tokenizerDir);
  const eos = folder.tokenizerConfig.eos_token;
  return createPromptFormat(folder.chatTemplate, { eos: typeof eos === 'string' ? eos : eos?.content });
}

async function createClient(options: RemoteScorerOptions, http: HttpOptions): Promise<ProtocolClient<unknown>> {
  const batchSize = Math.max(1, options.batchSize ?? 16);
  switch (options.protocol) {
    case 'vllm':
      return vllmClient({ baseUrl: options.baseUrl, model: options.model, format: await remoteFormat(options.tokenizerDir), batchSize, http }) as ProtocolClient<unknown>;
    case 'tei':
      return teiClient({ baseUrl: options.baseUrl, batchSize, http }) as ProtocolClient<unknown>;
    case 'kserve': {
      if (options.model === undefined) throw new Error('A KServe endpoint needs the model name (…/v2/models/<name>)');
      if (options.tokenizerDir === undefined) {
        throw new Error('A KServe endpoint takes token ids: give the folder with the model’s tokenizer.json (--tokenizer)');
      }
      const encoder = await createEncoder(await readTokenizerFolder(options.tokenizerDir), { maxLength: options.maxLength });
      return kserveClient({ baseUrl: options.baseUrl, model: options.model, encoder, batchTokens: options.batchTokens ?? 16_384, http }) as ProtocolClient<unknown>;
    }
  }
}

class RemoteScorer implements Scorer {
  private loading: Promise<{ client: ProtocolClient<unknown>; info: ScorerInfo }> | undefined;
  private readonly http: HttpOptions;
  /** Aborts whatever is in flight when the scorer is disposed. */
  private readonly lifetime = new AbortController();

  constructor(private readonly options: RemoteScorerOptions) {
    this.http = {
      token: options.token,
      timeoutMs: options.timeoutMs ?? 120_000,
      retries: options.retries ?? 4,
      backoffMs: options.backoffMs ?? 1000,
      maxDelayMs: 60_000,
    };
  }

  load(): Promise<ScorerInfo> {
    if (!this.loading) {
      const attempt = (async () => {
        const client = await createClient(this.options, this.http);
        const { model } = await client.describe(this.lifetime.signal);
        const info: ScorerInfo = { model, device: `remote ${this.options.protocol} (${new URL(this.options.baseUrl).host})`, template: client.template };
        return { client, info };
      })();
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
    const { client } = await (this.loading as NonNullable<typeof this.loading>);
    if (signal?.aborted) throw abortError();
    const started = performance.now();
    const stats = { items: 0, tokens: 0, seconds: 0, tokenizeSeconds: 0, inferenceSeconds: 0, truncated: 0, modelCalls: 0, failed: 0 };

    const prepared: Prepared<unknown>[] = [];
    const fail = (failures: Array<{ id: number; error: string }>) => {
      stats.failed += failures.length;
      options.onFailures?.(failures);
      options.onProgress?.(stats.items + stats.failed, items.length);
    };
    const prepareStart = performance.now();
    for (const item of items) {
      try {
        const one = client.prepare(item);
        if (one.truncated) stats.truncated++;
        prepared.push(one);
      } catch (error) {
        // A conversation the format cannot express (an unknown role) fails alone.
        fail([{ id: item.id, error: (error as Error).message }]);
      }
    }
    stats.tokenizeSeconds = (performance.now() - prepareStart) / 1000;

    // One controller for the job: the caller's cancel, dispose, or a fatal error stops every request.
    const job = new AbortController();
    const stop = () => job.abort();
    signal?.addEventListener('abort', stop, { once: true });
    this.lifetime.signal.addEventListener('abort', stop, { once: true });
    let fatal: Error | undefined;
    const queue = client.plan(prepared);
    const runRequests = async () => {
      for (let batch = queue.shift(); batch && !job.signal.aborted; batch = queue.shift()) {
        const members = batch.map((index) => prepared[index]);
        const requestStart = performance.now();
        try {
          stats.modelCalls++;
          const rewards = await client.score(members, job.signal);
          stats.inferenceSeconds += (performance.now() - requestStart) / 1000;
          if (job.signal.aborted) return;
          options.onResults(members.map((member, i) => ({ id: member.id, reward: rewards[i] })));
          stats.items += members.length;
          stats.tokens += members.reduce((sum, member) => sum + member.tokens, 0);
          options.onProgress?.(stats.items + stats.failed, items.length);
        } catch (error) {
          if (job.signal.aborted) return;
          if (error instanceof HttpError && error.status !== undefined && FATAL_STATUS.has(error.status)) {
            fatal = new Error(fatalMessage(error));
            job.abort();
            return;
          }
          const message = error instanceof Error ? error.message : String(error);
          fail(members.map((member) => ({ id: member.id, error: message })));
        }
      }
    };
    try {
      const lanes = Math.max(1, Math.min(this.options.concurrency ?? 4, queue.length));
      await Promise.all(Array.from({ length: lanes }, runRequests));
    } finally {
      signal?.removeEventListener('abort', stop);
      this.lifetime.signal.removeEventListener('abort', stop);
    }
    if (fatal) throw fatal;
    if (job.signal.aborted) throw abortError();
    stats.seconds = (performance.now() - started) / 1000;
    return stats;
  }

  async dispose(): Promise<void> {
    this.lifetime.abort();
  }
}

export function createRemoteScorer(options: RemoteScorerOptions): Scorer {
  return new RemoteScorer(options);
}
