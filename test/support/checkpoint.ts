/**
 * Writes Hugging Face checkpoints (config.json + safetensors, sharded when asked) with seeded random
 * weights, tensor by tensor, so tests and benchmarks can make models of any shape — up to a
 * Llama-2-13B-shaped 26 GB one — without holding more than one tensor in memory.
 */
import { closeSync, openSync, writeSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type StoredDtype = 'F32' | 'BF16' | 'F16';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** Fills the tensor; called once, when the tensor is written. */
  values(): Float32Array;
}

/** mulberry32 + Box–Muller: seedable, the same on every platform. */
export function normalSource(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

const BYTES: Record<StoredDtype, number> = { F32: 4, BF16: 2, F16: 2 };

/** Round-to-nearest-even bf16, as torch's `.to(torch.bfloat16)`. */
function toBf16Bits(value: number, scratch: Float32Array, bits: Uint32Array): number {
  scratch[0] = value;
  const word = bits[0];
  return ((word + 0x7fff + ((word >> 16) & 1)) >>> 16) & 0xffff;
}

function toF16Bits(value: number): number {
  const f32 = new Float32Array([value]);
  const word = new Uint32Array(f32.buffer)[0];
  const sign = (word >>> 16) & 0x8000;
  const exponent = ((word >>> 23) & 0xff) - 127 + 15;
  const mantissa = word & 0x7fffff;
  if (exponent <= 0) return sign;
  if (exponent >= 31) return sign | 0x7c00;
  const rounded = (exponent << 10) | (mantissa >> 13);
  return sign | (rounded + ((mantissa >> 12) & 1));
}

function encode(values: Float32Array, dtype: StoredDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  if (dtype === 'BF16') {
    const scratch = new Float32Array(1);
    const bits = new Uint32Array(scratch.buffer);
    for (let i = 0; i < values.length; i++) out[i] = toBf16Bits(values[i], scratch, bits);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = toF16Bits(values[i]);
  }
  return new Uint8Array(out.buffer);
}

/**
 * Writes `tensors` into `dir` as `model.safetensors`, or as `shards` files with
 * `model.safetensors.index.json` (the layout `save_pretrained` uses past its shard size).
 */
export function writeSafetensors(dir: string, tensors: TensorSpec[], dtype: StoredDtype, shards = 1): void {
  mkdirSync(dir, { recursive: true });
  const perShard = Math.ceil(tensors.length / shards);
  const weightMap: Record<string, string> = {};
  for (let shard = 0; shard < shards; shard++) {
    const group = tensors.slice(shard * perShard, (shard + 1) * perShard);
    const file = shards === 1 ? 'model.safetensors' : `model-${String(shard + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const tensor of group) {
      const bytes = tensor.shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
      header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[tensor.name] = file;
    }
    let headerText = JSON.stringify(header);
    headerText += ' '.repeat((8 - ((headerText.length + 8) % 8)) % 8);
    const fd = openSync(path.join(dir, file), 'w');
    try {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(Buffer.byteLength(headerText)));
      writeSync(fd, length);
      writeSync(fd, Buffer.from(headerText));
      for (const tensor of group) {
        const bytes = encode(tensor.values(), dtype);
        let written = 0;
        while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
      }
    } finally {
      closeSync(fd);
    }
  }
  if (shards > 1) writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
}

export interface DecoderShape {
  modelType: 'llama' | 'qwen2' | 'mistral';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  maxPositions: number;
  padTokenId: number | null;
  ropeTheta?: number;
  rmsNormEps?: number;
}

/**
 * A random decoder reward model (Llama / Qwen2 / Mistral sequence classifier) in transformers'
 * layout. Weights have std 1/√fan_in (activations of order one, so a wrong pooling or mask shows
 * in the rewards), norms 1 ± 0.1, biases 0.02 (Qwen2's q/k/v).
 */
export function writeDecoderCheckpoint(dir: string, shape: DecoderShape, options: { seed?: number; dtype?: StoredDtype; shards?: number } = {}): void {
  const normal = normalSource(options.seed ?? 1);
  const headDim = shape.hiddenSize / shape.heads;
  const matrix = (rows: number, columns: number, std: number) => () => Float32Array.from({ length: rows * columns }, () => normal() * std);
  const norm = (size: number) => () => Float32Array.from({ length: size }, () => 1 + 0.1 * normal());
  const bias = (size: number) => () => Float32Array.from({ length: size }, () => 0.02 * normal());
  const h = shape.hiddenSize;
  const m = shape.intermediateSize;
  const q = shape.heads * headDim;
  const kv = shape.kvHeads * headDim;
  const tensors: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [shape.vocabSize, h], values: matrix(shape.vocabSize, h, 1) }];
  for (let layer = 0; layer < shape.layers; layer++) {
    const at = (part: string) => `model.layers.${layer}.${part}`;
    tensors.push(
      { name: at('input_layernorm.weight'), shape: [h], values: norm(h) },
      { name: at('self_attn.q_proj.weight'), shape: [q, h], values: matrix(q, h, 1 / Math.sqrt(h)) },
      { name: at('self_attn.k_proj.weight'), shape: [kv, h], values: matrix(kv, h, 1 / Math.sqrt(h)) },
      { name: at('self_attn.v_proj.weight'), shape: [kv, h], values: matrix(kv, h, 1 / Math.sqrt(h)) },
      { name: at('self_attn.o_proj.weight'), shape: [h, q], values: matrix(h, q, 1 / Math.sqrt(q)) },
      { name: at('post_attention_layernorm.weight'), shape: [h], values: norm(h) },
      { name: at('mlp.gate_proj.weight'), shape: [m, h], values: matrix(m, h, 1 / Math.sqrt(h)) },
      { name: at('mlp.up_proj.weight'), shape: [m, h], values: matrix(m, h, 1 / Math.sqrt(h)) },
      { name: at('mlp.down_proj.weight'), shape: [h, m], values: matrix(h, m, 1 / Math.sqrt(m)) },
    );
    if (shape.modelType === 'qwen2') {
      tensors.push(
        { name: at('self_attn.q_proj.bias'), shape: [q], values: bias(q) },
        { name: at('self_attn.k_proj.bias'), shape: [kv], values: bias(kv) },
        { name: at('self_attn.v_proj.bias'), shape: [kv], values: bias(kv) },
      );
    }
  }
  tensors.push({ name: 'model.norm.weight', shape: [h], values: norm(h) }, { name: 'score.weight', shape: [1, h], values: matrix(1, h, 1 / Math.sqrt(h)) });
  const dtype = options.dtype ?? 'F32';
  writeSafetensors(dir, tensors, dtype, options.shards ?? 1);
  const architecture = { llama: 'LlamaForSequenceClassification', qwen2: 'Qwen2ForSequenceClassification', mistral: 'MistralForSequenceClassification' }[shape.modelType];
  const config = {
    architectures: [architecture],
    model_type: shape.modelType,
    vocab_size: shape.vocabSize,
    hidden_size: h,
    intermediate_size: m,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    hidden_act: 'silu',
    max_position_embeddings: shape.maxPositions,
    rms_norm_eps: shape.rmsNormEps ?? 1e-6,
    rope_theta: shape.ropeTheta ?? 10000,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: shape.padTokenId,
    id2label: { '0': 'LABEL_0' },
    label2id: { LABEL_0: 0 },
    torch_dtype: { F32: 'float32', BF16: 'bfloat16', F16: 'float16' }[dtype],
    ...(shape.modelType === 'qwen2' ? { use_sliding_window: false, sliding_window: shape.maxPositions } : {}),
  };
  writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}
