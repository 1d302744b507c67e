/**
 * In-process stand-ins for the serving engines, answering as their source says the real ones do,
 * version by version. Each serves a "model" whose reward is a closed-form function of the token
 * ids the server itself makes (knownScoreReward over the demo tokenizer, tokenized here with the
 * Hugging Face tokenizers library as the servers do), so a test knows the exact reward of whatever
 * text reaches the server, after the server's own truncation.
 *
 * Sources mirrored (read at the versions named):
 * - vLLM: `vllm/entrypoints/openai/protocol.py` ClassificationRequest (0.9.2: model, input,
 *   truncate_prompt_tokens, user, priority — no activation switch; 0.10.2–0.11.0: the same plus
 *   fields that do not include `use_activation`, so it is logged as ignored), and
 *   `vllm/entrypoints/pooling/classify/protocol.py` (0.11.1+: `use_activation`); the classifier
 *   pooler applies a sigmoid to a one-label head unless told not to; `/version` answers
 *   `{"version"}`; `/v1/models` lists ModelCards with `max_model_len`; an input longer than
 *   max_model_len fails the request with 400, `truncate_prompt_tokens` keeps the last k tokens
 *   (truncation_side left) and is refused above max_model_len.
 * - Text Embeddings Inference: `router/src/lib.rs` Info / ModelType (a one-label classifier is
 *   `reranker`, since 1.0), `router/src/http/types.rs` PredictRequest (`truncate` defaults to
 *   `--auto-truncate`, whose default became true in 1.9.0; `truncation_direction` defaults to
 *   Right), `router/src/http/server.rs` predict (batch above max_client_batch_size → 422
 *   Validation), `core/src/tokenization.rs` (over-long without truncation → 422 "`inputs` must
 *   have less than N tokens"; truncation is the tokenizers crate's LongestFirst in the direction
 *   asked).
 * - Triton 2.x: `GET /v2` server metadata, `GET /v2/models/<m>/config` with `max_batch_size`
 *   (the onnxruntime backend's auto-complete sets 4), and a request above it refused with 400
 *   "inference request batch-size must be <= N for '<m>'" (core `infer_request.cc`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Tokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import { readTokenizerFolder } from '../../src/engine/modelFolder';
import { knownScoreReward } from '../../scripts/modelkit/knownScoreModel';

export const demoTokenizerDir = path.resolve(__dirname, '..', '..', 'models', 'demo');

export interface Seen {
  method: string;
  url: string;
  authorization?: string;
  body: any;
}

export interface FakeServer {
  url: string;
  seen: Seen[];
  inFlight: { now: number; max: number };
  /** Token ids the server computed for each scored input, in arrival order (after its truncation). */
  scoredIds: number[][];
  close(): Promise<void>;
}

type Handler = (request: Seen, response: ServerResponse, server: FakeServer) => void | Promise<void>;

export async function serve(handler: Handler): Promise<FakeServer> {
  const fake: FakeServer = { url: '', seen: [], inFlight: { now: 0, max: 0 }, scoredIds: [], close: async () => undefined };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request: Seen = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body: text ? JSON.parse(text) : undefined };
    fake.seen.push(request);
    fake.inFlight.now++;
    fake.inFlight.max = Math.max(fake.inFlight.max, fake.inFlight.now);
    res.on('close', () => fake.inFlight.now--);
    await handler(request, res, fake);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

export const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

let demoTokenizer: Promise<Tokenizer> | undefined;
/** The demo model's tokenizer, as a server holding the model would load it. */
export function serverTokenizer(): Promise<Tokenizer> {
  demoTokenizer ??= (async () => {
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const folder = await readTokenizerFolder(demoTokenizerDir);
    return new Tokenizer(folder.tokenizerJson, folder.tokenizerConfig);
  })();
  return demoTokenizer;
}

/**
 * A text's ids as the servers' tokenizers (Rust `tokenizers`, Python transformers) give them: the
 * special-token strings in the text (`</s>` after each tulu turn) are matched as tokens. The JS
 * library misses them in running text for this tokenizer (see specialAwareEncoder in the engine),
 * so they are split out here by hand.
 */
export async function serverEncode(text: string, addSpecialTokens = true): Promise<number[]> {
  const tokenizer = await serverTokenizer();
  const parts = text.split(/(<\/s>|<s>)/);
  const ids = tokenizer.encode(parts[0], { add_special_tokens: addSpecialTokens }).ids;
  for (let i = 1; i < parts.length; i++) {
    if (i % 2 === 1) ids.push(tokenizer.token_to_id(parts[i]) as number);
    else if (parts[i]) ids.push(...tokenizer.encode(parts[i], { add_special_tokens: false }).ids);
  }
  return ids;
}

const sigmoid32 = (x: number) => Math.fround(1 / (1 + Math.exp(-x)));

export type VllmVersion = '0.9.2' | '0.10.2' | '0.11.0' | '0.11.1' | '0.12.0';

export interface VllmFakeOptions {
  version: VllmVersion | null;
  modelId?: string;
  maxModelLen: number;
  /** Milliseconds before each /classify answer. */
  latencyMs?: number;
}

const activationSwitch = (version: VllmVersion) => version === '0.11.1' || version === '0.12.0';

export async function vllmFake(options: VllmFakeOptions): Promise<FakeServer> {
  const modelId = options.modelId ?? 'allenai/tulu-v2.5-13b-hh-rlhf-60k-rm';
  return serve(async (request, res, fake) => {
    if (request.method === 'GET' && request.url === '/version') {
      if (options.version === null) return json(res, 404, { detail: 'Not Found' });
      return json(res, 200, { version: options.version });
    }
    if (request.method === 'GET' && request.url === '/v1/models') {
      return json(res, 200, { object: 'list', data: [{ id: modelId, object: 'model', created: 1, owned_by: 'vllm', root: modelId, parent: null, max_model_len: options.maxModelLen, permission: [] }] });
    }
    if (request.method === 'POST' && request.url === '/classify') {
      if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
      const inputs: string[] = typeof request.body.input === 'string' ? [request.body.input] : request.body.input;
      const k: number | undefined = request.body.truncate_prompt_tokens ?? undefined;
      if (k !== undefined && k > options.maxModelLen) {
        return json(res, 400, { object: 'error', message: `truncate_prompt_tokens value (${k}) is greater than max_model_len (${options.maxModelLen}). Please, select a smaller truncation size.`, type: 'BadRequestError', param: null, code: 400 });
      }
      const rows: number[][] = [];
      for (const text of inputs) {
        // `add_special_tokens` is honoured where the request model has it (0.11.1 here); older ones add BOS regardless.
        const addSpecialTokens = options.version !== null && activationSwitch(options.version) ? (request.body.add_special_tokens ?? true) : true;
        let ids = await serverEncode(text, addSpecialTokens);
        if (k !== undefined && ids.length > k) ids = ids.slice(ids.length - k);
        if (ids.length > options.maxModelLen) {
          return json(res, 400, {
            object: 'error',
            message: `This model's maximum context length is ${options.maxModelLen} tokens. However, you requested ${ids.length} tokens in the input for classification. Please reduce the length of the input.`,
            type: 'BadRequestError',
            param: null,
            code: 400,
          });
        }
        rows.push(ids);
      }
      fake.scoredIds.push(...rows);
      const raw = options.version !== null && activationSwitch(options.version) && request.body.use_activation === false;
      const data = rows.map((ids, index) => {
        const logit = Math.fround(knownScoreReward(ids));
        return { index, label: 'LABEL_0', probs: [raw ? logit : sigmoid32(logit)], num_classes: 1 };
      });
      return json(res, 200, { id: 'classify-1', object: 'list', created: 1, model: modelId, data, usage: { prompt_tokens: 1, total_tokens: 1 } });
    }
    json(res, 404, { detail: 'Not Found' });
  });
}

export interface TeiFakeOptions {
  version: '1.8.3' | '1.9.2';
  maxInputLength: number;
  maxClientBatchSize?: number;
  /** How TEI classified the model at start-up. */
  modelType?: 'reranker' | 'classifier' | 'embedding';
}

/** The tokenizers crate's LongestFirst: one token at a time off the longer text, from `direction`. */
function longestFirst(a: number[], b: number[], excess: number, direction: 'Left' | 'Right'): [number[], number[]] {
  const [x, y] = [[...a], [...b]];
  for (let i = 0; i < excess; i++) {
    const longer = x.length >= y.length ? x : y;
    if (direction === 'Left') longer.shift();
    else longer.pop();
  }
  return [x, y];
}

function indexOfRun(haystack: readonly number[], needle: readonly number[], from: number): number {
  for (let start = from; start + needle.length <= haystack.length; start++) {
    if (needle.every((id, offset) => haystack[start + offset] === id)) return start;
  }
  return from;
}

export async function teiFake(options: TeiFakeOptions): Promise<FakeServer> {
  const tokenizer = await serverTokenizer();
  const autoTruncate = options.version === '1.9.2';
  const maxClientBatchSize = options.maxClientBatchSize ?? 32;
  const modelType = options.modelType ?? 'reranker';
  const head = { id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 } };
  return serve((request, res, fake) => {
    if (request.method === 'GET' && request.url === '/info') {
      return json(res, 200, {
        model_id: 'OpenAssistant/reward-model-deberta-v3-large-v2',
        model_sha: null,
        model_dtype: 'float16',
        model_type: modelType === 'embedding' ? { embedding: { pooling: 'last_token' } } : { [modelType]: head },
        max_concurrent_requests: 512,
        max_input_length: options.maxInputLength,
        max_batch_tokens: 16384,
        max_batch_requests: null,
        max_client_batch_size: maxClientBatchSize,
        auto_truncate: autoTruncate,
        tokenization_workers: 2,
        version: options.version,
        sha: null,
        docker_label: null,
      });
    }
    if (request.method === 'POST' && request.url === '/predict') {
      const inputs: Array<[string, string]> = request.body.inputs;
      if (inputs.length > maxClientBatchSize) {
        return json(res, 422, { error: `batch size ${inputs.length} > maximum allowed batch size ${maxClientBatchSize}`, error_type: 'Validation' });
      }
      const truncate: boolean = request.body.truncate ?? autoTruncate;
      const direction: 'Left' | 'Right' = /^left$/i.test(request.body.truncation_direction ?? '') ? 'Left' : 'Right';
      const answers: Array<Array<{ score: number; label: string }>> = [];
      for (const [first, second] of inputs) {
        const full = tokenizer.encode(first, { text_pair: second }).ids;
        let ids = full;
        if (full.length > options.maxInputLength) {
          if (!truncate) {
            return json(res, 422, { error: `\`inputs\` must have less than ${options.maxInputLength} tokens. Given: ${full.length}`, error_type: 'Validation' });
          }
          const a = tokenizer.encode(first, { add_special_tokens: false }).ids;
          const b = tokenizer.encode(second, { add_special_tokens: false }).ids;
          // Truncation happens before the post-processor: cut the texts' ids, keep the pair's special tokens.
          const startA = indexOfRun(full, a, 0);
          const startB = indexOfRun(full, b, startA + a.length);
          const [keptA, keptB] = longestFirst(a, b, full.length - options.maxInputLength, direction);
          ids = [...full.slice(0, startA), ...keptA, ...full.slice(startA + a.length, startB), ...keptB, ...full.slice(startB + b.length)];
        }
        fake.scoredIds.push(ids);
        const logit = Math.fround(knownScoreReward(ids));
        answers.push([{ score: request.body.raw_scores ? logit : sigmoid32(logit), label: 'LABEL_0' }]);
      }
      return json(res, 200, answers);
    }
    json(res, 404, {});
  });
}

export interface TritonFakeOptions {
  maxBatchSize: number;
  model?: string;
}

export async function tritonFake(options: TritonFakeOptions): Promise<FakeServer> {
  const model = options.model ?? 'rm';
  const tensors = [
    { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
    { name: 'attention_mask', datatype: 'INT64', shape: [-1, -1] },
  ];
  return serve((request, res, fake) => {
    if (request.method === 'GET' && request.url === '/v2') {
      return json(res, 200, { name: 'triton', version: '2.59.0', extensions: ['classification', 'sequence', 'model_repository', 'schedule_policy', 'model_configuration', 'system_shared_memory', 'binary_tensor_data', 'statistics', 'trace', 'logging'] });
    }
    if (request.method === 'GET' && request.url === `/v2/models/${model}`) {
      return json(res, 200, { name: model, versions: ['1'], platform: 'onnxruntime_onnx', inputs: tensors, outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 1] }] });
    }
    if (request.method === 'GET' && request.url === `/v2/models/${model}/config`) {
      return json(res, 200, {
        name: model,
        platform: 'onnxruntime_onnx',
        backend: 'onnxruntime',
        max_batch_size: options.maxBatchSize,
        input: [
          { name: 'input_ids', data_type: 'TYPE_INT64', dims: [-1] },
          { name: 'attention_mask', data_type: 'TYPE_INT64', dims: [-1] },
        ],
        output: [{ name: 'logits', data_type: 'TYPE_FP32', dims: [1] }],
        instance_group: [{ name: model, kind: 'KIND_CPU', count: 1 }],
      });
    }
    if (request.method === 'POST' && request.url === `/v2/models/${model}/infer`) {
      const [ids, mask] = request.body.inputs;
      const [rows, width] = ids.shape;
      if (options.maxBatchSize > 0 && rows > options.maxBatchSize) {
        return json(res, 400, { error: `[request id: <id_unknown>] inference request batch-size must be <= ${options.maxBatchSize} for '${model}'` });
      }
      const data = Array.from({ length: rows }, (_, r) => {
        const row = ids.data.slice(r * width, (r + 1) * width).filter((_: number, c: number) => mask.data[r * width + c] === 1);
        fake.scoredIds.push(row);
        return Math.fround(knownScoreReward(row));
      });
      return json(res, 200, { model_name: model, model_version: '1', outputs: [{ name: 'logits', datatype: 'FP32', shape: [rows, 1], data }] });
    }
    json(res, 404, { error: `Request for unknown model: '${model}' is not found` });
  });
}

/** The reward `lightVllmFake` gives a text: cheap, deterministic, different per text. */
export function lightReward(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return Math.fround((h % 1000) / 100);
}

export interface LightFakeOptions {
  /** Milliseconds each /classify waits before answering (a GPU's time per batch). */
  latencyMs: number;
  /** After this many /classify requests have been answered, the server goes away (connections reset, port closed). */
  dieAfter?: number;
  /** Batches it computes at once, as a GPU does; more wait their turn. Unbounded when absent. */
  capacity?: number;
  modelId?: string;
}

/**
 * vLLM ≥ 0.11.1 for load tests: no tokenizer, a fixed latency per request, and optionally a death
 * midway. `answered` counts the inputs it returned a reward for.
 */
export async function lightVllmFake(options: LightFakeOptions): Promise<FakeServer & { answered: number }> {
  let requests = 0;
  const modelId = options.modelId ?? 'allenai/tulu-v2.5-13b-hh-rlhf-60k-rm';
  let busy = 0;
  const waiting: Array<() => void> = [];
  const compute = async () => {
    if (options.capacity !== undefined && busy >= options.capacity) await new Promise<void>((resolve) => waiting.push(resolve));
    busy++;
    await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    busy--;
    waiting.shift()?.();
  };
  const fake = (await serve(async (request, res, self) => {
    if (request.method === 'GET' && request.url === '/version') return json(res, 200, { version: '0.11.1' });
    if (request.method === 'GET' && request.url === '/v1/models') return json(res, 200, { object: 'list', data: [{ id: modelId, object: 'model', max_model_len: 4096 }] });
    if (request.method !== 'POST' || request.url !== '/classify') return json(res, 404, { detail: 'Not Found' });
    await compute();
    if (options.dieAfter !== undefined && ++requests > options.dieAfter) {
      // Dead: this request and every later one gets no answer.
      res.socket?.destroy();
      void self.close();
      return;
    }
    const inputs: string[] = request.body.input;
    (fake as { answered: number }).answered += inputs.length;
    json(res, 200, { object: 'list', model: modelId, data: inputs.map((text, index) => ({ index, label: 'LABEL_0', probs: [lightReward(text)], num_classes: 1 })) });
  })) as FakeServer & { answered: number };
  fake.answered = 0;
  return fake;
}
