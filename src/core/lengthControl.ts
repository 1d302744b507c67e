/**
 * Length-controlled margins. Reward models, like people, favour longer answers (AlpacaEval: humans
 * prefer the longer one about 64% of the time), so a margin mixes "better" with "longer". We fit,
 * on the file being reviewed, how much of the margin the length ratio predicts and take it out:
 *
 *   margin = intercept + slope · x + residual,   x = ln((chars(A) + 1) / (chars(B) + 1))
 *   length-controlled margin = margin − slope · x
 *
 * The fit is Theil–Sen (the median of the slopes between pairs of points; intercept = median of
 * margin − slope·x). It is robust to the outliers margins have (a breakdown point of 29%: up to that
 * share of wild points cannot move it), needs no tuning constant (Huber's does), and is what
 * length-controlled evaluations that avoid least squares use. Above EXACT_LIMIT points the slopes
 * of THEIL_SEN_SAMPLES random point pairs (seeded: the same file gives the same fit) stand in for
 * all n²/2. Only the slope is removed: the intercept is the model's preference for one side at
 * equal length, which is what it knows about quality, not length.
 *
 * The fit uses every scored pair, labelled or not: it describes the model, not the labels. Pairs
 * whose two responses are identical are left out of the fit and the figures, as out of every
 * agreement figure: they say nothing about length or about the label (see verdict.ts).
 */
import type { Preference } from './pair';
import type { PairScore } from './verdict';

export const EXACT_LIMIT = 1500;
export const THEIL_SEN_SAMPLES = 400_000;

export interface LengthFit {
  method: 'theil-sen';
  slope: number;
  intercept: number;
  /** Scored pairs the fit used. */
  pairs: number;
}

/** What the length control reads of each pair. */
export interface LengthColumns {
  readonly count: number;
  score(index: number): PairScore | undefined;
  lengths(index: number): [number, number];
  /** Whether the pair's two responses are identical (then it is left out). */
  identical?(index: number): boolean;
}

export const logLengthRatio = (lengthA: number, lengthB: number) => Math.log((lengthA + 1) / (lengthB + 1));

/** A small seeded PRNG (mulberry32): reproducible sampling without a dependency. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(values: Float64Array): number {
  const sorted = values.slice().sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Theil–Sen fit of y on x (see the header); null with fewer than two distinct x. */
export function theilSen(x: ArrayLike<number>, y: ArrayLike<number>, seed = 12): { slope: number; intercept: number } | null {
  const n = x.length;
  const slopes: number[] = [];
  if (n <= EXACT_LIMIT) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (x[i] !== x[j]) slopes.push((y[j] - y[i]) / (x[j] - x[i]));
  } else {
    const random = mulberry32(seed);
    for (let k = 0; k < THEIL_SEN_SAMPLES; k++) {
      const i = Math.floor(random() * n);
      const j = Math.floor(random() * n);
      if (x[i] !== x[j]) slopes.push((y[j] - y[i]) / (x[j] - x[i]));
    }
  }
  if (slopes.length === 0) return null;
  const slope = median(Float64Array.from(slopes));
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = y[i] - slope * x[i];
  return { slope, intercept: median(residuals) };
}

/** Fits the length effect on the scored pairs of `pairs`. */
export function fitLengthEffect(pairs: LengthColumns): LengthFit | null {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < pairs.count; i++) {
    const score = pairs.score(i);
    if (!score || pairs.identical?.(i)) continue;
    x.push(logLengthRatio(...pairs.lengths(i)));
    y.push(score.rewardA - score.rewardB);
  }
  const fit = theilSen(x, y);
  return fit && { method: 'theil-sen', ...fit, pairs: x.length };
}

/** The margin with the fitted length effect taken out; undefined while the pair is unscored. */
export function lengthControlledMargin(fit: LengthFit | null, score: PairScore | undefined, lengths: [number, number]): number | undefined {
  if (!score) return undefined;
  const margin = score.rewardA - score.rewardB;
  return fit ? margin - fit.slope * logLengthRatio(...lengths) : margin;
}

/**
 * The model prefers the longer response, and would prefer the other one (or neither) once length
 * is taken out: its preference rests on length alone.
 */
export function preferredOnlyForLength(fit: LengthFit | null, score: PairScore | undefined, lengths: [number, number]): boolean {
  if (!fit || !score || lengths[0] === lengths[1]) return false;
  const margin = score.rewardA - score.rewardB;
  const controlled = lengthControlledMargin(fit, score, lengths)!;
  const longerIsA = lengths[0] > lengths[1];
  return margin !== 0 && (margin > 0) === longerIsA && (controlled === 0 || controlled > 0 !== margin > 0);
}

export interface LengthControlStats {
  method: 'theil-sen';
  /** Reward difference per unit of ln length ratio, and at equal length. */
  slope: number | null;
  intercept: number | null;
  /** Scored pairs the fit used. */
  pairs: number;
  /**
   * Over scored pairs labelled a or b: how often the raw margin, the length-controlled margin, and
   * length alone (the fitted slope times the length ratio) agree with the label; a margin of exactly
   * 0 counts as half (see lengthControlStats).
   */
  agreement: number | null;
  agreementLengthControlled: number | null;
  agreementLengthOnly: number | null;
  /**
   * The share of the model's agreement above chance (0.5) that goes when length is taken out:
   * (agreement − agreementLengthControlled) / (agreement − 0.5); null when agreement ≤ 0.5.
   */
  explainedByLength: number | null;
  /** Scored pairs whose model preference rests on length alone (see preferredOnlyForLength). */
  preferredOnlyForLength: number;
}

export function lengthControlStats(pairs: LengthColumns, labelOf: (index: number) => Preference, fit: LengthFit | null = fitLengthEffect(pairs)): LengthControlStats {
  let labelled = 0;
  let raw = 0;
  let controlled = 0;
  let lengthOnly = 0;
  let onlyLength = 0;
  const agrees = (value: number, label: Preference) => (value > 0 && label === 'a') || (value < 0 && label === 'b');
  // With length taken out a margin can be exactly 0 (a model that only measures length): no
  // preference, which a coin would get right half the time. Counted so, "explained" reads 100% then.
  const credit = (value: number, label: Preference) => (value === 0 ? 0.5 : agrees(value, label) ? 1 : 0);
  for (let i = 0; i < pairs.count; i++) {
    const score = pairs.score(i);
    if (!score || pairs.identical?.(i)) continue;
    const lengths = pairs.lengths(i);
    if (preferredOnlyForLength(fit, score, lengths)) onlyLength++;
    const label = labelOf(i);
    if (label !== 'a' && label !== 'b') continue;
    labelled++;
    if (agrees(score.rewardA - score.rewardB, label)) raw++;
    controlled += credit(lengthControlledMargin(fit, score, lengths)!, label);
    if (fit) lengthOnly += credit(fit.slope * logLengthRatio(...lengths), label);
  }
  const ratio = (n: number) => (labelled ? n / labelled : null);
  const agreement = ratio(raw);
  const agreementLengthControlled = ratio(controlled);
  return {
    method: 'theil-sen',
    slope: fit?.slope ?? null,
    intercept: fit?.intercept ?? null,
    pairs: fit?.pairs ?? 0,
    agreement,
    agreementLengthControlled,
    agreementLengthOnly: fit ? ratio(lengthOnly) : null,
    explainedByLength: agreement !== null && agreementLengthControlled !== null && agreement > 0.5 ? (agreement - agreementLengthControlled) / (agreement - 0.5) : null,
    preferredOnlyForLength: onlyLength,
  };
}
