/**
 * Rotary-embedding frequencies as transformers computes them (modeling_rope_utils.py), in float32
 * arithmetic step by step like its torch code, so the angles the graph uses are the ones the model
 * was trained with — including Llama 3's frequency-dependent scaling.
 */

const f = Math.fround;

export interface RopeScaling {
  rope_type?: string;
  /** Older configs name it `type`. */
  type?: string;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
}

/** Rope types whose angles do not depend on the sequence within the model's context. */
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3'] as const;

/** `1 / base^(2i/dim)` for i < dim/2, in float32 as torch computes it. */
export function defaultInverseFrequencies(dim: number, base: number): number[] {
  return Array.from({ length: dim / 2 }, (_, i) => f(1 / f(f(base) ** f((2 * i) / dim))));
}

/**
 * The inverse frequencies for a config's `rope_scaling`. `dynamic` (NTK) only changes frequencies
 * past `max_position_embeddings`, which the engine never feeds, so it is the default there.
 */
export function inverseFrequencies(dim: number, base: number, scaling: RopeScaling | null | undefined, file: string): number[] {
  const base32 = defaultInverseFrequencies(dim, base);
  const type = scaling?.rope_type ?? scaling?.type ?? 'default';
  if (!scaling || type === 'default' || type === 'dynamic') return base32;
  const factor = scaling.factor;
  if (typeof factor !== 'number' || !(factor > 0)) throw new Error(`${file}: rope_scaling ${JSON.stringify(scaling)} has no valid factor`);
  if (type === 'linear') return base32.map((value) => f(value / factor));
  if (type === 'llama3') {
    const { low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: context } = scaling;
    if (typeof low !== 'number' || typeof high !== 'number' || typeof context !== 'number') {
      throw new Error(`${file}: llama3 rope_scaling needs low_freq_factor, high_freq_factor and original_max_position_embeddings`);
    }
    const lowFreqWavelength = context / low;
    const highFreqWavelength = context / high;
    return base32.map((inv) => {
      const wavelength = f(f(2 * Math.PI) / inv);
      const scaled = wavelength > lowFreqWavelength ? f(inv / factor) : inv;
      const isMedium = !(wavelength < highFreqWavelength) && !(wavelength > lowFreqWavelength);
      if (!isMedium) return scaled;
      const smooth = f(f(f(context / wavelength) - low) / (high - low));
      return f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled));
    });
  }
  throw new Error(
    `${file}: rope_scaling type "${type}" is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(', ')}). ` +
      'Serve this model with vLLM and point Preference Lens at the endpoint instead.',
  );
}

/**
 * `cos` and `sin` tables `[positions, dim/2]` of `position · inv_freq`, the product in float32 as
 * torch computes it; the graph gathers the rows it needs.
 */
export function rotaryTables(inverse: readonly number[], positions: number, attentionFactor = 1): { cos: Float32Array; sin: Float32Array } {
  const half = inverse.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f(p * inverse[i]);
      cos[p * half + i] = Math.cos(angle) * attentionFactor;
      sin[p * half + i] = Math.sin(angle) * attentionFactor;
    }
  }
  return { cos, sin };
}
