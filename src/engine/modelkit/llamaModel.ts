/**
 * A tiny Llama-architecture sequence classifier, written as an ONNX graph with the inputs, output,
 * config and folder layout of `optimum-cli export onnx --task text-classification` applied to a
 * `LlamaForSequenceClassification`: RMSNorm, rotary position embeddings, causal attention under the
 * attention mask, SwiGLU MLP, a one-label score head, and Hugging Face's pooling — the logit at the
 * rightmost token whose id is not `pad_token_id`, found from `input_ids` inside the graph.
 *
 * The weights are seeded random numbers, so the model means nothing; its use is that
 * llamaReference.ts recomputes the same forward pass in float64, and the engine's scores (padding,
 * batching, truncation, pooling) can be held to it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { onnx } from 'onnx-proto';

export interface LlamaShape {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  padTokenId: number;
}

/** Llama-2's vocabulary, special ids and norm/rope constants at a size that builds in a second. */
export const TINY_LLAMA_SHAPE: LlamaShape = {
  vocabSize: 32000,
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 172,
  maxPositionEmbeddings: 4096,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  // `<unk>`, as an export made with `--pad_token_id 0`; distinct from EOS, so a trailing `</s>` is scored.
  padTokenId: 0,
};

/**
 * Matrices are stored `[in, out]` row-major, so a layer is `y = x · W` (the transpose of
 * torch.nn.Linear's `weight`). Values are float32, the precision the graph holds them in.
 */
export interface LlamaLayerWeights {
  inputNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  postAttentionNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

export interface LlamaWeights {
  shape: LlamaShape;
  /** `[vocabSize, hiddenSize]`. */
  embedTokens: Float32Array;
  layers: LlamaLayerWeights[];
  finalNorm: Float32Array;
  /** `[hiddenSize, 1]`: the one-label score head (no bias, as in transformers). */
  score: Float32Array;
}

/** mulberry32: tiny, seedable, and the same sequence on every platform. */
function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normalSource(seed: number): () => number {
  const uniform = uniformSource(seed);
  return () => {
    // Box–Muller; 1 − u keeps the logarithm's argument in (0, 1].
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

/**
 * Seeded weights, scaled so every layer keeps activations of order one (std 1/√fan_in) rather than
 * transformers' 0.02 init: with tiny weights every reward would sit near zero and a 1e-4 tolerance
 * could not tell a masking or pooling bug from a correct pass.
 */
export function llamaWeights(shape: LlamaShape, seed: number): LlamaWeights {
  const normal = normalSource(seed);
  const matrix = (size: number, std: number) => Float32Array.from({ length: size }, () => normal() * std);
  const norm = () => Float32Array.from({ length: shape.hiddenSize }, () => 1 + 0.1 * normal());
  const { hiddenSize: h, intermediateSize: m } = shape;
  if (h % shape.numHeads !== 0 || (h / shape.numHeads) % 2 !== 0) {
    throw new Error(`hiddenSize ${h} must split into ${shape.numHeads} heads of even size (rotary embeddings rotate pairs)`);
  }
  const embedTokens = matrix(shape.vocabSize * h, 1);
  const layers = Array.from({ length: shape.numLayers }, () => ({
    inputNorm: norm(),
    q: matrix(h * h, 1 / Math.sqrt(h)),
    k: matrix(h * h, 1 / Math.sqrt(h)),
    v: matrix(h * h, 1 / Math.sqrt(h)),
    o: matrix(h * h, 1 / Math.sqrt(h)),
    postAttentionNorm: norm(),
    gate: matrix(h * m, 1 / Math.sqrt(h)),
    up: matrix(h * m, 1 / Math.sqrt(h)),
    down: matrix(m * h, 1 / Math.sqrt(m)),
  }));
  return { shape, embedTokens, layers, finalNorm: norm(), score: matrix(h, 1 / Math.sqrt(h)) };
}

/** Rotary inverse frequencies, `1 / θ^(2i/d)`, as transformers' default rope computes them. */
export function ropeInverseFrequencies(headDim: number, theta: number): number[] {
  return Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
}

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

/** Just enough graph-building to keep the model below readable: named nodes and constants. */
class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private counter = 0;

  node(opType: string, inputs: string[], attributes: onnx.IAttributeProto[] = []): string {
    const output = `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute: attributes });
    return output;
  }

  floats(name: string, dims: number[], values: ArrayLike<number>): string {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, rawData: bytes });
    return name;
  }

  int64s(name: string, dims: number[], values: readonly number[]): string {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    values.forEach((value, i) => view.setBigInt64(i * 8, BigInt(value), true));
    this.initializers.push({ name, dataType: DataType.INT64, dims, rawData: bytes });
    return name;
  }
}

const intAttribute = (name: string, i: number): onnx.IAttributeProto => ({ name, type: AttributeType.INT, i });
const intsAttribute = (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: AttributeType.INTS, ints });

/** The graph for `weights`; opset 17 (ReduceMean still takes its axes as an attribute there). */
export function llamaModelBytes(weights: LlamaWeights): Uint8Array {
  const { shape } = weights;
  const h = shape.hiddenSize;
  const heads = shape.numHeads;
  const headDim = h / heads;
  const g = new GraphBuilder();

  const eps = g.floats('rms_eps', [], [shape.rmsNormEps]);
  const rmsNorm = (x: string, weight: string) => {
    const meanSquare = g.node('ReduceMean', [g.node('Mul', [x, x])], [intsAttribute('axes', [-1]), intAttribute('keepdims', 1)]);
    const rms = g.node('Sqrt', [g.node('Add', [meanSquare, eps])]);
    return g.node('Mul', [g.node('Div', [x, rms]), weight]);
  };

  // Positions 0..T-1 in every row: transformers' default when no position_ids are given, and
  // right padding leaves real tokens there.
  const sequenceLength = g.node('Gather', [g.node('Shape', ['input_ids']), g.int64s('one_scalar', [], [1])], [intAttribute('axis', 0)]);
  const positions = g.node('Range', [g.int64s('zero_scalar', [], [0]), sequenceLength, 'one_scalar']);

  // Rotary tables [T, headDim]: angles = position × inv_freq, duplicated for the two halves.
  const positionColumn = g.node('Unsqueeze', [g.node('Cast', [positions], [intAttribute('to', DataType.FLOAT)]), g.int64s('axis_1', [1], [1])]);
  const freqs = g.node('Mul', [positionColumn, g.floats('inv_freq', [1, headDim / 2], ropeInverseFrequencies(headDim, shape.ropeTheta))]);
  const angles = g.node('Concat', [freqs, freqs], [intAttribute('axis', -1)]);
  const cos = g.node('Cos', [angles]);
  const sin = g.node('Sin', [angles]);

  // Which keys each query may see, [B, 1, T, T]: earlier-or-same positions that are not padding.
  const squareShape = g.node('Concat', [g.node('Unsqueeze', [sequenceLength, g.int64s('axis_0', [1], [0])]), g.node('Unsqueeze', [sequenceLength, 'axis_0'])], [intAttribute('axis', 0)]);
  const ones = g.node('ConstantOfShape', [squareShape], [{ name: 'value', type: AttributeType.TENSOR, t: { dataType: DataType.FLOAT, dims: [1], floatData: [1] } }]);
  const causal = g.node('Trilu', [ones], [intAttribute('upper', 0)]);
  const keyMask = g.node('Unsqueeze', [g.node('Cast', ['attention_mask'], [intAttribute('to', DataType.FLOAT)]), g.int64s('axes_1_2', [2], [1, 2])]);
  const allowed = g.node('Cast', [g.node('Mul', [causal, keyMask])], [intAttribute('to', DataType.BOOL)]);
  // transformers fills masked scores with the dtype's minimum before the softmax.
  const masked = g.floats('float_min', [], [-3.4028234663852886e38]);
  const scale = g.floats('attention_scale', [], [1 / Math.sqrt(headDim)]);

  const splitHeadsShape = g.int64s('split_heads_shape', [4], [0, 0, heads, headDim]);
  const mergeHeadsShape = g.int64s('merge_heads_shape', [3], [0, 0, h]);
  const half = headDim / 2;
  const sliceFirst = [g.int64s('half_start_0', [1], [0]), g.int64s('half_end_0', [1], [half]), g.int64s('head_dim_axis', [1], [3])];
  const sliceSecond = [g.int64s('half_start_1', [1], [half]), g.int64s('half_end_1', [1], [headDim]), 'head_dim_axis'];
  const toHeads = (x: string) => g.node('Transpose', [g.node('Reshape', [x, splitHeadsShape])], [intsAttribute('perm', [0, 2, 1, 3])]);
  const rotate = (x: string) => {
    // x·cos + rotate_half(x)·sin, where rotate_half(x) = [−x₂, x₁].
    const rotated = g.node('Concat', [g.node('Neg', [g.node('Slice', [x, ...sliceSecond])]), g.node('Slice', [x, ...sliceFirst])], [intAttribute('axis', -1)]);
    return g.node('Add', [g.node('Mul', [x, cos]), g.node('Mul', [rotated, sin])]);
  };

  let hidden = g.node('Gather', [g.floats('embed_tokens', [shape.vocabSize, h], weights.embedTokens), 'input_ids'], [intAttribute('axis', 0)]);
  weights.layers.forEach((layer, index) => {
    const name = (part: string) => `layers.${index}.${part}`;
    const normed = rmsNorm(hidden, g.floats(name('input_layernorm'), [h], layer.inputNorm));
    const project = (part: keyof LlamaLayerWeights, input: string) => g.node('MatMul', [input, g.floats(name(part), [h, h], layer[part])]);
    const q = rotate(toHeads(project('q', normed)));
    const k = rotate(toHeads(project('k', normed)));
    const v = toHeads(project('v', normed));
    const scores = g.node('Mul', [g.node('MatMul', [q, g.node('Transpose', [k], [intsAttribute('perm', [0, 1, 3, 2])])]), scale]);
    const probs = g.node('Softmax', [g.node('Where', [allowed, scores, masked])], [intAttribute('axis', -1)]);
    const context = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [probs, v])], [intsAttribute('perm', [0, 2, 1, 3])]), mergeHeadsShape]);
    hidden = g.node('Add', [hidden, project('o', context)]);

    const mlpIn = rmsNorm(hidden, g.floats(name('post_attention_layernorm'), [h], layer.postAttentionNorm));
    const gate = g.node('MatMul', [mlpIn, g.floats(name('gate'), [h, shape.intermediateSize], layer.gate)]);
    const up = g.node('MatMul', [mlpIn, g.floats(name('up'), [h, shape.intermediateSize], layer.up)]);
    const silu = g.node('Mul', [gate, g.node('Sigmoid', [gate])]);
    hidden = g.node('Add', [hidden, g.node('MatMul', [g.node('Mul', [silu, up]), g.floats(name('down'), [shape.intermediateSize, h], layer.down)])]);
  });
  const perToken = g.node('MatMul', [rmsNorm(hidden, g.floats('norm', [h], weights.finalNorm)), g.floats('score', [h, 1], weights.score)]);

  // LlamaForSequenceClassification's pooling: argmax(position × (id ≠ pad)) is the rightmost
  // non-pad token (0 when there is none, as in torch). From the ids, not the attention mask.
  const notPad = g.node('Cast', [g.node('Not', [g.node('Equal', ['input_ids', g.int64s('pad_token_id', [], [shape.padTokenId])])])], [intAttribute('to', DataType.INT64)]);
  const last = g.node('ArgMax', [g.node('Mul', [notPad, positions])], [intAttribute('axis', 1), intAttribute('keepdims', 1)]);
  const picked = g.node('GatherElements', [perToken, g.node('Unsqueeze', [last, g.int64s('axis_2', [1], [2])])], [intAttribute('axis', 1)]);
  g.nodes.push({ opType: 'Squeeze', input: [picked, 'axis_2'], output: ['logits'], name: 'pool' });

  const int64Input = (name: string): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimParam: 'batch_size' }, { dimParam: 'sequence_length' }] } } },
  });
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'preference-lens',
    docString: 'Tiny Llama sequence classifier with random weights (a test fixture, not a reward model)',
    graph: {
      name: 'tiny_llama_sequence_classifier',
      input: [int64Input('input_ids'), int64Input('attention_mask')],
      output: [{ name: 'logits', type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch_size' }, { dimValue: 1 }] } } } }],
      initializer: g.initializers,
      node: g.nodes,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export interface LlamaModelOptions {
  /** Folder holding `tokenizer.json` and `tokenizer_config.json` to copy (the Llama-2 tokenizer). */
  tokenizerDir: string;
  /** Folder to write; created if missing, files in it overwritten. */
  outDir: string;
  seed?: number;
  /** Overrides of TINY_LLAMA_SHAPE, e.g. a realistic size for benchmarks or `padTokenId: 2`. */
  shape?: Partial<LlamaShape>;
}

/** Writes `model.onnx`, `config.json` and the tokenizer files; returns the weights for the reference. */
export async function buildLlamaModel(options: LlamaModelOptions): Promise<LlamaWeights> {
  const shape = { ...TINY_LLAMA_SHAPE, ...options.shape };
  const weights = llamaWeights(shape, options.seed ?? 1);
  await fs.mkdir(options.outDir, { recursive: true });
  await fs.writeFile(path.join(options.outDir, 'model.onnx'), llamaModelBytes(weights));
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
    // Read and write rather than copyFile: copyFile keeps a read-only source's mode, and the next
    // build could then not overwrite the file.
    await fs.writeFile(path.join(options.outDir, file), await fs.readFile(path.join(options.tokenizerDir, file)));
  }
  const config = {
    _name_or_path: 'preference-lens/tiny-llama-random',
    architectures: ['LlamaForSequenceClassification'],
    model_type: 'llama',
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.numLayers,
    num_attention_heads: shape.numHeads,
    num_key_value_heads: shape.numHeads,
    hidden_act: 'silu',
    rms_norm_eps: shape.rmsNormEps,
    rope_theta: shape.ropeTheta,
    max_position_embeddings: shape.maxPositionEmbeddings,
    vocab_size: shape.vocabSize,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: shape.padTokenId,
    id2label: { '0': 'LABEL_0' },
    label2id: { LABEL_0: 0 },
    torch_dtype: 'float32',
  };
  await fs.writeFile(path.join(options.outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return weights;
}
