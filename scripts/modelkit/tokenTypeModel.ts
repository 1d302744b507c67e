/**
 * The known-score model as a BERT-style cross-encoder: the same graph plus a `token_type_ids`
 * input, each token adding tokenTypeWeight(type) to its weight. The engine must feed the segment ids
 * the tokenizer's pair post-processor assigns; with this model a test can recompute the reward those
 * ids give, and a wrong (or all-zero) type id changes the score.
 *
 * reward = KNOWN_SCORE_BIAS + Σ_t mask[t] · (knownScoreWeight(ids[t]) + tokenTypeWeight(types[t]))
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import { buildKnownScoreModel, type KnownScoreModelInfo, type KnownScoreModelOptions } from './knownScoreModel';

/** Per segment id (BERT's type_vocab_size of 2); multiples of 1/128, so every sum stays exact in float32. */
const TYPE_WEIGHTS = [0, 0.25];

export function tokenTypeWeight(typeId: number): number {
  const weight = TYPE_WEIGHTS[typeId];
  if (weight === undefined) throw new Error(`token type ${typeId} is out of range (0..${TYPE_WEIGHTS.length - 1})`);
  return weight;
}

/**
 * Rewrites a known-score graph: the token-weight Gather now feeds `id_weight`, and `per_token`
 * (what the mask multiplies) becomes `id_weight + type_weight[token_type_ids]`.
 */
export function addTokenTypes(modelBytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  // A decoded message is a class instance whose repeated fields are always arrays.
  const graph = model.graph as onnx.GraphProto | null | undefined;
  const gather = graph?.node.find((node) => node.output?.[0] === 'per_token');
  if (!graph || !gather) throw new Error('not a known-score graph: no node produces per_token');
  gather.output = ['id_weight'];
  const { DataType } = onnx.TensorProto;
  const weights = new Uint8Array(new Float32Array(TYPE_WEIGHTS).buffer);
  graph.initializer.push(onnx.TensorProto.create({ name: 'type_weight', dataType: DataType.FLOAT, dims: [TYPE_WEIGHTS.length], rawData: weights }));
  const inputIds = graph.input.find((input) => input.name === 'input_ids');
  graph.input.push(onnx.ValueInfoProto.create({ ...inputIds, name: 'token_type_ids' }));
  const axis = onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 });
  // Inserted right after the id Gather: ONNX nodes must come in topological order.
  graph.node.splice(
    graph.node.indexOf(gather) + 1,
    0,
    onnx.NodeProto.create({ opType: 'Gather', input: ['type_weight', 'token_type_ids'], output: ['segment_weight'], name: 'gather_type_weight', attribute: [axis] }),
    onnx.NodeProto.create({ opType: 'Add', input: ['id_weight', 'segment_weight'], output: ['per_token'], name: 'add_type_weight' }),
  );
  return onnx.ModelProto.encode(model).finish();
}

/** buildKnownScoreModel, then the token-type input added and `type_vocab_size` written to config.json. */
export async function buildTokenTypeModel(options: KnownScoreModelOptions): Promise<KnownScoreModelInfo> {
  const info = await buildKnownScoreModel(options);
  const modelPath = path.join(options.outDir, 'model.onnx');
  await fs.writeFile(modelPath, addTokenTypes(await fs.readFile(modelPath)));
  const configPath = path.join(options.outDir, 'config.json');
  const config = JSON.parse(await fs.readFile(configPath, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(configPath, `${JSON.stringify({ ...config, type_vocab_size: TYPE_WEIGHTS.length }, null, 2)}\n`);
  return info;
}
