/**
 * A "known-score" reward model: an ONNX graph with the same inputs, outputs and folder layout as an
 * optimum `text-classification` export of a reward model, whose reward is a closed-form function of
 * the token ids. It exists so the engine can be tested end to end (and the extension demoed) without
 * shipping gigabytes of weights — and so a test can recompute the exact reward it must produce.
 *
 * reward(ids, mask) = Σ_t mask[t] · knownScoreWeight(ids[t]) + KNOWN_SCORE_BIAS
 *
 * With its hashed weights it is NOT a reward model: its scores mean nothing about response quality.
 * The same graph over a *trained* table (scripts/train-baseline.ts writes one with
 * `buildKnownScoreModel({ trained })`) is the linear bag-of-tokens baseline in models/baseline/.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import { fmix32 } from '../../src/core/hash';

/**
 * Every weight is an odd multiple of 1/128 (|w| ≤ 33/128) and the bias a multiple of 1/128, so every
 * partial sum over fewer than ~500k tokens is a multiple of 1/128 below 2^24/128: exact in float32.
 * onnxruntime's sum (any order, any SIMD width) then equals the float64 recomputation bit for bit.
 */
const WEIGHT_DENOMINATOR = 128;
/** Hash buckets map to k/64 for k in [-16, 16]; the extra +1/128 per token mildly rewards length. */
const HASH_BUCKETS = 33;

export const KNOWN_SCORE_BIAS = -0.5;

/** Label shown wherever the model's name appears, so nobody mistakes demo scores for real ones. */
export const DEMO_MODEL_NAME = 'Preference Lens demo (not a real reward model)';

/** The weight the known-score model gives one token id. Pure; identical in the graph and in tests. */
export function knownScoreWeight(id: number): number {
  const bucket = (fmix32(id) % HASH_BUCKETS) - (HASH_BUCKETS - 1) / 2;
  return (2 * bucket + 1) / WEIGHT_DENOMINATOR;
}

/** The reward the model returns for an unpadded token sequence. */
export function knownScoreReward(ids: readonly number[]): number {
  let sum = KNOWN_SCORE_BIAS;
  for (const id of ids) sum += knownScoreWeight(id);
  return sum;
}

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

function int64Input(name: string): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimParam: 'batch_size' }, { dimParam: 'sequence_length' }] } } },
  };
}

function littleEndianFloat32(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

function littleEndianInt64(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setBigInt64(i * 8, BigInt(value), true));
  return bytes;
}

/** The parameters of the graph: reward = bias + Σ_t mask[t] · weights[ids[t]]. */
export interface TokenWeightTable {
  /** One weight per token id; its length is the vocabulary size. */
  weights: Float32Array;
  bias: number;
}

/**
 * Serialises the per-token-weight graph. `graphName` and `docString` are stored in the file, so
 * two tables that differ only in what they are for still give different (and self-describing) bytes.
 */
export function tokenWeightModelBytes(table: TokenWeightTable, graphName: string, docString: string): Uint8Array {
  const vocabSize = table.weights.length;
  if (vocabSize === 0) throw new Error('the weight table is empty');
  if (!Number.isFinite(table.bias) || !table.weights.every(Number.isFinite)) throw new Error('the weight table has a non-finite value');
  const graph: onnx.IGraphProto = {
    name: graphName,
    input: [int64Input('input_ids'), int64Input('attention_mask')],
    output: [
      {
        name: 'logits',
        type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch_size' }, { dimValue: 1 }] } } },
      },
    ],
    initializer: [
      { name: 'token_weight', dataType: DataType.FLOAT, dims: [vocabSize], rawData: littleEndianFloat32(table.weights) },
      { name: 'bias', dataType: DataType.FLOAT, dims: [1], rawData: littleEndianFloat32([table.bias]) },
      { name: 'sequence_axis', dataType: DataType.INT64, dims: [1], rawData: littleEndianInt64([1]) },
    ],
    node: [
      { opType: 'Gather', input: ['token_weight', 'input_ids'], output: ['per_token'], name: 'gather_weight', attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }] },
      { opType: 'Cast', input: ['attention_mask'], output: ['mask_float'], name: 'cast_mask', attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] },
      { opType: 'Mul', input: ['per_token', 'mask_float'], output: ['masked'], name: 'apply_mask' },
      // opset 13 takes ReduceSum's axes as an input; keepdims gives the [batch, 1] shape of a 1-label head.
      { opType: 'ReduceSum', input: ['masked', 'sequence_axis'], output: ['summed'], name: 'sum_tokens', attribute: [{ name: 'keepdims', type: AttributeType.INT, i: 1 }] },
      { opType: 'Add', input: ['summed', 'bias'], output: ['logits'], name: 'add_bias' },
    ],
  };
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'preference-lens',
    docString,
    graph,
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Serialises the known-score graph for a vocabulary of `vocabSize` ids (ids ≥ vocabSize are invalid). */
export function knownScoreModelBytes(vocabSize: number): Uint8Array {
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new Error(`vocabSize must be a positive integer, got ${vocabSize}`);
  const weights = Float32Array.from({ length: vocabSize }, (_, id) => knownScoreWeight(id));
  return tokenWeightModelBytes({ weights, bias: KNOWN_SCORE_BIAS }, 'known_score_reward_model', DEMO_MODEL_NAME);
}

export interface KnownScoreModelOptions {
  /** Folder holding `tokenizer.json` and, optionally, `tokenizer_config.json` to copy. */
  tokenizerDir: string;
  /** Folder to write; created if missing, files in it overwritten. */
  outDir: string;
  /** `config.json` `max_position_embeddings`; the engine truncates to it. Default 4096 (Llama-2). */
  maxPositionEmbeddings?: number;
  /**
   * `config.json` `pad_token_id`. Default 0 (`<unk>` in Llama-2): like an optimum export made with
   * `--pad_token_id 0`, and distinct from EOS so a trailing `</s>` stays a scored token.
   */
  padTokenId?: number;
  /** A trained table to write instead of the hashed demo weights, with what config.json says of it. */
  trained?: TrainedTokenWeights;
}

export interface TrainedTokenWeights {
  /** Its length must be the tokenizer's vocabulary size, or ids would index past the table. */
  table: TokenWeightTable;
  /** config.json `_name_or_path` (the name the UI shows) and the graph's doc string. */
  name: string;
  /** config.json `preference_lens_note`: what the scores mean, for whoever opens the folder. */
  note: string;
  /** Further config.json fields (e.g. the held-out evaluation), written after the standard ones. */
  extraConfig?: Record<string, unknown>;
}

export interface KnownScoreModelInfo {
  dir: string;
  vocabSize: number;
  padTokenId: number;
  maxPositionEmbeddings: number;
}

/** Vocabulary size as the embedding table of an export would have it: highest id in use + 1. */
function vocabSizeOf(tokenizerJson: unknown): number {
  const json = tokenizerJson as { model?: { vocab?: unknown }; added_tokens?: Array<{ id: number }> };
  const vocab = json.model?.vocab;
  let maxId = -1;
  // BPE/WordPiece vocabularies are token → id maps; Unigram ones are [token, score] lists.
  if (Array.isArray(vocab)) maxId = vocab.length - 1;
  else if (vocab && typeof vocab === 'object') for (const id of Object.values(vocab)) maxId = Math.max(maxId, Number(id));
  for (const token of json.added_tokens ?? []) maxId = Math.max(maxId, token.id);
  if (maxId < 0) throw new Error('tokenizer.json has no vocabulary (model.vocab is empty or missing)');
  return maxId + 1;
}

/** Writes `model.onnx`, `config.json` and the tokenizer files: the layout of an optimum export. */
export async function buildKnownScoreModel(options: KnownScoreModelOptions): Promise<KnownScoreModelInfo> {
  const tokenizerPath = path.join(options.tokenizerDir, 'tokenizer.json');
  const tokenizerText = await fs.readFile(tokenizerPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`Cannot build the known-score model: ${tokenizerPath} is unreadable (${error.code ?? error.message})`);
  });
  const vocabSize = vocabSizeOf(JSON.parse(tokenizerText));
  const { trained } = options;
  if (trained && trained.table.weights.length !== vocabSize) {
    throw new Error(`The weight table has ${trained.table.weights.length} entries but the tokenizer's vocabulary has ${vocabSize} ids`);
  }
  const padTokenId = options.padTokenId ?? 0;
  const maxPositionEmbeddings = options.maxPositionEmbeddings ?? 4096;

  await fs.mkdir(options.outDir, { recursive: true });
  const modelBytes = trained ? tokenWeightModelBytes(trained.table, 'token_weight_reward_model', trained.name) : knownScoreModelBytes(vocabSize);
  await fs.writeFile(path.join(options.outDir, 'model.onnx'), modelBytes);
  await fs.writeFile(path.join(options.outDir, 'tokenizer.json'), tokenizerText);
  const configTarget = path.join(options.outDir, 'tokenizer_config.json');
  // Read and write rather than copyFile: copyFile keeps a read-only source's mode, and the next
  // build could then not overwrite the file.
  const tokenizerConfig = await fs.readFile(path.join(options.tokenizerDir, 'tokenizer_config.json'), 'utf8').catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    },
  );
  if (tokenizerConfig === undefined) await fs.rm(configTarget, { force: true }); // no stale copy from an earlier build
  else await fs.writeFile(configTarget, tokenizerConfig);
  const config = {
    _name_or_path: trained?.name ?? DEMO_MODEL_NAME,
    architectures: [trained ? 'TokenWeightRewardModel' : 'KnownScoreRewardModel'],
    id2label: { '0': 'LABEL_0' },
    label2id: { LABEL_0: 0 },
    pad_token_id: padTokenId,
    max_position_embeddings: maxPositionEmbeddings,
    vocab_size: vocabSize,
    preference_lens_note:
      trained?.note ??
      `${DEMO_MODEL_NAME}: reward = bias + a sum of per-token weights hashed from the token ids; it says nothing about response quality.`,
    ...trained?.extraConfig,
  };
  await fs.writeFile(path.join(options.outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return { dir: options.outDir, vocabSize, padTokenId, maxPositionEmbeddings };
}
