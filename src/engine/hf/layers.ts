/**
 * The building blocks the architectures share — linear layers in each precision, norms, rotary
 * embeddings, masked attention, pooling — written once as ONNX subgraphs, each the computation
 * transformers' PyTorch modules do (float32 compute), so an architecture file reads like its
 * modeling_*.py. `fused` swaps in onnxruntime's fused operators (ONNX opset 23 RMSNormalization,
 * RotaryEmbedding and Attention); tests hold both forms to the same references.
 */
import { readFileSync } from 'node:fs';
import { DataType, float, type GraphBuilder } from './onnxGraph';
import { quantizeInt4Blocks, quantizeInt8Columns, INT4_BLOCK_SIZE } from './quantize';
import { toFloat32, type WeightStore } from './safetensors';

/**
 * How linear-layer weights are stored and multiplied. `fp32`: exact (the reference). `int8`:
 * per-output-channel int8 weights, each activation row quantized on the fly (MatMulInteger). `int4`: 4-bit blocks of 64 with a scale and zero point each (MatMulNBits),
 * for models that would not otherwise fit in memory.
 */
export type Precision = 'fp32' | 'int8' | 'int4';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8', 'int4'];

/** transformers fills masked attention scores with float32's lowest value before the softmax. */
const FLOAT32_LOWEST = -3.4028234663852886e38;

/**
 * int8 × uint8 products can saturate in the 16-bit intermediate of x86 CPUs without VNNI
 * (onnxruntime's quantization docs); there, weights use 7 bits, as onnxruntime's `reduce_range`.
 */
function int8WeightLimit(): number {
  if (process.arch !== 'x64') return 127;
  try {
    return /\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 127 : 63;
  } catch {
    // Not Linux: CPU flags are not readable here; stay on the side that cannot saturate.
    return 63;
  }
}

export interface LayerOptions {
  precision: Precision;
  fused: boolean;
}

/** `[out, in]` (torch.nn.Linear's layout) to `[in, out]` (what MatMul multiplies by). */
export function transpose(matrix: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(matrix.length);
  for (let r = 0; r < rows; r++) {
    const rowStart = r * columns;
    for (let c = 0; c < columns; c++) out[c * rows + r] = matrix[rowStart + c];
  }
  return out;
}

export class Layers {
  private readonly int8Limit: number;

  constructor(
    readonly g: GraphBuilder,
    readonly options: LayerOptions,
  ) {
    this.int8Limit = options.precision === 'int8' ? int8WeightLimit() : 127;
  }

  /**
   * `x · Wᵀ + b` for a torch `[out, in]` weight, in the configured precision. `exact` keeps a layer
   * in float32 whatever the precision (score heads: one row, nothing to gain, fidelity to lose).
   */
  linear(x: string, name: string, weight: Float32Array, outFeatures: number, inFeatures: number, bias?: Float32Array, exact = false): string {
    return this.linearLayer(name, weight, outFeatures, inFeatures, bias, exact)(x);
  }

  /** The same layer as a function, for weights applied to more than one input (DeBERTa's positions). */
  linearLayer(name: string, weight: Float32Array, outFeatures: number, inFeatures: number, bias?: Float32Array, exact = false): (x: string) => string {
    const g = this.g;
    const precision = exact ? 'fp32' : this.options.precision;
    let multiply: (x: string) => string;
    if (precision === 'int4' && inFeatures % 2 === 0) {
      const { packed, scales, zeroPoints, blocks } = quantizeInt4Blocks(weight, outFeatures, inFeatures);
      const quantized = [
        g.weight(`${name}.q4`, DataType.UINT8, [outFeatures, blocks, INT4_BLOCK_SIZE / 2], packed),
        g.weight(`${name}.scales`, DataType.FLOAT, [outFeatures * blocks], scales),
        g.weight(`${name}.zero_points`, DataType.UINT8, [zeroPoints.length], zeroPoints),
      ];
      // accuracy_level 4: activations in int8 blocks, the fast path of onnxruntime's CPU kernel.
      const attributes = { K: inFeatures, N: outFeatures, bits: 4, block_size: INT4_BLOCK_SIZE, accuracy_level: 4 };
      multiply = (x) => g.op('MatMulNBits', [x, ...quantized], attributes, 'com.microsoft');
    } else if (precision === 'int8') {
      const { values, scales } = quantizeInt8Columns(weight, outFeatures, inFeatures, this.int8Limit);
      const matrix = g.weight(`${name}.q8`, DataType.INT8, [inFeatures, outFeatures], values);
      const columnScales = g.weight(`${name}.scales`, DataType.FLOAT, [outFeatures], scales);
      multiply = (x) => this.int8MatMul(x, matrix, columnScales, inFeatures, outFeatures);
    } else {
      const matrix = g.floatWeight(name, [inFeatures, outFeatures], transpose(weight, outFeatures, inFeatures));
      multiply = (x) => g.op('MatMul', [x, matrix]);
    }
    if (!bias) return multiply;
    const biasName = g.floatWeight(`${name}.bias`, [outFeatures], bias);
    return (x) => g.op('Add', [multiply(x), biasName]);
  }

  /**
   * `x · W` with int8 weights and each activation row quantized on its own (symmetric, stored as
   * uint8 around 128 for MatMulInteger's fast u8·s8 kernel). Per row rather than onnxruntime's
   * per-tensor DynamicQuantizeMatMul (1.5× faster here): per tensor, a sequence's reward would
   * change with whatever else shares its batch, padding included, and a cached score with it.
   */
  private int8MatMul(x: string, matrix: string, columnScales: string, inFeatures: number, outFeatures: number): string {
    const g = this.g;
    // Rows of [B·T, K]: QuantizeLinear then quantizes each row by its own scale in one pass, and the
    // row's largest magnitude comes from ReduceMax/ReduceMin, so no full-size temporary is made.
    const rows = g.op('Reshape', [x, g.int64s([-1, inFeatures])]);
    const axis = g.int64s([1]);
    const largest = g.op('Max', [g.op('ReduceMax', [rows, axis], { keepdims: 0 }), g.op('Neg', [g.op('ReduceMin', [rows, axis], { keepdims: 0 })])]);
    const rowScales = g.op('Max', [g.op('Div', [largest, g.scalar(127)]), g.scalar(1e-30)]);
    const zeroPoints = g.op('Expand', [g.uint8(128), g.op('Shape', [rowScales])]);
    const quantized = g.op('QuantizeLinear', [rows, rowScales, zeroPoints], { axis: 0 });
    const accumulated = g.op('MatMulInteger', [quantized, matrix, g.uint8(128)]);
    const scaled = g.op('Mul', [g.op('Mul', [g.op('Cast', [accumulated], { to: DataType.FLOAT }), g.op('Unsqueeze', [rowScales, axis])]), columnScales]);
    const outputShape = g.op('Concat', [g.op('Slice', [g.op('Shape', [x]), g.int64s([0]), g.int64s([-1])]), g.int64s([outFeatures])], { axis: 0 });
    return g.op('Reshape', [scaled, outputShape]);
  }

  /**
   * The token-embedding lookup `table[ids]`, `[B, T, H]`. In fp32 the table as it is; in int8 and
   * int4 each row as int8 with its own scale (the table is a third of a 0.5B model's weights, so
   * this is where a quantized variant's memory goes), quantized row by row from the stored bytes
   * so the float32 table is never built.
   */
  embedding(name: string, weights: WeightStore, rows: number, columns: number, ids: string): string {
    const g = this.g;
    if (this.options.precision === 'fp32') {
      return g.op('Gather', [g.floatWeight(name, [rows, columns], weights.readFloat32(name, [rows, columns])), ids], { axis: 0 });
    }
    const entry = weights.entry(name);
    if (entry.shape.length !== 2 || entry.shape[0] !== rows || entry.shape[1] !== columns) {
      weights.readFloat32(name, [rows, columns]); // throws the shape error, naming both shapes
    }
    const bytes = weights.readBytes(name);
    const rowBytes = bytes.byteLength / rows;
    const values = new Int8Array(rows * columns);
    const scales = new Float32Array(rows);
    for (let row = 0; row < rows; row++) {
      const floats = toFloat32(bytes.subarray(row * rowBytes, (row + 1) * rowBytes), entry.dtype, name);
      let largest = 0;
      for (const value of floats) largest = Math.max(largest, Math.abs(value));
      const scale = largest === 0 ? 1 : largest / 127;
      scales[row] = scale;
      for (let i = 0; i < columns; i++) values[row * columns + i] = Math.round(floats[i] / scale);
    }
    const picked = g.op('Cast', [g.op('Gather', [g.weight(`${name}.q8`, DataType.INT8, [rows, columns], values), ids], { axis: 0 })], { to: DataType.FLOAT });
    const rowScales = g.op('Unsqueeze', [g.op('Gather', [g.floatWeight(`${name}.scales`, [rows], scales), ids], { axis: 0 }), g.int64s([-1])]);
    return g.op('Mul', [picked, rowScales]);
  }

  /** RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) · w`, in float32 as transformers computes it. */
  rmsNorm(x: string, weight: string, eps: number): string {
    const g = this.g;
    if (this.options.fused) return g.op('RMSNormalization', [x, weight], { epsilon: float(eps), axis: -1 });
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x]), g.int64s([-1])], { keepdims: 1 });
    return g.op('Mul', [g.op('Mul', [x, g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [meanSquare, g.scalar(eps)])])])]), weight]);
  }

  layerNorm(x: string, weight: string, bias: string, eps: number): string {
    return this.g.op('LayerNormalization', [x, weight, bias], { axis: -1, epsilon: float(eps) });
  }

  /** transformers' `gelu` (erf form) and `gelu_pytorch_tanh`. */
  gelu(x: string, approximate: 'none' | 'tanh'): string {
    return this.g.op('Gelu', [x], { approximate });
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  /** `[B, T, heads·d]` → `[B, heads, T, d]`. */
  toHeads(x: string, heads: number, headDim: number): string {
    const g = this.g;
    return g.op('Transpose', [g.op('Reshape', [x, g.int64s([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
  }

  /** `[B, heads, T, d]` → `[B, T, heads·d]`. */
  fromHeads(x: string, heads: number, headDim: number): string {
    const g = this.g;
    return g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 1, 3] }), g.int64s([0, 0, heads * headDim])]);
  }

  /**
   * Rotary position embedding on `[B, heads, T, d]` (transformers' rotate_half convention) of the
   * first `rotaryDim` features; `cos`/`sin` are `[T, rotaryDim]`.
   */
  rotate(x: string, cos: string, sin: string, headDim: number, rotaryDim: number): string {
    const g = this.g;
    const axis = g.int64s([3]);
    const slice = (input: string, start: number, end: number) => g.op('Slice', [input, g.int64s([start]), g.int64s([end]), axis]);
    const rotated = rotaryDim === headDim ? x : slice(x, 0, rotaryDim);
    const half = rotaryDim / 2;
    const rotatedHalf = g.op('Concat', [g.op('Neg', [slice(rotated, half, rotaryDim)]), slice(rotated, 0, half)], { axis: -1 });
    const embedded = g.op('Add', [g.op('Mul', [rotated, cos]), g.op('Mul', [rotatedHalf, sin])]);
    return rotaryDim === headDim ? embedded : g.op('Concat', [embedded, slice(x, rotaryDim, headDim)], { axis: -1 });
  }

  /**
   * Scaled dot-product attention of `[B, heads, T, d]` queries over `[B, kvHeads, T, d]` keys and
   * values (grouped-query attention repeats each key/value head `heads / kvHeads` times, as
   * transformers' repeat_kv), under the boolean mask `[B, 1, T, T]`. Optional soft-capping
   * (Gemma 2) is applied to the scaled scores before masking, as in transformers. Returns `[B, T, heads·d]`.
   */
  attention(q: string, k: string, v: string, mask: string, o: { heads: number; kvHeads: number; headDim: number; scale: number; softcap?: number }): string {
    const g = this.g;
    const repeat = (x: string) => {
      if (o.heads === o.kvHeads) return x;
      const groups = o.heads / o.kvHeads;
      const expanded = g.op('Expand', [g.op('Unsqueeze', [x, g.int64s([2])]), g.int64s([1, 1, groups, 1, 1])]);
      return g.op('Reshape', [expanded, g.int64s([0, o.heads, -1, o.headDim])]);
    };
    if (this.options.fused && o.softcap === undefined) {
      const out = g.op('Attention', [q, k, v, mask], { scale: float(o.scale) });
      return this.fromHeads(out, o.heads, o.headDim);
    }
    let scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [repeat(k)], { perm: [0, 1, 3, 2] })]), g.scalar(o.scale)]);
    if (o.softcap !== undefined) {
      const cap = g.scalar(o.softcap);
      scores = g.op('Mul', [g.op('Tanh', [g.op('Div', [scores, cap])]), cap]);
    }
    const probabilities = g.op('Softmax', [g.op('Where', [mask, scores, g.scalar(FLOAT32_LOWEST)])], { axis: -1 });
    return this.fromHeads(g.op('MatMul', [probabilities, repeat(v)]), o.heads, o.headDim);
  }
}

/** Positions `0..T-1` (int64 `[T]`) and `T` itself (int64 `[1]`), from the ids' shape. */
export function sequencePositions(g: GraphBuilder, inputIds: string): { positions: string; length: string } {
  const length = g.op('Slice', [g.op('Shape', [inputIds]), g.int64s([1]), g.int64s([2])]);
  const positions = g.op('Range', [g.int64(0), g.op('Squeeze', [length, g.int64s([0])]), g.int64(1)]);
  return { positions, length };
}

/**
 * Which keys each query may see, `[B, 1, T, T]` bool: keys that are not padding and, when
 * `causal`, not later than the query; with `window`, also not `window` or more positions back (key
 * j is masked for query i when j ≤ i − window: each token sees `window` keys, itself included, as
 * transformers' sliding-window masks).
 */
export function attentionMask(g: GraphBuilder, positions: string, attentionMaskInput: string, options: { causal: boolean; window?: number }): string {
  const keyMask = g.op('Unsqueeze', [g.op('Cast', [attentionMaskInput], { to: DataType.BOOL }), g.int64s([1, 2])]);
  // Bidirectional: every query against the real keys; [B, 1, 1, T] broadcasts over the queries.
  if (!options.causal) return keyMask;
  const rows = g.op('Unsqueeze', [positions, g.int64s([1])]);
  const columns = g.op('Unsqueeze', [positions, g.int64s([0])]);
  let allowed = g.op('LessOrEqual', [columns, rows]);
  if (options.window !== undefined) allowed = g.op('And', [allowed, g.op('Greater', [columns, g.op('Sub', [rows, g.int64(options.window)])])]);
  return g.op('And', [g.op('Unsqueeze', [allowed, g.int64s([0, 1])]), keyMask]);
}

/**
 * The row of each sequence a sequence-classification head reads, `[B]` int64. With a pad id:
 * transformers ≥ 4.45's rule, the rightmost token whose id is not the pad id (0 when every token
 * is), which the padding leaves in place. Without one (a config with `pad_token_id: null`, where
 * transformers only runs one unpadded sequence at a time and reads its last token): the last
 * position the attention mask marks, so batches of right-padded sequences score as each would alone.
 */
export function pooledPositions(g: GraphBuilder, inputIds: string, attentionMaskInput: string, positions: string, padTokenId: number | undefined): string {
  if (padTokenId === undefined) {
    return g.op('Sub', [g.op('ReduceSum', [attentionMaskInput, g.int64s([1])], { keepdims: 0 }), g.int64(1)]);
  }
  const notPad = g.op('Cast', [g.op('Not', [g.op('Equal', [inputIds, g.int64(padTokenId)])])], { to: DataType.INT64 });
  return g.op('ArgMax', [g.op('Mul', [notPad, positions])], { axis: 1, keepdims: 0 });
}

/** `hidden[b, index[b], :]` for `[B, T, H]` hidden states: `[B, H]`. */
export function gatherRows(g: GraphBuilder, hidden: string, index: string, hiddenSize: number): string {
  const length = g.op('Slice', [g.op('Shape', [hidden]), g.int64s([1]), g.int64s([2])]);
  const batch = g.op('Slice', [g.op('Shape', [hidden]), g.int64s([0]), g.int64s([1])]);
  const rowStarts = g.op('Mul', [g.op('Range', [g.int64(0), g.op('Squeeze', [batch, g.int64s([0])]), g.int64(1)]), length]);
  const flat = g.op('Reshape', [hidden, g.int64s([-1, hiddenSize])]);
  return g.op('Gather', [flat, g.op('Add', [rowStarts, index])], { axis: 0 });
}
