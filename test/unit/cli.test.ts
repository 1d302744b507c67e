// The plens contract, run as a user runs it: the built CLI in a child process.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pairKeys } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';
import { cliScratch, type PlensRun as Run } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'formats', name);

const scratch = cliScratch('plens-cli-');
const { plens } = scratch;

describe('plens inspect', () => {
  it('prints format, pair count, label counts and malformed lines as one JSON object', async () => {
    const run = await plens('inspect', fixture('hh-rlhf.jsonl'));
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const report = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(report), ['file', 'format', 'pairs', 'labels', 'malformed']);
    assert.equal(report.format, 'hh-rlhf');
    assert.equal(report.pairs, 4);
    assert.deepEqual(report.labels, { a: 4, b: 0, tie: 0, none: 0 });
    assert.deepEqual(
      report.malformed.map((m: { line: number }) => m.line),
      [4, 6],
    );
  });

  it('counts ties', async () => {
    const report = JSON.parse((await plens('inspect', fixture('pandalm.json'))).stdout);
    assert.deepEqual(report.labels, { a: 1, b: 0, tie: 2, none: 0 });
  });

  it('fails with a one-line reason when the file cannot be read or no format fits', async () => {
    for (const [file, reason] of [
      [path.join(scratch.dir, 'missing.jsonl'), /missing\.jsonl: cannot read the file/],
      [fixture('unknown.jsonl'), /no known preference format fits/],
      [fixture('kto-unpaired.jsonl'), /unpaired \(KTO-style\)/],
    ] as const) {
      const run = await plens('inspect', file);
      assert.notEqual(run.code, 0, file);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, reason);
    }
  });
});

describe('plens score', () => {
  it('writes one line per pair in file order and a summary that agrees with them', async () => {
    const out = path.join(scratch.dir, 'scores.jsonl');
    const run = await plens('score', fixture('hh-rlhf.jsonl'), '--out', out);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /:4: skipped: invalid JSON/);
    const rows = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((r) => r.line),
      [1, 2, 5, 7],
    );
    for (const row of rows) {
      assert.deepEqual(Object.keys(row), ['line', 'reward_a', 'reward_b', 'margin', 'prefers', 'label', 'agrees', 'key']);
      assert.equal(row.margin, row.reward_a - row.reward_b);
      if (row.line === 5) continue;
      assert.equal(row.prefers, row.margin > 0 ? 'a' : row.margin < 0 ? 'b' : 'tie');
      assert.equal(row.agrees, row.prefers === row.label);
    }
    // Line 5 has identical responses: a verdict of its own, neither agreeing nor disagreeing with the label.
    assert.equal(rows[2].reward_a, rows[2].reward_b);
    assert.equal(rows[2].prefers, 'identical');
    assert.equal(rows[2].agrees, null);

    const summary = JSON.parse(run.stdout.trim());
    assert.equal(summary.pairs, 4);
    assert.equal(summary.scored, 4);
    assert.equal(summary.identical, 1);
    assert.equal(summary.disagreements, rows.filter((r) => r.agrees === false).length);
    assert.equal(summary.agreement, rows.filter((r) => r.agrees).length / 3);
    assert.equal(summary.device, 'cpu');
    assert.ok(summary.tokens_per_second > 0);
    assert.equal(summary.cached, 0);
    for (const key of ['pairs', 'scored', 'agreement', 'disagreements', 'device', 'seconds', 'tokens_per_second']) assert.ok(key in summary, key);
  });

  it('re-scoring with the same cache runs no model and gives the same scores', async () => {
    const cacheDir = path.join(scratch.dir, 'shared-cache');
    const first = await plens('score', fixture('pandalm.json'), '--cache-dir', cacheDir);
    const second = await plens('score', fixture('pandalm.json'), '--cache-dir', cacheDir);
    const rows = (run: Run) => run.stdout.trim().split('\n').slice(0, -1);
    assert.deepEqual(rows(second), rows(first));
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.cached, 6);
    assert.equal(summary.model_calls, 0);
  });

  it('without --out prints the pair lines, then the summary last', async () => {
    const run = await plens('score', fixture('pandalm.json'));
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 4);
    assert.deepEqual(
      lines.slice(0, 3).map((r) => r.label),
      ['a', 'tie', 'tie'],
    );
    assert.equal(lines[3].pairs, 3);
  });

  it('fails clearly on a model folder that is not one', async () => {
    const run = await plens('score', fixture('pandalm.json'), '--model', scratch.dir);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /^plens: No model\.safetensors, model\.safetensors\.index\.json or model\.onnx in .*optimum-cli export onnx/);
    assert.equal(run.stderr.trim().split('\n').length, 1);
  });
});

describe('plens review', () => {
  it('reports the agreement plens score reported, calibration, length bias and the top disagreements', async () => {
    const out = path.join(scratch.dir, 'review-scores.jsonl');
    const scored = await plens('score', fixture('hh-rlhf.jsonl'), '--out', out);
    const summary = JSON.parse(scored.stdout.trim());
    const run = await plens('review', fixture('hh-rlhf.jsonl'), '--scores', out, '--top', '1');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.agreement, summary.agreement);
    assert.equal(report.disagreements, summary.disagreements);
    // The pair with identical responses (line 5) is scored but in no calibration bin: it has no verdict.
    assert.equal(report.calibration.reduce((n: number, b: { pairs: number }) => n + b.pairs, 0), 3);
    assert.equal(report.identical, 1);
    assert.deepEqual(report.identical_lines, [5]);
    assert.equal(report.margin_histogram.reduce((n: number, b: { count: number }) => n + b.count, 0), 4);
    assert.equal(report.top_disagreements.length, 1);
    const rows = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const worst = rows.filter((r) => r.agrees === false).sort((x, y) => Math.abs(y.margin) - Math.abs(x.margin))[0];
    assert.equal(report.top_disagreements[0].line, worst.line);
    assert.deepEqual(report.review, { reviewed: 0, relabelled: 0, both_bad: 0, flagged: 0, notes: 0 });
  });

  it('counts the reviewer corrections saved in the sidecar', async () => {
    const out = path.join(scratch.dir, 'review-scores2.jsonl');
    await plens('score', fixture('hh-rlhf.jsonl'), '--out', out);
    const rows = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const dataset = await loadDataset(fixture('hh-rlhf.jsonl'));
    const keys = pairKeys(dataset.pairs);
    // The reviewer sides with the model on line 7 (the model prefers b there).
    const index = dataset.pairs.findIndex((p) => p.line === 7);
    assert.equal(rows.find((r) => r.line === 7).prefers, 'b');
    const sidecar = path.join(scratch.dir, 'corrections.jsonl');
    const event = { key: keys[index], line: 7, field: 'label', from: null, to: 'b', by: 't', at: '2026-11-29T00:00:00Z' };
    await writeFile(sidecar, `{"plens":"annotations","version":1}\n${JSON.stringify(event)}\n`);
    const report = JSON.parse((await plens('review', fixture('hh-rlhf.jsonl'), '--scores', out, '--annotations', sidecar)).stdout);
    const before = rows.filter((r) => r.agrees === false).length;
    assert.equal(report.disagreements, before - 1);
    assert.equal(report.review.relabelled, 1);
  });
});
