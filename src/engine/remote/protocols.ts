/**
 * The three serving engines a reward model too big for one machine sits behind, as their source
 * shows them — versions included, because their quirks change what a number means:
 *
 * - **vLLM** (`vllm serve <model> --runner pooling --convert classify`, or `--task classify` before
 *   0.10): `GET /version`, `GET /v1/models` (ids and `max_model_len`), then `POST /classify {"model",
 *   "input": [text…], "truncate_prompt_tokens", "use_activation": false}` →
 *   `{"data": [{"index", "probs": [score]}]}`. `use_activation` exists from 0.11.1; 0.10.2–0.11.0
 *   ignore it (unknown fields are logged, not refused) and 0.9.x has no switch at all: both apply a
 *   sigmoid to a one-label head. Before 0.11.1, `probs` is sigmoid(reward), and the reward is
 *   recovered as logit(p), as precisely as a float32 p allows (the error grows as e^|reward|), and
 *   where float32 rounded p to 0 or 1 (|reward| ≳ 17) the item is refused rather than guessed.
 * - **Text Embeddings Inference**: `GET /info` (`model_type`, `version`, `max_client_batch_size`,
 *   `max_concurrent_requests`, `max_input_length`), then `POST /predict {"inputs": [[prompt,
 *   response]…], "raw_scores": true, "truncate": true, "truncation_direction": "Left"}` → one list
 *   of `{"score", "label"}` per input. A one-label model is `model_type.reranker` (since 1.0), a
 *   multi-label one `classifier`; models TEI cannot classify (decoder LLMs) load as `embedding` or
 *   not at all. `truncate` defaults to the server's `--auto-truncate` (false before 1.9, true
 *   since), and the default direction is Right, which cuts the response being judged; so both are
 *   always sent. Batches above `max_client_batch_size` are refused with 422.
 * - **KServe v2 / Triton**: `GET /v2` (server name and version), `GET /v2/models/<m>` (metadata),
 *   Triton's `GET /v2/models/<m>/config` (`max_batch_size`; onnxruntime's auto-complete sets 4,
 *   and Triton refuses a larger batch), then `POST /v2/models/<m>/infer` with INT64 `input_ids` /
 *   `attention_mask` tensors tokenized here → `outputs[{"name": "logits"}]`.
 *
 * Truncation follows the local engine's rule on every backend: with the model's tokenizer at hand
 * (`--tokenizer`), an over-long conversation is cut here — BOS plus the end — and a server that
 * tokenizes itself is sent the text of exactly the kept tokens. Without it, the server's own
 * truncation (keeping the end) is asked for, and the scorer says so.
 */
import { padBatch, planBatches } from '../batching';
import type { Encoder, PairEncoder } from '../encoder';
import { renderTextPair, type TextFormat } from '../promptFormat';
import type { ScoreItem } from '../scorer';
import { HttpError, requestJson, type HttpOptions } from './http';

export type RemoteProtocolName = 'vllm' | 'tei' | 'kserve';

export const REMOTE_PROTOCOLS: readonly RemoteProtocolName[] = ['vllm', 'tei', 'kserve'];

/** An item as a protocol sends it (text, a text pair, or token ids). */
export interface Prepared<T> {
  id: number;
  input: T;
  /** Tokens sent, when this side tokenized; 0 when the server tokenizes and nothing here counted. */
  tokens: number;
  truncated: boolean;
  /**
   * The text already starts with the BOS (a chat template wrote it): the server must not add
   * another, as the local engine does not.
   */
  hasBos?: boolean;
}

/** What a server says about itself, read once at load. */
export interface ServerDescription {
  /** The served model's id. */
  model: string;
  /** Engine and version, e.g. `vLLM 0.10.2`, when the server tells. */
  server?: string;
  /** Rows one request may carry. */
  maxBatch?: number;
  /** Requests the server takes at once before refusing (TEI); a bound on the concurrency. */
  maxConcurrency?: number;
  /** Something the user should know about what the numbers are (a recovered logit, server-side truncation). */
  notes: string[];
}

/** One item's outcome in a batch: a reward, or why this item has none. */
export type ItemOutcome = number | { error: string };

export interface ProtocolClient<T> {
  /** Shown as ScorerInfo.template. */
  readonly template: string;
  /** Asks the server what it serves; throws with what is wrong (wrong URL, not a classifier, …). */
  describe(signal?: AbortSignal): Promise<ServerDescription>;
  prepare(item: ScoreItem): Prepared<T>;
  /** Groups prepared items (indices) into requests of at most `maxRows` rows. */
  plan(items: readonly Prepared<T>[], maxRows: number): number[][];
  /** One request; resolves with one outcome per item, in order. */
  score(batch: readonly Prepared<T>[], signal: AbortSignal): Promise<ItemOutcome[]>;
}

/** An answer that does not have the documented shape: retrying will not fix it. */
function malformed(what: string, detail: string): HttpError {
  return new HttpError(`${what} answered in an unexpected shape: ${detail}`, undefined, false);
}

function chunks(count: number, size: number): number[][] {
  const batches: number[][] = [];
  for (let start = 0; start < count; start += size) batches.push(Array.from({ length: Math.min(size, count - start) }, (_, i) => start + i));
  return batches;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const positive = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined);

/** `0.10.2`, `0.11.1rc2`, `0.9.0.post1+cu128` → [major, minor, patch]; undefined when unreadable. */
export function parseVersion(text: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

const atLeast = (version: [number, number, number], [major, minor, patch]: [number, number, number]) =>
  version[0] !== major ? version[0] > major : version[1] !== minor ? version[1] > minor : version[2] >= patch;

/**
 * The reward behind vLLM's sigmoid, computed from p as float32 gave it. p rounded to exactly 0 or 1
 * has lost the reward (float32's sigmoid saturates near |x| = 17); that item is refused.
 */
export function logitOf(p: number): ItemOutcome {
  if (!(p > 0 && p < 1)) {
    return { error: `the server returned a probability of ${p}, from which no reward can be recovered (vLLM before 0.11.1 applies a sigmoid); upgrade vLLM to 0.11.1 or later` };
  }
  return Math.log(p) - Math.log1p(-p);
}

/** What the scorer gives a protocol for truncation: the local rule when the tokenizer is here. */
export interface Truncation {
  /** Longest input in tokens (the user's --max-length, else the model's), when known. */
  maxLength?: number;
  /** The model's tokenizer, to cut over-long items here exactly as the local engine does. */
  encoder?: Encoder;
}

export interface VllmOptions {
  baseUrl: string;
  /** Served model name; the server's first model when absent. */
  model?: string;
  format: TextFormat;
  /** The tokenizer's BOS text, when known (a local tokenizer folder). */
  bos?: string;
  truncation: Truncation;
  http: HttpOptions;
  /** For the questions asked at load (version, model, limits): shorter limits than scoring's. */
  describeHttp?: HttpOptions;
}

export function vllmClient(options: VllmOptions): ProtocolClient<string> {
  let model = options.model;
  let sigmoid = false;
  let serverLimit: number | undefined;
  const { encoder } = options.truncation;
  return {
    template: options.format.name,
    async describe(signal) {
      const notes: string[] = [];
      // /version has been in vLLM's API server since 0.4; a server without it is not a vLLM we know.
      let versionText: string;
      try {
        const answer = await requestJson(`${options.baseUrl}/version`, undefined, options.describeHttp ?? options.http, signal);
        versionText = isRecord(answer) && typeof answer.version === 'string' ? answer.version : '';
      } catch (error) {
        if (error instanceof HttpError && error.status === 404) versionText = '';
        else throw error;
      }
      const version = parseVersion(versionText);
      if (version === undefined) {
        throw new HttpError(
          `${options.baseUrl} does not say which vLLM it is (GET /version); without it, a probability cannot be told from a reward. Serve the model with vLLM 0.9 or later.`,
          undefined,
          false,
        );
      }
      sigmoid = !atLeast(version, [0, 11, 1]);
      if (sigmoid) {
        notes.push(
          `vLLM ${versionText} applies a sigmoid to one-label models; rewards are recovered as logit(p), to within about 3e-8·e^|reward| (4e-4 at |reward| = 9.5; none beyond ~17). vLLM 0.11.1+ gives them directly`,
        );
      }

      const listing = await requestJson(`${options.baseUrl}/v1/models`, undefined, options.describeHttp ?? options.http, signal);
      const cards = isRecord(listing) && Array.isArray(listing.data) ? listing.data.filter(isRecord) : [];
      const served = cards.map((card) => card.id).filter((id): id is string => typeof id === 'string');
      if (served.length === 0) throw malformed(`${options.baseUrl}/v1/models`, 'no model ids in "data"');
      if (model !== undefined && !served.includes(model)) {
        throw new HttpError(`${options.baseUrl} does not serve "${model}"; it serves ${served.map((id) => `"${id}"`).join(', ')}`, 404, false);
      }
      model ??= served[0];
      const maxModelLen = positive(cards.find((card) => card.id === model)?.max_model_len);
      const limits = [options.truncation.maxLength, maxModelLen].filter((n): n is number => n !== undefined);
      serverLimit = limits.length ? Math.min(...limits) : undefined;
      if (!encoder && serverLimit !== undefined) {
        notes.push(`over-long inputs are cut by vLLM to their last ${serverLimit} tokens (its rule may drop BOS); give --tokenizer to cut them here as the local engine does`);
      }
      return { model, server: `vLLM ${versionText}`, notes };
    },
    prepare(item) {
      const text = options.format.render([...item.prompt, ...item.response]);
      const hasBos = options.bos !== undefined && text.startsWith(options.bos);
      if (!encoder) return { id: item.id, input: text, tokens: 0, truncated: false, hasBos };
      const encoded = encoder.encodeText(text);
      return { id: item.id, input: encoded.truncated ? (encoder.keptText(text) as string) : text, tokens: encoded.ids.length, truncated: encoded.truncated, hasBos };
    },
    plan: (items, maxRows) => chunks(items.length, maxRows),
    async score(batch, signal) {
      const url = `${options.baseUrl}/classify`;
      const body: Record<string, unknown> = { model, input: batch.map((item) => item.input), use_activation: false };
      // A guard even when the text was cut here: one over-long input would fail the whole batch.
      if (serverLimit !== undefined) body.truncate_prompt_tokens = serverLimit;
      // One format per job, so a batch agrees; a server without the field adds its BOS regardless.
      if (batch.every((item) => item.hasBos)) body.add_special_tokens = false;
      const answer = await requestJson(url, body, options.http, signal);
      if (!isRecord(answer) || !Array.isArray(answer.data)) throw malformed(url, 'no "data" list');
      const outcomes = new Array<ItemOutcome | undefined>(batch.length);
      for (const entry of answer.data) {
        if (!isRecord(entry) || typeof entry.index !== 'number' || !Array.isArray(entry.probs)) throw malformed(url, JSON.stringify(entry).slice(0, 100));
        if (entry.probs.length !== 1) {
          throw new HttpError(`${url} returned ${entry.probs.length} scores per input; a reward model has one label`, undefined, false);
        }
        const value = Number(entry.probs[0]);
        outcomes[entry.index] = sigmoid ? logitOf(value) : value;
      }
      if (outcomes.some((outcome) => outcome === undefined)) throw malformed(url, `${answer.data.length} results for ${batch.length} inputs`);
      return outcomes as ItemOutcome[];
    },
  };
}

export interface TeiOptions {
  baseUrl: string;
  truncation: Omit<Truncation, 'encoder'> & { encoder?: PairEncoder };
  http: HttpOptions;
  /** For the questions asked at load (version, model, limits): shorter limits than scoring's. */
  describeHttp?: HttpOptions;
}

/** TEI classifies encoder models only; a decoder reward model needs a server that runs it. */
const TEI_DECODER_HINT =
  'TEI classifies encoder models only (the BERT family; DeBERTa-v2 from TEI 1.9). Serve a Llama, Mistral, Qwen or Gemma reward model with vLLM (see the README).';

export function teiClient(options: TeiOptions): ProtocolClient<[string, string]> {
  const { encoder } = options.truncation;
  return {
    template: 'text-pair',
    async describe(signal) {
      const url = `${options.baseUrl}/info`;
      const info = await requestJson(url, undefined, options.describeHttp ?? options.http, signal);
      if (!isRecord(info) || typeof info.model_id !== 'string') throw malformed(url, 'no "model_id"');
      const modelType = isRecord(info.model_type) ? info.model_type : {};
      // One label is a "reranker" since TEI 1.0; a multi-label head is a "classifier".
      const head = isRecord(modelType.reranker) ? modelType.reranker : isRecord(modelType.classifier) ? modelType.classifier : undefined;
      if (head === undefined) {
        const served = isRecord(modelType.embedding) ? `as an embedding model (pooling ${String(modelType.embedding.pooling)})` : `as ${JSON.stringify(info.model_type)}`;
        throw new HttpError(`TEI on ${options.baseUrl} serves ${info.model_id} ${served}, not as a classifier: it cannot give rewards. ${TEI_DECODER_HINT}`, undefined, false);
      }
      const labels = isRecord(head.id2label) ? Object.keys(head.id2label).length : 1;
      if (labels !== 1) throw new HttpError(`${info.model_id} has ${labels} labels; a reward model has one`, undefined, false);
      const notes: string[] = [];
      const maxInput = positive(info.max_input_length);
      if (!encoder) notes.push(`over-long pairs are cut by TEI${maxInput ? ` to ${maxInput} tokens` : ''} from the left, longest text first; give --tokenizer to cut them here as the local engine does`);
      return {
        model: info.model_id,
        server: typeof info.version === 'string' ? `TEI ${info.version}` : 'TEI',
        maxBatch: positive(info.max_client_batch_size),
        maxConcurrency: positive(info.max_concurrent_requests),
        notes,
      };
    },
    prepare(item) {
      const pair = renderTextPair(item.prompt, item.response);
      if (!encoder) return { id: item.id, input: pair, tokens: 0, truncated: false };
      const encoded = encoder.encodePair(...pair);
      return { id: item.id, input: encoded.truncated ? (encoder.keptPair(...pair) as [string, string]) : pair, tokens: encoded.ids.length, truncated: encoded.truncated };
    },
    plan: (items, maxRows) => chunks(items.length, maxRows),
    async score(batch, signal) {
      const url = `${options.baseUrl}/predict`;
      const body = { inputs: batch.map((item) => item.input), raw_scores: true, truncate: true, truncation_direction: 'Left' };
      const answer = await requestJson(url, body, options.http, signal);
      if (!Array.isArray(answer) || answer.length !== batch.length) throw malformed(url, `expected ${batch.length} prediction lists`);
      return answer.map((predictions) => {
        if (!Array.isArray(predictions) || predictions.length !== 1 || !isRecord(predictions[0]) || typeof predictions[0].score !== 'number') {
          throw malformed(url, JSON.stringify(predictions).slice(0, 100));
        }
        return predictions[0].score;
      });
    },
  };
}

export interface KserveOptions {
  baseUrl: string;
  model: string;
  encoder: Encoder;
  batchTokens: number;
  http: HttpOptions;
  /** For the questions asked at load (version, model, limits): shorter limits than scoring's. */
  describeHttp?: HttpOptions;
}

interface TensorMetadata {
  name: string;
}

const flatNumbers = (data: unknown): number[] => (Array.isArray(data) ? data.flat(Infinity).map(Number) : []);

export function kserveClient(options: KserveOptions): ProtocolClient<number[]> {
  const modelUrl = `${options.baseUrl}/v2/models/${encodeURIComponent(options.model)}`;
  let inputNames: string[] = [];
  let outputName = 'logits';
  /** GET that answers undefined on 404: the parts of the API only Triton has. */
  const optional = async (url: string, signal: AbortSignal | undefined) => {
    try {
      return await requestJson(url, undefined, options.describeHttp ?? options.http, signal);
    } catch (error) {
      if (error instanceof HttpError && (error.status === 404 || error.status === 400)) return undefined;
      throw error;
    }
  };
  return {
    template: options.encoder.format,
    async describe(signal) {
      const metadata = await requestJson(modelUrl, undefined, options.describeHttp ?? options.http, signal);
      if (!isRecord(metadata) || !Array.isArray(metadata.inputs) || !Array.isArray(metadata.outputs)) throw malformed(modelUrl, 'no "inputs"/"outputs"');
      inputNames = (metadata.inputs as TensorMetadata[]).map((input) => input.name);
      const outputs = (metadata.outputs as TensorMetadata[]).map((output) => output.name);
      if (!inputNames.includes('input_ids')) throw new HttpError(`${options.model} takes [${inputNames.join(', ')}], not input_ids`, undefined, false);
      outputName = outputs.includes('logits') ? 'logits' : outputs[0];
      const server = await optional(`${options.baseUrl}/v2`, signal);
      const config = await optional(`${modelUrl}/config`, signal);
      // Triton: 0 means the model takes no batch dimension of Triton's; any positive value is a hard cap.
      const maxBatch = isRecord(config) ? positive(config.max_batch_size) : undefined;
      return {
        model: typeof metadata.name === 'string' ? metadata.name : options.model,
        server: isRecord(server) && typeof server.name === 'string' ? `${server.name}${typeof server.version === 'string' ? ` ${server.version}` : ''}` : undefined,
        maxBatch,
        notes: [],
      };
    },
    prepare(item) {
      const { ids, truncated } = options.encoder.encode([...item.prompt, ...item.response]);
      return { id: item.id, input: ids, tokens: ids.length, truncated };
    },
    plan: (items, maxRows) => planBatches(items.map((item) => item.input.length), options.batchTokens).flatMap((batch) => chunks(batch.length, maxRows).map((part) => part.map((i) => batch[i]))),
    async score(batch, signal) {
      const padded = padBatch(batch.map((item) => item.input), options.encoder.padId);
      const shape = [padded.rows, padded.width];
      const tensor = (name: string, values: BigInt64Array) => ({ name, shape, datatype: 'INT64', data: Array.from(values, Number) });
      const inputs = [tensor('input_ids', padded.inputIds)];
      if (inputNames.includes('attention_mask')) inputs.push(tensor('attention_mask', padded.attentionMask));
      if (inputNames.includes('token_type_ids')) inputs.push(tensor('token_type_ids', new BigInt64Array(padded.rows * padded.width)));
      const url = `${modelUrl}/infer`;
      const answer = await requestJson(url, { inputs, outputs: [{ name: outputName }] }, options.http, signal);
      const output = isRecord(answer) && Array.isArray(answer.outputs) ? answer.outputs.find((o) => isRecord(o) && o.name === outputName) : undefined;
      if (!isRecord(output)) throw malformed(url, `no "${outputName}" output`);
      const rewards = flatNumbers(output.data);
      if (rewards.length !== batch.length) {
        throw new HttpError(`${url} returned ${rewards.length} values for ${batch.length} inputs; a reward model has one label`, undefined, false);
      }
      return rewards;
    },
  };
}
