/**
 * Which label a pair leaves the review with when a team labelled it: the adjudicator's decision,
 * else the majority of the annotators' labels, else the file's own label. A policy says where that
 * chain starts — `majority` ignores adjudications, `file` ignores annotators — and a tie in the
 * majority (one says A, one says B) falls through to the next source rather than picking a side.
 */
import type { AnnotationLog, ReviewLabel } from './annotations';

export const RESOLVE_POLICIES = ['adjudicated', 'majority', 'file'] as const;
export type ResolvePolicy = (typeof RESOLVE_POLICIES)[number];
export const DEFAULT_RESOLVE_POLICY: ResolvePolicy = 'adjudicated';

export type LabelSource = 'adjudicated' | 'majority' | 'file';

export interface ResolvedLabel {
  label: ReviewLabel | null;
  source: LabelSource;
  /** The annotators tied, so the label came from further down the chain. */
  tie?: boolean;
}

/** The label most annotators gave, when one has strictly more votes than any other; undefined for none or a tie. */
export function majorityLabel(labels: readonly ReviewLabel[]): ReviewLabel | undefined {
  const votes = new Map<ReviewLabel, number>();
  for (const label of labels) votes.set(label, (votes.get(label) ?? 0) + 1);
  let best: ReviewLabel | undefined;
  let bestVotes = 0;
  let tied = false;
  for (const [label, count] of votes) {
    if (count > bestVotes) [best, bestVotes, tied] = [label, count, false];
    else if (count === bestVotes) tied = true;
  }
  return tied ? undefined : best;
}

export function resolveLabel(
  policy: ResolvePolicy,
  inputs: { adjudicated?: ReviewLabel; labels: readonly ReviewLabel[]; fileLabel: ReviewLabel | null },
): ResolvedLabel {
  if (policy === 'adjudicated' && inputs.adjudicated !== undefined) return { label: inputs.adjudicated, source: 'adjudicated' };
  if (policy !== 'file' && inputs.labels.length) {
    const majority = majorityLabel(inputs.labels);
    if (majority !== undefined) return { label: majority, source: 'majority' };
    return { label: inputs.fileLabel, source: 'file', tie: true };
  }
  return { label: inputs.fileLabel, source: 'file' };
}

/** Pair `key`'s label under `policy`, from the log. */
export function resolvePair(log: AnnotationLog, key: string, fileLabel: ReviewLabel | null, policy: ResolvePolicy): ResolvedLabel {
  return resolveLabel(policy, { adjudicated: log.adjudicationOf(key)?.label, labels: log.labelsOf(key).map(([, label]) => label), fileLabel });
}

/** Whether the log holds a team's work: an adjudication, or a pair labelled by two or more annotators. */
export function hasTeamLabels(log: AnnotationLog): boolean {
  if (log.adjudications().size) return true;
  for (const byAnnotator of log.labelsByAnnotator().values()) if (byAnnotator.size > 1) return true;
  return false;
}
