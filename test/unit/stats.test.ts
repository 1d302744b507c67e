import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pair } from '../../src/core/pair';
import { PairTable } from '../../src/core/pairTable';
import { datasetStats, histogram, topDisagreements } from '../../src/core/stats';
import type { PairScore } from '../../src/core/verdict';

function scoredTable(pairs: Pair[], scores: Map<number, PairScore>): PairTable {
  const table = PairTable.fromPairs(pairs);
  scores.forEach((score, index) => table.setScore(index, score));
  return table;
}

const pair = (a: string, b: string, label: Pair['label'] = 'a'): Pair => ({
  line: 1,
  prompt: [{ role: 'user', content: 'q' }],
  a: [{ role: 'assistant', content: a }],
  b: [{ role: 'assistant', content: b }],
  label,
});

describe('datasetStats', () => {
  const pairs = [pair('long answer', 'no'), pair('x', 'longer'), pair('same', 'sane'), pair('aa', 'b', null)];
  const scores = new Map<number, PairScore>([
    [0, { rewardA: 3, rewardB: 0 }], // confident, agrees; model prefers the longer
    [1, { rewardA: 0.1, rewardB: 0 }], // unsure, agrees; model prefers the shorter
    [2, { rewardA: 0, rewardB: 3 }], // confident, disagrees
  ]);

  it('bins agreement by the model confidence σ(|margin|)', () => {
    const stats = datasetStats({ pairs: scoredTable(pairs, scores) });
    const byBin = Object.fromEntries(stats.calibration.map((b) => [b.low, b]));
    assert.equal(byBin[0.5].pairs, 1);
    assert.equal(byBin[0.5].agreement, 1);
    assert.equal(byBin[0.9].pairs, 2);
    assert.equal(byBin[0.9].agreement, 0.5);
    assert.ok(Math.abs(byBin[0.9].confidence! - 1 / (1 + Math.exp(-3))) < 1e-12);
    assert.equal(byBin[0.7].agreement, null);
    assert.equal(stats.disagreements, 1);
  });

  it('measures length bias of the labels and of the model', () => {
    const stats = datasetStats({ pairs: scoredTable(pairs, scores) });
    // Labelled pairs with different lengths: 0 (chosen longer), 1 (chosen shorter).
    assert.equal(stats.length.humanPrefersLonger, 0.5);
    // Scored pairs with different lengths: 0 (prefers longer), 1 (prefers shorter).
    assert.equal(stats.length.modelPrefersLonger, 0.5);
  });

  it('counts a reviewer correction as the label and reports review progress', () => {
    const stats = datasetStats({
      pairs: scoredTable(pairs, scores),
      labelOf: (i) => (i === 2 ? 'b' : pairs[i].label),
      annotationOf: (i) => (i === 2 ? { label: 'b', reviewed: true, note: 'swapped' } : i === 0 ? { label: 'both-bad', flagged: true } : undefined),
    });
    assert.equal(stats.disagreements, 0);
    assert.deepEqual(stats.review, { reviewed: 1, relabelled: 1, bothBad: 1, flagged: 1, notes: 1 });
  });

  it('leaves a pair with identical responses out of agreement, calibration and the disagreements, and counts it', () => {
    const withTwin = [...pairs, pair('twin', 'twin')];
    const twinScores = new Map(scores).set(4, { rewardA: 0, rewardB: 5 });
    const table = scoredTable(withTwin, twinScores);
    const stats = datasetStats({ pairs: table });
    assert.equal(stats.scored, 4);
    assert.equal(stats.identical, 1);
    assert.equal(stats.disagreements, 1);
    assert.equal(stats.agreement, 2 / 3);
    assert.equal(stats.calibration.reduce((n, b) => n + b.pairs, 0), 3);
    assert.deepEqual(
      topDisagreements(table, 5).map((r) => r.index),
      [2],
    );
  });

  it('a symmetric margin histogram holds every score', () => {
    const bins = histogram([-2, -0.5, 0, 1, 2], 4);
    assert.deepEqual(
      bins.map((b) => [b.low, b.high, b.count]),
      [
        [-2, -1, 1],
        [-1, 0, 1],
        [0, 1, 1],
        [1, 2, 2],
      ],
    );
    assert.deepEqual(histogram([], 4), []);
  });

  it('ranks disagreements by confidence', () => {
    const more = new Map(scores);
    more.set(3, { rewardA: 0, rewardB: 0.2 });
    const ranked = topDisagreements(scoredTable([...pairs.slice(0, 3), pair('u', 'v', 'a')], more), 5);
    assert.deepEqual(
      ranked.map((r) => r.index),
      [2, 3],
    );
  });
});
