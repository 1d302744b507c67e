/**
 * The three serving APIs a reward model too big for one machine can sit behind, each as its
 * documentation shows it:
 * - vLLM (`vllm serve <model> --runner pooling --convert classify`): `GET /v1/models`, then
 *   `POST /classify {"model", "input": [text…], "use_activation": false}` →
 *   `{"data": [{"index", "probs": [reward]}]}`. `use_activation: false` keeps the raw logit; vLLM
 *   would otherwise apply a sigmoid to a one-label head.
 * - Text Embeddings Inference: `GET /info`, then `POST /predict {"inputs": [[prompt, response]…],
 *   "raw_scores": true}` → one list of `{"score", "label"}` per input (one entry for one label).
 * - KServe v2 / Triton: `GET /v2/models/<m>` (metadata), then `POST /v2/models/<m>/infer` with
 *   INT64 `input_ids` / `attention_mask` tensors tokenized here → `outputs[{"name": "logits"}]`.
 */
import { padBatch, planBatches } from '../batching';
import type { Encoder } from '../encoder';
import { renderTextPair, type TextFormat } from '../promptFormat';
import type { ScoreItem } from '../scorer';
import { HttpError, requestJson, type HttpOptions } from './http';

export type RemoteProtocolName = 'vllm' | 'tei' | 'kserve';

export const REMOTE_PROTOCOLS: readonly RemoteProtocolName[] = ['vllm', 'tei', 'kserve'];

/** An item as a protocol sends it (text, a text pair, or token ids). */
export interface Prepared<T> {
  id: number;
  input: T;
  /** Tokens sent, when this side tokenized (KServe); 0 when the server tokenizes. */
  tokens: number;
  truncated: boolean;
}

export interface ProtocolClient<T> {
  /** Shown as ScorerInfo.template. */
  readonly template: string;
  /** Asks the server what it serves; throws with what is wrong (wrong URL, not a classifier, …). */
  describe(signal?: AbortSignal): Promise<{ model: string }>;
  prepare(item: ScoreItem): Prepared<T>;
  /** Groups prepared items (indices) into requests. */
  plan(items: readonly Prepared<T>[]): number[][];
  /** One request; resolves with one reward per item, in order. */
  score(batch: readonly Prepared<T>[], signal: AbortSignal): Promise<number[]>;
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

export interface VllmOptions {
  baseUrl: string;
  /** Served model name; the server's first model when absent. */
  model?: string;
  format: TextFormat;
  batchSize: number;
  http: HttpOptions;
}

export function vllmClient(options: VllmOptions): ProtocolClient<string> {
  let model = options.model;
  return {
    template: options.format.name,
    async describe(signal) {
      const listing = await requestJson(`${options.baseUrl}/v1/models`, undefined, options.http, signal);
      const ids = isRecord(listing) && Array.isArray(listing.data) ? listing.data.map((entry) => (isRecord(entry) ? entry.id : undefined)) : [];
      const served = ids.filter((id): id is string => typeof id === 'string');
      if (served.length === 0) throw malformed(`${options.baseUrl}/v1/models`, 'no model ids in "data"');
      if (model !== undefined && !served.includes(model)) {
        throw new HttpError(`${options.baseUrl} does not serve "${model}"; it serves ${served.map((id) => `"${id}"`).join(', ')}`, 404, false);
      }
      model ??= served[0];
      return { model };
    },
    prepare: (item) => ({ id: item.id, input: options.format.render([...item.prompt, ...item.response]), tokens: 0, truncated: false }),
    plan: (items) => chunks(items.length, options.batchSize),
    async score(batch, signal) {
      const url = `${options.baseUrl}/classify`;
      const answer = await requestJson(url, { model, input: batch.map((item) => item.input), use_activation: false }, options.http, signal);
      if (!isRecord(answer) || !Array.isArray(answer.data)) throw malformed(url, 'no "data" list');
      const rewards = new Array<number | undefined>(batch.length);
      for (const entry of answer.data) {
        if (!isRecord(entry) || typeof entry.index !== 'number' || !Array.isArray(entry.probs)) throw malformed(url, JSON.stringify(entry).slice(0, 100));
        if (entry.probs.length !== 1) {
          throw new HttpError(`${url} returned ${entry.probs.length} scores per input; a reward model has one label`, undefined, false);
        }
        rewards[entry.index] = Number(entry.probs[0]);
      }
      if (rewards.some((reward) => reward === undefined)) throw malformed(url, `${answer.data.length} results for ${batch.length} inputs`);
      return rewards as number[];
    },
  };
}

export interface TeiOptions {
  baseUrl: string;
  batchSize: number;
  http: HttpOptions;
}

export function teiClient(options: TeiOptions): ProtocolClient<[string, string]> {
  // TEI refuses requests above its max_client_batch_size (32 unless configured); /info says.
  let batchSize = options.batchSize;
  return {
    template: 'text-pair',
    async describe(signal) {
      const url = `${options.baseUrl}/info`;
      const info = await requestJson(url, undefined, options.http, signal);
      if (!isRecord(info) || typeof info.model_id !== 'string') throw malformed(url, 'no "model_id"');
      const classifier = isRecord(info.model_type) ? info.model_type.classifier : undefined;
      if (!isRecord(classifier)) {
        throw new HttpError(`${info.model_id} on ${options.baseUrl} is not a sequence classifier (model_type ${JSON.stringify(info.model_type)})`, undefined, false);
      }
      const labels = isRecord(classifier.id2label) ? Object.keys(classifier.id2label).length : 1;
      if (labels !== 1) throw new HttpError(`${info.model_id} has ${labels} labels; a reward model has one`, undefined, false);
      if (typeof info.max_client_batch_size === 'number' && info.max_client_batch_size > 0) batchSize = Math.min(batchSize, info.max_client_batch_size);
      return { model: info.model_id };
    },
    prepare: (item) => ({ id: item.id, input: renderTextPair(item.prompt, item.response), tokens: 0, truncated: false }),
    plan: (items) => chunks(items.length, batchSize),
    async score(batch, signal) {
      const url = `${options.baseUrl}/predict`;
      const answer = await requestJson(url, { inputs: batch.map((item) => item.input), raw_scores: true }, options.http, signal);
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
}

interface TensorMetadata {
  name: string;
}

const flatNumbers = (data: unknown): number[] => (Array.isArray(data) ? data.flat(Infinity).map(Number) : []);

export function kserveClient(options: KserveOptions): ProtocolClient<number[]> {
  const modelUrl = `${options.baseUrl}/v2/models/${encodeURIComponent(options.model)}`;
  let inputNames: string[] = [];
  let outputName = 'logits';
  return {
    template: options.encoder.format,
    async describe(signal) {
      const metadata = await requestJson(modelUrl, undefined, options.http, signal);
      if (!isRecord(metadata) || !Array.isArray(metadata.inputs) || !Array.isArray(metadata.outputs)) throw malformed(modelUrl, 'no "inputs"/"outputs"');
      inputNames = (metadata.inputs as TensorMetadata[]).map((input) => input.name);
      const outputs = (metadata.outputs as TensorMetadata[]).map((output) => output.name);
      if (!inputNames.includes('input_ids')) throw new HttpError(`${options.model} takes [${inputNames.join(', ')}], not input_ids`, undefined, false);
      outputName = outputs.includes('logits') ? 'logits' : outputs[0];
      return { model: typeof metadata.name === 'string' ? metadata.name : options.model };
    },
    prepare(item) {
      const { ids, truncated } = options.encoder.encode([...item.prompt, ...item.response]);
      return { id: item.id, input: ids, tokens: ids.length, truncated };
    },
    plan: (items) => planBatches(items.map((item) => item.input.length), options.batchTokens),
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
