/**
 * What the review needs to know about every pair, kept as compact columns — record, line, label,
 * response lengths, content key, rewards — while the text stays in the file and is read a page at a
 * time. Filters, sorting and statistics run over the columns, so memory grows with the number of
 * pairs, not the size of the file, and a multi-gigabyte dataset can be reviewed.
 */
import { PairKeyer } from './annotations';
import type { DatasetIndex } from './dataset';
import { NoiseChecks } from './noiseChecks';
import type { Malformed, Message, Pair, Preference } from './pair';
import { identicalResponses, type PairScore } from './verdict';

const LABELS: readonly Preference[] = [null, 'a', 'b', 'tie'];
const textLength = (messages: readonly Message[]) => messages.reduce((n, m) => n + m.content.length, 0);

/** Reads the text of pairs by their record index: from memory, or from the file through its index. */
type RecordReader = (records: readonly number[]) => Promise<Pair[]>;

class Column<T extends Int32Array | Int8Array | Float64Array> {
  constructor(
    public data: T,
    private readonly fill?: number,
  ) {}

  ensure(size: number): void {
    if (size <= this.data.length) return;
    const Type = this.data.constructor as new (length: number) => T;
    const grown = new Type(Math.max(size, this.data.length * 2));
    grown.set(this.data);
    if (this.fill !== undefined) grown.fill(this.fill, this.data.length);
    this.data = grown;
  }
}

export class PairTable {
  private size = 0;
  private readonly record = new Column(new Int32Array(1024));
  private readonly lines = new Column(new Int32Array(1024));
  private readonly labels = new Column(new Int8Array(1024));
  private readonly lengthA = new Column(new Int32Array(1024));
  private readonly lengthB = new Column(new Int32Array(1024));
  private readonly same = new Column(new Int8Array(1024));
  private readonly rewardA = new Column(new Float64Array(1024).fill(NaN), NaN);
  private readonly rewardB = new Column(new Float64Array(1024).fill(NaN), NaN);
  private scoredCount = 0;
  private scoreChanges = 0;
  private readonly keyer = new PairKeyer();
  /** Content key of each pair: annotations are stored against it. */
  readonly keys: string[] = [];
  /** Model-free label-noise checks, computed as pairs are added (./noiseChecks). */
  readonly checks = new NoiseChecks();
  readonly malformed: Malformed[] = [];
  /** False while a large file is still being read in the background. */
  complete = false;

  private constructor(private readonly read: RecordReader) {}

  /** A table over pairs already in memory (the CLI, small files). */
  static fromPairs(pairs: readonly Pair[], malformed: readonly Malformed[] = []): PairTable {
    const table = new PairTable(async (records) => records.map((r) => pairs[r]));
    pairs.forEach((pair, i) => table.add(i, pair));
    table.malformed.push(...malformed);
    table.complete = true;
    return table;
  }

  /**
   * An empty table that its owner fills with {@link append} while reading the file front to back
   * (the CLI, a compressed file); `read` gives the text of pairs back by record index, again from the file.
   */
  static streamed(read: RecordReader): PairTable {
    return new PairTable(read);
  }

  /** Adds record `recordIndex`'s pair at the end of a {@link streamed} table. */
  append(recordIndex: number, pair: Pair): void {
    this.add(recordIndex, pair);
  }

  /**
   * A table that fills itself from a file index in the background, in batches; `onGrow` is called
   * after each. Pairs are readable as soon as they are in the table.
   */
  static fromIndex(
    index: DatasetIndex,
    options: { batch?: number; signal?: AbortSignal; onGrow?: () => void } = {},
  ): { table: PairTable; done: Promise<void> } {
    const table = new PairTable((records) => readFromIndex(index, records));
    const batch = options.batch ?? 2000;
    const done = (async () => {
      for (let next = 0; ; ) {
        const available = await index.whenCount(next + batch);
        if (options.signal?.aborted) return;
        if (available <= next) break;
        for (const entry of await index.pairs(next, Math.min(available, next + batch))) {
          if ('pair' in entry) table.add(entry.index, entry.pair);
          else table.malformed.push(entry.malformed);
        }
        next = Math.min(available, next + batch);
        options.onGrow?.();
      }
      await index.done;
      table.complete = true;
      options.onGrow?.();
    })();
    return { table, done };
  }

  private add(recordIndex: number, pair: Pair): void {
    const i = this.size;
    for (const column of [this.record, this.lines, this.labels, this.lengthA, this.lengthB, this.same, this.rewardA, this.rewardB]) column.ensure(i + 1);
    this.record.data[i] = recordIndex;
    this.lines.data[i] = pair.line;
    this.labels.data[i] = LABELS.indexOf(pair.label);
    this.lengthA.data[i] = textLength(pair.a);
    this.lengthB.data[i] = textLength(pair.b);
    this.same.data[i] = identicalResponses(pair) ? 1 : 0;
    this.keys.push(this.keyer.next(pair));
    this.checks.add(i, pair);
    this.size++;
  }

  /** Pairs in the table so far. */
  get count(): number {
    return this.size;
  }

  line(i: number): number {
    return this.lines.data[i];
  }

  /** The label stored in the file. */
  fileLabel(i: number): Preference {
    return LABELS[this.labels.data[i]];
  }

  /** Characters in response A and B. */
  lengths(i: number): [number, number] {
    return [this.lengthA.data[i], this.lengthB.data[i]];
  }

  /** Whether the two responses are identical: such a pair has no verdict to agree or disagree with. */
  identical(i: number): boolean {
    return this.same.data[i] === 1;
  }

  score(i: number): PairScore | undefined {
    const rewardA = this.rewardA.data[i];
    return Number.isNaN(rewardA) || i >= this.size ? undefined : { rewardA, rewardB: this.rewardB.data[i] };
  }

  setScore(i: number, score: PairScore): void {
    this.scoreChanges++;
    if (Number.isNaN(this.rewardA.data[i])) this.scoredCount++;
    this.rewardA.data[i] = score.rewardA;
    this.rewardB.data[i] = score.rewardB;
  }

  clearScores(): void {
    this.scoreChanges++;
    this.rewardA.data.fill(NaN);
    this.rewardB.data.fill(NaN);
    this.scoredCount = 0;
  }

  /** Grows with every change to the scores: lets callers cache what they derive from them. */
  get scoreVersion(): number {
    return this.scoreChanges;
  }

  get scored(): number {
    return this.scoredCount;
  }

  /** The text of pairs `indices` (table positions), in that order. */
  pairs(indices: readonly number[]): Promise<Pair[]> {
    return this.read(indices.map((i) => this.record.data[i]));
  }
}

/** Reads records through the index, one read per run of consecutive records. */
async function readFromIndex(index: DatasetIndex, records: readonly number[]): Promise<Pair[]> {
  const byRecord = new Map<number, Pair>();
  const sorted = [...new Set(records)].sort((x, y) => x - y);
  for (let start = 0; start < sorted.length; ) {
    let end = start + 1;
    while (end < sorted.length && sorted[end] === sorted[end - 1] + 1) end++;
    for (const entry of await index.pairs(sorted[start], sorted[end - 1] + 1)) {
      // The table holds only records that read as pairs; one failing now means the file changed.
      if (!('pair' in entry)) throw new Error(`line ${entry.malformed.line} changed on disk: ${entry.malformed.error}`);
      byRecord.set(entry.index, entry.pair);
    }
    start = end;
  }
  return records.map((r) => byRecord.get(r)!);
}
