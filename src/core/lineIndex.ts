/**
 * Byte-offset index of the records of a JSONL file or of a top-level JSON array. The file is
 * streamed in large chunks and only each record's start offset is kept (8 bytes a record, plus a
 * little for line numbers), so a multi-gigabyte dataset costs memory in proportion to its record
 * count, not its size; records are read back one range of bytes at a time, and the first ones can be
 * read while the rest of the file is still being indexed.
 */
import { isUtf8 } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';

/** The bytes cannot be read as JSONL or a JSON array at all (as opposed to one bad record). */
export class IndexError extends Error {}

/** A record's text, or why its bytes are not text; `line` is 1-based, `index` counts records. */
export type RawRecord = { index: number; line: number; text: string } | { index: number; line: number; error: string };

export interface IndexProgress {
  bytesIndexed: number;
  totalBytes: number;
  records: number;
}

export interface LineIndexOptions {
  /** Called after each chunk; cheap enough to update a progress bar directly. */
  onProgress?: (progress: IndexProgress) => void;
  /** Stops indexing; records indexed so far stay readable until {@link LineIndex.close}. */
  signal?: AbortSignal;
  /** Bytes read at a time (default 512 KiB: large enough for syscalls not to matter, small enough to stay in the CPU cache between the read and the scan). */
  chunkSize?: number;
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const UTF8_BOM = [0xef, 0xbb, 0xbf];
const DEFAULT_CHUNK = 512 << 10;
const READ_AHEAD = 4;

/** JSON's own whitespace: a line of nothing else is blank and skipped, as JSON.parse would skip it. */
const isJsonSpace = (byte: number) => byte === 0x20 || byte === NEWLINE || byte === 0x0d || byte === 0x09;

function hasContent(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isJsonSpace(bytes[i])) return true;
  return false;
}

const BLOCK_BITS = 16;
const BLOCK_SIZE = 1 << BLOCK_BITS;

/**
 * An append-only list of numbers in fixed-size blocks: growing never copies (so memory does not
 * spike to twice the index), and doubles hold byte offsets beyond 4 GB exactly.
 */
class NumberList {
  private readonly blocks: Float64Array[] = [];
  length = 0;

  push(value: number): void {
    const block = this.length >>> BLOCK_BITS;
    if (block === this.blocks.length) this.blocks.push(new Float64Array(BLOCK_SIZE));
    this.blocks[block][this.length & (BLOCK_SIZE - 1)] = value;
    this.length++;
  }

  get(i: number): number {
    return this.blocks[i >>> BLOCK_BITS][i & (BLOCK_SIZE - 1)];
  }

  /** Position of the last value ≤ `value` in this ascending list, or -1. */
  floor(value: number): number {
    let [lo, hi] = [0, this.length - 1];
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) <= value) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi;
  }
}

/**
 * Finds record boundaries in bytes pushed in order, in any chunking. JSONL: every line with more
 * than whitespace is a record. A file whose first non-blank byte is `[` is one JSON array: each
 * top-level element is a record, found by tracking strings and nesting (as JSON.parse would, but
 * without building anything).
 */
export class RecordScanner {
  mode: 'unknown' | 'jsonl' | 'array' = 'unknown';
  private readonly starts = new NumberList();
  /**
   * Line numbers are stored only where they stop counting up by one from record to record (after
   * blank lines, or for every element of a pretty-printed array): `jumpAt[k]` is a record index and
   * `jumpLine[k]` its line. A JSONL file without blank lines needs none.
   */
  private readonly jumpAt = new NumberList();
  private readonly jumpLine = new NumberList();
  private lastLine = 0;
  private lastEnd = 0;
  private bytesSeen = 0;
  private line = 1;
  private lineStart = 0;
  private lineHasContent = false;
  private bomLength = 0;
  // JSON array state.
  private depth = 0;
  private inString = false;
  private escaped = false;
  private closed = false;
  private elementStart = -1;
  private elementLine = 0;
  /**
   * The record standing for the cut, when a JSON array ends before its `]` (an interrupted download):
   * the element the file ends inside, or an empty one where the next would start. Every complete
   * element before it is read as usual; this one is reported, so the cut is never silent.
   */
  private cut: { record: number; inside: boolean } | undefined;
  /** Next newline at or after the scan position in the current chunk (chunk length: none), or -1: unknown. */
  private nextNewline = -1;

  get count(): number {
    return this.starts.length;
  }

  get bytesScanned(): number {
    return this.bytesSeen;
  }

  push(chunk: Uint8Array): void {
    const base = this.bytesSeen;
    this.bytesSeen += chunk.length;
    this.nextNewline = -1;
    let pos = 0;
    if (this.mode === 'unknown') pos = this.scanStart(chunk, base);
    if (this.mode === 'jsonl') this.scanLines(chunk, pos, base);
    else if (this.mode === 'array') this.scanArray(chunk, pos, base);
  }

  /** The record standing for the cut of a truncated JSON array (see {@link truncated}), or -1. */
  get cutRecord(): number {
    return this.cut?.record ?? -1;
  }

  /** Whether the input was a JSON array that ends before its closing `]`. */
  get truncated(): boolean {
    return this.cut !== undefined;
  }

  /** Ends the input. A JSON array that is not closed keeps its complete elements and gets a record reporting the cut. */
  finish(): void {
    if (this.mode === 'unknown' && this.bomLength > 0 && this.bomLength < 3) {
      // A file of nothing but the start of a BOM: one (unreadable) record, reported rather than lost.
      [this.mode, this.lineHasContent] = ['jsonl', true];
    }
    if (this.mode === 'jsonl' && this.lineHasContent) this.addRecord(this.lineStart, this.line, this.bytesSeen);
    if (this.mode === 'array' && !this.closed && this.cut === undefined) {
      // Inside a string or a nested value, the last element is cut; at the array's own level it is
      // whole (only objects are records, and an object ends with its brace) and the cut comes after it.
      const inside = this.elementStart >= 0 && (this.inString || this.depth > 1);
      if (this.elementStart >= 0 && !inside) this.endElement(this.bytesSeen);
      if (inside) this.addRecord(this.elementStart, this.elementLine, this.bytesSeen);
      else this.addRecord(this.bytesSeen, this.line, this.bytesSeen);
      this.elementStart = -1;
      this.cut = { record: this.count - 1, inside };
    }
  }

  /** Byte range of record `i`, whitespace (and, in an array, the separating comma) included. */
  span(i: number): [number, number] {
    return [this.starts.get(i), i + 1 < this.count ? this.starts.get(i + 1) : this.lastEnd];
  }

  lineOf(i: number): number {
    const k = this.jumpAt.floor(i);
    return k < 0 ? i + 1 : this.jumpLine.get(k) + (i - this.jumpAt.get(k));
  }

  /** Decodes record `i` from the bytes of its {@link span}. */
  decode(i: number, bytes: Uint8Array): RawRecord {
    if (i === this.cut?.record) {
      const where = this.cut.inside ? 'ends inside this record' : 'ends here';
      return {
        index: i,
        line: this.lineOf(i),
        error: `the file ${where}, before the JSON array's closing "]": it looks cut short (an interrupted download or copy?); the ${i} records before it are read`,
      };
    }
    return decodeRecord(bytes, i, this.lineOf(i), this.mode === 'array');
  }

  private addRecord(start: number, line: number, end: number): void {
    if (line !== this.lastLine + 1) {
      this.jumpAt.push(this.count);
      this.jumpLine.push(line);
    }
    this.starts.push(start);
    this.lastLine = line;
    this.lastEnd = end;
  }

  /** Skips the BOM and blank lines before the first content byte, which decides the mode. */
  private scanStart(chunk: Uint8Array, base: number): number {
    for (let pos = 0; pos < chunk.length; pos++) {
      const byte = chunk[pos];
      const at = base + pos;
      if (at < 3 && this.bomLength === at && byte === UTF8_BOM[at]) {
        if (++this.bomLength === 3) this.lineStart = 3;
        continue;
      }
      if (at < 2 && (byte === 0 || byte === 0xfe || byte === 0xff)) {
        // 0xFE/0xFF never occur in UTF-8, and JSON text does not start with NUL: UTF-16 or UTF-32.
        throw new IndexError('the file is not UTF-8 (it looks like UTF-16 or UTF-32): convert it to UTF-8');
      }
      const brokenBom = this.bomLength > 0 && this.bomLength < 3;
      if (brokenBom || !isJsonSpace(byte)) {
        // The first record starts here; a broken BOM's bytes belong to it, to be reported, not skipped.
        this.mode = byte === 0x5b && !brokenBom ? 'array' : 'jsonl';
        this.lineHasContent = true;
        return pos;
      }
      if (byte === NEWLINE) {
        this.line++;
        this.lineStart = at + 1;
      }
    }
    return chunk.length;
  }

  private scanLines(chunk: Uint8Array, from: number, base: number): void {
    const n = chunk.length;
    let pos = from;
    for (;;) {
      const newline = pos < n ? chunk.indexOf(NEWLINE, pos) : -1;
      const end = newline < 0 ? n : newline;
      // A record's first byte is almost always `{`, so this looks at one byte a line.
      if (!this.lineHasContent) this.lineHasContent = hasContent(chunk, pos, end);
      if (newline < 0) return;
      if (this.lineHasContent) this.addRecord(this.lineStart, this.line, base + newline);
      this.line++;
      this.lineStart = base + newline + 1;
      this.lineHasContent = false;
      pos = newline + 1;
    }
  }

  private scanArray(chunk: Uint8Array, from: number, base: number): void {
    const n = chunk.length;
    let i = from;
    while (i < n) {
      if (this.closed) {
        for (; i < n && isJsonSpace(chunk[i]); i++) if (chunk[i] === NEWLINE) this.line++;
        if (i < n) throw new IndexError(`line ${this.line}: unexpected content after the JSON array`);
        return;
      }
      if (this.inString) {
        i = this.skipString(chunk, i);
        continue;
      }
      const byte = chunk[i];
      switch (byte) {
        case NEWLINE:
          this.line++;
          break;
        case 0x20:
        case 0x09:
        case 0x0d:
          break;
        case QUOTE:
          this.startElement(base + i);
          this.inString = true;
          break;
        case 0x7b: // {
        case 0x5b: // [
          this.startElement(base + i);
          this.depth++;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          if (--this.depth === 0) {
            this.endElement(base + i);
            this.closed = true;
          }
          break;
        case COMMA:
          if (this.depth === 1) this.endElement(base + i);
          break;
        default:
          this.startElement(base + i);
      }
      i++;
    }
  }

  /**
   * Moves past string content with indexOf rather than byte by byte, which is what makes arrays of
   * long texts fast. Returns the position after the closing quote, or the chunk's end.
   */
  private skipString(chunk: Uint8Array, from: number): number {
    const n = chunk.length;
    let i = from;
    if (this.escaped) {
      this.escaped = false;
      i++;
    }
    for (;;) {
      const quote = i < n ? chunk.indexOf(QUOTE, i) : -1;
      const end = quote < 0 ? n : quote;
      // Backslashes right before the quote (or the chunk's end): an odd run escapes what follows.
      let run = 0;
      while (end - run - 1 >= i && chunk[end - run - 1] === BACKSLASH) run++;
      if (quote < 0) {
        this.escaped = run % 2 === 1;
        this.line += this.countNewlines(chunk, from, n);
        return n;
      }
      if (run % 2 === 0) {
        this.inString = false;
        // Raw newlines are invalid inside JSON strings, but counting them keeps later line numbers right.
        this.line += this.countNewlines(chunk, from, quote);
        return quote + 1;
      }
      i = quote + 1;
    }
  }

  private countNewlines(chunk: Uint8Array, from: number, to: number): number {
    let at = this.nextNewline;
    if (at < from) at = chunk.indexOf(NEWLINE, from);
    if (at < 0) at = chunk.length;
    let count = 0;
    while (at < to) {
      count++;
      at = chunk.indexOf(NEWLINE, at + 1);
      if (at < 0) at = chunk.length;
    }
    // Remembered so that strings between two newlines do not each search up to the next one.
    this.nextNewline = at;
    return count;
  }

  private startElement(at: number): void {
    if (this.depth === 1 && this.elementStart < 0) [this.elementStart, this.elementLine] = [at, this.line];
  }

  private endElement(at: number): void {
    if (this.elementStart >= 0) this.addRecord(this.elementStart, this.elementLine, at);
    this.elementStart = -1;
  }
}

/** Indexes bytes already in memory. */
export function scanBytes(bytes: Uint8Array): RecordScanner {
  const scanner = new RecordScanner();
  if (bytes.length) scanner.push(bytes);
  scanner.finish();
  return scanner;
}

/**
 * The text of one record from the bytes of its span: surrounding whitespace (and an array's commas)
 * trimmed, a BOM left by concatenating files dropped, and bytes that are not UTF-8 reported with
 * where they are rather than silently replaced by U+FFFD.
 */
function decodeRecord(bytes: Uint8Array, index: number, line: number, inArray: boolean): RawRecord {
  let start = 0;
  let end = bytes.length;
  while (start < end && isJsonSpace(bytes[start])) start++;
  if (end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) start += 3;
  while (end > start && (isJsonSpace(bytes[end - 1]) || (inArray && bytes[end - 1] === COMMA))) end--;
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
  if (!isUtf8(body)) return { index, line, error: invalidUtf8Message(body) };
  if (body.includes(0)) {
    return { index, line, error: 'contains NUL bytes: the file may be UTF-16 or binary; convert it to UTF-8' };
  }
  return { index, line, text: body.toString('utf8') };
}

function invalidUtf8Message(body: Buffer): string {
  const at = firstInvalidUtf8(body);
  const before = body.subarray(Math.max(0, at - 24), at).toString('utf8').replace(/^[\s\S]*\uFFFD/, '');
  return (
    `not valid UTF-8: byte 0x${body[at].toString(16).toUpperCase().padStart(2, '0')} at byte ${at + 1} of the record` +
    (before ? ` (after ${JSON.stringify(before)})` : '') +
    '; the file may be in another encoding such as Latin-1 or Windows-1252: convert it to UTF-8'
  );
}

/** Offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const lead = b[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const extra = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
    if (extra === 0) return i;
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (i + 1 >= b.length || b[i + 1] < low || b[i + 1] > high) return i;
    for (let k = 2; k <= extra; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    i += extra + 1;
  }
  return b.length;
}

interface Waiter {
  count: number;
  resolve: (count: number) => void;
  reject: (error: unknown) => void;
}

/**
 * A file being indexed in the background. `count` grows as chunks are scanned; every record below
 * it can be read at once.
 */
export class LineIndex {
  /** Resolves to the record count when the whole file is indexed; rejects if indexing fails or is cancelled. */
  readonly done: Promise<number>;
  private readonly scanner = new RecordScanner();
  private readonly waiters: Waiter[] = [];
  private readonly stop = new AbortController();
  private finished = false;
  private failure: unknown;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    readonly totalBytes: number,
    options: LineIndexOptions,
  ) {
    const signals = options.signal ? [options.signal, this.stop.signal] : [this.stop.signal];
    this.done = this.run(AbortSignal.any(signals), options);
    // Whoever needs the outcome awaits `done`; nobody awaiting must not make a rejection unhandled.
    this.done.catch(() => undefined);
  }

  /** Opens the file and starts indexing; rejects only when the file cannot be opened. */
  static async open(file: string, options: LineIndexOptions = {}): Promise<LineIndex> {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      return new LineIndex(file, handle, size, options);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get count(): number {
    return this.scanner.count;
  }

  get complete(): boolean {
    return this.finished;
  }

  get bytesIndexed(): number {
    return this.scanner.bytesScanned;
  }

  /** Resolves with the record count once at least `count` records are indexed, or the file is. */
  whenCount(count: number): Promise<number> {
    if (this.count >= count || this.finished) return Promise.resolve(this.count);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ count, resolve, reject }));
  }

  async readRecord(i: number): Promise<RawRecord> {
    return (await this.readRecords(i, i + 1))[0];
  }

  /** Records `from` to `to` (exclusive) with one read of their contiguous bytes. */
  async readRecords(from: number, to: number): Promise<RawRecord[]> {
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= this.count)) {
      throw new RangeError(`records ${from}..${to} are outside the ${this.count} indexed`);
    }
    if (from === to) return [];
    // Spans are taken before reading: the last one's end moves when indexing finds the next record.
    const spans = Array.from({ length: to - from }, (_, k) => this.scanner.span(from + k));
    const base = spans[0][0];
    const bytes = Buffer.allocUnsafe(spans[spans.length - 1][1] - base);
    for (let filled = 0; filled < bytes.length; ) {
      const { bytesRead } = await this.handle.read(bytes, filled, bytes.length - filled, base + filled);
      if (bytesRead === 0) throw new IndexError(`${this.file} became shorter while it was being read`);
      filled += bytesRead;
    }
    return spans.map(([start, end], k) => this.scanner.decode(from + k, bytes.subarray(start - base, end - base)));
  }

  /** Stops indexing if it is still going and releases the file. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.done.catch(() => undefined);
    await this.handle.close();
  }

  private async run(signal: AbortSignal, options: LineIndexOptions): Promise<number> {
    const size = options.chunkSize ?? DEFAULT_CHUNK;
    // Several chunks are read ahead at once on libuv's thread pool while this thread scans: copying
    // from the page cache, not scanning, is the slower half, and it runs in parallel across threads.
    const buffers = Array.from({ length: READ_AHEAD }, () => Buffer.allocUnsafe(size));
    const reads: Promise<{ bytesRead: number }>[] = [];
    let next = 0;
    const request = (slot: number) => {
      reads[slot] = this.handle.read(buffers[slot], 0, size, next);
      next += size;
    };
    const settle = () => Promise.all(reads.map((read) => read.catch(() => undefined)));
    for (let slot = 0; slot < READ_AHEAD; slot++) request(slot);
    let position = 0;
    try {
      for (let slot = 0; ; slot = (slot + 1) % READ_AHEAD) {
        const { bytesRead } = await reads[slot];
        signal.throwIfAborted();
        if (bytesRead === 0) break;
        this.scanner.push(buffers[slot].subarray(0, bytesRead));
        position += bytesRead;
        if (bytesRead < size) {
          // The end of the file (or a short read): the reads ahead assumed full chunks, so they are
          // dropped and reading goes on in order from here; at the end they all read nothing.
          await settle();
          next = position;
          for (let k = 1; k <= READ_AHEAD; k++) request((slot + k) % READ_AHEAD);
        } else {
          request(slot);
        }
        this.wake();
        options.onProgress?.({ bytesIndexed: position, totalBytes: this.totalBytes, records: this.count });
      }
      this.scanner.finish();
      this.finished = true;
      this.wake();
      return this.count;
    } catch (error) {
      // Reads in flight must land before the handle can be closed.
      await settle();
      this.failure = error;
      for (const waiter of this.waiters.splice(0)) waiter.reject(error);
      throw error;
    }
  }

  private wake(): void {
    for (let k = this.waiters.length - 1; k >= 0; k--) {
      const waiter = this.waiters[k];
      if (this.count >= waiter.count || this.finished) {
        this.waiters.splice(k, 1);
        waiter.resolve(this.count);
      }
    }
  }
}
