/**
 * LlamaForSequenceClassification's forward pass in plain float64 TypeScript, one unpadded sequence
 * at a time, read from a checkpoint's safetensors: a second implementation that shares nothing
 * with the engine's graph builder beyond the weights, for models too big or too new for the
 * transformers references (real vocabularies, text inputs).
 */
import { WeightStore } from '../../src/engine/hf/safetensors';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

type Vector = Float64Array;

export interface LlamaReference {
  reward(ids: readonly number[]): number;
}

/** `W · x` for a torch `[out, in]` weight. */
function project(w: Float32Array, x: Vector, outSize: number, inSize: number): Vector {
  const y = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    let sum = 0;
    const row = o * inSize;
    for (let i = 0; i < inSize; i++) sum += w[row + i] * x[i];
    y[o] = sum;
  }
  return y;
}

function rmsNorm(x: Vector, weight: Float32Array, eps: number): Vector {
  let meanSquare = 0;
  for (const value of x) meanSquare += value * value;
  const inverse = 1 / Math.sqrt(meanSquare / x.length + eps);
  return x.map((value, i) => value * inverse * weight[i]);
}

function rotate(x: Vector, position: number, heads: number, headDim: number, theta: number): Vector {
  const out = new Float64Array(x.length);
  const half = headDim / 2;
  for (let head = 0; head < heads; head++) {
    const base = head * headDim;
    for (let i = 0; i < half; i++) {
      const angle = position / theta ** ((2 * i) / headDim);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      out[base + i] = x[base + i] * c - x[base + half + i] * s;
      out[base + half + i] = x[base + half + i] * c + x[base + i] * s;
    }
  }
  return out;
}

/** Loads a Llama-layout checkpoint folder (no sliding window, no rope scaling) for reference rewards. */
export function loadLlamaReference(dir: string): LlamaReference {
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const store = WeightStore.open(dir, (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined));
  const read = (name: string) => store.readFloat32(name);
  const h: number = config.hidden_size;
  const heads: number = config.num_attention_heads;
  const kvHeads: number = config.num_key_value_heads ?? heads;
  const headDim = h / heads;
  const m: number = config.intermediate_size;
  const eps: number = config.rms_norm_eps;
  const theta: number = config.rope_theta ?? 10000;
  const pad: number | null = config.pad_token_id ?? null;
  const embed = read('model.embed_tokens.weight');
  const bias = (name: string) => (store.has(name) ? read(name) : undefined);
  const layers = Array.from({ length: config.num_hidden_layers }, (_, l) => {
    const at = (part: string) => `model.layers.${l}.${part}`;
    return {
      inputNorm: read(at('input_layernorm.weight')),
      q: read(at('self_attn.q_proj.weight')),
      k: read(at('self_attn.k_proj.weight')),
      v: read(at('self_attn.v_proj.weight')),
      qBias: bias(at('self_attn.q_proj.bias')),
      kBias: bias(at('self_attn.k_proj.bias')),
      vBias: bias(at('self_attn.v_proj.bias')),
      o: read(at('self_attn.o_proj.weight')),
      postNorm: read(at('post_attention_layernorm.weight')),
      gate: read(at('mlp.gate_proj.weight')),
      up: read(at('mlp.up_proj.weight')),
      down: read(at('mlp.down_proj.weight')),
    };
  });
  const finalNorm = read('model.norm.weight');
  const score = read('score.weight');
  const addBias = (x: Vector, b?: Float32Array) => (b ? x.map((value, i) => value + b[i]) : x);

  return {
    reward(ids) {
      const T = ids.length;
      let hidden = ids.map((id) => Float64Array.from(embed.subarray(id * h, (id + 1) * h)));
      for (const layer of layers) {
        const normed = hidden.map((x) => rmsNorm(x, layer.inputNorm, eps));
        const q = normed.map((x, t) => rotate(addBias(project(layer.q, x, heads * headDim, h), layer.qBias), t, heads, headDim, theta));
        const k = normed.map((x, t) => rotate(addBias(project(layer.k, x, kvHeads * headDim, h), layer.kBias), t, kvHeads, headDim, theta));
        const v = normed.map((x) => addBias(project(layer.v, x, kvHeads * headDim, h), layer.vBias));
        const group = heads / kvHeads;
        hidden = hidden.map((x, t) => {
          const context = new Float64Array(heads * headDim);
          for (let head = 0; head < heads; head++) {
            const kvHead = Math.floor(head / group);
            const scores = Array.from({ length: t + 1 }, (_, s) => {
              let dot = 0;
              for (let i = 0; i < headDim; i++) dot += q[t][head * headDim + i] * k[s][kvHead * headDim + i];
              return dot / Math.sqrt(headDim);
            });
            const max = Math.max(...scores);
            const weights = scores.map((score) => Math.exp(score - max));
            const total = weights.reduce((a, b) => a + b, 0);
            for (let s = 0; s <= t; s++) for (let i = 0; i < headDim; i++) context[head * headDim + i] += (weights[s] / total) * v[s][kvHead * headDim + i];
          }
          const attended = project(layer.o, context, h, heads * headDim).map((value, i) => value + x[i]);
          const mlpIn = rmsNorm(attended, layer.postNorm, eps);
          const gate = project(layer.gate, mlpIn, m, h);
          const up = project(layer.up, mlpIn, m, h);
          const activated = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
          return project(layer.down, activated, h, m).map((value, i) => value + attended[i]);
        });
      }
      // transformers ≥ 4.45: the rightmost token whose id is not the pad id (the last one without a pad id).
      let pooled = T - 1;
      if (pad !== null) {
        pooled = 0;
        for (let t = 0; t < T; t++) if (ids[t] !== pad) pooled = t;
      }
      return project(score, rmsNorm(hidden[pooled], finalNorm, eps), 1, h)[0];
    },
  };
}
