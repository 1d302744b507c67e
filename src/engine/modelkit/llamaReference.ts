/**
 * The tiny Llama classifier's forward pass in plain float64 TypeScript, one unpadded sequence at a
 * time: what transformers' LlamaForSequenceClassification computes, written out loop by loop so
 * it shares no code with the ONNX graph it checks (llamaModel.ts) beyond the weights.
 */
import { ropeInverseFrequencies, type LlamaWeights } from './llamaModel';

type Vector = Float64Array;

/** `x · W` for W stored `[in, out]` row-major. */
function matVec(x: Vector, w: Float32Array, inSize: number, outSize: number): Vector {
  const y = new Float64Array(outSize);
  for (let i = 0; i < inSize; i++) {
    const xi = x[i];
    const row = i * outSize;
    for (let o = 0; o < outSize; o++) y[o] += xi * w[row + o];
  }
  return y;
}

function rmsNorm(x: Vector, weight: Float32Array, eps: number): Vector {
  let meanSquare = 0;
  for (const value of x) meanSquare += value * value;
  meanSquare /= x.length;
  const inverse = 1 / Math.sqrt(meanSquare + eps);
  return x.map((value, i) => value * inverse * weight[i]);
}

/** Rotates each head's two halves by position × inv_freq (transformers' `rotate_half` convention). */
function applyRotary(x: Vector, position: number, heads: number, headDim: number, inverseFrequencies: readonly number[]): Vector {
  const out = new Float64Array(x.length);
  const half = headDim / 2;
  for (let head = 0; head < heads; head++) {
    const base = head * headDim;
    for (let i = 0; i < half; i++) {
      const angle = position * inverseFrequencies[i];
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      const first = x[base + i];
      const second = x[base + half + i];
      out[base + i] = first * c - second * s;
      out[base + half + i] = second * c + first * s;
    }
  }
  return out;
}

/**
 * The model's reward for `ids` (no padding): the score-head logit at the rightmost token whose id
 * is not `padTokenId` — position 0 when every token is the pad id, as torch's argmax gives.
 */
export function llamaReferenceReward(weights: LlamaWeights, ids: readonly number[]): number {
  const { shape } = weights;
  const h = shape.hiddenSize;
  const heads = shape.numHeads;
  const headDim = h / heads;
  const inverseFrequencies = ropeInverseFrequencies(headDim, shape.ropeTheta);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= shape.vocabSize) throw new Error(`token id ${id} is outside the vocabulary`);
  }

  let hidden: Vector[] = ids.map((id) => Float64Array.from(weights.embedTokens.subarray(id * h, (id + 1) * h)));
  for (const layer of weights.layers) {
    const normed = hidden.map((x) => rmsNorm(x, layer.inputNorm, shape.rmsNormEps));
    const q = normed.map((x, t) => applyRotary(matVec(x, layer.q, h, h), t, heads, headDim, inverseFrequencies));
    const k = normed.map((x, t) => applyRotary(matVec(x, layer.k, h, h), t, heads, headDim, inverseFrequencies));
    const v = normed.map((x) => matVec(x, layer.v, h, h));
    const attended = hidden.map((_, t) => {
      const context = new Float64Array(h);
      for (let head = 0; head < heads; head++) {
        const base = head * headDim;
        // Causal: query t sees keys 0..t.
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[t][base + d] * k[j][base + d];
          return dot / Math.sqrt(headDim);
        });
        const max = Math.max(...scores);
        const exps = scores.map((score) => Math.exp(score - max));
        const total = exps.reduce((sum, e) => sum + e, 0);
        exps.forEach((e, j) => {
          for (let d = 0; d < headDim; d++) context[base + d] += (e / total) * v[j][base + d];
        });
      }
      return matVec(context, layer.o, h, h);
    });
    hidden = hidden.map((x, t) => x.map((value, i) => value + attended[t][i]));

    hidden = hidden.map((x) => {
      const mlpIn = rmsNorm(x, layer.postAttentionNorm, shape.rmsNormEps);
      const gate = matVec(mlpIn, layer.gate, h, shape.intermediateSize);
      const up = matVec(mlpIn, layer.up, h, shape.intermediateSize);
      const activated = gate.map((value, i) => (value / (1 + Math.exp(-value))) * up[i]);
      const down = matVec(activated, layer.down, shape.intermediateSize, h);
      return x.map((value, i) => value + down[i]);
    });
  }

  let pooled = 0;
  ids.forEach((id, t) => {
    if (id !== shape.padTokenId) pooled = t;
  });
  return matVec(rmsNorm(hidden[pooled], weights.finalNorm, shape.rmsNormEps), weights.score, h, 1)[0];
}
