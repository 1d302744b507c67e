/**
 * Decoder-only reward models — Llama (2 and 3.x), Mistral, Qwen2, Qwen3 and Gemma 2 sequence
 * classifiers — as one graph builder: they share the transformer block (RMSNorm, rotary
 * attention with grouped-query heads, gated MLP) and differ in a handful of switches, each named
 * below after the transformers code it mirrors (modeling_llama.py, modeling_mistral.py,
 * modeling_qwen2.py, modeling_qwen3.py, modeling_gemma2.py at v4.49, Qwen3 from 4.51).
 */
import type { ConfigReader } from './config';
import { attentionMask, gatherRows, pooledPositions, sequencePositions, type Layers } from './layers';
import { DataType, type GraphBuilder } from './onnxGraph';
import { inverseFrequencies, rotaryTables } from './rope';
import type { WeightStore } from './safetensors';

export interface BuildContext {
  g: GraphBuilder;
  layers: Layers;
  weights: WeightStore;
  config: ConfigReader;
  /** Rows of the rotary tables: at least the longest input the engine will feed. */
  maxPositions: number;
  progress(done: number, total: number): void;
}

export type DecoderFamily = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma2';

/** The tensor-name prefix of the base model (`model.` as saved by transformers; bare in some exports). */
function basePrefix(weights: WeightStore, suffix: string): string {
  for (const prefix of ['model.', '']) if (weights.has(`${prefix}${suffix}`)) return prefix;
  throw new Error(`The weights in ${weights.dir} have no ${suffix}: they do not look like a transformers checkpoint of this architecture`);
}

/** Which layers attend within a sliding window, and how wide, per family (undefined: full attention). */
function slidingWindow(family: DecoderFamily, config: ConfigReader, layer: number): number | undefined {
  const window = config.config.sliding_window;
  if (typeof window !== 'number' || window <= 0) return undefined;
  switch (family) {
    case 'mistral':
      return window;
    case 'gemma2':
      // Gemma2Attention: `config.sliding_window if not bool(layer_idx % 2) else None`.
      return layer % 2 === 0 ? window : undefined;
    case 'qwen2':
    case 'qwen3':
      // Qwen2Attention / Qwen3Attention: only with use_sliding_window, and from layer max_window_layers on.
      return config.config.use_sliding_window && layer >= (config.config.max_window_layers ?? 0) ? window : undefined;
    default:
      return undefined;
  }
}

/** Writes the graph `input_ids, attention_mask → logits [B, labels]`. */
export function buildDecoder(ctx: BuildContext, family: DecoderFamily): void {
  const { g, layers, weights, config } = ctx;
  const gemma = family === 'gemma2';
  const hidden = config.int('hidden_size');
  const layerCount = config.int('num_hidden_layers');
  const heads = config.int('num_attention_heads');
  const kvHeads = config.int('num_key_value_heads', heads);
  const headDim = config.int('head_dim', hidden / heads);
  const intermediate = config.int('intermediate_size');
  const vocab = config.int('vocab_size');
  const eps = config.number('rms_norm_eps', 1e-6);
  const labels = config.labels();
  if (heads % kvHeads !== 0) throw new Error(`${config.file}: num_attention_heads (${heads}) is not a multiple of num_key_value_heads (${kvHeads})`);
  const activation = config.config.hidden_activation ?? config.config.hidden_act ?? (gemma ? 'gelu_pytorch_tanh' : 'silu');
  if (!['silu', 'gelu_pytorch_tanh', 'gelu'].includes(activation)) throw new Error(`${config.file}: hidden activation "${activation}" is not supported`);
  const qkvBias = family === 'qwen2' || config.config.attention_bias === true;
  const outputBias = family !== 'qwen2' && config.config.attention_bias === true;
  const mlpBias = config.config.mlp_bias === true;
  const scale = gemma ? config.number('query_pre_attn_scalar', headDim) ** -0.5 : headDim ** -0.5;
  const softcap = gemma && typeof config.config.attn_logit_softcapping === 'number' ? config.config.attn_logit_softcapping : undefined;

  const prefix = basePrefix(weights, 'embed_tokens.weight');
  const name = (part: string) => `${prefix}${part}`;
  const read = (tensor: string, shape: number[]) => weights.readFloat32(tensor, shape);
  const optional = (tensor: string, shape: number[]) => (weights.has(tensor) ? read(tensor, shape) : undefined);
  /** Norm weights; Gemma's RMSNorm multiplies by (1 + w), computed in float32 like its torch code. */
  const normWeight = (tensor: string, size: number) => {
    const w = read(tensor, [size]);
    return g.floatWeight(tensor, [size], gemma ? w.map((value) => Math.fround(1 + value)) : w);
  };
  const totalSteps = layerCount + 2;

  // Rotary tables: rows gathered by position, halves duplicated (transformers' `cat((freqs, freqs))`).
  const { positions } = sequencePositions(g, 'input_ids');
  const base = config.number('rope_theta', 10000);
  const tables = rotaryTables(inverseFrequencies(headDim, base, config.config.rope_scaling, config.file), ctx.maxPositions);
  const cosTable = g.floatWeight('rotary.cos', [ctx.maxPositions, headDim / 2], tables.cos);
  const sinTable = g.floatWeight('rotary.sin', [ctx.maxPositions, headDim / 2], tables.sin);
  const gatherTable = (table: string, at: string) => {
    const rows = g.op('Gather', [table, at], { axis: 0 });
    return g.op('Concat', [rows, rows], { axis: -1 });
  };
  const cos = layers.options.fused ? '' : gatherTable(cosTable, positions);
  const sin = layers.options.fused ? '' : gatherTable(sinTable, positions);
  const positionIds = layers.options.fused ? g.op('Expand', [g.op('Unsqueeze', [positions, g.int64s([0])]), g.op('Shape', ['input_ids'])]) : '';
  /**
   * Rotary embedding of `[B, T, heads·d]` (fused) or `[B, heads, T, d]` (plain) at every position, or
   * — with `rows` (`[B, 1]`) — of one query per sequence at its own position.
   */
  const rotate = (x: string, headCount: number, rows?: string) => {
    if (layers.options.fused) return g.op('RotaryEmbedding', [x, cosTable, sinTable, rows ?? positionIds], { num_heads: headCount });
    if (rows === undefined) return layers.rotate(x, cos, sin, headDim, headDim);
    // [B, 1, d] → [B, 1, 1, d]: one angle row per sequence, broadcast over its heads.
    const atRows = (table: string) => g.op('Unsqueeze', [gatherTable(table, rows), g.int64s([1])]);
    return layers.rotate(x, atRows(cosTable), atRows(sinTable), headDim, headDim);
  };

  const masks = new Map<number | undefined, string>();
  const maskFor = (window: number | undefined) => {
    let mask = masks.get(window);
    if (mask === undefined) {
      mask = attentionMask(g, positions, 'attention_mask', { causal: true, window });
      masks.set(window, mask);
    }
    return mask;
  };

  let x = layers.embedding(name('embed_tokens.weight'), weights, vocab, hidden, 'input_ids');
  // Gemma2Model: `hidden_states * torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype)`.
  if (gemma) x = g.op('Mul', [x, g.scalar(Math.fround(Math.sqrt(hidden)))]);
  ctx.progress(1, totalSteps);

  const qSize = heads * headDim;
  const kvSize = kvHeads * headDim;
  // The head reads one token per sequence, known before the layers run (it depends on ids only).
  const pooledIndex = pooledPositions(g, 'input_ids', 'attention_mask', positions, config.padTokenId());
  for (let layer = 0; layer < layerCount; layer++) {
    const at = (part: string) => name(`layers.${layer}.${part}`);
    // In the last layer only the pooled token's output is read, so only its query attends and only
    // its row goes through o_proj and the MLP; every key and value is still computed. Row for row
    // this is the computation of the full layer (~1/L of the work saved).
    const last = layer === layerCount - 1;
    const normed = layers.rmsNorm(x, normWeight(at('input_layernorm.weight'), hidden), eps);
    const bias = (part: string, size: number) => (qkvBias ? read(at(`self_attn.${part}.bias`), [size]) : undefined);
    const qWeight = read(at('self_attn.q_proj.weight'), [qSize, hidden]);
    const kWeight = read(at('self_attn.k_proj.weight'), [kvSize, hidden]);
    const vWeight = read(at('self_attn.v_proj.weight'), [kvSize, hidden]);
    let q: string;
    let k: string;
    let v: string;
    let queryRows: string | undefined;
    if (!last) {
      // q, k and v in one matrix product: one GEMM instead of three, the same dot products.
      const qkvBiasValues = qkvBias ? concatRows([bias('q_proj', qSize)!, bias('k_proj', kvSize)!, bias('v_proj', kvSize)!]) : undefined;
      const qkv = layers.linear(normed, at('self_attn.qkv_proj.weight'), concatRows([qWeight, kWeight, vWeight]), qSize + 2 * kvSize, hidden, qkvBiasValues);
      [q, k, v] = g.opN('Split', [qkv, g.int64s([qSize, kvSize, kvSize])], 3, { axis: -1 });
    } else {
      const kvBiasValues = qkvBias ? concatRows([bias('k_proj', kvSize)!, bias('v_proj', kvSize)!]) : undefined;
      const kv = layers.linear(normed, at('self_attn.kv_proj.weight'), concatRows([kWeight, vWeight]), 2 * kvSize, hidden, kvBiasValues);
      [k, v] = g.opN('Split', [kv, g.int64s([kvSize, kvSize])], 2, { axis: -1 });
      queryRows = g.op('Unsqueeze', [pooledIndex, g.int64s([1])]);
      const pooledNormed = g.op('Unsqueeze', [gatherRows(g, normed, pooledIndex, hidden), g.int64s([1])]);
      q = layers.linear(pooledNormed, at('self_attn.q_proj.weight'), qWeight, qSize, hidden, bias('q_proj', qSize));
    }
    if (family === 'qwen3') {
      // Qwen3Attention: RMSNorm over each head's features of q and k, before the rotary embedding.
      const perHead = (input: string, count: number, weight: string) =>
        g.op('Reshape', [layers.rmsNorm(g.op('Reshape', [input, g.int64s([0, 0, count, headDim])]), g.floatWeight(weight, [headDim], read(weight, [headDim])), eps), g.int64s([0, 0, count * headDim])]);
      q = perHead(q, heads, at('self_attn.q_norm.weight'));
      k = perHead(k, kvHeads, at('self_attn.k_norm.weight'));
    }
    const window = slidingWindow(family, config, layer);
    const mask = queryRows === undefined ? maskFor(window) : pooledQueryMask(g, positions, queryRows, window);
    let context: string;
    if (layers.options.fused && softcap === undefined) {
      // 3-D rotary and attention: onnxruntime splits heads itself, no transposes.
      context = g.op('Attention', [rotate(q, heads, queryRows), rotate(k, kvHeads), v, mask], { scale: { float: scale }, q_num_heads: heads, kv_num_heads: kvHeads });
    } else {
      const toRotatedHeads = (input: string, count: number, rows?: string) =>
        layers.options.fused ? layers.toHeads(rotate(input, count, rows), count, headDim) : rotate(layers.toHeads(input, count, headDim), count, rows);
      context = layers.attention(toRotatedHeads(q, heads, queryRows), toRotatedHeads(k, kvHeads), layers.toHeads(v, kvHeads, headDim), mask, {
        heads,
        kvHeads,
        headDim,
        scale,
        softcap,
      });
    }
    let attentionOut = layers.linear(context, at('self_attn.o_proj.weight'), read(at('self_attn.o_proj.weight'), [hidden, qSize]), hidden, qSize, outputBias ? read(at('self_attn.o_proj.bias'), [hidden]) : undefined);
    if (gemma) attentionOut = layers.rmsNorm(attentionOut, normWeight(at('post_attention_layernorm.weight'), hidden), eps);
    const residual = last ? g.op('Unsqueeze', [gatherRows(g, x, pooledIndex, hidden), g.int64s([1])]) : x;
    x = g.op('Add', [residual, attentionOut]);

    const mlpIn = layers.rmsNorm(x, normWeight(at(gemma ? 'pre_feedforward_layernorm.weight' : 'post_attention_layernorm.weight'), hidden), eps);
    // Gate and up as two products: one wide product would need a Split, a copy of its whole output.
    const gate = layers.linear(mlpIn, at('mlp.gate_proj.weight'), read(at('mlp.gate_proj.weight'), [intermediate, hidden]), intermediate, hidden, mlpBias ? read(at('mlp.gate_proj.bias'), [intermediate]) : undefined);
    const up = layers.linear(mlpIn, at('mlp.up_proj.weight'), read(at('mlp.up_proj.weight'), [intermediate, hidden]), intermediate, hidden, mlpBias ? read(at('mlp.up_proj.bias'), [intermediate]) : undefined);
    const activated = activation === 'silu' ? layers.silu(gate) : layers.gelu(gate, activation === 'gelu' ? 'none' : 'tanh');
    let mlpOut = layers.linear(g.op('Mul', [activated, up]), at('mlp.down_proj.weight'), read(at('mlp.down_proj.weight'), [hidden, intermediate]), hidden, intermediate, mlpBias ? optional(at('mlp.down_proj.bias'), [hidden]) : undefined);
    if (gemma) mlpOut = layers.rmsNorm(mlpOut, normWeight(at('post_feedforward_layernorm.weight'), hidden), eps);
    x = g.op('Add', [x, mlpOut]);
    ctx.progress(layer + 2, totalSteps);
  }

  // x is now the pooled token's row, [B, 1, H]; the final norm is per token, as in transformers.
  const normed = layers.rmsNorm(g.op('Squeeze', [x, g.int64s([1])]), normWeight(name('norm.weight'), hidden), eps);
  // Gemma2ForSequenceClassification applies no final soft-capping (that belongs to its LM head).
  layers.linear(normed, 'score.weight', read('score.weight', [labels, hidden]), labels, hidden, optional('score.bias', [labels]), true);
  g.nameLastOutput('logits');
  ctx.progress(totalSteps, totalSteps);
}

/**
 * The keys the pooled query of each sequence (at `queryRows`, `[B, 1]`) may see, `[B, 1, 1, T]`:
 * the causal (and sliding-window) row of the full mask at that position, and only real tokens.
 */
function pooledQueryMask(g: GraphBuilder, positions: string, queryRows: string, window: number | undefined): string {
  const columns = g.op('Unsqueeze', [positions, g.int64s([0])]);
  let allowed = g.op('And', [g.op('LessOrEqual', [columns, queryRows]), g.op('Cast', ['attention_mask'], { to: DataType.BOOL })]);
  if (window !== undefined) allowed = g.op('And', [allowed, g.op('Greater', [columns, g.op('Sub', [queryRows, g.int64(window)])])]);
  return g.op('Unsqueeze', [allowed, g.int64s([1, 2])]);
}

/** Stacks `[rows, columns]` matrices (or vectors) with equal column counts. */
export function concatRows(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const DECODER_INPUTS = [
  { name: 'input_ids', type: DataType.INT64, dims: ['batch', 'sequence'] },
  { name: 'attention_mask', type: DataType.INT64, dims: ['batch', 'sequence'] },
];
