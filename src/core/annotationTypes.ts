/**
 * The shapes of annotations, apart from the code that reads and writes them (annotations.ts): the
 * webview shows and sends these, and its type check has no Node types, so this file imports nothing.
 */
/** A reviewer's verdict: the human label vocabulary plus "both bad" (neither should be trained on). */
export type ReviewLabel = 'a' | 'b' | 'tie' | 'both-bad';

export interface Annotation {
  label?: ReviewLabel | null;
  flagged?: boolean;
  note?: string;
  reviewed?: boolean;
}

export type AnnotationField = keyof Annotation;
export type AnnotationValue = Annotation[AnnotationField];

/** One change, as stored in the sidecar. */
export interface AnnotationEvent {
  /** Content key of the pair (see pairKeys in annotations.ts). */
  key: string;
  /** Line of the record when the change was made: a hint for people reading the log. */
  line: number;
  field: AnnotationField;
  from: AnnotationValue | null;
  to: AnnotationValue | null;
  by: string;
  /** ISO 8601 time of the change. */
  at: string;
  /**
   * `adjudicator`: a `label` event that is the team's decision on the pair where annotators
   * disagree, not `by`'s own label (which stays theirs, for agreement). A plain field, absent from
   * every other event, so older logs read as they did and merged logs stay a union of lines.
   */
  role?: 'adjudicator';
}

/** An adjudicator's decision on a pair. */
export interface Adjudication {
  label: ReviewLabel;
  by: string;
  at: string;
}

/** The fields one reviewer action sets; `null` clears a field (see reviewEdits.ts). */
export type FieldValues = { [F in AnnotationField]?: Annotation[F] | null };
