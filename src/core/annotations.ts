/**
 * Reviewers' annotations, kept in a sidecar file next to the dataset so the dataset stays
 * byte-identical until the user asks to export. The sidecar is an append-only event log — who changed
 * which field of which pair, from what, to what, and when — and the current annotations are the log
 * folded in time order. An append-only log makes saving safe against concurrent writers: a save
 * writes the events on disk plus ours, so nobody's work is ever overwritten.
 *
 * The log is also what a team merges in git: two branches that each appended events merge as the
 * union of their lines (git's built-in `union` driver, set for the sidecar in `.gitattributes`, see
 * gitAttributesLine). Reading does not depend on how the lines came together: header lines after
 * the first (both branches created the file), identical events (both branches have it) and
 * conflict markers (a merge made without the attribute: both sides are kept) are all read as the
 * union, and events fold by their time, not their place in the file.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomicWrite';
import { companionPath } from './companionFiles';
import type { Adjudication, Annotation, AnnotationEvent, AnnotationField, ReviewLabel } from './annotationTypes';
import type { Pair } from './pair';

export type { Adjudication, Annotation, AnnotationEvent, AnnotationField, AnnotationValue, ReviewLabel } from './annotationTypes';

export class AnnotationFileError extends Error {}

const HEADER = { plens: 'annotations', version: 1 };
const FIELDS: readonly AnnotationField[] = ['label', 'flagged', 'note', 'reviewed'];
const LABELS: readonly (ReviewLabel | null)[] = ['a', 'b', 'tie', 'both-bad', null];

/** Where the annotations of `datasetFile` live: beside it, but not inside the Hugging Face cache (see companionFiles.ts). */
export const sidecarPath = (datasetFile: string) => companionPath(datasetFile, '.plens-annotations.jsonl');

/** The `.gitattributes` line that makes git merge every sidecar as the union of both sides' lines. */
export const gitAttributesLine = '*.plens-annotations.jsonl merge=union';

/**
 * Content keys for pairs: a hash of the prompt and both responses, so an annotation follows its pair
 * when the dataset is re-sorted, appended to or re-formatted. Identical pairs are told apart by
 * their order of occurrence, so keys are handed out in file order.
 */
export class PairKeyer {
  private readonly seen = new Map<string, number>();

  next(pair: Pair): string {
    const hash = createHash('sha256').update(JSON.stringify([pair.prompt, pair.a, pair.b])).digest('hex').slice(0, 24);
    const occurrence = this.seen.get(hash) ?? 0;
    this.seen.set(hash, occurrence + 1);
    return occurrence === 0 ? hash : `${hash}#${occurrence}`;
  }
}

export function pairKeys(pairs: readonly Pair[]): string[] {
  const keyer = new PairKeyer();
  return pairs.map((pair) => keyer.next(pair));
}

function validValue(field: AnnotationField, value: unknown): boolean {
  switch (field) {
    case 'label':
      return LABELS.includes(value as ReviewLabel | null);
    case 'flagged':
    case 'reviewed':
      return value === null || typeof value === 'boolean';
    case 'note':
      return value === null || typeof value === 'string';
  }
}

function parseEvent(text: string, where: string): AnnotationEvent {
  let event: AnnotationEvent;
  try {
    event = JSON.parse(text) as AnnotationEvent;
  } catch (error) {
    throw new AnnotationFileError(`${where}: invalid JSON: ${(error as Error).message}`);
  }
  if (typeof event !== 'object' || event === null || typeof event.key !== 'string' || !FIELDS.includes(event.field)) {
    throw new AnnotationFileError(`${where}: not an annotation event`);
  }
  if (!validValue(event.field, event.to)) {
    throw new AnnotationFileError(`${where}: invalid value ${JSON.stringify(event.to)} for "${event.field}"`);
  }
  if (event.role !== undefined && (event.role !== 'adjudicator' || event.field !== 'label')) {
    throw new AnnotationFileError(`${where}: role ${JSON.stringify(event.role)} is not one this version knows (only "adjudicator", on a label)`);
  }
  return event;
}

export class AnnotationLog {
  private readonly state = new Map<string, Annotation>();
  /**
   * Each annotator's current label per pair, with the order it was set in: the pair's label is the
   * most recently set of them, so one annotator clearing theirs (an undo) uncovers a colleague's.
   */
  private readonly labels = new Map<string, Map<string, { label: ReviewLabel; order: number }>>();
  /** The adjudicated label of each pair that has one: the latest adjudicator event wins. */
  private readonly decisions = new Map<string, Adjudication>();
  /** Changes made since the last save, in order. */
  private pending: AnnotationEvent[] = [];
  private changes = 0;

  private constructor(private saved: AnnotationEvent[]) {
    for (const event of saved) this.fold(event);
  }

  /**
   * Each annotator's current label for each pair (key → annotator → label), from the `label`
   * events of the whole log: what agreement is computed on. A label set back to nothing is absent.
   */
  labelsByAnnotator(): Map<string, Map<string, ReviewLabel>> {
    return new Map([...this.labels.keys()].map((key) => [key, new Map(this.labelsOf(key))]));
  }

  /** Pair `key`'s labels, one per annotator, in the order they were set (the last is the pair's label). */
  labelsOf(key: string): Array<[string, ReviewLabel]> {
    const byAnnotator = this.labels.get(key);
    if (!byAnnotator) return [];
    return [...byAnnotator].sort(([, x], [, y]) => x.order - y.order).map(([by, { label }]) => [by, label]);
  }

  /** `by`'s own current label of pair `key`, whatever colleagues set. */
  labelOf(key: string, by: string): ReviewLabel | undefined {
    return this.labels.get(key)?.get(by)?.label;
  }

  /** Who set pair `key`'s label as it stands: the adjudicator when decided, else the annotator who labelled it last. */
  labelSetBy(key: string): string | undefined {
    return this.decisions.get(key)?.by ?? this.latestLabel(key)?.by;
  }

  /** The annotator label of pair `key` set last, and by whom. */
  private latestLabel(key: string): { by: string; label: ReviewLabel } | undefined {
    let latest: { by: string; label: ReviewLabel; order: number } | undefined;
    for (const [by, { label, order }] of this.labels.get(key) ?? []) if (!latest || order > latest.order) latest = { by, label, order };
    return latest;
  }

  /** Pair `key`'s adjudicated label, when an adjudicator decided it. */
  adjudicationOf(key: string): Adjudication | undefined {
    return this.decisions.get(key);
  }

  /** Every adjudicated pair's decision, by key. */
  adjudications(): ReadonlyMap<string, Adjudication> {
    return this.decisions;
  }

  static empty(): AnnotationLog {
    return new AnnotationLog([]);
  }

  static parse(text: string, file: string): AnnotationLog {
    return new AnnotationLog(parseEvents(text, file));
  }

  /** Reads the sidecar; a missing file is an empty log, a corrupt one is an error naming the line. */
  static async load(file: string): Promise<AnnotationLog> {
    const text = await readIfExists(file);
    return text === undefined ? AnnotationLog.empty() : AnnotationLog.parse(text, file);
  }

  get(key: string): Annotation | undefined {
    return this.state.get(key);
  }

  /** Grows with every change to the folded state: lets callers cache what they derive from it. */
  get version(): number {
    return this.changes;
  }

  get hasPendingChanges(): boolean {
    return this.pending.length > 0;
  }

  get pendingChanges(): readonly AnnotationEvent[] {
    return this.pending;
  }

  /** Records a change made in this session. */
  record(event: AnnotationEvent): void {
    if (!validValue(event.field, event.to)) throw new Error(`invalid value for ${event.field}`);
    if (event.role !== undefined && (event.role !== 'adjudicator' || event.field !== 'label')) throw new Error(`invalid role for ${event.field}`);
    this.pending.push(event);
    this.fold(event);
  }

  /**
   * Saves to `file`: the events on disk (including any another writer added since we read it),
   * then any of our saved events the disk no longer has, then this session's. Nothing is dropped.
   * Returns how many events on disk were new to us.
   */
  async save(file: string): Promise<number> {
    const text = await readIfExists(file);
    const onDisk = text === undefined ? [] : parseEvents(text, file);
    const onDiskText = new Set(onDisk.map((e) => JSON.stringify(e)));
    const ours = new Set(this.saved.map((e) => JSON.stringify(e)));
    const foreign = onDisk.filter((e) => !ours.has(JSON.stringify(e)));
    const lost = this.saved.filter((e) => !onDiskText.has(JSON.stringify(e)));
    const events = [...onDisk, ...lost, ...this.pending];
    // The first save of a Hub file's labels makes their folder in the user data folder.
    if (text === undefined) await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, annotationsText(events));
    this.saved = events;
    this.pending = [];
    if (foreign.length || lost.length) {
      // Refold in file order so the state is what the next load will see.
      this.state.clear();
      this.labels.clear();
      this.decisions.clear();
      for (const event of events) this.fold(event);
    }
    return foreign.length;
  }

  /** Re-applies the unsaved changes of an earlier session, read from its backup. */
  restorePending(events: readonly AnnotationEvent[]): void {
    for (const event of events) this.record(event);
  }

  private fold(event: AnnotationEvent): void {
    this.changes++;
    const annotation = { ...this.state.get(event.key) };
    if (event.field === 'label' && event.role === 'adjudicator') {
      if (event.to === null || event.to === undefined) this.decisions.delete(event.key);
      else this.decisions.set(event.key, { label: event.to as ReviewLabel, by: event.by, at: event.at });
      this.setPairLabel(event.key, annotation);
    } else if (event.field === 'label') {
      const byAnnotator = this.labels.get(event.key) ?? new Map<string, { label: ReviewLabel; order: number }>();
      if (event.to === null || event.to === undefined) byAnnotator.delete(event.by);
      else byAnnotator.set(event.by, { label: event.to as ReviewLabel, order: this.changes });
      if (byAnnotator.size) this.labels.set(event.key, byAnnotator);
      else this.labels.delete(event.key);
      this.setPairLabel(event.key, annotation);
    } else if (event.to === null || event.to === undefined) delete annotation[event.field];
    else (annotation as Record<string, unknown>)[event.field] = event.to;
    if (Object.keys(annotation).length) this.state.set(event.key, annotation);
    else this.state.delete(event.key);
  }

  /** The pair's label: the adjudicated one when there is one, else the annotator label set last. */
  private setPairLabel(key: string, annotation: Annotation): void {
    const label = this.decisions.get(key)?.label ?? this.latestLabel(key)?.label;
    if (label) annotation.label = label;
    else delete annotation.label;
  }
}

/** The events of an annotations file in file order (a missing file: undefined), checked as `load` checks them. */
export async function readAnnotationEvents(file: string): Promise<AnnotationEvent[] | undefined> {
  const text = await readIfExists(file);
  return text === undefined ? undefined : parseEvents(text, file);
}

/** An annotations file's text: the header (with `extra` fields), then one event per line. */
export function annotationsText(events: readonly AnnotationEvent[], extra: Record<string, unknown> = {}): string {
  return [{ ...HEADER, ...extra }, ...events].map((e) => JSON.stringify(e)).join('\n') + '\n';
}

/** Lines git writes around a conflict; the log reads both sides, so they carry nothing. */
const CONFLICT_MARKER = /^(<{7}|={7}|>{7}|\|{7})( |$)/;

const isHeader = (line: string) => {
  try {
    return (JSON.parse(line) as { plens?: string })?.plens === 'annotations';
  } catch {
    return false;
  }
};

function parseEvents(text: string, file: string): AnnotationEvent[] {
  const lines = text.split('\n');
  const read: AnnotationEvent[] = [];
  let headerSeen = false;
  // Signs of a merge: only then can an event be there twice (a file written here never repeats one).
  let merged = false;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    if (CONFLICT_MARKER.test(line)) {
      merged = true;
      return;
    }
    const where = `${file}:${i + 1}`;
    // A second header: both sides of a merge created the file.
    if (headerSeen && line.startsWith('{"plens"') && isHeader(line)) {
      merged = true;
      return;
    }
    if (!headerSeen) {
      let header: unknown;
      try {
        header = JSON.parse(line);
      } catch {
        header = undefined;
      }
      if ((header as { plens?: string })?.plens !== 'annotations') {
        throw new AnnotationFileError(`${where}: not a Preference Lens annotations file (no header line)`);
      }
      headerSeen = true;
      return;
    }
    read.push(parseEvent(line, where));
  });
  // The union of merged logs: each event once, in time order (stable, so one writer's order stands).
  const seen = new Set<string>();
  const events = !merged ? read : read.filter((event) => {
    const text = JSON.stringify(event);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
  return events.every((event, i) => i === 0 || String(events[i - 1].at) <= String(event.at))
    ? events
    : events.map((event, i) => ({ event, i })).sort((x, y) => (String(x.event.at) < String(y.event.at) ? -1 : String(x.event.at) > String(y.event.at) ? 1 : x.i - y.i)).map(({ event }) => event);
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
