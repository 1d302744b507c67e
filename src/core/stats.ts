/**
 * Dataset-level insight: how agreement between model and human varies with the model's confidence
 * (a calibration table), the spread of margins, length bias on both sides, and review progress.
 * The CLI (`plens review`) and the stats view print the same figures from this one function.
 */
import type { Annotation } from './annotationTypes';
import type { TeamReport } from './team';
import type { CheckName } from './checkNames';
import type { LengthControlStats } from './lengthControl';
import type { ModelAgreementStats } from './modelConsensus';
import type { Preference } from './pair';
import { summarize, verdict, type AgreementSummary, type ScoredPairs } from './verdict';

export interface CalibrationBin {
  /** Model confidence range, P(preferred ≻ other) = σ(|margin|), from `low` (inclusive) to `high`. */
  low: number;
  high: number;
  /** Scored, labelled pairs in the bin. */
  pairs: number;
  /** Mean model confidence in the bin: a calibrated model agrees with humans this often. */
  confidence: number | null;
  /** How often the human label agrees with the model in the bin. */
  agreement: number | null;
}

export interface HistogramBin {
  low: number;
  high: number;
  count: number;
}

export interface DatasetStats extends AgreementSummary {
  calibration: CalibrationBin[];
  marginHistogram: HistogramBin[];
  length: {
    /** Among labelled pairs with responses of different lengths: how often the chosen one is longer. */
    humanPrefersLonger: number | null;
    /** Among scored pairs with responses of different lengths: how often the model prefers the longer. */
    modelPrefersLonger: number | null;
  };
  review: { reviewed: number; relabelled: number; bothBad: number; flagged: number; notes: number };
  /** When annotators have labelled: each one's progress and agreement, and how far they agree (see ./team). */
  team?: TeamReport;
  /** How much of the agreement length explains (set by ReviewState, see ./lengthControl). */
  lengthControl?: LengthControlStats;
  /** Pairs each model-free check flags, and pairs whose noise score is ≥ 0.5 (set by ReviewState). */
  checks?: Record<CheckName, number>;
  noiseSuspects?: number;
  /** With several models: each one's agreement, model-vs-model agreement and the consensus (set by ReviewState, see ./modelConsensus). */
  models?: ModelAgreementStats;
}

const CALIBRATION_EDGES = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
const HISTOGRAM_BINS = 20;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const ratio = (part: number, whole: number) => (whole ? part / whole : null);

/** What the statistics read of each pair: label, score and response lengths (see PairTable). */
export interface PairColumns extends ScoredPairs {
  lengths(index: number): [number, number];
}

export interface StatsInput {
  pairs: PairColumns;
  /** The human label as it stands (a reviewer's correction wins); defaults to the file's label. */
  labelOf?: (index: number) => Preference;
  annotationOf?: (index: number) => Annotation | undefined;
}

export function datasetStats({ pairs, labelOf = (i) => pairs.fileLabel(i), annotationOf = () => undefined }: StatsInput): DatasetStats {
  const bins = CALIBRATION_EDGES.slice(0, -1).map((low, i) => ({ low, high: CALIBRATION_EDGES[i + 1], pairs: 0, agreed: 0, confidenceSum: 0 }));
  let longerPreferred = 0;
  let modelLengthPairs = 0;
  const margins: number[] = [];
  let longerChosen = 0;
  let humanLengthPairs = 0;
  const review = { reviewed: 0, relabelled: 0, bothBad: 0, flagged: 0, notes: 0 };
  for (let index = 0; index < pairs.count; index++) {
    const label = labelOf(index);
    const [lengthA, lengthB] = pairs.lengths(index);
    if ((label === 'a' || label === 'b') && lengthA !== lengthB) {
      humanLengthPairs++;
      if ((label === 'a') === lengthA > lengthB) longerChosen++;
    }
    const annotation = annotationOf(index);
    if (annotation) {
      if (annotation.reviewed) review.reviewed++;
      if (annotation.label === 'both-bad') review.bothBad++;
      else if (annotation.label && annotation.label !== pairs.fileLabel(index)) review.relabelled++;
      if (annotation.flagged) review.flagged++;
      if (annotation.note) review.notes++;
    }
    const score = pairs.score(index);
    if (!score) continue;
    const v = verdict(label, score, pairs.identical?.(index));
    margins.push(v.margin);
    if (lengthA !== lengthB && (v.prefers === 'a' || v.prefers === 'b')) {
      modelLengthPairs++;
      if ((v.prefers === 'a') === lengthA > lengthB) longerPreferred++;
    }
    if (v.agrees === null) continue;
    const confidence = sigmoid(Math.abs(v.margin));
    const bin = bins.find((b) => confidence < b.high) ?? bins[bins.length - 1];
    bin.pairs++;
    bin.confidenceSum += confidence;
    if (v.agrees) bin.agreed++;
  }

  return {
    ...summarize(pairs, labelOf),
    calibration: bins.map((b) => ({
      low: b.low,
      high: b.high,
      pairs: b.pairs,
      confidence: ratio(b.confidenceSum, b.pairs),
      agreement: ratio(b.agreed, b.pairs),
    })),
    marginHistogram: histogram(margins, HISTOGRAM_BINS),
    length: { humanPrefersLonger: ratio(longerChosen, humanLengthPairs), modelPrefersLonger: ratio(longerPreferred, modelLengthPairs) },
    review,
  };
}

/** Equal-width bins symmetric around zero, so the sign of the margin reads at a glance. */
export function histogram(values: readonly number[], binCount: number): HistogramBin[] {
  if (values.length === 0) return [];
  const extent = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
  const width = (2 * extent) / binCount;
  const bins = Array.from({ length: binCount }, (_, i) => ({ low: -extent + i * width, high: -extent + (i + 1) * width, count: 0 }));
  for (const value of values) bins[Math.min(binCount - 1, Math.floor((value + extent) / width))].count++;
  return bins;
}

/** Disagreements the model is most confident about: the likeliest label errors, first. */
export function topDisagreements(
  pairs: ScoredPairs,
  count: number,
  labelOf: (index: number) => Preference = (i) => pairs.fileLabel(i),
): { index: number; margin: number }[] {
  const found: { index: number; margin: number }[] = [];
  for (let index = 0; index < pairs.count; index++) {
    const score = pairs.score(index);
    if (!score) continue;
    const v = verdict(labelOf(index), score, pairs.identical?.(index));
    if (v.agrees === false) found.push({ index, margin: v.margin });
  }
  return found.sort((x, y) => Math.abs(y.margin) - Math.abs(x.margin) || x.index - y.index).slice(0, count);
}
