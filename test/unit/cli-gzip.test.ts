// gzip-compressed datasets (`.jsonl.gz`, `.json.gz`, as Hugging Face ships HH-RLHF), read by plens as
// they are: the same inspect counts, scores, review and export as the uncompressed original.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetError, openDatasetIndex } from '../../src/core/dataset';
import { cliScratch, type PlensRun as Run } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'formats', name);
const shared = path.resolve(repoRoot, '..', 'shared', 'data');

// The real files where ../shared/data is there, the fixtures always.
const ORIGINALS = [
  fixture('hh-rlhf.jsonl'),
  fixture('pandalm.json'),
  path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl'),
  path.join(shared, 'pandalm-testset-v1', 'testset-v1.json'),
].filter((file) => existsSync(file));

const scratch = cliScratch('plens-gzip-');
const { plens } = scratch;
const gzipped = new Map<string, string>();
before(async () => {
  for (const original of ORIGINALS) {
    const gz = path.join(scratch.dir, `${path.basename(path.dirname(original))}-${path.basename(original)}.gz`);
    await writeFile(gz, gzipSync(await readFile(original)));
    gzipped.set(original, gz);
  }
});

const withoutFile = (stdout: string) => {
  const { file: _file, ...rest } = JSON.parse(stdout);
  return rest;
};

describe('plens reads gzip-compressed datasets', () => {
  it('inspect gives the counts of the uncompressed original', async () => {
    for (const [original, gz] of gzipped) {
      const [plain, compressed] = await Promise.all([plens('inspect', original), plens('inspect', gz)]);
      assert.equal(compressed.code, 0, compressed.stderr);
      assert.deepEqual(withoutFile(compressed.stdout), withoutFile(plain.stdout), gz);
      assert.ok(withoutFile(compressed.stdout).pairs > 0);
    }
  });

  it('score gives the same score lines and figures; review takes those scores for the compressed file', async () => {
    for (const [original, gz] of gzipped) {
      const [plainOut, gzOut] = [scratch.file('plain.jsonl'), scratch.file('gz.jsonl')];
      const plain = await plens('score', original, '--out', plainOut);
      const compressed = await plens('score', gz, '--out', gzOut);
      assert.equal(compressed.code, 0, compressed.stderr);
      assert.equal(await readFile(gzOut, 'utf8'), await readFile(plainOut, 'utf8'), gz);
      const figures = (run: Run) => {
        const { seconds: _s, tokens_per_second: _t, time: _time, cached: _c, model_calls: _m, ...rest } = JSON.parse(run.stdout);
        return rest;
      };
      assert.deepEqual(figures(compressed), figures(plain));
      const review = await plens('review', gz, '--scores', plainOut);
      assert.equal(review.code, 0, review.stderr);
      assert.equal(JSON.parse(review.stdout).scored, JSON.parse(plain.stdout).scored);
    }
  });

  it('export writes what it writes for the original', async () => {
    for (const [original, gz] of gzipped) {
      const [plainOut, gzOut] = [scratch.file('plain.jsonl'), scratch.file('gz.jsonl')];
      const sidecar = scratch.file('empty.jsonl');
      await writeFile(sidecar, '{"plens":"annotations","version":1}\n');
      const plain = await plens('export', original, '--out', plainOut, '--annotations', sidecar);
      const compressed = await plens('export', gz, '--out', gzOut, '--annotations', sidecar);
      assert.equal(compressed.code, 0, compressed.stderr);
      assert.ok((await readFile(gzOut)).equals(await readFile(plainOut)), gz);
      assert.deepEqual(withoutFile(compressed.stdout).written, withoutFile(plain.stdout).written);
    }
  });

  it('recognises gzip by its bytes, not its name, and says so when the data is damaged', async () => {
    const gz = gzipped.get(fixture('hh-rlhf.jsonl'))!;
    const renamed = path.join(scratch.dir, 'no-suffix.jsonl');
    await copyFile(gz, renamed);
    assert.equal((await plens('inspect', renamed)).code, 0);
    const cut = path.join(scratch.dir, 'cut.jsonl.gz');
    const bytes = await readFile(gz);
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const run = await plens('inspect', cut);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cut\.jsonl\.gz: the gzip data is damaged or cut short/);
    assert.doesNotMatch(run.stderr, /valid JSON/);
  });

  it('the editor\'s index reads the compressed file: the same records, pairs, lines and malformed records as the original', async () => {
    for (const [original, gz] of gzipped) {
      const [plain, compressed] = [await openDatasetIndex(original), await openDatasetIndex(gz)];
      try {
        assert.equal(await compressed.done, await plain.done, gz);
        assert.equal(compressed.format.name, plain.format.name);
        assert.deepEqual(await compressed.pairs(0, compressed.count), await plain.pairs(0, plain.count), gz);
      } finally {
        await Promise.all([plain.close(), compressed.close()]);
      }
    }
  });

  it('the editor\'s index unpacks into a temporary copy, not memory, and deletes it on close; the dataset is only read', async () => {
    const gz = gzipped.get(fixture('hh-rlhf.jsonl'))!;
    const before = await readFile(gz);
    const temporary = path.join(scratch.dir, 'tmp');
    await mkdir(temporary, { recursive: true });
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = temporary;
    try {
      const index = await openDatasetIndex(gz);
      const copies = await readdir(temporary);
      assert.equal(copies.length, 1, `one unpacked copy: ${copies}`);
      assert.deepEqual(await readFile(path.join(temporary, copies[0], path.basename(gz, '.gz'))), await readFile(fixture('hh-rlhf.jsonl')), 'the copy is the inflated file');
      await index.close();
      assert.deepEqual(await readdir(temporary), [], 'closing the index deletes the copy');
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    assert.ok((await readFile(gz)).equals(before));
  });

  it('the editor\'s index says where the gzip data of a damaged file ends', async () => {
    const bytes = await readFile(gzipped.get(fixture('hh-rlhf.jsonl'))!);
    const cut = path.join(scratch.dir, 'editor-cut.jsonl.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(openDatasetIndex(cut), (error: Error) => error instanceof DatasetError && /editor-cut\.jsonl\.gz: the gzip data is damaged or cut short/.test(error.message));
  });

  it('export --in-place refuses a compressed file, leaving it as it is', async () => {
    const gz = path.join(scratch.dir, 'in-place.jsonl.gz');
    await copyFile(gzipped.get(fixture('hh-rlhf.jsonl'))!, gz);
    const before = await readFile(gz);
    const run = await plens('export', gz, '--in-place');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /gzip-compressed and cannot be changed in place/);
    assert.ok((await readFile(gz)).equals(before));
  });
});
