/**
 * Writes the committed Parquet fixtures (test/fixtures/formats/*.parquet) from their JSONL sources
 * with DuckDB, so that the Parquet tests run without ../shared. Run: node --import tsx scripts/make-parquet-fixtures.ts
 */
import path from 'node:path';
import { writeParquet } from '../test/support/duckdb';

const dir = path.resolve(__dirname, '..', 'test', 'fixtures', 'formats');

async function main() {
  await writeParquet(path.join(dir, 'trl-conversational-multi.jsonl'), path.join(dir, 'trl-conversational.snappy.parquet'), { compression: 'snappy', rowGroupSize: 2 });
  await writeParquet(path.join(dir, 'helpsteer3.jsonl'), path.join(dir, 'helpsteer3.zstd.parquet'), { compression: 'zstd', rowGroupSize: 2 });
}

void main();
