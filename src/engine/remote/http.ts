/**
 * JSON over HTTP for the remote scorers: bearer token, a timeout per attempt, and retries with
 * exponential backoff on what is worth retrying (429, 5xx, timeouts, dropped connections), waiting
 * as long as the server's Retry-After asks. The token goes into the Authorization header and
 * nowhere else: error messages are scrubbed of it in case a server echoes it back.
 */
import { abortError } from '../abort';

export interface HttpOptions {
  /** Bearer token; sent as `Authorization: Bearer …`. */
  token?: string;
  /** Per attempt, in milliseconds. */
  timeoutMs: number;
  /** Attempts after the first one. */
  retries: number;
  /** First backoff delay in milliseconds; doubled on each further retry. */
  backoffMs: number;
  /** Upper bound on any one wait, Retry-After included, so a server cannot park a job for hours. */
  maxDelayMs: number;
}

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    message: string,
    /** HTTP status, when the server answered. */
    readonly status: number | undefined,
    readonly retryable: boolean,
    /** Milliseconds the server asked to wait (Retry-After). */
    readonly retryAfterMs?: number,
    /** Nothing listens there (connection refused): worth one quick retry, not a long backoff. */
    readonly refused = false,
  ) {
    super(message);
  }
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function scrub(text: string, token: string | undefined): string {
  return token ? text.split(token).join('***') : text;
}

/** 429 and the 5xx a load balancer or an overloaded server gives; 501 and 505 will not get better. */
const retryableStatus = (status: number) => status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);

async function attempt(url: string, body: unknown, options: HttpOptions, signal: AbortSignal | undefined): Promise<unknown> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    if (signal?.aborted) throw abortError();
    if (timeout.aborted) throw new HttpError(`${url} did not answer within ${options.timeoutMs} ms`, undefined, true);
    const causeError = (error as Error & { cause?: Error & { code?: string } }).cause;
    if (causeError?.code === 'ECONNREFUSED') {
      throw new HttpError(`cannot reach ${url}: nothing is listening there (connection refused); is the server running?`, undefined, true, undefined, true);
    }
    const cause = causeError?.message ?? (error as Error).message;
    // fetch refuses ports browsers block (9, 25, 6000, …) before connecting: retrying cannot help.
    const blocked = /bad port/i.test(cause);
    throw new HttpError(`cannot reach ${url}: ${blocked ? `${cause} (fetch does not connect to this port; serve the model on another one)` : cause}`, undefined, !blocked);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) throw abortError();
    const reason = timeout.aborted ? `did not finish within ${options.timeoutMs} ms` : (error as Error).message;
    throw new HttpError(`${url}: the response ${reason}`, response.status, true);
  }
  if (!response.ok) {
    const detail = text.trim().slice(0, 300);
    throw new HttpError(
      `${url} answered ${response.status} ${response.statusText}${detail ? `: ${detail}` : ''}`,
      response.status,
      retryableStatus(response.status),
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(`${url} answered with something other than JSON: ${text.slice(0, 100)}`, response.status, false);
  }
}

/**
 * GET (no body) or POST `body` as JSON; resolves with the parsed JSON answer. Rejects with an
 * HttpError once retries are spent or on an error retrying cannot fix, and with an AbortError when
 * `signal` aborts — also during a backoff wait.
 */
export async function requestJson(url: string, body: unknown, options: HttpOptions, signal?: AbortSignal): Promise<unknown> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(url, body, options, signal);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      const message = scrub(error.message, options.token);
      // A refused connection gets one retry: a server that is down stays down for longer than a backoff.
      if (!error.retryable || retry >= (error.refused ? Math.min(1, options.retries) : options.retries)) {
        const tries = retry > 0 ? ` (after ${retry + 1} attempts)` : '';
        throw new HttpError(`${message}${tries}`, error.status, error.retryable);
      }
      const backoff = options.backoffMs * 2 ** retry;
      await sleep(Math.min(options.maxDelayMs, error.retryAfterMs ?? backoff), signal);
    }
  }
}
