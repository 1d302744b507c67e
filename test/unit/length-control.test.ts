// Length-controlled margins: the robust fit, the figures, the "preferred only for length" queue in
// the review state, and `plens review` run as a user runs it.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { lengthControlStats, logLengthRatio, mulberry32, preferredOnlyForLength, theilSen, type LengthColumns } from '../../src/core/lengthControl';
import type { Pair, Preference } from '../../src/core/pair';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import { cliScratch } from '../support/plens';

function columns(rows: { lengths: [number, number]; margin: number }[]): LengthColumns {
  return { count: rows.length, score: (i) => ({ rewardA: rows[i].margin, rewardB: 0 }), lengths: (i) => rows[i].lengths };
}

describe('Theil–Sen fit of margin on length', () => {
  it('recovers the slope through 20% wild points, where least squares would not', () => {
    const random = mulberry32(3);
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < 200; i++) {
      const xi = random() * 4 - 2;
      x.push(xi);
      y.push(i % 5 === 0 ? 40 + random() * 10 : 1.5 * xi + 0.25 + (random() - 0.5) * 0.1);
    }
    const fit = theilSen(x, y)!;
    assert.ok(Math.abs(fit.slope - 1.5) < 0.05, `slope ${fit.slope}`);
    assert.ok(Math.abs(fit.intercept - 0.25) < 0.1, `intercept ${fit.intercept}`);
    const mx = x.reduce((s, v) => s + v, 0) / x.length;
    const my = y.reduce((s, v) => s + v, 0) / y.length;
    const ols = x.reduce((s, v, i) => s + (v - mx) * (y[i] - my), 0) / x.reduce((s, v) => s + (v - mx) ** 2, 0);
    assert.ok(Math.abs(ols - 1.5) > 0.3, `least squares ${ols} should be pulled away by the outliers`);
  });

  it('samples point pairs on large inputs, reproducibly', () => {
    const random = mulberry32(9);
    const x = Array.from({ length: 5000 }, () => random() * 6 - 3);
    const y = x.map((v) => -0.7 * v + (random() - 0.5));
    const first = theilSen(x, y)!;
    assert.ok(Math.abs(first.slope + 0.7) < 0.03, `slope ${first.slope}`);
    assert.deepEqual(theilSen(x, y), first);
  });
});

describe('length-controlled figures', () => {
  const lengths: [number, number][] = Array.from({ length: 60 }, (_, i) => [20 + 37 * (i % 7), 23 + 53 * ((i * 3) % 5)]);

  it('a model that only measures length: length explains all its agreement', () => {
    const rows = lengths.map((l) => ({ lengths: l, margin: 2 * logLengthRatio(...l) }));
    const labels: Preference[] = lengths.map((l, i) => (l[0] > l[1] === (i % 4 !== 0) ? 'a' : 'b'));
    const stats = lengthControlStats(columns(rows), (i) => labels[i]);
    assert.ok(Math.abs(stats.slope! - 2) < 1e-9);
    assert.ok(stats.agreement! > 0.6);
    assert.equal(stats.agreementLengthOnly, stats.agreement);
    assert.equal(stats.agreementLengthControlled, 0.5);
    assert.equal(stats.explainedByLength, 1);
  });

  it('a model that knows the chosen response whatever its length: length explains nothing', () => {
    const labels: Preference[] = lengths.map((_, i) => (i % 3 === 0 ? 'b' : 'a'));
    const rows = lengths.map((l, i) => ({ lengths: l, margin: labels[i] === 'a' ? 1 : -1 }));
    const stats = lengthControlStats(columns(rows), (i) => labels[i]);
    assert.equal(stats.agreement, 1);
    assert.equal(stats.agreementLengthControlled, 1);
    assert.equal(stats.explainedByLength, 0);
    assert.equal(stats.preferredOnlyForLength, 0);
  });

  it('pairs with identical responses are left out, as the raw agreement leaves them out', () => {
    const labels: Preference[] = lengths.map((_, i) => (i % 3 === 0 ? 'b' : 'a'));
    const rows = lengths.map((l, i) => ({ lengths: l, margin: labels[i] === 'a' ? 1 : -1 }));
    const withIdentical = [...rows, ...Array.from({ length: 40 }, () => ({ lengths: [50, 50] as [number, number], margin: 0 }))];
    const identical = (i: number) => i >= rows.length;
    const stats = lengthControlStats({ ...columns(withIdentical), identical }, (i) => labels[i] ?? 'a');
    assert.deepEqual(stats, lengthControlStats(columns(rows), (i) => labels[i]), 'as if the identical pairs were not there');
    assert.equal(stats.agreement, 1);
    assert.equal(stats.pairs, rows.length);
  });

  it('"preferred only for length": the longer one is preferred, and the other once length is out', () => {
    const fit = { method: 'theil-sen' as const, slope: 2, intercept: 0, pairs: 10 };
    // A is four times longer: length alone gives +2·ln(4) ≈ 2.77.
    assert.equal(preferredOnlyForLength(fit, { rewardA: 1, rewardB: 0 }, [399, 99]), true);
    assert.equal(preferredOnlyForLength(fit, { rewardA: 4, rewardB: 0 }, [399, 99]), false);
    assert.equal(preferredOnlyForLength(fit, { rewardA: -1, rewardB: 0 }, [399, 99]), false, 'prefers the shorter one');
    assert.equal(preferredOnlyForLength(fit, { rewardA: 1, rewardB: 0 }, [100, 100]), false, 'same length');
  });
});

/** Pairs whose model margin is 2·ln(length ratio) + quality, quality ±0.3 agreeing with the label. */
function lengthBiasedData(): { pairs: Pair[]; margins: number[]; onlyLength: number[] } {
  const pairs: Pair[] = [];
  const margins: number[] = [];
  const onlyLength: number[] = [];
  for (let i = 0; i < 40; i++) {
    const la = 10 * (1 + (i % 5));
    const lb = 10 * (1 + ((i * 3) % 5));
    const label: Preference = i % 4 === 0 ? 'b' : 'a';
    const quality = label === 'a' ? 0.3 : -0.3;
    const margin = 2 * logLengthRatio(la, lb) + quality;
    pairs.push({ line: i + 1, prompt: [{ role: 'user', content: `question ${i}` }], a: [{ role: 'assistant', content: 'a'.repeat(la) }], b: [{ role: 'assistant', content: 'b'.repeat(lb) }], label });
    margins.push(margin);
    // Length terms are at least 2·ln(21/11) ≈ 1.3 when lengths differ, far above the quality of 0.3.
    if (la !== lb && Math.sign(margin) !== Math.sign(quality)) onlyLength.push(i + 1);
  }
  return { pairs, margins, onlyLength };
}

describe('length control in the review state', () => {
  it('filters the pairs preferred only for length, sorts by length-controlled doubt, shows the controlled margin', async () => {
    const { pairs, margins, onlyLength } = lengthBiasedData();
    assert.ok(onlyLength.length >= 5);
    const table = PairTable.fromPairs(pairs);
    margins.forEach((m, i) => table.setScore(i, { rewardA: m, rewardB: 0 }));
    const state = new ReviewState(table);
    assert.deepEqual((await state.select({ filter: 'length-only', sort: 'file' })).map((i) => table.line(i)), onlyLength);
    // With length out every label agrees (quality ±0.3 follows the label): nothing contradicts it.
    const sorted = await state.select({ filter: 'all', sort: 'length-controlled' });
    const [first] = await state.pairRows([sorted[0]]);
    assert.ok(Math.abs(first.score!.lengthControlledMargin! - (first.label === 'a' ? 0.3 : -0.3)) < 0.15);
    const stats = state.stats();
    assert.equal(stats.lengthControl!.agreementLengthControlled, 1);
    assert.ok(stats.lengthControl!.agreement! < 1);
    assert.equal(stats.lengthControl!.preferredOnlyForLength, onlyLength.length);
  });
});

describe('the fit while scores stream in', () => {
  it('is kept until 5% more pairs are scored, and redone when every pair is', () => {
    const { pairs, margins } = lengthBiasedData();
    const table = PairTable.fromPairs(pairs);
    const state = new ReviewState(table);
    for (let i = 0; i < 25; i++) table.setScore(i, { rewardA: margins[i], rewardB: 0 });
    const first = state.lengthFit();
    assert.ok(first);
    table.setScore(25, { rewardA: margins[25], rewardB: 0 });
    assert.equal(state.lengthFit(), first, 'one more score after 25 (4%): the same fit');
    table.setScore(26, { rewardA: margins[26], rewardB: 0 });
    assert.notEqual(state.lengthFit(), first, 'two more (8%): refitted');
    for (let i = 27; i < 40; i++) table.setScore(i, { rewardA: margins[i], rewardB: 0 });
    const complete = state.lengthFit();
    assert.notEqual(complete, first);
    assert.deepEqual(complete, new ReviewState(table).lengthFit(), 'once every pair is scored, the fit is the exact one');
    table.clearScores();
    assert.equal(state.lengthFit(), null, 'scores dropped: refitted (nothing to fit)');
  });
});

describe('plens review: length_control', () => {
  const scratch = cliScratch('plens-length-', 'shared');

  it('prints the fit, the agreement with and without length, and the pairs preferred only for length', async () => {
    const { pairs, margins, onlyLength } = lengthBiasedData();
    const data = path.join(scratch.dir, 'data.jsonl');
    await writeFile(data, pairs.map((p) => JSON.stringify({ prompt: p.prompt[0].content, [p.label === 'a' ? 'chosen' : 'rejected']: p.a[0].content, [p.label === 'a' ? 'rejected' : 'chosen']: p.b[0].content })).join('\n') + '\n');
    // In the file the chosen response is A: flip margins where the data put the label on B.
    const scores = path.join(scratch.dir, 'scores.jsonl');
    await writeFile(scores, pairs.map((p, i) => JSON.stringify({ line: i + 1, reward_a: p.label === 'a' ? margins[i] : -margins[i], reward_b: 0 })).join('\n') + '\n');
    const run = await scratch.plens('review', data, '--scores', scores);
    assert.equal(run.code, 0, run.stderr);
    const lc = JSON.parse(run.stdout).length_control;
    assert.equal(lc.method, 'theil-sen');
    assert.ok(Math.abs(lc.slope - 2) < 0.1, `slope ${lc.slope}`);
    assert.equal(lc.agreement_length_controlled, 1);
    assert.ok(lc.explained_by_length < 0, 'taking length out raises agreement here: length worked against the labels');
    assert.deepEqual(lc.preferred_only_for_length, { count: onlyLength.length, lines: onlyLength });
  });
});
