/**
 * Parquet files written by a second, independent implementation (DuckDB), so that tests of the
 * Parquet reader do not check hyparquet against itself. DuckDB reads the JSON itself, as a user
 * converting a dataset would (`COPY (SELECT * FROM read_json_auto(...)) TO ... (FORMAT parquet)`).
 */
import { DuckDBInstance } from '@duckdb/node-api';

export interface ParquetOptions {
  compression: 'snappy' | 'zstd' | 'gzip' | 'brotli' | 'lz4' | 'uncompressed';
  /** Rows a row group (DuckDB writes at least 2048, its vector size, to a group but the last). */
  rowGroupSize?: number;
}

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** Writes `json` (JSONL or a JSON array) as Parquet to `out`; resolves to the number of row groups written. */
export async function writeParquet(json: string, out: string, options: ParquetOptions): Promise<number> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    // One thread keeps the rows in the file's order.
    await connection.run('SET threads = 1');
    const rowGroup = options.rowGroupSize ? `, ROW_GROUP_SIZE ${options.rowGroupSize}` : '';
    await connection.run(`COPY (SELECT * FROM read_json_auto(${quote(json)})) TO ${quote(out)} (FORMAT parquet, COMPRESSION ${options.compression}${rowGroup})`);
    const groups = await connection.runAndReadAll(`SELECT count(DISTINCT row_group_id)::INTEGER FROM parquet_metadata(${quote(out)})`);
    return Number(groups.getRows()[0][0]);
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** A Parquet file's rows as DuckDB reads them (JSON values), and each column's type as DuckDB names it. */
export async function readParquet(file: string): Promise<{ rows: Record<string, unknown>[]; types: Record<string, string> }> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const rows = (await connection.runAndReadAll(`SELECT * FROM read_parquet(${quote(file)})`)).getRowObjectsJson() as Record<string, unknown>[];
    const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quote(file)})`)).getRowObjectsJson() as { column_name: string; column_type: string }[];
    return { rows, types: Object.fromEntries(described.map((column) => [column.column_name, column.column_type])) };
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** How many row groups a Parquet file has, as DuckDB reads its footer. */
export async function rowGroups(file: string): Promise<number> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const groups = await connection.runAndReadAll(`SELECT count(DISTINCT row_group_id)::INTEGER FROM parquet_metadata(${quote(file)})`);
    return Number(groups.getRows()[0][0]);
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}
