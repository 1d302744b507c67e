// The CLI's front-to-back reading (src/cli/streamedDataset.ts): batches in file order, the column
// table, and text read back from the file, for plain and gzip-compressed files alike.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pairKeys } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';
import { openSource, readSource, type PairInFile } from '../../src/cli/streamedDataset';

const fixture = (name: string) => path.resolve(__dirname, '..', 'fixtures', 'formats', name);

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plens-streamed-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('readSource', () => {
  it('hands pairs over in file order, a batch at a time, and keeps what loadDataset reads as columns', async () => {
    // 30 pairs and a bad line in the middle, read 7 at a time, plain and gzip-compressed.
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt: `p${i}`, chosen: `c${i}`, rejected: i === 4 ? `c${i}` : `r${i}` }));
    lines.splice(10, 0, '{"broken');
    const plain = path.join(dir, 'thirty.jsonl');
    await writeFile(plain, lines.join('\n') + '\n');
    const gz = path.join(dir, 'thirty.jsonl.gz');
    await writeFile(gz, gzipSync(await readFile(plain)));
    const expected = await loadDataset(plain);
    for (const file of [plain, gz]) {
      const batches: PairInFile[][] = [];
      const malformed: number[] = [];
      const read = await readSource(await openSource(file, undefined), {
        table: true,
        batchSize: 7,
        onBatch: async (batch) => void batches.push(batch),
        onMalformed: (bad) => malformed.push(bad.line),
      });
      assert.deepEqual(
        batches.map((b) => b.length),
        [7, 7, 7, 7, 2],
      );
      assert.deepEqual(
        batches.flat().map((b) => b.index),
        Array.from({ length: 30 }, (_, i) => i),
      );
      assert.deepEqual(
        batches.flat().map((b) => b.pair),
        expected.pairs,
      );
      assert.deepEqual(malformed, [11]);
      assert.equal(read.pairs, 30);
      assert.deepEqual(read.labels, { a: 30, b: 0, tie: 0, none: 0 });
      const { table } = read;
      assert.equal(table.count, 30);
      assert.deepEqual(table.keys, pairKeys(expected.pairs));
      assert.equal(table.line(10), 12);
      assert.equal(table.identical(4), true);
      assert.equal(table.identical(5), false);
      // Text is not kept: it is read back from the file, in the order asked.
      assert.deepEqual(await table.pairs([29, 0, 10]), [expected.pairs[29], expected.pairs[0], expected.pairs[10]]);
    }
  });

  it('openSource fails before any scoring when no record fits, naming the first', async () => {
    await assert.rejects(openSource(fixture('hh-rlhf.jsonl'), 'llmbar'), /none of its 6 records fits --format llmbar \(line 1:/);
  });
});
