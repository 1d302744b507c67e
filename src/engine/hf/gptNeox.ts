/**
 * GPTNeoXForSequenceClassification (Pythia-based reward models, e.g. OpenAssistant's), as
 * transformers' modeling_gpt_neox.py (v4.49): LayerNorm blocks, a fused query_key_value projection
 * laid out head by head, rotary embedding on the first `rotary_pct` of each head, and parallel (or
 * sequential) residuals.
 */
import { attentionMask, gatherRows, pooledPositions, sequencePositions } from './layers';
import type { BuildContext } from './decoder';
import { inverseFrequencies, rotaryTables } from './rope';

export function buildGptNeox(ctx: BuildContext): void {
  const { g, layers, weights, config } = ctx;
  const hidden = config.int('hidden_size');
  const layerCount = config.int('num_hidden_layers');
  const heads = config.int('num_attention_heads');
  const headDim = hidden / heads;
  const intermediate = config.int('intermediate_size');
  const vocab = config.int('vocab_size');
  const eps = config.number('layer_norm_eps', 1e-5);
  const labels = config.labels();
  // GPTNeoXAttention: rotary_ndims = int(head_size * rotary_pct).
  const rotaryDim = Math.floor(headDim * (config.config.rotary_pct ?? config.config.partial_rotary_factor ?? 1));
  const parallel = config.config.use_parallel_residual !== false;
  const activation = config.config.hidden_act ?? 'gelu';
  if (activation !== 'gelu' && activation !== 'gelu_new' && activation !== 'gelu_fast') throw new Error(`${config.file}: hidden_act "${activation}" is not supported`);
  const read = (tensor: string, shape: number[]) => weights.readFloat32(tensor, shape);
  const optional = (tensor: string, shape: number[]) => (weights.has(tensor) ? read(tensor, shape) : undefined);
  const at = (part: string) => `gpt_neox.${part}`;
  const norm = (x: string, prefix: string) =>
    layers.layerNorm(x, g.floatWeight(`${prefix}.weight`, [hidden], read(`${prefix}.weight`, [hidden])), g.floatWeight(`${prefix}.bias`, [hidden], read(`${prefix}.bias`, [hidden])), eps);
  const totalSteps = layerCount + 2;

  const { positions } = sequencePositions(g, 'input_ids');
  const base = config.config.rope_theta ?? config.config.rotary_emb_base ?? 10000;
  const tables = rotaryTables(inverseFrequencies(rotaryDim, base, config.config.rope_scaling, config.file), ctx.maxPositions);
  const table = (data: Float32Array, label: string) => {
    const rows = g.op('Gather', [g.floatWeight(label, [ctx.maxPositions, rotaryDim / 2], data), positions], { axis: 0 });
    return g.op('Concat', [rows, rows], { axis: -1 });
  };
  const cos = table(tables.cos, 'rotary.cos');
  const sin = table(tables.sin, 'rotary.sin');
  const mask = attentionMask(g, positions, 'attention_mask', { causal: true });

  let x = layers.embedding(at('embed_in.weight'), weights, vocab, hidden, 'input_ids');
  ctx.progress(1, totalSteps);
  const mlp = (input: string, layer: string) => {
    const up = layers.linear(input, `${layer}.mlp.dense_h_to_4h.weight`, read(`${layer}.mlp.dense_h_to_4h.weight`, [intermediate, hidden]), intermediate, hidden, optional(`${layer}.mlp.dense_h_to_4h.bias`, [intermediate]));
    // ACT2FN["gelu"] is the erf form; gelu_new / gelu_fast are the tanh approximation.
    const activated = layers.gelu(up, activation === 'gelu' ? 'none' : 'tanh');
    return layers.linear(activated, `${layer}.mlp.dense_4h_to_h.weight`, read(`${layer}.mlp.dense_4h_to_h.weight`, [hidden, intermediate]), hidden, intermediate, optional(`${layer}.mlp.dense_4h_to_h.bias`, [hidden]));
  };

  for (let index = 0; index < layerCount; index++) {
    const layer = at(`layers.${index}`);
    const qkv = layers.linear(
      norm(x, `${layer}.input_layernorm`),
      `${layer}.attention.query_key_value.weight`,
      read(`${layer}.attention.query_key_value.weight`, [3 * hidden, hidden]),
      3 * hidden,
      hidden,
      optional(`${layer}.attention.query_key_value.bias`, [3 * hidden]),
    );
    // The projection's outputs are grouped per head as [q | k | v] (`view(..., heads, 3 * head_size)`).
    const perHead = g.op('Transpose', [g.op('Reshape', [qkv, g.int64s([0, 0, heads, 3 * headDim])])], { perm: [0, 2, 1, 3] });
    const [q, k, v] = g.opN('Split', [perHead, g.int64s([headDim, headDim, headDim])], 3, { axis: -1 });
    const context = layers.attention(layers.rotate(q, cos, sin, headDim, rotaryDim), layers.rotate(k, cos, sin, headDim, rotaryDim), v, mask, {
      heads,
      kvHeads: heads,
      headDim,
      scale: headDim ** -0.5,
    });
    const attentionOut = layers.linear(context, `${layer}.attention.dense.weight`, read(`${layer}.attention.dense.weight`, [hidden, hidden]), hidden, hidden, optional(`${layer}.attention.dense.bias`, [hidden]));
    if (parallel) {
      // x + attn(ln1(x)) + mlp(ln2(x)), added in transformers' order: mlp + attn + x.
      x = g.op('Add', [g.op('Add', [mlp(norm(x, `${layer}.post_attention_layernorm`), layer), attentionOut]), x]);
    } else {
      const afterAttention = g.op('Add', [attentionOut, x]);
      x = g.op('Add', [mlp(norm(afterAttention, `${layer}.post_attention_layernorm`), layer), afterAttention]);
    }
    ctx.progress(index + 2, totalSteps);
  }
  const pooled = gatherRows(g, x, pooledPositions(g, 'input_ids', 'attention_mask', positions, config.padTokenId()), hidden);
  layers.linear(norm(pooled, at('final_layer_norm')), 'score.weight', read('score.weight', [labels, hidden]), labels, hidden, optional('score.bias', [labels]), true);
  g.nameLastOutput('logits');
  ctx.progress(totalSteps, totalSteps);
}
