/**
 * One entry point for "a model": a local folder runs in the ONNX worker, an http(s) URL is a remote
 * endpoint. The protocol comes from the caller, else from the URL's API path, else vLLM (the server
 * that serves Llama reward models).
 */
import { createRemoteScorer, type RemoteScorerOptions } from './remote/remoteScorer';
import { REMOTE_PROTOCOLS, type RemoteProtocolName } from './remote/protocols';
import type { Scorer } from './scorer';
import { createWorkerScorer, type WorkerScorerOptions } from './workerScorer';

/** Environment variable the token is read from when none is passed in. */
export const REMOTE_TOKEN_ENV = 'PLENS_REMOTE_TOKEN';

export interface CreateScorerOptions extends Omit<WorkerScorerOptions, 'modelDir'> {
  /** A model folder, or an http(s) endpoint. */
  model: string;
  /** Remote endpoints only; `baseUrl`, `protocol` and `model` come from `model` unless given here. */
  remote?: Partial<RemoteScorerOptions>;
}

export const isEndpoint = (model: string) => /^https?:\/\//i.test(model);

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

export function createScorer(options: CreateScorerOptions): Scorer {
  const { model, remote, ...local } = options;
  if (!isEndpoint(model)) return createWorkerScorer({ ...local, modelDir: model });
  const endpoint = parseEndpoint(model, remote?.protocol);
  // An explicit protocol wins over the URL's shape only for a bare root; a contradiction is an error.
  if (remote?.protocol !== undefined && remote.protocol !== endpoint.protocol) {
    throw new Error(`${model} looks like a ${endpoint.protocol} endpoint, but the protocol ${remote.protocol} was asked for`);
  }
  return createRemoteScorer({
    maxLength: local.maxLength,
    batchTokens: local.batchTokens,
    ...remote,
    baseUrl: remote?.baseUrl ?? endpoint.baseUrl,
    protocol: endpoint.protocol,
    model: remote?.model ?? endpoint.model,
    token: remote?.token ?? (process.env[REMOTE_TOKEN_ENV] || undefined),
  });
}
