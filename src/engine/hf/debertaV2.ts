/**
 * DebertaV2ForSequenceClassification (DeBERTa-v3 reward models such as OpenAssistant's), as
 * transformers' modeling_deberta_v2.py (v4.49): disentangled attention with content→position
 * and position→content terms over log-bucketed relative positions, post-norm blocks, and a pooler
 * over the first token. Relative positions depend only on the sequence length, so their bucket
 * table is computed here once and gathered by the graph.
 */
import type { ConfigReader } from './config';
import type { BuildContext } from './decoder';
import { attentionMask, sequencePositions } from './layers';
import { DataType, type GraphIO } from './onnxGraph';

const f = Math.fround;

/**
 * `make_log_bucket_position` for one relative position, in float32 like its torch code: positions
 * within `bucketSize / 2` stay as they are, farther ones share logarithmic buckets up to `maxPosition`.
 */
export function logBucketPosition(relative: number, bucketSize: number, maxPosition: number): number {
  const mid = Math.floor(bucketSize / 2);
  const sign = Math.sign(relative);
  const absolute = relative < mid && relative > -mid ? mid - 1 : Math.abs(relative);
  if (absolute <= mid) return relative;
  const logPosition = Math.ceil(f(f(f(Math.log(f(absolute / mid))) / f(Math.log(f((maxPosition - 1) / mid)))) * (mid - 1))) + mid;
  return logPosition * sign;
}

export function debertaInputs(config: ConfigReader): GraphIO[] {
  const inputs: GraphIO[] = [
    { name: 'input_ids', type: DataType.INT64, dims: ['batch', 'sequence'] },
    { name: 'attention_mask', type: DataType.INT64, dims: ['batch', 'sequence'] },
  ];
  if ((config.config.type_vocab_size ?? 0) > 0) inputs.push({ name: 'token_type_ids', type: DataType.INT64, dims: ['batch', 'sequence'] });
  return inputs;
}

export function buildDebertaV2(ctx: BuildContext): void {
  const { g, layers, weights, config } = ctx;
  const c = config.config;
  const hidden = config.int('hidden_size');
  const layerCount = config.int('num_hidden_layers');
  const heads = config.int('num_attention_heads');
  const headDim = c.attention_head_size ?? hidden / heads;
  const allHeads = heads * headDim;
  const intermediate = config.int('intermediate_size');
  const vocab = config.int('vocab_size');
  const eps = config.number('layer_norm_eps', 1e-7);
  const labels = config.labels();
  const embeddingSize = c.embedding_size ?? hidden;
  if ((c.conv_kernel_size ?? 0) > 0) throw new Error(`${config.file}: DeBERTa-v2 checkpoints with a convolution layer (conv_kernel_size) are not supported`);
  for (const [field, value] of [['hidden_act', c.hidden_act ?? 'gelu'], ['pooler_hidden_act', c.pooler_hidden_act ?? 'gelu']] as const) {
    if (value !== 'gelu') throw new Error(`${config.file}: ${field} "${value}" is not supported (only gelu)`);
  }
  const relative = c.relative_attention === true;
  const positionTypes = typeof c.pos_att_type === 'string' ? c.pos_att_type.toLowerCase().split('|').map((t) => t.trim()) : (c.pos_att_type ?? []);
  const c2p = relative && positionTypes.includes('c2p');
  const p2c = relative && positionTypes.includes('p2c');
  const shareKey = c.share_att_key === true;
  const buckets = c.position_buckets ?? -1;
  const maxRelative = (c.max_relative_positions ?? -1) < 1 ? config.int('max_position_embeddings') : (c.max_relative_positions as number);
  const span = buckets > 0 ? buckets : maxRelative;
  // DisentangledSelfAttention: scale = sqrt(head_size · (1 + #position terms)), in float32.
  const scale = f(Math.sqrt(f(headDim * (1 + (c2p ? 1 : 0) + (p2c ? 1 : 0)))));

  const read = (tensor: string, shape: number[]) => weights.readFloat32(tensor, shape);
  const optional = (tensor: string, shape: number[]) => (weights.has(tensor) ? read(tensor, shape) : undefined);
  const vector = (tensor: string, size: number) => g.floatWeight(tensor, [size], read(tensor, [size]));
  const norm = (x: string, prefix: string) => layers.layerNorm(x, vector(`${prefix}.weight`, hidden), vector(`${prefix}.bias`, hidden), eps);
  const totalSteps = layerCount + 2;

  const { positions } = sequencePositions(g, 'input_ids');
  const maskFloat = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: DataType.FLOAT }), g.int64s([2])]);

  // Embeddings: words (+ absolute positions, + token types), projection, LayerNorm, padding zeroed.
  let x = layers.embedding('deberta.embeddings.word_embeddings.weight', weights, vocab, embeddingSize, 'input_ids');
  if (c.position_biased_input !== false) {
    const rows = config.int('max_position_embeddings');
    x = g.op('Add', [x, g.op('Gather', [g.floatWeight('deberta.embeddings.position_embeddings.weight', [rows, embeddingSize], read('deberta.embeddings.position_embeddings.weight', [rows, embeddingSize])), positions], { axis: 0 })]);
  }
  if ((c.type_vocab_size ?? 0) > 0) {
    const types = c.type_vocab_size as number;
    x = g.op('Add', [x, g.op('Gather', [g.floatWeight('deberta.embeddings.token_type_embeddings.weight', [types, embeddingSize], read('deberta.embeddings.token_type_embeddings.weight', [types, embeddingSize])), 'token_type_ids'], { axis: 0 })]);
  }
  if (embeddingSize !== hidden) x = layers.linear(x, 'deberta.embeddings.embed_proj.weight', read('deberta.embeddings.embed_proj.weight', [hidden, embeddingSize]), hidden, embeddingSize);
  x = g.op('Mul', [norm(x, 'deberta.embeddings.LayerNorm'), maskFloat]);
  ctx.progress(1, totalSteps);

  // Query i may attend to key j when both are real tokens (DebertaV2Encoder.get_attention_mask).
  const mask = attentionMask(g, positions, 'attention_mask', { causal: false });

  // Relative positions: bucket(i − j) for the sequence's length, from a table over every distance
  // the longest input can have, as gather indices into the 2·span rows of position embeddings.
  let c2pIndex = '';
  let p2cIndex = '';
  let relativeEmbeddings = '';
  if (relative) {
    const longest = ctx.maxPositions;
    const distances = Array.from({ length: 2 * longest - 1 }, (_, k) => k - (longest - 1));
    const bucketOf = (distance: number) => (buckets > 0 && maxRelative > 0 ? logBucketPosition(distance, buckets, maxRelative) : distance);
    const clampIndex = (value: number) => Math.min(2 * span - 1, Math.max(0, value));
    const c2pTable = g.int64s(distances.map((d) => clampIndex(bucketOf(d) + span)));
    const p2cTable = g.int64s(distances.map((d) => clampIndex(-bucketOf(d) + span)));
    // distance index (i − j) + longest − 1 for every (i, j) of this length: [T, T].
    const distanceIndex = g.op('Add', [g.op('Sub', [g.op('Unsqueeze', [positions, g.int64s([1])]), g.op('Unsqueeze', [positions, g.int64s([0])])]), g.int64(longest - 1)]);
    c2pIndex = g.op('Gather', [c2pTable, distanceIndex], { axis: 0 });
    p2cIndex = g.op('Gather', [p2cTable, distanceIndex], { axis: 0 });
    const embeddingRows = 2 * span;
    relativeEmbeddings = g.floatWeight('deberta.encoder.rel_embeddings.weight', [embeddingRows, hidden], read('deberta.encoder.rel_embeddings.weight', [embeddingRows, hidden]).subarray(0, embeddingRows * hidden));
    if ((c.norm_rel_ebd ?? 'none').toLowerCase().split('|').map((t) => t.trim()).includes('layer_norm')) {
      relativeEmbeddings = norm(relativeEmbeddings, 'deberta.encoder.LayerNorm');
    }
  }
  /** `[B, H, T, 2·span]` scores gathered to `[B, H, T, T]` by a `[T, T]` index. */
  const gatherByIndex = (scores: string, index: string) => {
    const shape = g.op('Concat', [g.op('Slice', [g.op('Shape', [scores]), g.int64s([0]), g.int64s([3])]), g.op('Slice', [g.op('Shape', [index]), g.int64s([1]), g.int64s([2])])], { axis: 0 });
    return g.op('GatherElements', [scores, g.op('Expand', [index, shape])], { axis: -1 });
  };
  /** Position embeddings through a projection, as `[heads, d, 2·span]` (ready to multiply on the right). */
  const positionHeads = (project: (input: string) => string) =>
    g.op('Transpose', [g.op('Reshape', [project(relativeEmbeddings), g.int64s([2 * span, heads, headDim])])], { perm: [1, 2, 0] });

  for (let index = 0; index < layerCount; index++) {
    const layer = `deberta.encoder.layer.${index}`;
    const self = `${layer}.attention.self`;
    const projection = (part: string) => layers.linearLayer(`${self}.${part}.weight`, read(`${self}.${part}.weight`, [allHeads, hidden]), allHeads, hidden, optional(`${self}.${part}.bias`, [allHeads]));
    const queryProj = projection('query_proj');
    const keyProj = projection('key_proj');
    const q = layers.toHeads(queryProj(x), heads, headDim);
    const k = layers.toHeads(keyProj(x), heads, headDim);
    const v = layers.toHeads(projection('value_proj')(x), heads, headDim);
    const scaleName = g.scalar(scale);
    // bmm(query, key / scale), as transformers divides the keys before the product.
    let scores = g.op('MatMul', [q, g.op('Transpose', [g.op('Div', [k, scaleName])], { perm: [0, 1, 3, 2] })]);
    if (c2p) {
      const positionKeys = positionHeads(shareKey ? keyProj : projection('pos_key_proj'));
      scores = g.op('Add', [scores, g.op('Div', [gatherByIndex(g.op('MatMul', [q, positionKeys]), c2pIndex), scaleName])]);
    }
    if (p2c) {
      const positionQueries = positionHeads(shareKey ? queryProj : projection('pos_query_proj'));
      // p2c_att[key r, p2c_pos[r, c]], transposed to [query c, key r].
      const gathered = gatherByIndex(g.op('MatMul', [k, positionQueries]), p2cIndex);
      scores = g.op('Add', [scores, g.op('Div', [g.op('Transpose', [gathered], { perm: [0, 1, 3, 2] }), scaleName])]);
    }
    const probabilities = g.op('Softmax', [g.op('Where', [mask, scores, g.scalar(-3.4028234663852886e38)])], { axis: -1 });
    const context = layers.fromHeads(g.op('MatMul', [probabilities, v]), heads, headDim);
    const attentionDense = layers.linear(context, `${layer}.attention.output.dense.weight`, read(`${layer}.attention.output.dense.weight`, [hidden, allHeads]), hidden, allHeads, optional(`${layer}.attention.output.dense.bias`, [hidden]));
    const attentionOut = norm(g.op('Add', [attentionDense, x]), `${layer}.attention.output.LayerNorm`);
    const up = layers.linear(attentionOut, `${layer}.intermediate.dense.weight`, read(`${layer}.intermediate.dense.weight`, [intermediate, hidden]), intermediate, hidden, optional(`${layer}.intermediate.dense.bias`, [intermediate]));
    const down = layers.linear(layers.gelu(up, 'none'), `${layer}.output.dense.weight`, read(`${layer}.output.dense.weight`, [hidden, intermediate]), hidden, intermediate, optional(`${layer}.output.dense.bias`, [hidden]));
    x = norm(g.op('Add', [down, attentionOut]), `${layer}.output.LayerNorm`);
    ctx.progress(index + 2, totalSteps);
  }

  // ContextPooler: the first token, dense, gelu; then the classifier.
  const poolerSize = c.pooler_hidden_size ?? hidden;
  const first = g.op('Squeeze', [g.op('Slice', [x, g.int64s([0]), g.int64s([1]), g.int64s([1])]), g.int64s([1])]);
  const pooled = layers.gelu(layers.linear(first, 'pooler.dense.weight', read('pooler.dense.weight', [poolerSize, poolerSize]), poolerSize, poolerSize, optional('pooler.dense.bias', [poolerSize]), true), 'none');
  layers.linear(pooled, 'classifier.weight', read('classifier.weight', [labels, poolerSize]), labels, poolerSize, optional('classifier.bias', [labels]), true);
  g.nameLastOutput('logits');
  ctx.progress(totalSteps, totalSteps);
}
