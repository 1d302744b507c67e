/**
 * A team on one dataset: each annotator's progress and how often they side with the file's label
 * and with the model, and how far they agree with each other (src/core/agreement.ts). Computed from
 * every annotator's own labels in the annotation log, so the figures do not depend on who saved last.
 */
import { interAnnotator, type InterAnnotator } from './agreement';
import type { ReviewLabel } from './annotationTypes';
import type { Preference } from './pair';

export interface AnnotatorSummary {
  name: string;
  /** Pairs of this dataset the annotator has labelled. */
  labelled: number;
  /** Share of their labelled pairs that have a file label where they chose the same ("both bad" never matches). */
  agreementWithFile: number | null;
  /** The same against the side the model prefers, over scored pairs. */
  agreementWithModel: number | null;
}

export interface TeamReport {
  annotators: AnnotatorSummary[];
  interAnnotator: InterAnnotator;
}

export interface TeamInputs {
  /** Content key of each pair, in file order. */
  keys: readonly string[];
  fileLabel(index: number): Preference;
  /** The side the model prefers, when the pair is scored. */
  modelPrefers(index: number): Preference | undefined;
  /** key → annotator → label, from the log (AnnotationLog.labelsByAnnotator). */
  labels: ReadonlyMap<string, ReadonlyMap<string, ReviewLabel>>;
}

const share = (hits: number, total: number) => (total === 0 ? null : hits / total);

export function teamReport(inputs: TeamInputs): TeamReport {
  const ratings = new Map<string, ReadonlyMap<string, ReviewLabel>>();
  const tallies = new Map<string, { labelled: number; fileHits: number; fileTotal: number; modelHits: number; modelTotal: number }>();
  inputs.keys.forEach((key, index) => {
    const byAnnotator = inputs.labels.get(key);
    if (!byAnnotator || byAnnotator.size === 0) return;
    ratings.set(key, byAnnotator);
    const fileLabel = inputs.fileLabel(index);
    const prefers = inputs.modelPrefers(index);
    for (const [name, label] of byAnnotator) {
      const tally = tallies.get(name) ?? { labelled: 0, fileHits: 0, fileTotal: 0, modelHits: 0, modelTotal: 0 };
      tally.labelled++;
      if (fileLabel !== null) {
        tally.fileTotal++;
        if (label === fileLabel) tally.fileHits++;
      }
      if (prefers !== undefined && prefers !== null) {
        tally.modelTotal++;
        if (label === prefers) tally.modelHits++;
      }
      tallies.set(name, tally);
    }
  });
  const annotators = [...tallies]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, tally]) => ({
      name,
      labelled: tally.labelled,
      agreementWithFile: share(tally.fileHits, tally.fileTotal),
      agreementWithModel: share(tally.modelHits, tally.modelTotal),
    }));
  return { annotators, interAnnotator: interAnnotator(ratings) };
}
