/**
 * Reading a preference file: records with their line numbers (JSONL or a top-level JSON array),
 * format detection, and normalisation to pairs. A bad record is reported with its line and never
 * stops the rest from loading. `loadDataset` reads a whole file at once; `openDatasetIndex` indexes
 * a file of any size in the background and reads pairs on demand. Both split records with the same
 * byte scanner (./lineIndex), so they agree on every record and line number.
 *
 * Compressed files (gzip) are inflated as they are read; a Parquet file's rows are its records
 * (./parquetSource), with the 1-based row number as the line. Both are recognised by their bytes.
 * Neither can be read back by byte range: `DatasetStream` reads them front to back like any file,
 * and `openDatasetIndex` reads them once and keeps their records (see `StoredRecords`).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { isGzipFile, readChunks } from './byteSource';
import { FORMATS, RecordError, UNPAIRED_FORMATS, formatByName, shapeOf, type PreferenceFormat } from './formats';
import { IndexError, LineIndex, RecordScanner, scanBytes, type LineIndexOptions, type RawRecord } from './lineIndex';
import { firstParquetRows, isParquetFile, parquetRows, type ParquetRow } from './parquetSource';
import type { Malformed, Pair, Preference } from './pair';

/** The file could not be read as preference data at all (as opposed to a few bad records). */
export class DatasetError extends Error {}

export interface Dataset {
  file: string;
  format: PreferenceFormat;
  pairs: Pair[];
  malformed: Malformed[];
}

export type LabelCounts = Record<'a' | 'b' | 'tie' | 'none', number>;

/** Record `index` (0-based, blank lines not counted) read as a pair, or why it could not be. */
export type PairEntry = { index: number; pair: Pair } | { index: number; malformed: Malformed };

const DETECTION_SAMPLE = 200;

interface Parsed {
  line: number;
  record: Record<string, unknown>;
}

function parseRecord(raw: RawRecord): Parsed | Malformed {
  if ('error' in raw) return { line: raw.line, error: raw.error };
  let value: unknown;
  try {
    value = JSON.parse(raw.text);
  } catch (error) {
    return { line: raw.line, error: `invalid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { line: raw.line, error: `${NOT_AN_OBJECT}, not ${kindOf(value)}` };
  }
  return { line: raw.line, record: value as Record<string, unknown> };
}

const NOT_AN_OBJECT = 'a record should be a JSON object';

/** What a JSON value is, for messages: "an array of arrays (nested 40 levels)", "a number", "null". */
function kindOf(value: unknown): string {
  if (!Array.isArray(value)) return value === null ? 'null' : `a${typeof value === 'object' ? 'n' : ''} ${JSON_TYPE[typeof value] ?? typeof value}`;
  let depth = 1;
  for (let inner: unknown = value[0]; Array.isArray(inner); inner = inner[0]) depth++;
  if (depth > 2) return `an array nested ${depth} levels deep`;
  if (depth === 2) return 'an array of arrays';
  if (!value.length) return 'an empty array';
  return value[0] === null ? 'an array of nulls' : `an array of ${JSON_TYPE[typeof value[0]] ?? typeof value[0]}s`;
}

const JSON_TYPE: Record<string, string> = { string: 'string', number: 'number', boolean: 'boolean', object: 'object' };

function toPair({ line, record }: Parsed, format: PreferenceFormat): Pair | Malformed {
  try {
    return format.toPair(record, line);
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    // In a file that mixes shapes, naming the shape of the misfit says what to do about it.
    const shape = shapeOf(record);
    const hint = shape && shape !== format.name ? `; it has the shape of ${shape}` : '';
    return { line, error: `does not fit ${format.name}: ${error.message}${hint}` };
  }
}

/** Picks the pair format that fits most of the sampled records. */
export function detectFormat(records: Record<string, unknown>[]): PreferenceFormat {
  let best: PreferenceFormat | undefined;
  let bestCount = 0;
  for (const format of FORMATS) {
    const count = records.filter((r) => format.matches(r)).length;
    if (count > bestCount) [best, bestCount] = [format, count];
  }
  for (const unpaired of UNPAIRED_FORMATS) {
    if (records.filter((r) => unpaired.matches(r)).length > bestCount) {
      throw new DatasetError(`this file holds ${unpaired.explanation} (format "${unpaired.name}")`);
    }
  }
  if (!best) {
    const fields = records.length ? Object.keys(records[0]).slice(0, 12).join(', ') : 'none';
    throw new DatasetError(
      `no known preference format fits (first record's fields: ${fields}); ` +
        `see the README for the formats Preference Lens reads`,
    );
  }
  return best;
}

/**
 * The format named by the user, or the one detected from the first valid records. `firstBad` is the
 * first record that could not be read, to say why when none could.
 */
function chooseFormat(sample: Record<string, unknown>[], records: number, name: string | undefined, firstBad?: Malformed): PreferenceFormat {
  if (sample.length === 0) throw new DatasetError(records === 0 ? 'the file has no records' : noRecordMessage(firstBad));
  if (!name) return detectFormat(sample);
  const forced = formatByName(name);
  if (!forced) throw new DatasetError(`unknown format "${name}"; known: ${FORMATS.map((f) => f.name).join(', ')}`);
  return forced;
}

/** Why not one record could be read: a file of valid JSON that holds no objects is not "invalid JSON". */
function noRecordMessage(firstBad: Malformed | undefined): string {
  const where = firstBad ? ` (line ${firstBad.line}: ${firstBad.error})` : '';
  if (firstBad?.error.startsWith(NOT_AN_OBJECT)) {
    return (
      `the file is JSON but holds no records: ${firstBad.error.slice(NOT_AN_OBJECT.length + ', not '.length)} at line ${firstBad.line}, where a ` +
      'preference record (a JSON object) should be; a preference file is JSON objects, one a line (JSONL), or one JSON array of them'
    );
  }
  return `no record in the file is valid JSON${where}`;
}

/** Errors about the file's content name the file; others (I/O, cancellation) pass unchanged. */
function inFile(file: string, error: unknown): unknown {
  if (error instanceof DatasetError || error instanceof IndexError) return new DatasetError(`${file}: ${error.message}`);
  return error;
}

/** Reads records from already-decoded text; `file` names the source in messages. */
export function parseDataset(file: string, text: string, options: { format?: string } = {}): Dataset {
  return parseBytes(file, Buffer.from(text, 'utf8'), options);
}

function parseBytes(file: string, bytes: Buffer, options: { format?: string }): Dataset {
  try {
    const scanner = scanBytes(bytes);
    const malformed: Malformed[] = [];
    const parsed: Parsed[] = [];
    for (let i = 0; i < scanner.count; i++) {
      const [start, end] = scanner.span(i);
      const result = parseRecord(scanner.decode(i, bytes.subarray(start, end)));
      if ('record' in result) parsed.push(result);
      else malformed.push(result);
    }
    return datasetOf(file, parsed, malformed, scanner.count, options);
  } catch (error) {
    throw inFile(file, error);
  }
}

/** The pairs of the records read, in the format detected from a sample of them (or named); `records` counts the unreadable ones too. */
function datasetOf(file: string, parsed: readonly Parsed[], malformed: Malformed[], records: number, options: { format?: string }): Dataset {
  const sample = parsed.slice(0, DETECTION_SAMPLE).map((p) => p.record);
  const format = chooseFormat(sample, records, options.format, malformed[0]);
  const pairs: Pair[] = [];
  for (const record of parsed) {
    const result = toPair(record, format);
    if ('error' in result) malformed.push(result);
    else pairs.push(result);
  }
  malformed.sort((x, y) => x.line - y.line);
  return { file, format, pairs, malformed };
}

/** Reads a whole file into memory (inflating a gzip-compressed one); for files of any size use {@link openDatasetIndex}. */
export async function loadDataset(file: string, options: { format?: string } = {}): Promise<Dataset> {
  if (await isParquetFile(file).catch(() => false)) return loadParquet(file, options);
  let bytes: Buffer;
  try {
    if (await isGzipFile(file)) {
      const parts: Buffer[] = [];
      for await (const { bytes: chunk } of readChunks(file, 1 << 20, (n) => Buffer.allocUnsafe(n))) parts.push(chunk);
      bytes = Buffer.concat(parts);
    } else bytes = await readFile(file);
  } catch (error) {
    if (error instanceof IndexError) throw inFile(file, error);
    throw new DatasetError(`${file}: cannot read the file (${(error as Error).message})`);
  }
  return parseBytes(file, bytes, options);
}

/** A Parquet file's rows as a {@link Dataset}: a row is a record, its 1-based row number its line. */
async function loadParquet(file: string, options: { format?: string }): Promise<Dataset> {
  try {
    const malformed: Malformed[] = [];
    const parsed: Parsed[] = [];
    for await (const row of parquetRows(file)) {
      const result = parsedRow(row);
      if ('record' in result) parsed.push(result);
      else malformed.push(result);
    }
    return datasetOf(file, parsed, malformed, parsed.length + malformed.length, options);
  } catch (error) {
    throw inFile(file, error);
  }
}

/** A Parquet row as a parsed record (it is an object already), or why it cannot be one. */
function parsedRow(row: ParquetRow): Parsed | Malformed {
  return 'error' in row ? { line: row.line, error: row.error } : { line: row.line, record: row.record };
}

/** What {@link DatasetIndex} reads records through: a {@link LineIndex}, or {@link StoredRecords}. */
type RecordIndex = Pick<LineIndex, 'count' | 'complete' | 'bytesIndexed' | 'totalBytes' | 'done' | 'whenCount' | 'readRecords' | 'close'>;

/** A gzip-compressed or Parquet file: records cannot be read back from the file by byte range. */
async function isPackedFile(file: string): Promise<boolean> {
  return (await isGzipFile(file)) || (await isParquetFile(file));
}

/**
 * A gzip-compressed or Parquet file, unpacked once, front to back, into a temporary copy that a
 * {@link LineIndex} then reads as it reads a plain file: offsets into compressed bytes cannot be read
 * back one record at a time, and holding the records instead would make memory the inflated size.
 * A gzip file's copy is its inflated bytes (same lines, same container); a Parquet file's is JSONL,
 * one row a line, so a row's number is its line. The copy is deleted when the index closes; the
 * dataset itself is only read (annotations go to the sidecar, and an export writes a new file).
 */
class UnpackedRecords implements RecordIndex {
  private constructor(
    private readonly lines: LineIndex,
    private readonly folder: string,
    /** Parquet rows that could not be read, by record index: their line in the copy is a placeholder. */
    private readonly unreadable: ReadonlyMap<number, string>,
  ) {}

  static async read(file: string, options: LineIndexOptions): Promise<UnpackedRecords> {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'plens-unpacked-'));
    const copy = path.join(folder, path.basename(file).replace(/\.(gz|parquet)$/i, '') || 'records');
    const unreadable = new Map<number, string>();
    try {
      const output = createWriteStream(copy);
      // A full disk fails the read with its cause, not the process with an unhandled 'error' event.
      let failure: Error | undefined;
      output.on('error', (error) => (failure ??= error));
      const write = async (chunk: string | Buffer) => {
        if (failure) throw failure;
        if (!output.write(chunk)) await once(output, 'drain');
      };
      try {
        if (await isParquetFile(file)) {
          for await (const row of parquetRows(file, options)) {
            if ('error' in row) unreadable.set(row.index, row.error);
            await write(`${'error' in row ? 'null' : JSON.stringify(row.record)}\n`);
          }
        } else {
          const totalBytes = (await stat(file)).size;
          for await (const { bytes, fileBytes } of readChunks(file, 1 << 20, (n) => Buffer.allocUnsafe(n), options.signal)) {
            await write(bytes);
            options.onProgress?.({ bytesIndexed: fileBytes, totalBytes, records: 0 });
          }
        }
      } finally {
        await new Promise<void>((resolve, reject) => output.end((error?: Error | null) => (error ?? failure ? reject(error ?? failure) : resolve())));
      }
      return new UnpackedRecords(await LineIndex.open(copy, options), folder, unreadable);
    } catch (error) {
      await rm(folder, { recursive: true, force: true });
      throw error;
    }
  }

  get count(): number {
    return this.lines.count;
  }

  get complete(): boolean {
    return this.lines.complete;
  }

  get bytesIndexed(): number {
    return this.lines.bytesIndexed;
  }

  get totalBytes(): number {
    return this.lines.totalBytes;
  }

  get done(): Promise<number> {
    return this.lines.done;
  }

  whenCount(count: number): Promise<number> {
    return this.lines.whenCount(count);
  }

  async readRecords(from: number, to: number): Promise<RawRecord[]> {
    const records = await this.lines.readRecords(from, to);
    if (this.unreadable.size === 0) return records;
    return records.map((record) => {
      const error = this.unreadable.get(record.index);
      return error === undefined ? record : { index: record.index, line: record.line, error };
    });
  }

  async close(): Promise<void> {
    try {
      await this.lines.close();
    } finally {
      await rm(this.folder, { recursive: true, force: true });
    }
  }
}

export interface DatasetIndexOptions extends LineIndexOptions {
  /** A format name that overrides detection. */
  format?: string;
}

/**
 * A preference file being indexed in the background: `count` records are readable now, `done`
 * settles when the whole file is indexed. Read pairs a page at a time; each page is one read.
 */
export class DatasetIndex {
  /** Resolves to the final record count; rejects with a {@link DatasetError} if the file turns out unreadable. */
  readonly done: Promise<number>;

  /** Use {@link openDatasetIndex}. */
  constructor(
    readonly file: string,
    readonly format: PreferenceFormat,
    private readonly index: RecordIndex,
  ) {
    this.done = index.done.catch((error: unknown) => {
      throw inFile(file, error);
    });
    this.done.catch(() => undefined);
  }

  /** Records indexed so far (blank lines are not records; malformed ones are). */
  get count(): number {
    return this.index.count;
  }

  get complete(): boolean {
    return this.index.complete;
  }

  get bytesIndexed(): number {
    return this.index.bytesIndexed;
  }

  get totalBytes(): number {
    return this.index.totalBytes;
  }

  /** Resolves with the record count once at least `count` records are indexed, or the whole file is. */
  async whenCount(count: number): Promise<number> {
    try {
      return await this.index.whenCount(count);
    } catch (error) {
      throw inFile(this.file, error);
    }
  }

  async pair(index: number): Promise<PairEntry> {
    return (await this.pairs(index, index + 1))[0];
  }

  /** Records `from` to `to` (exclusive, at most `count`) as pairs or as what is wrong with them. */
  async pairs(from: number, to: number): Promise<PairEntry[]> {
    const raws = await this.index.readRecords(from, to);
    return raws.map((raw): PairEntry => {
      const parsed = parseRecord(raw);
      const result = 'record' in parsed ? toPair(parsed, this.format) : parsed;
      return 'error' in result ? { index: raw.index, malformed: result } : { index: raw.index, pair: result };
    });
  }

  /** Stops indexing and releases the file. */
  close(): Promise<void> {
    return this.index.close();
  }
}

/**
 * Starts indexing `file` and resolves as soon as its format is known from the first records (or
 * given), long before a large file is fully indexed. Rejects with a {@link DatasetError} when the
 * file cannot be read or holds no pairs.
 */
export async function openDatasetIndex(file: string, options: DatasetIndexOptions = {}): Promise<DatasetIndex> {
  let index: RecordIndex;
  try {
    index = (await isPackedFile(file)) ? await UnpackedRecords.read(file, options) : await LineIndex.open(file, options);
  } catch (error) {
    if (error instanceof IndexError || error instanceof DatasetError) throw inFile(file, error);
    if ((error as Error).name === 'AbortError') throw error;
    throw new DatasetError(`${file}: cannot read the file (${(error as Error).message})`);
  }
  try {
    const sample: Record<string, unknown>[] = [];
    let firstBad: Malformed | undefined;
    // Reads on past invalid records, as loadDataset does, until the sample is full or the file ends.
    for (let next = 0; sample.length < DETECTION_SAMPLE; ) {
      const available = await index.whenCount(next + DETECTION_SAMPLE);
      if (available <= next) break;
      const to = Math.min(available, next + DETECTION_SAMPLE);
      for (const raw of await index.readRecords(next, to)) {
        const parsed = parseRecord(raw);
        if ('record' in parsed) sample.push(parsed.record);
        else firstBad ??= parsed;
      }
      next = to;
    }
    const format = chooseFormat(sample.slice(0, DETECTION_SAMPLE), index.count, options.format, firstBad);
    return new DatasetIndex(file, format, index);
  } catch (error) {
    await index.close();
    throw inFile(file, error);
  }
}

/**
 * The format of a file read front to back (plain or gzip-compressed), from its first records as
 * {@link openDatasetIndex} detects it, or the one named; reads only as far as the sample needs.
 */
export async function detectStreamFormat(file: string, options: { format?: string; signal?: AbortSignal } = {}): Promise<PreferenceFormat> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (error) {
    throw new DatasetError(`${file}: cannot read the file (${(error as Error).message})`);
  }
  if (info.isDirectory()) throw new DatasetError(`${file} is a folder; give a dataset file in it (JSONL, JSON, Parquet, or one of them gzip-compressed)`);
  if (await isParquetFile(file)) {
    try {
      const rows = (await firstParquetRows(file, DETECTION_SAMPLE, options.signal)).map(parsedRow);
      const sample = rows.flatMap((row) => ('record' in row ? [row.record] : []));
      return chooseFormat(sample, rows.length, options.format, rows.find((row): row is Malformed => 'error' in row));
    } catch (error) {
      throw inFile(file, error);
    }
  }
  const scanner = new RecordScanner();
  const window = new ByteWindow();
  const sample: Record<string, unknown>[] = [];
  let firstBad: Malformed | undefined;
  const chunks = readChunks(file, 256 << 10, (n) => Buffer.allocUnsafeSlow(n), options.signal);
  try {
    let next = 0;
    for (let done = false; !done && sample.length < DETECTION_SAMPLE; ) {
      const result = await chunks.next();
      done = result.done === true;
      if (result.done) scanner.finish();
      else {
        scanner.push(result.value.bytes);
        window.append(result.value.bytes);
      }
      for (; next < scanner.count && sample.length < DETECTION_SAMPLE; next++) {
        const [start, end] = scanner.span(next);
        const parsed = parseRecord(scanner.decode(next, window.bytes(start, end)));
        if ('record' in parsed) sample.push(parsed.record);
        else firstBad ??= parsed;
      }
      if (next > 0) window.discardBefore(scanner.span(next - 1)[1]);
    }
    return chooseFormat(sample, scanner.count, options.format, firstBad);
  } catch (error) {
    throw inFile(file, error);
  } finally {
    await chunks.return(undefined);
  }
}

/** A record read in file order by {@link DatasetStream}: a pair with its exact text and place, or what is wrong with it. */
export type StreamedRecord =
  | {
      /** 0-based record index, as in {@link DatasetIndex}. */
      index: number;
      pair: Pair;
      /** The record as parsed, to be rewritten. */
      record: Record<string, unknown>;
      /** The record's JSON text exactly as in the file. */
      text: string;
      /** Byte range of `text` in the file: surrounding whitespace, a BOM and an array's comma are outside it. */
      start: number;
      end: number;
    }
  | { index: number; malformed: Malformed };

const STREAM_CHUNK = 1 << 20;


/**
 * Reads a whole file once, front to back, for rewriting it (export, applying labels in place):
 * every record with its pair, its text and where its bytes are. It uses the same scanner as the
 * index, so records, line numbers and pairs are the ones the editor shows; memory is the scanner's
 * offsets plus the record being read, whatever the size of the file. Iterate it once.
 */
export class DatasetStream implements AsyncIterable<StreamedRecord> {
  private readonly scanner = new RecordScanner();
  private firstLineEnding: '\n' | '\r\n' | undefined;
  /** Where the text of the last record read ends (records of any kind): bytes from here on are kept for the layout. */
  private textEnd = 0;
  private headBytes: Buffer | undefined;
  private separatorBytes: Buffer | undefined;
  private tailBytes: Buffer | undefined;

  constructor(
    readonly file: string,
    readonly format: PreferenceFormat,
    private readonly options: Pick<LineIndexOptions, 'signal' | 'onProgress' | 'chunkSize'> = {},
  ) {}

  /** How the records are stored; known once the first record has been read. */
  get container(): 'jsonl' | 'array' {
    return this.scanner.mode === 'array' ? 'array' : 'jsonl';
  }

  // The bytes around the records, so that a copy can keep them.

  /** Everything before the first record (a BOM, an array's `[` and indentation); known once it has been read. */
  get head(): Buffer | undefined {
    return this.headBytes;
  }

  /** What separates the first two records (an array's `,\n  ` or `,`); known once the second has been read. */
  get separator(): Buffer | undefined {
    return this.separatorBytes;
  }

  /** Everything after the last record (`\n]\n`, or nothing where the file ends without a newline); known at the end. */
  get tail(): Buffer | undefined {
    return this.tailBytes;
  }

  /** Whether the file is a JSON array that ends before its `]` (known once the whole file has been read). */
  get truncated(): boolean {
    return this.scanner.truncated;
  }

  /** The line ending after the first readable record, so that a copy can keep the file's. */
  get lineEnding(): '\n' | '\r\n' {
    return this.firstLineEnding ?? '\n';
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamedRecord> {
    let size: number;
    try {
      size = (await stat(this.file)).size;
    } catch (error) {
      throw new DatasetError(`${this.file}: cannot read the file (${(error as Error).message})`);
    }
    if (await isParquetFile(this.file)) {
      yield* this.parquet();
      return;
    }
    const chunkSize = this.options.chunkSize ?? STREAM_CHUNK;
    const window = new ByteWindow();
    // The window keeps chunks until the records in them are read, then hands them back for reuse:
    // a fresh buffer per read would leave the garbage collector hundreds of megabytes behind.
    // Never a slice of Node's shared pool, which must not be written to once given back.
    const chunks = readChunks(this.file, chunkSize, (n) => window.spare(n) ?? Buffer.allocUnsafeSlow(n), this.options.signal);
    try {
      let next = 0;
      for (let position = 0, fileBytes = 0; ; ) {
        this.options.signal?.throwIfAborted();
        const result = await chunks.next();
        if (result.done) this.scanner.finish();
        else {
          const { bytes } = result.value;
          this.scanner.push(bytes);
          window.append(bytes);
          position += bytes.length;
          fileBytes = result.value.fileBytes;
        }
        // Every record the scanner has found is complete: it adds one only when the record has ended.
        for (; next < this.scanner.count; next++) yield this.read(next, window);
        // Kept from the end of the last record's text: the separator and the tail are read from there.
        window.discardBefore(this.textEnd);
        this.options.onProgress?.({ bytesIndexed: result.done ? size : fileBytes, totalBytes: size, records: this.scanner.count });
        if (result.done) {
          this.tailBytes = Buffer.from(window.bytes(this.textEnd, position));
          return;
        }
      }
    } catch (error) {
      throw inFile(this.file, error);
    } finally {
      await chunks.return(undefined);
    }
  }

  /**
   * A Parquet file's rows, as records of a JSONL file with nothing around them: a copy in the same
   * format is JSONL, one record a line, each its row as JSON. It has no bytes of its own to rewrite
   * (start and end are -1), so changing it in place is refused before it is read (see core/export).
   */
  private async *parquet(): AsyncGenerator<StreamedRecord> {
    [this.headBytes, this.tailBytes] = [Buffer.alloc(0), Buffer.from('\n')];
    try {
      for await (const row of parquetRows(this.file, this.options)) {
        const parsed = parsedRow(row);
        if (!('record' in parsed)) {
          yield { index: row.index, malformed: parsed };
          continue;
        }
        const pair = toPair(parsed, this.format);
        if ('error' in pair) yield { index: row.index, malformed: pair };
        else {
          const record = parsed.record;
          // Made only when asked for (an export): inspect and score never need a row's JSON.
          yield { index: row.index, pair, record, get text() { return JSON.stringify(record); }, start: -1, end: -1 };
        }
      }
    } catch (error) {
      throw inFile(this.file, error);
    }
  }

  /** Takes the head before record 0 and the separator before record 1, and moves the text end on (records of any kind). */
  private noteLayout(i: number, spanStart: number, bytes: Buffer, window: ByteWindow): void {
    let start = 0;
    while (start < bytes.length && isJsonSpace(bytes[start])) start++;
    if (bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) start += 3;
    let end = bytes.length;
    const inArray = this.scanner.mode === 'array';
    while (end > start && (isJsonSpace(bytes[end - 1]) || (inArray && bytes[end - 1] === 0x2c))) end--;
    // Copies: the window's buffers are read into again.
    if (i === 0) this.headBytes = Buffer.from(window.bytes(0, spanStart + start));
    else if (i === 1) this.separatorBytes = Buffer.from(window.bytes(this.textEnd, spanStart + start));
    this.textEnd = spanStart + end;
  }

  private read(i: number, window: ByteWindow): StreamedRecord {
    const [spanStart, spanEnd] = this.scanner.span(i);
    const bytes = window.bytes(spanStart, spanEnd);
    if (i !== this.scanner.cutRecord) this.noteLayout(i, spanStart, bytes, window);
    const raw = this.scanner.decode(i, bytes);
    if ('error' in raw) return { index: i, malformed: { line: raw.line, error: raw.error } };
    const parsed = parseRecord(raw);
    if (!('record' in parsed)) return { index: i, malformed: parsed };
    const pair = toPair(parsed, this.format);
    if ('error' in pair) return { index: i, malformed: pair };
    // The text starts where decoding starts it (after whitespace and a stray BOM) and is exactly its
    // UTF-8 bytes; checked, since a rewrite in place replaces these bytes and no others.
    let lead = 0;
    while (lead < bytes.length && isJsonSpace(bytes[lead])) lead++;
    if (bytes[lead] === 0xef && bytes[lead + 1] === 0xbb && bytes[lead + 2] === 0xbf) lead += 3;
    const length = Buffer.byteLength(raw.text);
    if (!bytes.subarray(lead, lead + length).equals(Buffer.from(raw.text))) {
      throw new Error(`internal error: the text of record ${i} (line ${raw.line}) is not where its bytes are`);
    }
    this.firstLineEnding ??= bytes[lead + length] === 0x0d && bytes[lead + length + 1] === 0x0a ? '\r\n' : '\n';
    return { index: i, pair, record: parsed.record, text: raw.text, start: spanStart + lead, end: spanStart + lead + length };
  }
}

const isJsonSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * The bytes of a file from some offset on, as the chunks they were read in: a long record is joined
 * once, not at every chunk. Records are decoded into strings, so nothing refers to a chunk once it is
 * discarded, and its buffer can be read into again.
 */
class ByteWindow {
  private chunks: Buffer[] = [];
  private start = 0;
  private readonly free: Buffer[] = [];

  /** A discarded buffer of `size` bytes, if there is one. */
  spare(size: number): Buffer | undefined {
    const buffer = this.free.pop();
    return buffer && buffer.length === size ? buffer : undefined;
  }

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  bytes(from: number, to: number): Buffer {
    const parts: Buffer[] = [];
    let at = this.start;
    for (const chunk of this.chunks) {
      const end = at + chunk.length;
      if (end > from && at < to) parts.push(chunk.subarray(Math.max(0, from - at), Math.min(chunk.length, to - at)));
      at = end;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  discardBefore(offset: number): void {
    while (this.chunks.length && this.start + this.chunks[0].length <= offset) {
      const chunk = this.chunks.shift()!;
      this.start += chunk.length;
      // Chunks are views of read buffers of their own (the last may be shorter): the whole buffer is
      // reusable. A few are enough; inflated chunks (zlib's) are never asked back, and must not pile up.
      if (this.free.length < 4) this.free.push(Buffer.from(chunk.buffer));
    }
  }
}

export function countLabels(pairs: readonly Pair[]): LabelCounts {
  const counts: LabelCounts = { a: 0, b: 0, tie: 0, none: 0 };
  for (const pair of pairs) counts[labelKey(pair.label)]++;
  return counts;
}

const labelKey = (label: Preference): keyof LabelCounts => label ?? 'none';
