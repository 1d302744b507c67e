/**
 * The CLI's way through a dataset: front to back, once, in bounded memory, as export reads it. What
 * is kept of each pair is the column table's few dozen bytes (label, lengths, content key, scores);
 * the text is read in batches, handed to whoever needs it (scoring), and let go. Text wanted later
 * (the prompts of the top disagreements) is read again from the file by record index. Plain and
 * gzip-compressed files alike (see core/byteSource).
 */
import { DatasetStream, detectStreamFormat, type LabelCounts } from '../core/dataset';
import type { PreferenceFormat } from '../core/formats';
import type { IndexProgress } from '../core/lineIndex';
import type { Malformed, Pair } from '../core/pair';
import { PairTable } from '../core/pairTable';
import { requirePairs } from './requirePairs';

/** A dataset file whose format is known and which holds at least one pair. */
export interface DatasetSource {
  file: string;
  format: PreferenceFormat;
}

/**
 * Detects the format (or takes the one named) and makes sure the file holds a pair, reading only
 * as far as the first pair: a file none of whose records fits fails here, before a model is loaded.
 */
export async function openSource(file: string, forcedFormat: string | undefined, signal?: AbortSignal): Promise<DatasetSource> {
  const format = await detectStreamFormat(file, { format: forcedFormat, signal });
  const malformed: Malformed[] = [];
  for await (const entry of new DatasetStream(file, format, { signal })) {
    if ('pair' in entry) return { file, format };
    malformed.push(entry.malformed);
  }
  requirePairs({ file, format, pairs: 0, malformed }, forcedFormat);
  return { file, format };
}

/** A pair read from the file: its position in the table (among the file's pairs) and its record index. */
export interface PairInFile {
  index: number;
  record: number;
  pair: Pair;
}

export interface ReadOptions {
  /** Keep the column table (score, review); `inspect` only counts. */
  table?: boolean;
  /** Pairs in file order, `batchSize` at a time; awaited before reading on, so at most one batch of text is held. */
  onBatch?: (batch: PairInFile[], table: PairTable, progress: IndexProgress) => Promise<void>;
  batchSize?: number;
  onMalformed?: (bad: Malformed) => void;
  signal?: AbortSignal;
}

export interface ReadResult extends DatasetSource {
  pairs: number;
  labels: LabelCounts;
  malformed: Malformed[];
  table: PairTable;
}

/** Reads the whole file once; see {@link ReadOptions}. */
export async function readSource(source: DatasetSource, options: ReadOptions = {}): Promise<ReadResult> {
  const { file, format } = source;
  const table = PairTable.streamed((records) => readRecords(source, records, options.signal));
  const labels: LabelCounts = { a: 0, b: 0, tie: 0, none: 0 };
  const malformed: Malformed[] = [];
  const batchSize = options.batchSize ?? 256;
  let batch: PairInFile[] = [];
  let progress: IndexProgress = { bytesIndexed: 0, totalBytes: 0, records: 0 };
  let pairs = 0;
  for await (const entry of new DatasetStream(file, format, { signal: options.signal, onProgress: (p) => (progress = p) })) {
    if (!('pair' in entry)) {
      malformed.push(entry.malformed);
      options.onMalformed?.(entry.malformed);
      continue;
    }
    labels[entry.pair.label ?? 'none']++;
    if (options.table) table.append(entry.index, entry.pair);
    if (options.onBatch) {
      batch.push({ index: pairs, record: entry.index, pair: entry.pair });
      if (batch.length >= batchSize) {
        await options.onBatch(batch, table, progress);
        batch = [];
      }
    }
    pairs++;
  }
  if (batch.length) await options.onBatch!(batch, table, progress);
  table.malformed.push(...malformed);
  table.complete = true;
  return { file, format, pairs, labels, malformed, table };
}

/** The pairs of records `records`, read again from the file, front to back up to the last one wanted. */
async function readRecords({ file, format }: DatasetSource, records: readonly number[], signal?: AbortSignal): Promise<Pair[]> {
  const wanted = new Set(records);
  const found = new Map<number, Pair>();
  if (wanted.size) {
    for await (const entry of new DatasetStream(file, format, { signal })) {
      if (!wanted.has(entry.index)) continue;
      // The table holds only records that read as pairs; one failing now means the file changed.
      if (!('pair' in entry)) throw new Error(`${file}:${entry.malformed.line} changed on disk: ${entry.malformed.error}`);
      found.set(entry.index, entry.pair);
      if (found.size === wanted.size) break;
    }
  }
  return records.map((record) => {
    const pair = found.get(record);
    if (!pair) throw new Error(`${file} changed on disk: record ${record + 1} is gone`);
    return pair;
  });
}
