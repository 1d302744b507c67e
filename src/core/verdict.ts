/**
 * The model's verdict on a pair and the agreement figures derived from it. Shared by the CLI and
 * the review editor so both report the same numbers for the same scores.
 */
import type { Pair, Preference } from './pair';

export interface PairScore {
  rewardA: number;
  rewardB: number;
}

/**
 * The model's preference, or `identical` for a pair whose two responses are the same: there is
 * nothing to prefer, whatever the rewards say (a model may score the same text differently by position).
 */
export type ModelPreference = Preference | 'identical';

export interface Verdict extends PairScore {
  /** rewardA − rewardB. */
  margin: number;
  /** Which response the model prefers; `tie` only when the rewards are exactly equal; `identical` for identical responses. */
  prefers: ModelPreference;
  /**
   * Whether the model's preference matches the human label; `null` when the pair is unlabelled or
   * its responses are identical (neither an agreement nor a disagreement: it says nothing about the label).
   */
  agrees: boolean | null;
}

/** The model's verdict on a pair whose human label is `label`; `identical`: its two responses are the same. */
export function verdict(label: Preference, score: PairScore, identical = false): Verdict {
  const margin = score.rewardA - score.rewardB;
  if (identical) return { ...score, margin, prefers: 'identical', agrees: null };
  const prefers: Preference = margin > 0 ? 'a' : margin < 0 ? 'b' : 'tie';
  return { ...score, margin, prefers, agrees: label === null ? null : label === prefers };
}

/** Whether a pair's two responses are the same turns, roles included. */
export function identicalResponses(pair: Pick<Pair, 'a' | 'b'>): boolean {
  return pair.a.length === pair.b.length && pair.a.every((m, i) => m.role === pair.b[i].role && m.content === pair.b[i].content);
}

export interface AgreementSummary {
  pairs: number;
  scored: number;
  /** Share of scored, labelled pairs where model and human agree; `null` before any is scored. */
  agreement: number | null;
  disagreements: number;
  /** Scored pairs whose two responses are identical: left out of agreement and disagreements. */
  identical: number;
}

/** What agreement figures need of a set of pairs: their file labels and scores so far. */
export interface ScoredPairs {
  readonly count: number;
  fileLabel(index: number): Preference;
  score(index: number): PairScore | undefined;
  /** Whether pair `index`'s two responses are identical (absent: none are). */
  identical?(index: number): boolean;
}

/** Agreement over the scored pairs; `labelOf` gives a pair's current human label (default: the file's). */
export function summarize(pairs: ScoredPairs, labelOf: (index: number) => Preference = (index) => pairs.fileLabel(index)): AgreementSummary {
  let agreed = 0;
  let labelled = 0;
  let scored = 0;
  let identical = 0;
  for (let index = 0; index < pairs.count; index++) {
    const score = pairs.score(index);
    if (!score) continue;
    scored++;
    const same = pairs.identical?.(index) ?? false;
    if (same) identical++;
    const { agrees } = verdict(labelOf(index), score, same);
    if (agrees === null) continue;
    labelled++;
    if (agrees) agreed++;
  }
  return { pairs: pairs.count, scored, agreement: labelled ? agreed / labelled : null, disagreements: labelled - agreed, identical };
}
