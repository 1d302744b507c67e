/**
 * Weight quantization on load, for the `int8` and `int4` variants: a user picks speed or memory
 * without any export tool. Both are round-to-nearest, the schemes onnxruntime's own quantizers
 * produce for these operators; the fidelity each costs is measured against fp32 (see bench/).
 */

/**
 * Weights per int4 block (one scale and zero point each). 64 rather than 32, because int4 exists for
 * memory: 32-weight blocks' fp32 scales are a fifth of the model, and a 13B model peaked at 0.47×
 * its bf16 bytes with them, 0.37× with 64 — for a median error of 9.4% instead of 7.8% of the reward
 * spread on the benchmark model (bench/README.md).
 */
export const INT4_BLOCK_SIZE = 64;

/**
 * Symmetric per-output-channel int8 for MatMulInteger: `w ≈ q · scale[out]`, `q` in
 * `[-limit, limit]`. Input: a torch `[out, in]` weight. Output `values` in MatMul's `[in, out]`
 * layout.
 */
export function quantizeInt8Columns(weight: Float32Array, outFeatures: number, inFeatures: number, limit: number): { values: Int8Array; scales: Float32Array } {
  const values = new Int8Array(weight.length);
  const scales = new Float32Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    const row = o * inFeatures;
    let largest = 0;
    for (let i = 0; i < inFeatures; i++) largest = Math.max(largest, Math.abs(weight[row + i]));
    const scale = largest === 0 ? 1 : largest / limit;
    scales[o] = scale;
    for (let i = 0; i < inFeatures; i++) values[i * outFeatures + o] = Math.round(weight[row + i] / scale);
  }
  return { values, scales };
}

/**
 * Asymmetric 4-bit blocks along the input dimension, in MatMulNBits' layout: for output row n and
 * block b, `INT4_BLOCK_SIZE / 2` bytes with element 2j in the low nibble and 2j+1 in the high one;
 * `w ≈ (q − zero) · scale`. A last, partial block is padded with the zero point (it dequantizes to 0).
 * Zero points are packed two blocks to a byte, each row padded to whole bytes.
 */
export function quantizeInt4Blocks(
  weight: Float32Array,
  outFeatures: number,
  inFeatures: number,
): { packed: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array; blocks: number } {
  const block = INT4_BLOCK_SIZE;
  const blocks = Math.ceil(inFeatures / block);
  const zeroBytesPerRow = Math.ceil(blocks / 2);
  const packed = new Uint8Array(outFeatures * blocks * (block / 2));
  const scales = new Float32Array(outFeatures * blocks);
  const zeroPoints = new Uint8Array(outFeatures * zeroBytesPerRow);
  for (let n = 0; n < outFeatures; n++) {
    for (let b = 0; b < blocks; b++) {
      const start = n * inFeatures + b * block;
      const end = n * inFeatures + Math.min(inFeatures, (b + 1) * block);
      // The range always includes 0, so a zero weight stays exactly zero.
      let low = 0;
      let high = 0;
      for (let i = start; i < end; i++) {
        low = Math.min(low, weight[i]);
        high = Math.max(high, weight[i]);
      }
      const scale = high > low ? (high - low) / 15 : 1;
      const zero = Math.min(15, Math.max(0, Math.round(-low / scale)));
      scales[n * blocks + b] = scale;
      zeroPoints[n * zeroBytesPerRow + (b >> 1)] |= zero << ((b & 1) * 4);
      const out = (n * blocks + b) * (block / 2);
      for (let j = 0; j < block; j++) {
        const i = start + j;
        const q = i < end ? Math.min(15, Math.max(0, Math.round(weight[i] / scale) + zero)) : zero;
        packed[out + (j >> 1)] |= q << ((j & 1) * 4);
      }
    }
  }
  return { packed, scales, zeroPoints, blocks };
}
