// Parquet datasets (as Hugging Face publishes them), read by plens as they are: the same inspect
// counts, scores and records as the JSON original they were converted from. The Parquet files are
// written by DuckDB, an implementation independent of the reader (hyparquet), with snappy and zstd.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetError, loadDataset, openDatasetIndex } from '../../src/core/dataset';
import { suggestedOut } from '../../src/core/export';
import { readParquet, rowGroups, writeParquet } from '../support/duckdb';
import { cliScratch, type PlensRun as Run } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'formats', name);
const shared = path.resolve(repoRoot, '..', 'shared', 'data');

// Shared datasets: JSONL (line = row number) and JSON arrays (line = where the element starts).
const SHARED = [
  path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl'),
  path.join(shared, 'llama-factory-dpo-demo', 'v1_dpo_demo.jsonl'),
  path.join(shared, 'llama-factory-dpo-demo', 'dpo_en_demo.json'),
  path.join(shared, 'pandalm-testset-v1', 'testset-v1.json'),
];
const sharedPresent = SHARED.filter((file) => existsSync(file));
const skipShared = sharedPresent.length ? false : `${shared} is absent: the Parquet copies of the shared datasets are not checked (the committed fixtures are)`;

// The committed fixtures, each with the JSONL it was written from (scripts/make-parquet-fixtures.ts).
const COMMITTED: [parquet: string, source: string][] = [
  [fixture('trl-conversational.snappy.parquet'), fixture('trl-conversational-multi.jsonl')],
  [fixture('helpsteer3.zstd.parquet'), fixture('helpsteer3.jsonl')],
];

/** The nested-message fixture in every compression DuckDB writes (its lz4 is LZ4_RAW), made at test time. */
const COMPRESSIONS = ['snappy', 'gzip', 'zstd', 'brotli', 'lz4', 'uncompressed'] as const;
const converted: [parquet: string, source: string][] = [];

const scratch = cliScratch('plens-parquet-');
const { plens } = scratch;
/** Each shared original with its copies: Parquet (snappy, zstd; row groups of 2048 rows) and gzip. */
const copies = new Map<string, string[]>();
let mostRowGroups = 0;
before(async () => {
  for (const compression of COMPRESSIONS) {
    const out = path.join(scratch.dir, `trl.${compression}.parquet`);
    await writeParquet(COMMITTED[0][1], out, { compression });
    converted.push([out, COMMITTED[0][1]]);
  }
  for (const original of sharedPresent) {
    const base = path.join(scratch.dir, path.basename(original));
    const files: string[] = [];
    for (const compression of ['snappy', 'zstd'] as const) {
      const out = `${base}.${compression}.parquet`;
      mostRowGroups = Math.max(mostRowGroups, await writeParquet(original, out, { compression, rowGroupSize: 2048 }));
      files.push(out);
    }
    await writeFile(`${base}.gz`, gzipSync(await readFile(original)));
    files.push(`${base}.gz`);
    copies.set(original, files);
  }
});

const withoutFile = (stdout: string) => {
  const { file: _file, ...rest } = JSON.parse(stdout);
  return rest;
};
const isJsonl = (file: string) => file.endsWith('.jsonl');
const lines = (text: string) => text.split('\n').filter((line) => line.trim());

/** Score rows; for a JSON array the line is where the element starts, in Parquet its row number: compared apart. */
function scoreRows(text: string, keepLine: boolean) {
  return lines(text).map((line) => {
    const { line: at, ...rest } = JSON.parse(line);
    return keepLine ? { line: at, ...rest } : rest;
  });
}

describe('plens reads Parquet datasets', () => {
  it('inspect gives the counts of the JSON original, for snappy and zstd Parquet and for gzip', { skip: skipShared }, async () => {
    for (const [original, files] of copies) {
      const plain = await plens('inspect', original);
      assert.equal(plain.code, 0, plain.stderr);
      for (const file of files) {
        const run = await plens('inspect', file);
        assert.equal(run.code, 0, `${file}: ${run.stderr}`);
        assert.deepEqual(withoutFile(run.stdout), withoutFile(plain.stdout), file);
      }
      assert.ok(withoutFile(plain.stdout).pairs > 0);
    }
    // HH-RLHF's 2354 rows take two row groups: rows are read on across a group's end.
    if (copies.has(SHARED[0])) assert.ok(mostRowGroups >= 2, `row groups: ${mostRowGroups}`);
  });

  it('score (the bundled baseline) gives the same rewards, verdicts and content keys as for the original', { skip: skipShared }, async () => {
    for (const [original, files] of copies) {
      const plainOut = scratch.file('plain.jsonl');
      const plain = await plens('score', original, '--out', plainOut);
      assert.equal(plain.code, 0, plain.stderr);
      const expected = await readFile(plainOut, 'utf8');
      for (const file of files) {
        const out = scratch.file('copy.jsonl');
        const run = await plens('score', file, '--out', out);
        assert.equal(run.code, 0, `${file}: ${run.stderr}`);
        const got = await readFile(out, 'utf8');
        const parquet = file.endsWith('.parquet');
        // A JSONL file's lines are its rows; a JSON array's copy numbers rows 1, 2, 3 … instead.
        assert.deepEqual(scoreRows(got, isJsonl(original) || !parquet), scoreRows(expected, isJsonl(original) || !parquet), file);
        if (parquet) assert.deepEqual(scoreRows(got, true).map((row) => row.line), scoreRows(got, true).map((_, k) => k + 1));
        const figures = (r: Run) => {
          const { seconds: _s, tokens_per_second: _t, time: _time, cached: _c, model_calls: _m, ...rest } = JSON.parse(r.stdout);
          return rest;
        };
        assert.deepEqual(figures(run), figures(plain), file);
      }
    }
  });

  it('reads nested message lists (TRL conversational) and integer labels as the JSONL source has them, in every compression', async () => {
    for (const [parquet, source] of [...COMMITTED, ...converted]) {
      const [fromParquet, fromSource] = [await plens('inspect', parquet), await plens('inspect', source)];
      assert.equal(fromParquet.code, 0, fromParquet.stderr);
      assert.deepEqual(withoutFile(fromParquet.stdout), withoutFile(fromSource.stdout), parquet);
      // Exported as JSONL, each row is the source's record: the same messages, roles and contents, in order.
      const sidecar = scratch.file('empty.jsonl');
      await writeFile(sidecar, '{"plens":"annotations","version":1}\n');
      const out = scratch.file('export.jsonl');
      const run = await plens('export', parquet, '--out', out, '--annotations', sidecar);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(lines(await readFile(out, 'utf8')).map((l) => JSON.parse(l)), lines(await readFile(source, 'utf8')).map((l) => JSON.parse(l)), parquet);
    }
    // The pairs themselves: prompt messages (system turn, earlier turns), responses, labels and lines.
    for (const [parquet, source] of COMMITTED) {
      const [fromParquet, fromSource] = [await loadDataset(parquet), await loadDataset(source)];
      assert.deepEqual(fromParquet.pairs, fromSource.pairs, parquet);
      assert.equal(fromParquet.format.name, fromSource.format.name);
    }
    const multiTurn = (await loadDataset(COMMITTED[0][0])).pairs[2];
    assert.deepEqual(multiTurn.prompt.map((m) => m.role), ['user', 'assistant', 'user']);
  });

  it('the same scores as the JSONL source for a committed fixture, labels a, b and tie included', async () => {
    const [parquet, source] = COMMITTED[1];
    const [a, b] = [scratch.file('p.jsonl'), scratch.file('s.jsonl')];
    assert.equal((await plens('score', parquet, '--out', a)).code, 0);
    assert.equal((await plens('score', source, '--out', b)).code, 0);
    const rows = scoreRows(await readFile(a, 'utf8'), true);
    assert.deepEqual(rows, scoreRows(await readFile(b, 'utf8'), true));
    assert.deepEqual(rows.map((r) => r.label), ['a', 'tie', 'b']);
  });

  it('a truncated Parquet file gets a clear error naming the file', async () => {
    const bytes = await readFile(fixture('trl-conversational.snappy.parquet'));
    const cut = path.join(scratch.dir, 'cut.parquet');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    for (const command of ['inspect', 'score', 'export']) {
      const run = await plens(command, cut, ...(command === 'export' ? ['--out', path.join(scratch.dir, 'never.jsonl')] : []));
      assert.equal(run.code, 1, command);
      assert.match(run.stderr, /cut\.parquet: not a readable Parquet file: .*cut short/, command);
    }
    assert.equal(existsSync(path.join(scratch.dir, 'never.jsonl')), false);
  });

  it('damaged data pages get a clear error naming the file and the rows', async () => {
    const bytes = Buffer.from(await readFile(fixture('trl-conversational.snappy.parquet')));
    // The first column chunk starts right after the leading magic: its page header becomes garbage.
    bytes.fill(0xff, 4, 40);
    const damaged = path.join(scratch.dir, 'damaged.parquet');
    await writeFile(damaged, bytes);
    const run = await plens('inspect', damaged);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /damaged\.parquet: rows 1–5 cannot be read: the Parquet data is damaged or cut short/);
  });

  it('a Parquet file whose rows fit no format says which fields it has', async () => {
    const json = path.join(scratch.dir, 'qa.jsonl');
    await writeFile(json, '{"question":"2+2?","answer":"4"}\n{"question":"3+3?","answer":"6"}\n');
    const parquet = path.join(scratch.dir, 'qa.parquet');
    await writeParquet(json, parquet, { compression: 'snappy' });
    const run = await plens('inspect', parquet);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /qa\.parquet: no known preference format fits \(first record's fields: question, answer\)/);
  });

  it('export --in-place refuses a Parquet file, leaving it as it is', async () => {
    const before = await readFile(fixture('helpsteer3.zstd.parquet'));
    const copy = path.join(scratch.dir, 'in-place.parquet');
    await writeFile(copy, before);
    const run = await plens('export', copy, '--in-place');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /is a Parquet file and cannot be changed in place/);
    assert.ok((await readFile(copy)).equals(before));
  });
  it("the editor's index reads a Parquet file: the pairs, lines and labels of its JSONL source", async () => {
    for (const [parquet, source] of COMMITTED) {
      const index = await openDatasetIndex(parquet);
      try {
        assert.equal(await index.done, 5 - (parquet.includes('helpsteer3') ? 2 : 0));
        const entries = await index.pairs(0, index.count);
        assert.deepEqual(entries.map((e) => ('pair' in e ? e.pair : e)), (await loadDataset(source)).pairs, parquet);
      } finally {
        await index.close();
      }
    }
    const bytes = await readFile(COMMITTED[0][0]);
    const cut = path.join(scratch.dir, 'editor-cut.parquet');
    await writeFile(cut, bytes.subarray(0, bytes.length - 10));
    await assert.rejects(openDatasetIndex(cut), (error: Error) => error instanceof DatasetError && /editor-cut\.parquet: not a readable Parquet file/.test(error.message));
  });

  it('a Parquet export is written a row group at a time, every row in order, and leaves no spool behind', async () => {
    // 25,000 pairs: three row groups of at most 10,000 rows.
    const records = (await loadDataset(fixture('hh-rlhf.jsonl'))).pairs.map((pair) => ({ chosen: `\n\nHuman: ${pair.prompt[0].content}\n\nAssistant: ${pair.a[0].content}`, rejected: `\n\nHuman: ${pair.prompt[0].content}\n\nAssistant: ${pair.b[0].content}` }));
    const many = Array.from({ length: 25_000 }, (_, i) => {
      const record = records[i % records.length];
      return JSON.stringify({ chosen: `${record.chosen} (${i})`, rejected: record.rejected });
    });
    const source = path.join(scratch.dir, 'many.jsonl');
    await writeFile(source, many.join('\n') + '\n');
    const spool = path.join(scratch.dir, 'spool');
    await mkdir(spool, { recursive: true });
    const out = path.join(scratch.dir, 'many.parquet');
    const run = await scratch.plensWith({ TMPDIR: spool }, 'export', source, '--out', out);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).written, 25_000);
    const { rows } = await readParquet(out);
    assert.equal(rows.length, 25_000);
    assert.deepEqual(rows.map((row) => row.chosen), many.map((line) => (JSON.parse(line) as { chosen: string }).chosen), 'every row, in the file order');
    assert.equal(await rowGroups(out), 3);
    assert.deepEqual(await readdir(spool), [], 'the spooled records are deleted');
  });

  it('an export is Parquet when named so, read back by DuckDB with the nested types, the same records as the JSONL export', async () => {
    assert.equal(suggestedOut('/d/train-00000.parquet', 'same'), '/d/train-00000.cleaned.parquet');
    assert.equal(suggestedOut('/d/test.jsonl.gz', 'same'), '/d/test.cleaned.jsonl');
    assert.equal(suggestedOut('/d/set.json.gz', 'same'), '/d/set.cleaned.json');
    assert.equal(suggestedOut('/d/set.json', 'trl-conversational'), '/d/set.cleaned.jsonl');
    assert.equal(suggestedOut('/d/set.json', 'same'), '/d/set.cleaned.json');
    assert.equal(suggestedOut('/d/train.parquet', 'trl-conversational'), '/d/train.cleaned.jsonl');
    for (const [source, to] of [[COMMITTED[0][0], 'same'], [fixture('hh-rlhf.jsonl'), 'trl-conversational']] as const) {
      const [asJsonl, asParquet] = [path.join(scratch.dir, 'export.jsonl'), path.join(scratch.dir, 'export.parquet')];
      for (const out of [asJsonl, asParquet]) {
        const run = await plens('export', source, '--to', to, '--out', out);
        assert.equal(run.code, 0, run.stderr);
      }
      const { rows, types } = await readParquet(asParquet);
      // A struct has every field any of its values has: a message without "name" reads back with name null.
      const withoutNulls = (value: unknown): unknown =>
        Array.isArray(value)
          ? value.map(withoutNulls)
          : value && typeof value === 'object'
            ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]))
            : value;
      assert.deepEqual(withoutNulls(rows), lines(await readFile(asJsonl, 'utf8')).map((line) => withoutNulls(JSON.parse(line))), `${source} → ${to}: DuckDB reads the records the JSONL export has`);
      // Message lists are lists of structs, as in Hugging Face's own files, not JSON text.
      assert.match(types.chosen, /^STRUCT\(("\w+" VARCHAR, )*"role" VARCHAR, "content" VARCHAR(, "\w+" VARCHAR)*\)\[\]$/, JSON.stringify(types));
      // And plens reads its own Parquet export as it reads the JSONL one.
      const [inspectJsonl, inspectParquet] = await Promise.all([plens('inspect', asJsonl), plens('inspect', asParquet)]);
      assert.deepEqual(withoutFile(inspectParquet.stdout), withoutFile(inspectJsonl.stdout));
    }
    const run = await plens('export', COMMITTED[0][0], '--out', path.join(scratch.dir, 'out.jsonl.gz'));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /out\.jsonl\.gz: an export is written as JSONL, a JSON array or Parquet, not compressed; name it \.jsonl, \.json or \.parquet/);
    assert.equal(existsSync(path.join(scratch.dir, 'out.jsonl.gz')), false);
  });
});
