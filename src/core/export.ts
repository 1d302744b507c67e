/**
 * Putting the reviewer's corrections to use: {@link exportDataset} writes a cleaned copy of a dataset
 * (in its own format or TRL's), {@link applyInPlace} writes the label changes into the dataset itself.
 * Both read the file once, front to back, so files of any size take bounded memory, and write a
 * temporary file beside the target that replaces it only once complete: an interrupted or failed run
 * leaves the target as it was.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { atomicTarget, syncDirectory, temporaryBeside } from './atomicWrite';
import { PairKeyer, type Adjudication, type Annotation, type AnnotationField, type AnnotationLog, type ReviewLabel } from './annotations';
import { isGzipFile } from './byteSource';
import { hubCachedFile } from './companionFiles';
import { isParquetFile } from './parquetSource';
import { ParquetSchema, writeParquet } from './parquetWrite';
import { DatasetStream, detectStreamFormat, type StreamedRecord } from './dataset';
import { FORMATS, RecordError, type PreferenceFormat } from './formats';
import type { IndexProgress } from './lineIndex';
import type { Malformed, Message, Pair, Preference } from './pair';
import { identicalResponses, verdict, type PairScore } from './verdict';
import { DEFAULT_RESOLVE_POLICY, hasTeamLabels, RESOLVE_POLICIES, resolvePair, type ResolvePolicy } from './labelResolution';

export const EXPORT_TARGETS = ['same', 'trl-conversational', 'trl-standard'] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

export const DROP_RULES = ['flagged', 'both-bad', 'unreviewed-disagreements'] as const;
export type DropRule = (typeof DROP_RULES)[number];

/** The export or apply was asked for something it cannot do; nothing was written. */
export class ExportError extends Error {}

interface RewriteOptions {
  /** A format name that overrides detection. */
  format?: string;
  /** Which label a team's pair leaves with (./labelResolution): adjudicated → majority → file by default. */
  resolve?: ResolvePolicy;
  signal?: AbortSignal;
  onProgress?: (progress: IndexProgress) => void;
}

export interface ExportOptions extends RewriteOptions {
  to: ExportTarget;
  drop?: readonly DropRule[];
  annotations: AnnotationLog;
  /**
   * The reward model's scores, by pair ordinal (the position among the file's readable pairs, as in
   * the review table and `plens score` output); needed by the `unreviewed-disagreements` rule.
   */
  scoreOf?: (ordinal: number, pair: Pair) => PairScore | undefined;
}

export interface ExportReport {
  /** The dataset's format (the input's). */
  format: string;
  /** Records written. */
  written: number;
  /** Records left out, by reason. */
  dropped: Record<string, number>;
  /** Written records whose label is the reviewer's, not the file's. */
  relabelled: number;
  /** With `unreviewed-disagreements`: unreviewed pairs kept because they have no score to judge them by. */
  unscored?: number;
  /** When a team labelled (an adjudication, or a pair with two or more annotators): where the written labels came from. */
  resolution?: ResolutionReport;
}

export interface ResolutionReport {
  policy: ResolvePolicy;
  /** Written pairs whose label is an adjudicator's decision. */
  adjudicated: number;
  /** Written pairs whose label is their annotators' majority (one annotator is a majority of one). */
  majority: number;
  /** Written pairs whose annotators tied, so the file's label stands. */
  ties: number;
}

export interface InPlaceOptions extends RewriteOptions {
  /** Who applies the labels: recorded with the annotation moves (see {@link InPlaceReport.rekeyed}). */
  by: string;
}

export interface InPlaceReport {
  format: string;
  /** Records rewritten with the reviewer's label. */
  relabelled: number;
  /** Label changes the format cannot say, by reason; their records are left as they are. */
  unapplied: Record<string, number>;
  /**
   * Pairs whose annotations moved to a new content key. Exchanging chosen and rejected changes a
   * pair's key (it hashes the responses in order), so its flag, note and review mark are moved to the
   * new key in the log, which the caller saves; otherwise they would be lost with the old key.
   */
  rekeyed: number;
}

/** Writes a copy of `file` to `out` with the reviewer's labels applied, in `options.to`'s format. */
export async function exportDataset(file: string, out: string, options: ExportOptions): Promise<ExportReport> {
  if (!EXPORT_TARGETS.includes(options.to)) {
    throw new ExportError(`unknown export target "${options.to}"; one of ${EXPORT_TARGETS.join(', ')}`);
  }
  const resolve = checkPolicy(options.resolve);
  const drop = new Set(options.drop);
  for (const rule of drop) {
    if (!DROP_RULES.includes(rule)) throw new ExportError(`unknown drop rule "${rule}"; one of ${DROP_RULES.join(', ')}`);
  }
  if (drop.has('unreviewed-disagreements') && !options.scoreOf) {
    throw new ExportError("dropping unreviewed disagreements needs the reward model's scores (`plens score` output); none were given");
  }
  // An export is JSONL, a JSON array or Parquet: a name that promises compression would be a file no reader opens.
  if (/\.gz$/i.test(out)) {
    throw new ExportError(`${out}: an export is written as JSONL, a JSON array or Parquet, not compressed; name it .jsonl, .json or .parquet`);
  }
  if (await sameFile(file, out)) {
    throw new ExportError(`${out} is the dataset itself: an export writes a new file (in-place mode changes the dataset)`);
  }
  const format = await detectFormat(file, options.format);
  const stream = new DatasetStream(file, format, options);
  const report: ExportReport = { format: format.name, written: 0, dropped: {}, relabelled: 0 };
  if (drop.has('unreviewed-disagreements')) report.unscored = 0;
  const resolution: ResolutionReport | undefined = hasTeamLabels(options.annotations) ? { policy: resolve, adjudicated: 0, majority: 0, ties: 0 } : undefined;
  const keyer = new PairKeyer();

  /** Why the pair is left out, if it is; `ordinal` is its position among the file's pairs. */
  const dropReason = (entry: PairEntry, ordinal: number, review: PairReview): string | undefined => {
    if (drop.has('flagged') && review.annotation?.flagged) return 'flagged';
    if (drop.has('both-bad') && review.label === 'both-bad') return 'both-bad';
    if (drop.has('unreviewed-disagreements') && !review.annotation?.reviewed) {
      const score = options.scoreOf!(ordinal, entry.pair);
      if (!score) report.unscored!++;
      // Identical responses are no disagreement, whatever their rewards: such a pair stays.
      else if (verdict(asPreference(review.label), score, identicalResponses(entry.pair)).agrees === false) return 'unreviewed-disagreements';
    }
    return undefined;
  };

  const output = await AtomicOutput.create(out);
  const writer: ExportWriter = /\.parquet$/i.test(out) ? new ParquetExport(output) : new RecordWriter(output, stream, options.to, containerOf(out));
  try {
    let ordinal = 0;
    const misfits: Malformed[] = [];
    for await (const entry of stream) {
      if ('malformed' in entry) {
        count(report.dropped, 'malformed');
        if (misfits.length < 1) misfits.push(entry.malformed);
        continue;
      }
      const review = reviewOf(entry.pair, keyer.next(entry.pair), options.annotations, resolve);
      const reason = dropReason(entry, ordinal++, review);
      if (reason) {
        count(report.dropped, reason);
        continue;
      }
      const written =
        options.to !== 'same' ? trlRecord(entry.pair, review.label, options.to) : review.relabel ? rewrite(format, entry, review.relabel) : entry;
      if ('reason' in written) {
        count(report.dropped, written.reason);
        continue;
      }
      await writer.record(written.text);
      report.written++;
      if (review.relabel) report.relabelled++;
      if (resolution) {
        if (review.source === 'adjudicated') resolution.adjudicated++;
        else if (review.source === 'majority') resolution.majority++;
        else if (review.tie) resolution.ties++;
      }
    }
    if (ordinal === 0) noPairs(file, format, report.dropped.malformed ?? 0, misfits[0], options.format);
    await writer.finish();
    await output.commit();
  } catch (error) {
    await writer.discard?.();
    await output.abort();
    throw error;
  }
  if (resolution) report.resolution = resolution;
  return report;
}

/**
 * Writes the reviewer's label changes into `file` itself: only the changed records' bytes are
 * replaced; every other byte (line endings, BOM, blank and unreadable lines, the final newline or its
 * absence, file mode) stays as it was. A file with nothing to change is not touched. Annotations of
 * pairs whose content key changed are moved in `annotations`, for the caller to save.
 */
export async function applyInPlace(file: string, annotations: AnnotationLog, options: InPlaceOptions): Promise<InPlaceReport> {
  const resolve = checkPolicy(options.resolve);
  // The cache's copy must stay the Hub's bytes: huggingface_hub and datasets reuse it as the revision's file.
  const cached = hubCachedFile(file);
  if (cached) {
    throw new ExportError(
      `${file} is the Hugging Face cache's copy of ${cached.path} in ${cached.repo} and cannot be changed in place; export a copy with --out instead`,
    );
  }
  const format = await detectFormat(file, options.format);
  // Record offsets are offsets in the inflated text: replacing bytes of the compressed file would ruin it.
  if (await isGzipFile(file)) {
    throw new ExportError(`${file} is gzip-compressed and cannot be changed in place; export a copy with --out instead`);
  }
  // A Parquet file is rewritten whole or not at all: its records have no bytes of their own to replace.
  if (await isParquetFile(file)) {
    throw new ExportError(`${file} is a Parquet file and cannot be changed in place; export a copy with --out instead (JSONL, JSON or Parquet)`);
  }
  const before = await stat(file);
  const report: InPlaceReport = { format: format.name, relabelled: 0, unapplied: {}, rekeyed: 0 };
  const oldKeys = new PairKeyer();
  const newKeys = new PairKeyer();
  const moves: KeyMove[] = [];
  // The unchanged bytes are copied from a handle of their own, so the stream never keeps them.
  const source = await open(file, 'r');
  let output: AtomicOutput | undefined;
  try {
    output = await AtomicOutput.create(file, before.mode);
    let copied = 0;
    let [pairs, records] = [0, 0];
    let firstMisfit: Malformed | undefined;
    for await (const entry of new DatasetStream(file, format, options)) {
      records++;
      if ('malformed' in entry) {
        firstMisfit ??= entry.malformed;
        continue;
      }
      pairs++;
      const key = oldKeys.next(entry.pair);
      const review = reviewOf(entry.pair, key, annotations, resolve);
      let pair = entry.pair;
      let swapped = false;
      if (review.relabel) {
        const rewritten = rewrite(format, entry, review.relabel);
        if ('reason' in rewritten) count(report.unapplied, rewritten.reason);
        else {
          await copyRange(file, source, output, copied, entry.start);
          await output.write(rewritten.text);
          copied = entry.end;
          ({ pair, swapped } = rewritten);
          report.relabelled++;
        }
      }
      // Keys of identical pairs count occurrences, so a swap can also shift the keys of later,
      // untouched pairs: every pair whose key changed moves, with the annotation it had before. A
      // swapped pair keeps its key when its responses are identical, but its label still turns.
      const newKey = newKeys.next(pair);
      if (newKey !== key || swapped) {
        const labels = annotations.labelsOf(key);
        const decision = annotations.adjudicationOf(key);
        moves.push({
          from: key,
          to: newKey,
          line: pair.line,
          annotation: swapped ? swapSides(review.annotation) : review.annotation,
          labels: swapped ? labels.map(([by, label]) => [by, swapLabel(label)]) : labels,
          decision: decision && swapped ? { ...decision, label: swapLabel(decision.label) } : decision,
        });
      }
    }
    if (pairs === 0) noPairs(file, format, records, firstMisfit, options.format);
    if (report.relabelled === 0) {
      await output.abort();
      return report;
    }
    await copyRange(file, source, output, copied, before.size);
    // Closed before the rename, which Windows refuses over an open file (closing twice is harmless).
    await source.close();
    const now = await stat(file);
    if (now.size !== before.size || now.mtimeMs !== before.mtimeMs) {
      throw new ExportError(`${file} changed on disk while the labels were being applied; it was left as it is now`);
    }
    await output.commit();
  } catch (error) {
    await output?.abort();
    throw error;
  } finally {
    await source.close();
  }
  report.rekeyed = moveAnnotations(annotations, moves, options.by);
  return report;
}

/**
 * A file of which not one record reads as a pair (under a format named with --format that fits
 * none of them) is a failure: an export of nothing, reported as a success, would let a script carry
 * on with an empty dataset. Nothing is written.
 */
function noPairs(file: string, format: PreferenceFormat, records: number, first: Malformed | undefined, named: string | undefined): never {
  const why = first ? ` (line ${first.line}: ${first.error})` : '';
  if (named !== undefined) {
    throw new ExportError(
      `${file}: none of its ${records} records fits --format ${named}${why}; nothing was written; ` +
        `leave out --format to detect the format, or name one that fits (${FORMATS.map((f) => f.name).join(', ')})`,
    );
  }
  throw new ExportError(`${file}: none of its ${records} records could be read as ${format.name}${why}; nothing was written`);
}

type PairEntry = Extract<StreamedRecord, { pair: Pair }>;

interface PairReview {
  annotation: Annotation | undefined;
  /** The label as resolved (./labelResolution): adjudicated, the annotators' majority, else the file's ("both-bad" where the file says so). */
  label: ReviewLabel | null;
  /** The resolved label when it differs from the file's: the record must be rewritten to say it. */
  relabel: ReviewLabel | undefined;
  source: 'adjudicated' | 'majority' | 'file';
  tie?: boolean;
}

function reviewOf(pair: Pair, key: string, annotations: AnnotationLog, policy: ResolvePolicy): PairReview {
  const annotation = annotations.get(key);
  // Chatbot Arena's "tie (bothbad)" is the file saying what a reviewer's "both bad" says.
  const fileLabel: ReviewLabel | null = pair.label === 'tie' && pair.meta?.bothBad === true ? 'both-bad' : pair.label;
  const { label, source, tie } = resolvePair(annotations, key, fileLabel, policy);
  return { annotation, label, relabel: source !== 'file' && label !== null && label !== fileLabel ? label : undefined, source, ...(tie ? { tie } : {}) };
}

function checkPolicy(policy: ResolvePolicy | undefined): ResolvePolicy {
  if (policy === undefined) return DEFAULT_RESOLVE_POLICY;
  if (!RESOLVE_POLICIES.includes(policy)) throw new ExportError(`unknown label resolution "${policy}"; one of ${RESOLVE_POLICIES.join(', ')}`);
  return policy;
}

const asPreference = (label: ReviewLabel | null): Preference => (label === 'both-bad' ? null : label);

function count(counts: Record<string, number>, reason: string): void {
  counts[reason] = (counts[reason] ?? 0) + 1;
}

const notExpressible = (what: string, where: string) => `${what} not expressible in ${where}`;

/** The pair as a TRL record, or why it cannot be one: only a pair with a better response has a chosen one. */
function trlRecord(pair: Pair, label: ReviewLabel | null, to: Exclude<ExportTarget, 'same'>): { text: string } | { reason: string } {
  if (label === null) return { reason: notExpressible('unlabelled', to) };
  if (label === 'tie' || label === 'both-bad') return { reason: notExpressible(label, to) };
  const [chosen, rejected] = label === 'a' ? [pair.a, pair.b] : [pair.b, pair.a];
  if (to === 'trl-conversational') return { text: JSON.stringify({ prompt: pair.prompt, chosen, rejected }) };
  const single = (messages: readonly Message[], role: string) => messages.length === 1 && messages[0].role === role;
  if (!single(pair.prompt, 'user') || !single(chosen, 'assistant') || !single(rejected, 'assistant')) {
    return { reason: `${notExpressible('multi-turn or system prompt', to)} (use trl-conversational)` };
  }
  return { text: JSON.stringify({ prompt: pair.prompt[0].content, chosen: chosen[0].content, rejected: rejected[0].content }) };
}

type Rewrite = { text: string; pair: Pair; swapped: boolean } | { reason: string };

/**
 * The record rewritten by its format to say `label`, read back to check that it does — same prompt,
 * same two responses, the label asked for — so a wrong label is never written: a record that does
 * not read back is left out with a reason like one the format cannot say.
 */
function rewrite(format: PreferenceFormat, entry: PairEntry, label: ReviewLabel): Rewrite {
  const record = format.relabel?.(entry.record, label);
  if (!record) return { reason: notExpressible(label, format.name) };
  let pair: Pair;
  try {
    pair = format.toPair(record, entry.pair.line);
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    return { reason: `${label} does not read back in ${format.name}` };
  }
  const swapped = readsBackAs(entry.pair, pair, label);
  if (swapped === undefined) return { reason: `${label} does not read back in ${format.name}` };
  return { text: serializeLike(entry.text, record), pair, swapped };
}

/** Whether `after` is `before` judged `label` with its sides kept (false) or exchanged (true); undefined if it is not. */
function readsBackAs(before: Pair, after: Pair, label: ReviewLabel): boolean | undefined {
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  if (!same(before.prompt, after.prompt)) return undefined;
  const bothBad = after.label === 'tie' && after.meta?.bothBad === true;
  for (const swapped of [false, true]) {
    const [a, b] = swapped ? [before.b, before.a] : [before.a, before.b];
    if (!same(after.a, a) || !same(after.b, b)) continue;
    const flip: Preference = after.label === 'a' ? 'b' : after.label === 'b' ? 'a' : after.label;
    const said: ReviewLabel | null = bothBad ? 'both-bad' : swapped ? flip : after.label;
    if (said === label) return swapped;
  }
  return undefined;
}

/**
 * JSON text for a rewritten record in the style of the text it replaces — its indentation, spaces
 * after ',' and ':' (Python's json.dumps), `\u` escapes for non-ASCII (its ensure_ascii) — so that
 * a diff of the dataset shows the changed fields rather than a reformatted record.
 */
export function serializeLike(raw: string, value: unknown): string {
  let text: string;
  const lines = raw.split('\n');
  if (lines.length > 1) {
    const newline = raw.includes('\r\n') ? '\r\n' : '\n';
    const base = leadingSpace(lines[lines.length - 1]);
    const unit = leadingSpace(lines[1]).slice(base.length) || '  ';
    text = JSON.stringify(value, null, unit).split('\n').join(newline + base);
  } else {
    const item = spaceAfter(raw, ',') ? ', ' : ',';
    const key = spaceAfter(raw, ':') ? ': ' : ':';
    text = item === ',' && key === ':' ? JSON.stringify(value) : stringify(value, item, key);
  }
  // Non-ASCII characters can only be inside strings, so escaping every one of them is safe.
  const asciiOnly = /\\u[0-9a-fA-F]{4}/.test(raw) && !/[^\x00-\x7f]/.test(raw);
  return asciiOnly ? text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}

const leadingSpace = (line: string) => /^[ \t]*/.exec(line)![0];

/** Whether the first `separator` outside a string in JSON text is followed by a space. */
function spaceAfter(raw: string, separator: ',' | ':'): boolean {
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === separator) return raw[i + 1] === ' ';
  }
  return false;
}

function stringify(value: unknown, item: string, key: string): string {
  if (Array.isArray(value)) return `[${value.map((v) => stringify(v, item, key)).join(item)}]`;
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${members.map(([k, v]) => JSON.stringify(k) + key + stringify(v, item, key)).join(item)}}`;
  }
  return JSON.stringify(value);
}

/**
 * `data.cleaned.jsonl` next to `data.jsonl` (a JSON array stays `.json`, a Parquet file `.parquet`,
 * in its own format). A compressed source is written as JSONL, and named so (`data.jsonl.gz` →
 * `data.cleaned.jsonl`); a TRL target is JSONL.
 */
export function suggestedOut(source: string, target: ExportTarget): string {
  let base = source.replace(/\.gz$/i, '');
  const compressed = base !== source;
  const extension = path.extname(base);
  base = base.slice(0, base.length - extension.length);
  const keep = target !== 'same' ? '.jsonl' : compressed ? (extension === '.json' ? '.json' : '.jsonl') : extension || '.jsonl';
  return `${base}.cleaned${keep}`;
}

export function containerOf(out: string): 'jsonl' | 'array' | undefined {
  const extension = path.extname(out).toLowerCase();
  return extension === '.jsonl' || extension === '.ndjson' ? 'jsonl' : extension === '.json' ? 'array' : undefined;
}

/**
 * Writes the exported records in the container the output's name asks for, else the input's. A copy
 * in the input's own format and container keeps the bytes around its records — BOM, the array's
 * brackets, indentation and separators, the final newline or its absence — so that an export that
 * changes nothing is the file itself, byte for byte. Records going from an array to JSONL are put on
 * one line each, their text otherwise untouched.
 */
interface ExportWriter {
  record(text: string): Promise<void>;
  finish(): Promise<void>;
  /** The export failed or was cancelled: let go of anything held. */
  discard?(): Promise<void>;
}

/** Rows per Parquet row group: a group's columns are built in memory while it is encoded. */
const PARQUET_GROUP_ROWS = 10_000;

/**
 * Writes the exported records as Parquet (./parquetWrite.ts). Parquet needs its schema before the
 * first row group, and the schema is found from every record, so the records are spooled to a
 * temporary JSONL file as they come (the schema collected on the way), then read back a row group
 * at a time: memory holds one group, not the export.
 */
class ParquetExport implements ExportWriter {
  private readonly schema = new ParquetSchema();
  private spool?: { folder: string; file: string; lines: string[]; handle: FileHandle };

  constructor(private readonly output: AtomicOutput) {}

  async record(text: string): Promise<void> {
    const record = JSON.parse(text) as Record<string, unknown>;
    this.schema.add(record);
    if (!this.spool) {
      const folder = await mkdtemp(path.join(os.tmpdir(), 'plens-export-'));
      const file = path.join(folder, 'records.jsonl');
      this.spool = { folder, file, lines: [], handle: await open(file, 'w') };
    }
    // One line a record, whatever the source's layout (a pretty-printed array spans lines); written
    // a thousand at a time, as one write each.
    this.spool.lines.push(JSON.stringify(record));
    if (this.spool.lines.length >= 1000) await this.flushSpool();
  }

  private async flushSpool(): Promise<void> {
    if (!this.spool?.lines.length) return;
    const text = this.spool.lines.join('\n') + '\n';
    this.spool.lines = [];
    await this.spool.handle.write(text);
  }

  async finish(): Promise<void> {
    await this.flushSpool();
    const spool = this.spool;
    if (spool) await spool.handle.close();
    try {
      await writeParquet(this.schema, spool ? groupsOf(spool.file) : noGroups(), (bytes) => this.output.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
    } finally {
      await this.discard();
    }
  }

  async discard(): Promise<void> {
    if (!this.spool) return;
    await this.spool.handle.close().catch(() => undefined);
    await rm(this.spool.folder, { recursive: true, force: true });
    this.spool = undefined;
  }
}

/** The spooled records, PARQUET_GROUP_ROWS at a time. */
async function* groupsOf(file: string): AsyncGenerator<Record<string, unknown>[]> {
  let group: Record<string, unknown>[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    group.push(JSON.parse(line) as Record<string, unknown>);
    if (group.length === PARQUET_GROUP_ROWS) {
      yield group;
      group = [];
    }
  }
  if (group.length) yield group;
}

async function* noGroups(): AsyncGenerator<Record<string, unknown>[]> {}

class RecordWriter implements ExportWriter {
  private written = 0;
  private container: 'jsonl' | 'array' | undefined;
  private keepLayout = false;

  constructor(
    private readonly output: AtomicOutput,
    private readonly stream: DatasetStream,
    private readonly to: ExportTarget,
    private readonly wanted: 'jsonl' | 'array' | undefined,
  ) {}

  async record(text: string): Promise<void> {
    // Decided at the first record: the input's container is known once a record has been read.
    if (this.container === undefined) {
      this.container = this.wanted ?? this.stream.container;
      this.keepLayout = this.to === 'same' && this.container === this.stream.container;
    }
    if (this.container === 'jsonl') {
      const line = text.includes('\n') ? compactJson(text) : text;
      if (!this.keepLayout) await this.output.write(line + this.stream.lineEnding);
      else await this.output.write(this.written === 0 ? Buffer.concat([this.head(), Buffer.from(line)]) : this.stream.lineEnding + line);
    } else if (this.keepLayout) {
      const separator = this.written === 0 ? this.head() : (this.stream.separator ?? Buffer.from(',' + this.stream.lineEnding));
      await this.output.write(Buffer.concat([separator, Buffer.from(text)]));
    } else {
      await this.output.write(`${this.written === 0 ? '[\n' : ',\n'}${indentationOf(text)}${text}`);
    }
    this.written++;
  }

  async finish(): Promise<void> {
    const newline = this.stream.lineEnding;
    const container = this.container ?? this.wanted ?? this.stream.container;
    if (container === 'jsonl') {
      // Each line of the generic copy ended with its newline; a kept layout ends as the source does.
      if (this.keepLayout && this.written > 0) await this.output.write(this.stream.tail!);
      return;
    }
    if (this.written === 0) await this.output.write(`[]${newline}`);
    // A truncated source has no end of its own to copy: the array is closed as a new one would be.
    else if (this.keepLayout && !this.stream.truncated) await this.output.write(this.stream.tail!);
    else await this.output.write(`${newline}]${newline}`);
  }

  /** The source's bytes before its first record (a BOM, `[` and indentation). */
  private head(): Buffer {
    return this.stream.head ?? Buffer.alloc(0);
  }
}

/**
 * JSON text on one line: whitespace outside strings removed, everything else kept as written (number
 * literals, escapes, key order), which a parse and stringify would not promise. Newlines inside
 * strings are always escaped in JSON, so the result has none.
 */
export function compactJson(text: string): string {
  let result = '';
  let inString = false;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === ' ' || c === '\n' || c === '\r' || c === '\t') {
      result += text.slice(from, i);
      from = i + 1;
    }
  }
  return result + text.slice(from);
}

/** A pretty-printed record's first line takes the indentation its closing line has, as in the source array. */
function indentationOf(text: string): string {
  const lastLine = text.lastIndexOf('\n');
  return lastLine < 0 ? '' : leadingSpace(text.slice(lastLine + 1));
}

interface KeyMove {
  from: string;
  to: string;
  line: number;
  /** The annotation under `from` before anything moved, its label turned to the new sides. */
  annotation: Annotation | undefined;
  /** Each annotator's label under `from` before anything moved (turned likewise), in the order they were set. */
  labels: Array<[string, ReviewLabel]>;
  /** The adjudicator's decision under `from` (turned likewise). */
  decision?: Adjudication;
}

const FIELDS: readonly AnnotationField[] = ['label', 'flagged', 'note', 'reviewed'];

const swapLabel = (label: ReviewLabel): ReviewLabel => (label === 'a' ? 'b' : label === 'b' ? 'a' : label);

function swapSides(annotation: Annotation | undefined): Annotation | undefined {
  const label = annotation?.label;
  return label === 'a' || label === 'b' ? { ...annotation, label: swapLabel(label) } : annotation;
}

/**
 * Records, as ordinary events, each moved annotation under its new key (its label turned where the
 * sides were exchanged) and clears old keys no pair has any more (a pair appended later with that content would otherwise inherit them). Moves were
 * taken before any was made, so chains (k#1 → k, k#2 → k#1) come out right. Returns how many
 * annotations moved to another key.
 *
 * Labels move annotator by annotator, each under its annotator's name and in the order they were
 * set, so everyone's label stays theirs (agreement figures are computed from them) and the pair's
 * label is the same one after the move.
 */
function moveAnnotations(log: AnnotationLog, moves: readonly KeyMove[], by: string): number {
  const at = new Date().toISOString();
  const setTo = (key: string, line: number, annotation: Annotation | undefined, labels: Array<[string, ReviewLabel]>, decision?: Adjudication) => {
    const current = log.get(key);
    // The decision moves as an adjudicator's event under the adjudicator's name, so it stays a decision.
    const decided = log.adjudicationOf(key);
    if (decided?.label !== decision?.label || decided?.by !== decision?.by) {
      log.record({ key, line, field: 'label', from: decided?.label ?? null, to: decision?.label ?? null, by: decision?.by ?? decided?.by ?? by, at, role: 'adjudicator' });
    }
    for (const field of FIELDS) {
      if (field === 'label') continue;
      const [from, to] = [current?.[field] ?? null, annotation?.[field] ?? null];
      if (from !== to) log.record({ key, line, field, from, to, by, at });
    }
    const currentLabels = log.labelsOf(key);
    if (JSON.stringify(currentLabels) === JSON.stringify(labels)) return;
    for (const [annotator, label] of currentLabels) log.record({ key, line, field: 'label', from: label, to: null, by: annotator, at });
    for (const [annotator, label] of labels) log.record({ key, line, field: 'label', from: null, to: label, by: annotator, at });
  };
  const targets = new Set(moves.map((move) => move.to));
  for (const move of moves) setTo(move.to, move.line, move.annotation, move.labels, move.decision);
  for (const move of moves) if (!targets.has(move.from)) setTo(move.from, move.line, undefined, []);
  return moves.filter((move) => move.annotation && move.from !== move.to).length;
}

async function detectFormat(file: string, format: string | undefined): Promise<PreferenceFormat> {
  // Detection as the editor does it, from the first records; the rest of the file is read by the
  // stream. Read front to back, so a gzip-compressed file is detected too.
  return detectStreamFormat(file, { format });
}

/** Whether two paths name one file (a symbolic or hard link is the same file). */
async function sameFile(x: string, y: string): Promise<boolean> {
  if (path.resolve(x) === path.resolve(y)) return true;
  try {
    const [a, b] = await Promise.all([stat(x), stat(y)]);
    return a.ino !== 0 && a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

const COPY_CHUNK = 1 << 20;

async function copyRange(file: string, source: FileHandle, output: AtomicOutput, from: number, to: number): Promise<void> {
  // One buffer serves the whole copy: the output does not keep what it is given.
  const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, to - from));
  for (let position = from; position < to; ) {
    const { bytesRead } = await source.read(buffer, 0, Math.min(buffer.length, to - position), position);
    if (bytesRead === 0) throw new ExportError(`${file} became shorter while it was being read; it was left as it is now`);
    await output.write(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

const FLUSH_BYTES = 1 << 20;

/**
 * A file written as a temporary file beside its target and renamed over it by {@link commit} (atomic
 * on one filesystem), after flushing it and then the directory to disk, as ./atomicWrite does for
 * files written at once; this one is written piece by piece, so it never holds a whole dataset.
 */
class AtomicOutput {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;

  /** `temporary`: undefined when the target is written straight to (not a regular file, see atomicTarget). */
  private constructor(
    private readonly target: string,
    private readonly temporary: string | undefined,
    private readonly handle: FileHandle,
  ) {}

  /** `mode`: the permissions to give the file (an in-place rewrite keeps the dataset's). */
  static async create(out: string, mode?: number): Promise<AtomicOutput> {
    const { path: target, direct } = atomicTarget(out);
    if (direct) {
      try {
        return new AtomicOutput(target, undefined, await open(target, 'w'));
      } catch (error) {
        throw new ExportError(`cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    const temporary = temporaryBeside(target);
    let handle: FileHandle;
    try {
      handle = await open(temporary, 'wx');
    } catch (error) {
      // The temporary file's name would only puzzle: the target's folder is what cannot be written.
      throw new ExportError(`cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    try {
      if (mode !== undefined) await handle.chmod(mode & 0o7777);
    } catch (error) {
      await handle.close();
      await rm(temporary, { force: true });
      throw error;
    }
    return new AtomicOutput(target, temporary, handle);
  }

  /** Small pieces are gathered into large writes; `data` is not kept after the call. */
  async write(data: string | Buffer): Promise<void> {
    if (data.length >= FLUSH_BYTES) {
      // Large pieces (copied ranges, long records) go straight to the file rather than being copied again.
      await this.flush();
      await this.writeAll(typeof data === 'string' ? Buffer.from(data) : data);
      return;
    }
    const bytes = Buffer.from(data);
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  async commit(): Promise<void> {
    await this.flush();
    if (this.temporary === undefined) {
      this.closed = true;
      return this.handle.close();
    }
    await this.handle.sync();
    this.closed = true;
    await this.handle.close();
    await rename(this.temporary, this.target);
    await syncDirectory(path.dirname(this.target));
  }

  /** Removes the temporary file; safe to call at any point, even after a failed commit. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    if (this.temporary !== undefined) await rm(this.temporary, { force: true });
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending);
    [this.pending, this.pendingBytes] = [[], 0];
    await this.writeAll(data);
  }

  private async writeAll(data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length; ) offset += (await this.handle.write(data, offset)).bytesWritten;
  }
}
