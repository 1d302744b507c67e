/**
 * A reviewer's change to the annotations, as a value: which fields of which pairs go from what to
 * what. The review editor applies an edit and undoes it by applying its inverse; `plens annotate
 * --import` applies one edit for a whole batch. Keeping edits as plain values outside `vscode` (the
 * pattern of vscode-hexeditor's edit model) is what lets one reviewer action — a label key sets the
 * label and marks the pair reviewed — be one edit and one undo step, and lets plain Node tests check
 * undo and redo without an editor.
 */
import type { AnnotationLog } from './annotations';
import type { AnnotationField, AnnotationValue, FieldValues } from './annotationTypes';

export interface FieldChange {
  /** The pair's position in the table, for telling views what changed. */
  index: number;
  key: string;
  line: number;
  field: AnnotationField;
  from: AnnotationValue | null;
  to: AnnotationValue | null;
  /** `adjudicator`: a label change that is the team's decision on the pair, not `by`'s own label. */
  role?: 'adjudicator';
}

export interface ReviewEdit {
  /** What the edit did, for the undo stack ("label of pair 3"). */
  readonly label: string;
  /** Whose edit it is: undo and redo stay theirs, whoever annotates by then. */
  readonly by: string;
  readonly changes: readonly FieldChange[];
}

export interface EditTarget {
  index: number;
  key: string;
  line: number;
}

/**
 * The edit that sets `values` on `targets` as `by`, or undefined when nothing would change. Fields a
 * pair already has at that value are left out, so the inverse restores exactly what each pair had. A
 * label is each annotator's own: the "from" of a label change is `by`'s label, not a colleague's; an
 * adjudicator's label replaces the pair's decision, whoever made it.
 */
export function makeEdit(log: AnnotationLog, by: string, targets: readonly EditTarget[], values: FieldValues, label: string, options: { adjudicating?: boolean } = {}): ReviewEdit | undefined {
  const fields = Object.keys(values) as AnnotationField[];
  const deciding = (field: AnnotationField) => field === 'label' && options.adjudicating === true;
  const current = (key: string, field: AnnotationField) =>
    field !== 'label' ? log.get(key)?.[field] : deciding(field) ? log.adjudicationOf(key)?.label : log.labelOf(key, by);
  const changes: FieldChange[] = [];
  for (const target of targets) {
    for (const field of fields) {
      const to = values[field] ?? null;
      const from = current(target.key, field) ?? null;
      if (from !== to) changes.push({ ...target, field, from, to, ...(deciding(field) ? { role: 'adjudicator' as const } : {}) });
    }
  }
  return changes.length ? { label, by, changes } : undefined;
}

/** The edit that undoes `edit`: its changes swapped and in reverse order. */
export function invertEdit(edit: ReviewEdit): ReviewEdit {
  return { ...edit, changes: [...edit.changes].reverse().map((change) => ({ ...change, from: change.to, to: change.from })) };
}

/**
 * Records `edit` in the log, each change an event of its own at time `at`: the log says what
 * happened, undo and redo included. Returns the pairs it touched, each once.
 */
export function applyEdit(log: AnnotationLog, edit: ReviewEdit, at = new Date().toISOString()): number[] {
  for (const { key, line, field, from, to, role } of edit.changes) log.record({ key, line, field, from, to, by: edit.by, at, ...(role ? { role } : {}) });
  return [...new Set(edit.changes.map((change) => change.index))];
}
