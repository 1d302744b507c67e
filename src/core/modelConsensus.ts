/**
 * Several reward models on one file: each model's agreement with the labels, how often the models
 * agree with each other, their consensus, and the pairs every model disagrees with.
 *
 * Consensus is the mean of the models' standardised margins (each margin divided by that model's
 * median |margin|, so a model with large rewards does not outvote the others): the ensemble's mean
 * preference strength, as Secrets of RLHF Part II (arXiv 2401.06080) estimates HH-RLHF's label
 * noise with. "Every model disagrees" is the stricter, scale-free reading: each model scored the
 * pair and each prefers the other response than the label.
 */
import type { Preference } from './pair';
import { summarize, verdict, type PairScore, type ScoredPairs } from './verdict';

export interface ModelColumn {
  name: string;
  score(index: number): PairScore | undefined;
}

export interface ConsensusReport {
  models: string[];
  /** Per model: its agreement with the labels over the pairs it scored. */
  agreement: { model: string; scored: number; agreement: number | null; disagreements: number }[];
  /** Per two models: among pairs both scored, how often they prefer the same response. */
  pairwise: { a: string; b: string; pairs: number; agreement: number | null }[];
  /** The consensus (mean standardised margin) against the labels. */
  consensus: { scored: number; agreement: number | null; disagreements: number };
  /** Labelled pairs that every model scored and every model disagrees with. */
  everyModelDisagrees: number[];
}

const margin = (score: PairScore) => score.rewardA - score.rewardB;

/** Each model's median |margin| over the pairs it scored (1 when all are 0): its scale. */
function scales(models: readonly ModelColumn[], count: number): number[] {
  return models.map((model) => {
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      const score = model.score(i);
      if (score) values.push(Math.abs(margin(score)));
    }
    values.sort((x, y) => x - y);
    const median = values.length ? values[Math.floor(values.length / 2)] : 0;
    return median > 0 ? median : 1;
  });
}

/** The consensus margin of pair `index`: mean standardised margin over the models that scored it. */
export function consensusMargins(models: readonly ModelColumn[], count: number): (number | undefined)[] {
  const scale = scales(models, count);
  return Array.from({ length: count }, (_, i) => {
    let sum = 0;
    let n = 0;
    models.forEach((model, k) => {
      const score = model.score(i);
      if (!score) return;
      sum += margin(score) / scale[k];
      n++;
    });
    return n ? sum / n : undefined;
  });
}

/**
 * `identical`: whether a pair's two responses are the same text. Such a pair has no verdict (as in
 * the one-model figures, ./verdict): it counts in no model's agreement, no model-vs-model
 * agreement, and is never one every model disagrees with.
 */
export function consensusReport(
  models: readonly ModelColumn[],
  count: number,
  labelOf: (index: number) => Preference,
  fileLabel = labelOf,
  identical: (index: number) => boolean = () => false,
): ConsensusReport {
  const asPairs = (model: ModelColumn): ScoredPairs => ({ count, fileLabel, identical, score: (i) => model.score(i) });
  const agreement = models.map((model) => {
    const s = summarize(asPairs(model), labelOf);
    return { model: model.name, scored: s.scored, agreement: s.agreement, disagreements: s.disagreements };
  });
  const pairwise: ConsensusReport['pairwise'] = [];
  for (let x = 0; x < models.length; x++) {
    for (let y = x + 1; y < models.length; y++) {
      let pairs = 0;
      let same = 0;
      for (let i = 0; i < count; i++) {
        const sx = models[x].score(i);
        const sy = models[y].score(i);
        if (!sx || !sy || identical(i)) continue;
        pairs++;
        if (Math.sign(margin(sx)) === Math.sign(margin(sy))) same++;
      }
      pairwise.push({ a: models[x].name, b: models[y].name, pairs, agreement: pairs ? same / pairs : null });
    }
  }
  const consensus = consensusMargins(models, count);
  const s = summarize({ count, fileLabel, identical, score: (i) => (consensus[i] === undefined ? undefined : { rewardA: consensus[i]!, rewardB: 0 }) }, labelOf);
  const everyModelDisagrees: number[] = [];
  for (let i = 0; i < count; i++) {
    const label = labelOf(i);
    if ((label !== 'a' && label !== 'b') || identical(i)) continue;
    const verdicts = models.map((model) => model.score(i));
    if (verdicts.every((score) => score !== undefined && verdict(label, score).agrees === false && margin(score) !== 0)) everyModelDisagrees.push(i);
  }
  return { models: models.map((m) => m.name), agreement, pairwise, consensus: { scored: s.scored, agreement: s.agreement, disagreements: s.disagreements }, everyModelDisagrees };
}

/** A ConsensusReport as the stats view receives it: the pairs every model disagrees with, counted. */
export type ModelAgreementStats = Omit<ConsensusReport, 'everyModelDisagrees'> & { everyModelDisagrees: number };

/**
 * One further model's scores of an open review (the review editor scores each of
 * `preferenceLens.additionalModels` into one), filled while it scores; the table holds the first model's.
 */
export class ModelScores implements ModelColumn {
  private readonly scores: (PairScore | undefined)[] = [];
  scored = 0;

  constructor(readonly name: string) {}

  /** A bound function: readers pass `column.score` around on its own (../core/noiseScore). */
  readonly score = (index: number): PairScore | undefined => this.scores[index];

  set(index: number, score: PairScore): void {
    if (this.scores[index] === undefined) this.scored++;
    this.scores[index] = score;
  }
}
