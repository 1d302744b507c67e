/**
 * The records of a Parquet file (as Hugging Face publishes datasets: `data/train-00000-of-00001.parquet`),
 * one row group at a time: a group is read and decompressed (snappy, zstd, gzip, brotli, lz4), its
 * rows become records and are handed on, and the group is let go before the next is read. Memory
 * therefore follows the largest row group, not the file; the index of a row is its record number and
 * its 1-based row number stands for the "line" in reports and errors. Nested columns (TRL's
 * `chosen: [{role, content}]`) come back as the same objects and lists JSON would give, so format
 * detection and reading are the JSONL records' own (./formats).
 */
import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import type { AsyncBuffer, FileMetaData } from 'hyparquet' with { 'resolution-mode': 'import' };
import { IndexError, type IndexProgress } from './lineIndex';

/**
 * hyparquet is an ES module and this code is compiled as CommonJS: it is loaded by a dynamic import
 * (which the bundler inlines), once, when a Parquet file is first read.
 */
const library = async () => {
  const [hyparquet, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  return { ...hyparquet, compressors };
};

const MAGIC = Buffer.from('PAR1');

/** Whether the file starts with Parquet's magic bytes (its name is not trusted, as for gzip). */
export async function isParquetFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return bytesRead === 4 && head.equals(MAGIC);
  } finally {
    await handle.close();
  }
}

/** One row as a record, or why it cannot be one; `line` is the 1-based row number. */
export type ParquetRow = { index: number; line: number; record: Record<string, unknown> } | { index: number; line: number; error: string };

export interface ParquetReadOptions {
  signal?: AbortSignal;
  onProgress?: (progress: IndexProgress) => void;
}

/** The file's metadata (schema, row groups), read from its footer; a damaged file is an {@link IndexError}. */
async function metadataOf(file: string) {
  const { asyncBufferFromFile, parquetMetadataAsync } = await library();
  const buffer = await asyncBufferFromFile(file);
  // The footer ends with the magic bytes too: a file cut short (an interrupted download) lacks them.
  if (buffer.byteLength < 12) throw new IndexError(`not a readable Parquet file: only ${buffer.byteLength} bytes; it looks cut short`);
  const tail = Buffer.from(await buffer.slice(buffer.byteLength - 4));
  if (!tail.equals(MAGIC)) {
    throw new IndexError('not a readable Parquet file: it does not end with Parquet\'s footer ("PAR1"); it looks cut short (an interrupted download or copy?)');
  }
  try {
    return { buffer, metadata: await parquetMetadataAsync(buffer) };
  } catch (error) {
    throw new IndexError(`not a readable Parquet file: its footer is damaged (${(error as Error).message})`);
  }
}

/** Rows of the file in order, a row group at a time; see the file's comment. */
export async function* parquetRows(file: string, options: ParquetReadOptions = {}): AsyncGenerator<ParquetRow> {
  const { buffer, metadata } = await metadataOf(file);
  const totalBytes = buffer.byteLength;
  const rows = Number(metadata.num_rows);
  let rowStart = 0;
  let bytesRead = 0;
  for (const group of metadata.row_groups) {
    options.signal?.throwIfAborted();
    const rowEnd = rowStart + Number(group.num_rows);
    const objects = await readGroup(buffer, metadata, rowStart, rowEnd);
    bytesRead += groupBytes(group);
    for (let k = 0; k < objects.length; k++) {
      const index = rowStart + k;
      yield toRecord(objects[k], index);
    }
    rowStart = rowEnd;
    options.onProgress?.({ bytesIndexed: Math.min(bytesRead, totalBytes), totalBytes, records: rowStart });
  }
  if (rowStart !== rows) throw new IndexError(`not a readable Parquet file: its row groups hold ${rowStart} rows, its footer says ${rows}`);
  options.onProgress?.({ bytesIndexed: totalBytes, totalBytes, records: rowStart });
}

async function readGroup(buffer: AsyncBuffer, metadata: FileMetaData, rowStart: number, rowEnd: number) {
  const { parquetReadObjects, compressors } = await library();
  try {
    return await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd, compressors, utf8: true });
  } catch (error) {
    // Rows are numbered as reports number them (from 1).
    throw new IndexError(`rows ${rowStart + 1}–${rowEnd} cannot be read: the Parquet data is damaged or cut short (${(error as Error).message})`);
  }
}

/** Compressed bytes of a row group, for progress: the sum of its column chunks. */
function groupBytes(group: FileMetaData['row_groups'][number]): number {
  let bytes = 0;
  for (const column of group.columns) bytes += Number(column.meta_data?.total_compressed_size ?? 0);
  return bytes;
}

function toRecord(row: Record<string, unknown>, index: number): ParquetRow {
  const line = index + 1;
  try {
    return { index, line, record: toJsonValue(row, '') as Record<string, unknown> };
  } catch (error) {
    if (error instanceof ValueError) return { index, line, error: error.message };
    throw error;
  }
}

class ValueError extends Error {}

/**
 * A Parquet value as the JSON a JSONL copy of the row would hold, so that both read alike:
 * - a null struct field is left out: a Parquet schema is the union of every row's fields, and a
 *   field another row has is null here where the JSONL record simply did not have it;
 * - 64-bit integers become numbers (strings beyond 2^53, which a number would round);
 * - dates and timestamps become ISO strings; binary that is UTF-8 text becomes that text.
 */
function toJsonValue(value: unknown, path: string): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) {
    if (isUtf8(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
    throw new ValueError(`column "${path}" holds binary data that is not UTF-8 text`);
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return Array.from(value as ArrayLike<unknown>, (item, k) => {
      const converted = toJsonValue(item, `${path}[${k}]`);
      return converted;
    });
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === null || item === undefined) continue;
      out[key] = toJsonValue(item, path ? `${path}.${key}` : key);
    }
    return out;
  }
  return value;
}

/** The first `count` rows (for format detection), reading no more row groups than they need. */
export async function firstParquetRows(file: string, count: number, signal?: AbortSignal): Promise<ParquetRow[]> {
  const rows: ParquetRow[] = [];
  const iterator = parquetRows(file, { signal });
  try {
    for await (const row of iterator) {
      rows.push(row);
      if (rows.length >= count) break;
    }
  } finally {
    await iterator.return(undefined);
  }
  return rows;
}
