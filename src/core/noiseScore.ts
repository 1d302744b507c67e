/**
 * One noise score per pair: the probability that its label is wrong (or meaningless), from all the
 * evidence the review has. It orders the review queue.
 *
 * Method. Reward-model-based cleaning, as benchmarked in PrefCleanBench (Yeh & Li, "Clean First,
 * Align Later: Benchmarking Preference Data Cleaning for Reliable LLM Alignment", arXiv 2509.23564,
 * 2025), with the model's confidence calibrated first, because confidence-based filtering is what
 * Gao et al. ("Impact of Preference Noise on the Alignment Performance of Generative Language
 * Models", 2024) found to help:
 *
 * 1. The model's evidence is the label-signed, length-controlled margin m (./lengthControl: the
 *    margin with the length effect fitted on the file taken out; positive = the model agrees).
 * 2. It is calibrated by Platt scaling with one parameter: P(label right) = σ(β·m), β fitted by
 *    maximum likelihood over the scored, labelled pairs (Newton's method; the loss is convex in β).
 *    A model whose margins are not informative gets β ≈ 0 and so 0.5 everywhere: no evidence.
 *    P_model(label wrong) = σ(−β·m). With several reward models (plens score --model A --model B)
 *    each gets its own length fit and β, and P_model is the mean of their calibrated probabilities:
 *    the "multiple judges" PrefCleanBench finds work best, in the spirit of the ensemble preference
 *    strength of Secrets of RLHF Part II (arXiv 2401.06080).
 * 3. Each model-free check (./noiseChecks) the pair fails adds a prior probability that the label is
 *    wrong given that evidence alone (CHECK_PRIORS, with the reasoning beside each).
 * 4. The pieces are combined by noisy-OR, as independent causes of doubt:
 *    score = 1 − (1 − P_model) · Π (1 − prior). A pair no model has scored yet keeps its checks.
 *
 * Ties and unlabelled pairs get no model evidence (the margin has no label to contradict).
 */
import type { CheckName } from './checkNames';
import { fitLengthEffect, lengthControlledMargin, type LengthColumns, type LengthFit } from './lengthControl';
import type { Preference } from './pair';
import type { PairScore } from './verdict';

/**
 * P(label wrong | the check fails), the model aside. Stated as priors so their effect is plain.
 * - identical responses: no preference between the same text can be right: 1.
 * - conflicting (near-)duplicates: of two contradicting labels of one comparison one is wrong, and
 *   alone we cannot tell which: 0.5 each (the model's evidence then separates them).
 * - an empty response preferred to a non-empty one: 0.9 (right only where the other answer is
 *   harmful, which a helpfulness label rarely means); an empty rejected response: 0 (the label is
 *   plausible; the pair is merely easy).
 * - transcripts that differ before the last turn: the label compares two conversations, not two
 *   answers to one prompt: 0.5.
 */
/** How the score is made, in one line (`plens review` prints it). */
export const NOISE_METHOD =
  'P(label wrong): Platt-calibrated length-controlled reward margin, noisy-OR with the model-free checks (PrefCleanBench, Yeh & Li 2025; Gao et al. 2024)';

export const CHECK_PRIORS = {
  identical_responses: 1,
  conflicting_duplicates: 0.5,
  near_duplicate_conflicts: 0.5,
  emptyChosen: 0.9,
  emptyRejected: 0,
  diverging_transcripts: 0.5,
} as const;

export interface NoiseColumns extends LengthColumns {
  fileLabel(index: number): Preference;
}

export interface NoiseEvidence {
  /** Probability the label is wrong, all evidence combined. */
  score: number;
  /** The calibrated model's part, when scored and labelled a or b. */
  model?: number;
  /** The checks that contributed, with their priors. */
  checks: { check: CheckName; prior: number }[];
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Platt scaling without intercept: β maximising Σ log σ(β·mᵢ) (see the header); 0 when the margins carry no signal. */
export function fitTemperature(signedMargins: readonly number[]): number {
  if (signedMargins.length === 0) return 0;
  let beta = 0;
  for (let step = 0; step < 50; step++) {
    let gradient = 0;
    let curvature = 0;
    for (const m of signedMargins) {
      const p = sigmoid(-beta * m);
      gradient += m * p; // d/dβ of Σ log σ(β m)
      curvature += m * m * p * (1 - p);
    }
    if (curvature <= 1e-12) break;
    const next = Math.max(0, beta + gradient / curvature);
    if (Math.abs(next - beta) < 1e-9 * Math.max(1, beta)) {
      beta = next;
      break;
    }
    beta = next;
  }
  // Perfectly separated margins would push β to infinity: cap it so scores stay graded.
  return Math.min(beta, 1e3);
}

export interface NoiseModel {
  /** Platt's β on the length-controlled margins (the first model's), and each model's. */
  beta: number;
  betas: number[];
  evidence(index: number): NoiseEvidence;
}

/** What the noise score reads of the checks (NoiseChecks). */
export interface CheckColumns {
  of(index: number): CheckName[];
  emptySides(index: number): { a: boolean; b: boolean };
}

/** Scores of another reward model of the same pairs (several models: see ./modelConsensus). */
export interface JudgeColumn {
  score(index: number): PairScore | undefined;
}

export function noiseModel(
  pairs: NoiseColumns,
  checks: CheckColumns,
  labelOf: (index: number) => Preference,
  fit: LengthFit | null,
  others: readonly JudgeColumn[] = [],
): NoiseModel {
  // Every model is a judge with its own length fit and calibration; their calibrated doubts are averaged.
  const judges = [
    { score: (i: number) => pairs.score(i), fit },
    ...others.map((other) => ({ score: (i: number) => other.score(i), fit: fitLengthEffect({ count: pairs.count, score: other.score, lengths: (i) => pairs.lengths(i), identical: (i) => pairs.identical?.(i) ?? false }) })),
  ];
  const signedBy = (judge: (typeof judges)[number], index: number): number | undefined => {
    const label = labelOf(index);
    if (label !== 'a' && label !== 'b') return undefined;
    const m = lengthControlledMargin(judge.fit, judge.score(index), pairs.lengths(index));
    return m === undefined ? undefined : label === 'a' ? m : -m;
  };
  const betas = judges.map((judge) => {
    const margins: number[] = [];
    for (let i = 0; i < pairs.count; i++) {
      const m = signedBy(judge, i);
      if (m !== undefined) margins.push(m);
    }
    return fitTemperature(margins);
  });
  const modelDoubt = (index: number): number | undefined => {
    let sum = 0;
    let n = 0;
    judges.forEach((judge, k) => {
      const m = signedBy(judge, index);
      if (m === undefined) return;
      sum += sigmoid(-betas[k] * m);
      n++;
    });
    return n ? sum / n : undefined;
  };
  return {
    beta: betas[0],
    betas,
    evidence(index) {
      const model = modelDoubt(index);
      const found: { check: CheckName; prior: number }[] = [];
      for (const check of checks.of(index)) {
        let prior: number;
        if (check === 'empty_responses') {
          const empty = checks.emptySides(index);
          const label = labelOf(index);
          const chosenEmpty = (label === 'a' && empty.a && !empty.b) || (label === 'b' && empty.b && !empty.a);
          prior = chosenEmpty ? CHECK_PRIORS.emptyChosen : CHECK_PRIORS.emptyRejected;
        } else prior = CHECK_PRIORS[check];
        if (prior > 0) found.push({ check, prior });
      }
      const keep = found.reduce((k, { prior }) => k * (1 - prior), 1 - (model ?? 0));
      return { score: 1 - keep, ...(model === undefined ? {} : { model }), checks: found };
    },
  };
}
