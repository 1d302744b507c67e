/**
 * A team on one dataset: each annotator's progress and how often they side with the file's label
 * and with the model, and how far they agree with each other (src/core/agreement.ts). Computed from
 * every annotator's own labels in the annotation log, so the figures do not depend on who saved last.
 */
import { interAnnotator, type InterAnnotator } from './agreement';
import type { ReviewLabel } from './annotationTypes';
import { teamProgress, type Team } from './assignment';
import type { Preference } from './pair';

export interface AnnotatorSummary {
  name: string;
  /** Pairs of this dataset the annotator has labelled. */
  labelled: number;
  /** Share of their labelled pairs that have a file label where they chose the same ("both bad" never matches). */
  agreementWithFile: number | null;
  /** The same against the side the model prefers, over scored pairs. */
  agreementWithModel: number | null;
  /** With a team file (./assignment): the pairs assigned to them, and how many of those they labelled. */
  assigned?: number;
  done?: number;
}

export interface TeamReport {
  annotators: AnnotatorSummary[];
  interAnnotator: InterAnnotator;
  /** The team file's overlap, when there is one. */
  overlap?: number;
  /** Pairs where two or more annotators gave different labels, and how many of them an adjudicator decided. */
  conflicts: number;
  adjudicated: number;
}

export interface TeamInputs {
  /** Content key of each pair, in file order. */
  keys: readonly string[];
  fileLabel(index: number): Preference;
  /** The side the model prefers, when the pair is scored. */
  modelPrefers(index: number): Preference | undefined;
  /** key → annotator → label, from the log (AnnotationLog.labelsByAnnotator). */
  labels: ReadonlyMap<string, ReadonlyMap<string, ReviewLabel>>;
  /** The team and its overlap: adds each member's assigned pairs and progress (members yet to label too). */
  team?: Team;
  /** The assignment of pair `index`, when the caller caches it (see teamProgress). */
  assigneesAt?(index: number): readonly string[];
  /** Whether an adjudicator decided pair `key`. */
  adjudicated?(key: string): boolean;
}

/** Whether the annotators of a pair gave different labels. */
export const annotatorsDisagree = (byAnnotator: ReadonlyMap<string, ReviewLabel> | undefined): boolean =>
  byAnnotator !== undefined && new Set(byAnnotator.values()).size > 1;

const share = (hits: number, total: number) => (total === 0 ? null : hits / total);

export function teamReport(inputs: TeamInputs): TeamReport {
  const ratings = new Map<string, ReadonlyMap<string, ReviewLabel>>();
  const tallies = new Map<string, { labelled: number; fileHits: number; fileTotal: number; modelHits: number; modelTotal: number }>();
  let conflicts = 0;
  let adjudicated = 0;
  inputs.keys.forEach((key, index) => {
    const byAnnotator = inputs.labels.get(key);
    if (!byAnnotator || byAnnotator.size === 0) return;
    ratings.set(key, byAnnotator);
    if (annotatorsDisagree(byAnnotator)) {
      conflicts++;
      if (inputs.adjudicated?.(key)) adjudicated++;
    }
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
  const progress = inputs.team && new Map(teamProgress(inputs.keys, inputs.team, (key, name) => inputs.labels.get(key)?.has(name) === true, inputs.assigneesAt).map((p) => [p.name, p]));
  const names = new Set([...tallies.keys(), ...(inputs.team?.annotators ?? [])]);
  const annotators = [...names]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name): AnnotatorSummary => {
      const tally = tallies.get(name) ?? { labelled: 0, fileHits: 0, fileTotal: 0, modelHits: 0, modelTotal: 0 };
      // Someone labelling outside the team file has no share: assigned 0, nothing of it done.
      const mine = progress && (progress.get(name) ?? { assigned: 0, done: 0 });
      return {
        name,
        labelled: tally.labelled,
        agreementWithFile: share(tally.fileHits, tally.fileTotal),
        agreementWithModel: share(tally.modelHits, tally.modelTotal),
        ...(mine ? { assigned: mine.assigned, done: mine.done } : {}),
      };
    });
  return { annotators, interAnnotator: interAnnotator(ratings), ...(inputs.team ? { overlap: inputs.team.overlap } : {}), conflicts, adjudicated };
}
