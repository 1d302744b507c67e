// The noise score: calibration of the model's margins, how the checks' evidence combines with it,
// the review queue's order in the editor state, and `plens review`'s noise report.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadDataset } from '../../src/core/dataset';
import { mulberry32 } from '../../src/core/lengthControl';
import { CHECK_PRIORS, fitTemperature } from '../../src/core/noiseScore';
import type { Pair, Preference } from '../../src/core/pair';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import { cliScratch } from '../support/plens';

const fixture = path.resolve(__dirname, '..', 'fixtures', 'label-noise.jsonl');
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('Platt calibration of the margins', () => {
  it('recovers the scale of margins whose labels follow σ(β·m)', () => {
    const random = mulberry32(5);
    const signed: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const m = (random() - 0.5) * 8;
      // The label agrees with the model with probability σ(0.8·m): the signed margin is m or −m.
      signed.push(random() < sigmoid(0.8 * m) ? m : -m);
    }
    const beta = fitTemperature(signed);
    assert.ok(Math.abs(beta - 0.8) < 0.08, `β ${beta}`);
  });

  it('gives no confidence to margins that carry no signal', () => {
    assert.equal(fitTemperature([1, -1, 2, -2, 0.5, -0.5]), 0);
    assert.equal(fitTemperature([]), 0);
    assert.ok(fitTemperature([1, 2, 3]) <= 1e3, 'separable margins stay finite');
  });
});

const pair = (line: number, prompt: string, a: string, b: string, label: Preference = 'a'): Pair => ({
  line,
  prompt: [{ role: 'user', content: prompt }],
  a: [{ role: 'assistant', content: a }],
  b: [{ role: 'assistant', content: b }],
  label,
});

/** 40 ordinary pairs the model mostly agrees with, then the noise. Margins are length-free (equal lengths). */
function table(): { state: ReviewState; lines: Record<string, number> } {
  const pairs: Pair[] = [];
  const margins: (number | undefined)[] = [];
  for (let i = 0; i < 40; i++) {
    pairs.push(pair(pairs.length + 1, `question ${i}`, `good answer ${i}`, `bad answer ${i}`.slice(0, `good answer ${i}`.length)));
    margins.push(i % 5 === 0 ? -0.5 : 1 + (i % 3));
  }
  const lines: Record<string, number> = {};
  const add = (name: string, p: Omit<Pair, 'line'>, margin: number | undefined) => {
    lines[name] = pairs.length + 1;
    pairs.push({ ...p, line: pairs.length + 1 });
    margins.push(margin);
  };
  add('identical', pair(0, 'Q1', 'same', 'same'), 0);
  add('dupDoubted', pair(0, 'Q2', 'right', 'wrong'), 2); // the model agrees with this one…
  add('dupOther', pair(0, 'Q2', 'wrong', 'right'), -2); // …and doubts its swapped twin
  add('emptyChosen', pair(0, 'Q3', '  ', 'an answer'), -0.1);
  add('emptyRejected', pair(0, 'Q4', 'an answer', ''), 3);
  add('unscoredPlain', pair(0, 'Q5', 'x', 'y'), undefined);
  const t = PairTable.fromPairs(pairs);
  margins.forEach((m, i) => m !== undefined && t.setScore(i, { rewardA: m, rewardB: 0 }));
  return { state: new ReviewState(t), lines };
}

describe('noise score of a pair', () => {
  it('combines the calibrated model with the checks by noisy-OR', () => {
    const { state, lines } = table();
    const noise = state.noise();
    assert.ok(noise.beta > 0);
    const of = (name: string) => noise.evidence(lines[name] - 1);
    assert.equal(of('identical').score, 1);
    const doubted = of('dupOther');
    const trusted = of('dupDoubted');
    assert.ok(doubted.score > trusted.score, 'of two conflicting twins, the one the model doubts ranks first');
    assert.ok(trusted.score >= CHECK_PRIORS.conflicting_duplicates);
    assert.ok(Math.abs(doubted.score - (1 - (1 - doubted.model!) * 0.5)) < 1e-12);
    assert.ok(of('emptyChosen').score >= CHECK_PRIORS.emptyChosen);
    assert.deepEqual(of('emptyRejected').checks, [], 'an empty rejected response casts no doubt on the label');
    assert.ok(Math.abs(of('emptyRejected').score - of('emptyRejected').model!) < 1e-12);
    assert.deepEqual(of('unscoredPlain'), { score: 0, checks: [] });
  });

  it('orders the review queue by it, and shows it on the pair unless the review is blind', async () => {
    const { state, lines } = table();
    const queue = await state.select({ filter: 'disagreements', sort: 'noise' });
    const scores = queue.map((i) => state.noise().evidence(i).score);
    for (let k = 1; k < scores.length; k++) assert.ok(scores[k - 1] >= scores[k]);
    // Identical responses have their own verdict ("identical"), not a disagreement: they are reached through the Check filter.
    assert.ok(!queue.map((i) => state.table.line(i)).includes(lines.identical));
    assert.ok(queue.map((i) => state.table.line(i)).indexOf(lines.dupOther) < queue.map((i) => state.table.line(i)).indexOf(1), 'a check outranks a plain disagreement');
    const [row] = await state.pairRows([lines.dupOther - 1]);
    assert.deepEqual(row.noise!.checks.map((c) => c.check), ['conflicting_duplicates']);
    state.blind = true;
    const [hidden] = await state.pairRows([lines.dupOther - 1]);
    assert.equal(hidden.noise, undefined);
  });
});

describe('plens review: noise', () => {
  const scratch = cliScratch('plens-noise-', 'shared');

  it('prints the review queue in noise order with each pair’s evidence, as the editor state orders it', async () => {
    const dataset = await loadDataset(fixture);
    const rewards = dataset.pairs.map((_, i) => ({ rewardA: (i * 7) % 5 - 2, rewardB: 0 }));
    const scores = path.join(scratch.dir, 'scores.jsonl');
    await writeFile(scores, dataset.pairs.map((p, i) => JSON.stringify({ line: p.line, reward_a: rewards[i].rewardA, reward_b: 0 })).join('\n') + '\n');
    const run = await scratch.plens('review', fixture, '--scores', scores, '--top', '50');
    assert.equal(run.code, 0, run.stderr);
    const { noise, disagreements } = JSON.parse(run.stdout);
    assert.match(noise.method, /PrefCleanBench/);
    assert.equal(noise.queue.length, disagreements);
    // Identical responses (line 2) are no disagreement (their verdict is "identical"), so not in the queue.
    assert.ok(!noise.queue.some((q: { line: number }) => q.line === 2));
    for (let k = 1; k < noise.queue.length; k++) assert.ok(noise.queue[k - 1].score >= noise.queue[k].score);

    const table = PairTable.fromPairs(dataset.pairs);
    rewards.forEach((r, i) => table.setScore(i, r));
    const state = new ReviewState(table);
    const expected = (await state.select({ filter: 'disagreements', sort: 'noise' })).map((i) => table.line(i));
    assert.deepEqual(noise.queue.map((q: { line: number }) => q.line), expected);
    let suspects = 0;
    for (let i = 0; i < table.count; i++) if (state.noise().evidence(i).score >= 0.5) suspects++;
    assert.equal(noise.suspects, suspects);
  });
});
