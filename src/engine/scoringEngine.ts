/**
 * The scoring pipeline that runs inside the worker: one warm onnxruntime session, tokenization,
 * length-bucketed batches, results per batch. Kept free of worker plumbing so it reads (and fails)
 * the same way in a test.
 */
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import type { LoadOptions } from '../shared/workerProtocol';
import { abortError } from './abort';
import { padBatch, planBatches, type PaddedBatch } from './batching';
import { createItemEncoder, type ItemEncoder } from './encoder';
import { readModelFolder } from './modelFolder';
import type { ScoreItem, ScoreResult, ScoreStats, ScorerInfo } from './scorer';
import { modelIdentity, ScoreCache } from './scoreCache';
import { createSession } from './session';

/** Padded tokens per inference call when the caller does not say; a few seconds per call on a laptop CPU. */
export const DEFAULT_BATCH_TOKENS = 4096;
/**
 * Items tokenized before their batches run. Bucketing needs lengths first, but tokenizing a whole
 * dataset up front would hold back the first result for minutes (~44k tokens/s for Llama).
 */
export const WINDOW_ITEMS = 256;
/** Tokenized items between yields to the event loop, so a cancel message is seen promptly. */
const YIELD_EVERY = 16;

export interface ScoreHooks {
  isCancelled(): boolean;
  onResults(results: ScoreResult[]): void;
  onProgress(done: number, total: number): void;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** fp16 exports return `Uint16Array` on Node 20; reads one IEEE half. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The reward of each row: its only logit, or logit `logitIndex` of a multi-label export. */
export function rewardsOf(output: ort.Tensor, rows: number, logitIndex: number | undefined, labelNames: string): number[] {
  const labels = output.dims.length === 2 ? output.dims[1] : -1;
  if (output.dims[0] !== rows || labels < 1) {
    throw new Error(
      `The model returned logits of shape [${output.dims.join(', ')}]; a reward model returns one score per item ` +
        `([${rows}, 1]). Is this a sequence-classification export?`,
    );
  }
  if (labels > 1 && logitIndex === undefined) {
    throw new Error(
      `The model has ${labels} labels (${labelNames}); a reward model has one. If one of its logits is the reward, ` +
        'say which: the preferenceLens.logitIndex setting or plens --logit <index> (0-based, in config.json id2label order).',
    );
  }
  const column = logitIndex ?? 0;
  if (column >= labels) throw new Error(`Logit ${column} was asked for, but the model has ${labels} (0-based indices 0–${labels - 1}).`);
  const data = output.data;
  let values: ArrayLike<number>;
  if (output.type === 'float16' && data instanceof Uint16Array) values = Array.from(data, halfToFloat);
  else if (data instanceof Float32Array || data instanceof Float64Array) values = data;
  else throw new Error(`Unsupported logits type ${output.type}`);
  return Array.from({ length: rows }, (_, row) => values[row * labels + column]);
}

/** Builds the feeds an export may ask for; anything else is an export this engine cannot drive. */
function feedsFor(session: ort.InferenceSession, batch: PaddedBatch): Record<string, ort.Tensor> {
  const shape = [batch.rows, batch.width];
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = new Tensor('int64', batch.inputIds, shape);
    else if (name === 'attention_mask') feeds[name] = new Tensor('int64', batch.attentionMask, shape);
    // Segment ids of text-pair input; all 0 for one-segment input, as BERT-style models expect.
    else if (name === 'token_type_ids') feeds[name] = new Tensor('int64', batch.tokenTypeIds, shape);
    // Right padding: real tokens sit at 0..n-1 in every row, as in training.
    else if (name === 'position_ids') {
      const positions = new BigInt64Array(batch.rows * batch.width);
      for (let i = 0; i < positions.length; i++) positions[i] = BigInt(i % batch.width);
      feeds[name] = new Tensor('int64', positions, shape);
    }
  }
  return feeds;
}

const SUPPORTED_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);

export class ScoringEngine {
  private constructor(
    readonly info: ScorerInfo,
    private readonly session: ort.InferenceSession,
    private readonly encoder: ItemEncoder,
    private readonly outputName: string,
    private readonly batchTokens: number,
    /** Dropped after a failed write, so a full or read-only disk costs one warning, not every batch. */
    private cache: ScoreCache | undefined,
    private readonly logitIndex: number | undefined,
    /** The model's labels from config.json, for the message when a logit must be chosen. */
    private readonly labelNames: string,
  ) {}

  static async load(options: LoadOptions): Promise<ScoringEngine> {
    const folder = await readModelFolder(options.modelDir, options.variant);
    // Tokenizer problems are cheaper to find than a multi-GB session load; do them first.
    const encoder = await createItemEncoder(folder, { maxLength: options.maxLength, template: options.template });
    const { session, device, fallbackReason } = await createSession(folder.modelPath, options.device);
    const unsupported = session.inputNames.filter((name) => !SUPPORTED_INPUTS.has(name));
    if (unsupported.length > 0 || !session.inputNames.includes('input_ids')) {
      await session.release();
      throw new Error(
        `${folder.modelPath} takes inputs [${session.inputNames.join(', ')}]; the scorer feeds input_ids, attention_mask ` +
          'and optionally token_type_ids / position_ids. Re-export with `optimum-cli export onnx --task text-classification`.',
      );
    }
    const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
    const info: ScorerInfo = { model: folder.name, device, template: encoder.format, ...(fallbackReason ? { fallbackReason } : {}) };
    let cache: ScoreCache | undefined;
    if (options.cacheDir !== undefined) {
      // The cache only saves time: when it cannot be opened, scoring goes on and the user is told why.
      try {
        const settings = { template: encoder.format, maxLength: encoder.maxLength, ...(options.logitIndex !== undefined ? { logitIndex: options.logitIndex } : {}) };
        cache = await ScoreCache.open(options.cacheDir, await modelIdentity(folder, settings), { model: folder.name, modelPath: folder.modelPath, ...settings });
        info.cache = cache.file;
      } catch (error) {
        info.cacheError = `Scores are not cached: ${(error as Error).message}`;
      }
    }
    const labelNames = Object.entries(folder.config.id2label ?? {})
      .map(([index, name]) => `${index}: ${name}`)
      .join(', ') || 'no id2label in config.json';
    return new ScoringEngine(info, session, encoder, outputName, Math.max(1, options.batchTokens ?? DEFAULT_BATCH_TOKENS), cache, options.logitIndex, labelNames);
  }

  /**
   * Scores `items`, reporting each batch as it finishes; throws an AbortError once cancelled.
   * Items whose text is in the score cache are reported first, without running the model.
   */
  async score(items: readonly ScoreItem[], hooks: ScoreHooks): Promise<ScoreStats> {
    const started = performance.now();
    const stats = { items: 0, tokens: 0, seconds: 0, tokenizeSeconds: 0, inferenceSeconds: 0, truncated: 0, cached: 0, modelCalls: 0 };
    let cacheError: string | undefined;
    for (let windowStart = 0; windowStart < items.length; windowStart += WINDOW_ITEMS) {
      const window = items.slice(windowStart, windowStart + WINDOW_ITEMS);
      const hits: ScoreResult[] = [];
      const misses: Array<{ item: ScoreItem; key: string | undefined; ids: number[]; typeIds: number[] | undefined; truncated: boolean }> = [];
      for (const [index, item] of window.entries()) {
        if (index % YIELD_EVERY === 0) {
          await yieldToEventLoop();
          if (hooks.isCancelled()) throw abortError();
        }
        const tokenizeStart = performance.now();
        try {
          const input = this.encoder.input(item.prompt, item.response);
          const key = this.cache?.keyOf(input.text);
          const hit = key === undefined ? undefined : this.cache?.get(key);
          if (hit) {
            hits.push({ id: item.id, reward: hit.reward });
            if (hit.truncated) stats.truncated++;
          } else {
            // Both responses of a pair share the prompt: the encoder reuses its tokens from the previous item.
            const encoded = input.encode();
            if (encoded.truncated) stats.truncated++;
            misses.push({ item, key, ids: encoded.ids, typeIds: encoded.typeIds, truncated: encoded.truncated });
          }
        } catch (error) {
          throw new Error(`Item ${item.id}: ${(error as Error).message}`, { cause: error });
        }
        stats.tokenizeSeconds += (performance.now() - tokenizeStart) / 1000;
      }
      if (hits.length > 0) {
        hooks.onResults(hits);
        stats.items += hits.length;
        stats.cached += hits.length;
        hooks.onProgress(stats.items, items.length);
      }

      for (const batch of planBatches(misses.map(({ ids }) => ids.length), this.batchTokens)) {
        await yieldToEventLoop();
        if (hooks.isCancelled()) throw abortError();
        const batchSequences = batch.map((index) => misses[index].ids);
        const padded = padBatch(
          batchSequences,
          this.encoder.padId,
          batch.map((index) => misses[index].typeIds),
        );
        const inferenceStart = performance.now();
        const outputs = await this.session.run(feedsFor(this.session, padded));
        stats.inferenceSeconds += (performance.now() - inferenceStart) / 1000;
        stats.modelCalls++;
        const rewards = rewardsOf(outputs[this.outputName], padded.rows, this.logitIndex, this.labelNames);
        hooks.onResults(batch.map((index, row) => ({ id: misses[index].item.id, reward: rewards[row] })));
        stats.items += batch.length;
        stats.tokens += batchSequences.reduce((sum, ids) => sum + ids.length, 0);
        hooks.onProgress(stats.items, items.length);
        if (this.cache) {
          try {
            await this.cache.add(batch.map((index, row) => ({ key: misses[index].key as string, reward: rewards[row], truncated: misses[index].truncated })));
          } catch (error) {
            this.cache = undefined;
            cacheError = `Scores are no longer cached: ${(error as Error).message}`;
          }
        }
      }
    }
    stats.seconds = (performance.now() - started) / 1000;
    return cacheError === undefined ? stats : { ...stats, cacheError };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
