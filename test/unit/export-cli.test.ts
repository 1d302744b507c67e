// `plens export` as a user runs it: the built CLI in a child process.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnnotationLog, pairKeys, sidecarPath } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';
import { cliPath as cli, runPlens } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'formats', name);

const plens = (...args: string[]) => runPlens(args);

let dir: string;
before(async () => {
  assert.equal(existsSync(cli), true, `${cli} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'plens-export-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A copy of an HH fixture with its sidecar: pair 1 relabelled B, pair 2 flagged, pair 3 reviewed. */
async function reviewedCopy(): Promise<string> {
  const file = path.join(dir, `hh-${Math.random().toString(36).slice(2)}.jsonl`);
  await copyFile(fixture('hh-rlhf.jsonl'), file);
  const dataset = await loadDataset(file);
  const keys = pairKeys(dataset.pairs);
  const log = AnnotationLog.empty();
  const at = '2025-01-01T00:00:00Z';
  log.record({ key: keys[0], line: 1, field: 'label', from: null, to: 'b', by: 'reviewer', at });
  log.record({ key: keys[1], line: 2, field: 'flagged', from: null, to: true, by: 'reviewer', at });
  log.record({ key: keys[2], line: 5, field: 'reviewed', from: null, to: true, by: 'reviewer', at });
  await log.save(sidecarPath(file));
  return file;
}

describe('plens export', () => {
  it('exports to TRL with the sidecar next to the file and prints the report', async () => {
    const file = await reviewedCopy();
    const out = path.join(dir, 'trl.jsonl');
    const run = await plens('export', file, '--to', 'trl-conversational', '--out', out, '--drop', 'flagged');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      file,
      out,
      to: 'trl-conversational',
      format: 'hh-rlhf',
      written: 3,
      dropped: { malformed: 2, flagged: 1 },
      relabelled: 1,
    });
    const first = JSON.parse((await readFile(out, 'utf8')).split('\n')[0]);
    assert.deepEqual(first.chosen, [{ role: 'assistant', content: 'A pinata is a party game.' }]);
  });

  it('drops unreviewed disagreements with scores from `plens score`, and needs them', async () => {
    const file = await reviewedCopy();
    const scores = path.join(dir, 'scores.jsonl');
    // The model prefers B everywhere: it agrees with the reviewer's B on line 1, disagrees with the
    // file's A on lines 2 and 7 (unreviewed: dropped) and on line 5 (reviewed: kept).
    const rows = [
      { line: 1, reward_a: 0, reward_b: 1 },
      { line: 2, reward_a: 0, reward_b: 1 },
      { line: 5, reward_a: 0, reward_b: 1 },
      { line: 7, reward_a: 0, reward_b: 1 },
      { pairs: 4, scored: 4 },
    ];
    await writeFile(scores, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const out = path.join(dir, 'same.jsonl');
    const run = await plens('export', file, '--out', out, '--drop', 'unreviewed-disagreements', '--scores', scores);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.to, 'same');
    assert.deepEqual(report.dropped, { malformed: 2, 'unreviewed-disagreements': 2 });
    assert.equal(report.unscored, 0);

    const missing = await plens('export', file, '--out', out, '--drop', 'unreviewed-disagreements');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^plens: .*needs the reward model's scores/);
  });

  it('--in-place rewrites the changed record, keeps the rest, and moves the annotations along', async () => {
    const file = await reviewedCopy();
    const original = await readFile(file);
    const run = await plens('export', file, '--in-place');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { file, format: 'hh-rlhf', relabelled: 1, unapplied: {}, rekeyed: 1 });
    const now = await readFile(file);
    const firstLineEnd = (bytes: Buffer) => bytes.indexOf('\r\n');
    assert.deepEqual(now.subarray(firstLineEnd(now)), original.subarray(firstLineEnd(original)));
    const dataset = await loadDataset(file);
    assert.equal(dataset.pairs[0].a[0].content, 'A pinata is a party game.');
    const log = await AnnotationLog.load(sidecarPath(file));
    assert.deepEqual(
      pairKeys(dataset.pairs).map((key) => log.get(key)),
      [{ label: 'a' }, { flagged: true }, { reviewed: true }, undefined],
    );
  });

  it('refuses what it cannot do with a one-line reason', async () => {
    const file = await reviewedCopy();
    for (const [args, reason] of [
      [['--to', 'trl-standard'], /needs --out/],
      [['--out', file], /is the dataset itself/],
      [['--out', path.join(dir, 'x.jsonl'), '--to', 'csv'], /--to should be one of same, trl-conversational, trl-standard/],
      [['--out', path.join(dir, 'x.jsonl'), '--drop', 'flagged,long'], /--drop should be one of/],
      [['--in-place', '--out', path.join(dir, 'x.jsonl')], /--in-place .* takes no --out/],
      [['--out', path.join(dir, 'x.jsonl'), '--annotations', path.join(dir, 'nope.jsonl')], /--annotations: .*nope\.jsonl does not exist/],
    ] as const) {
      const run = await plens('export', file, ...args);
      assert.equal(run.code, 1, args.join(' '));
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, reason);
    }
  });
  it('--format that fits none of the records exits non-zero, names the file and line, and writes nothing', async () => {
    const file = await reviewedCopy();
    const before = await readFile(file);
    // An earlier export at --out stays as it was.
    const out = path.join(dir, 'earlier.jsonl');
    await writeFile(out, 'earlier\n');
    const run = await plens('export', file, '--format', 'helpsteer3', '--out', out);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, new RegExp(`${path.basename(file)}: none of its 6 records fits --format helpsteer3 \\(line 1: does not fit helpsteer3: .*\\); nothing was written; leave out --format`));
    assert.equal(await readFile(out, 'utf8'), 'earlier\n');
    const inPlace = await plens('export', file, '--format', 'helpsteer3', '--in-place');
    assert.equal(inPlace.code, 1);
    assert.match(inPlace.stderr, /none of its 6 records fits --format helpsteer3/);
    assert.ok((await readFile(file)).equals(before));
  });
});
