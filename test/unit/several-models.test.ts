// Several reward models at once: the consensus figures on hand-made scores, the noise score's
// ensemble, and `plens score` / `plens review` with two --model flags run as a user runs them.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { consensusMargins, consensusReport, ModelScores, type ModelColumn } from '../../src/core/modelConsensus';
import type { Pair, Preference } from '../../src/core/pair';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import type { PairScore } from '../../src/core/verdict';
import { cliScratch } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = path.join(repoRoot, 'test', 'fixtures', 'label-noise.jsonl');
const baseline = path.join(repoRoot, 'dist', 'models', 'baseline');
const demo = path.join(repoRoot, 'dist', 'models', 'demo');

const column = (name: string, margins: (number | undefined)[]): ModelColumn => ({
  name,
  score: (i) => (margins[i] === undefined ? undefined : { rewardA: margins[i]!, rewardB: 0 }),
});

describe('consensus of several models', () => {
  const labels: Preference[] = ['a', 'a', 'b', 'a', 'tie', 'a'];
  // Model "big" works in hundreds, "small" in units; they agree except on pair 2.
  const big = column('big', [300, -200, -100, -400, 50, undefined]);
  const small = column('small', [1, -2, 3, -1, 1, 2]);

  it('reports each model, each two models, the consensus and the pairs every model disagrees with', () => {
    const report = consensusReport([big, small], labels.length, (i) => labels[i]);
    assert.deepEqual(report.models, ['big', 'small']);
    assert.deepEqual(report.agreement, [
      // A tie label counts as labelled, and a model that prefers a side disagrees with it (as in summarize).
      { model: 'big', scored: 5, agreement: 2 / 5, disagreements: 3 },
      { model: 'small', scored: 6, agreement: 2 / 6, disagreements: 4 },
    ]);
    assert.deepEqual(report.pairwise, [{ a: 'big', b: 'small', pairs: 5, agreement: 4 / 5 }]);
    // Pairs 1 and 3 (label a): both models prefer b. Pair 2: they split. Pair 5: only one model scored it.
    assert.deepEqual(report.everyModelDisagrees, [1, 3]);
  });

  it('leaves pairs with identical responses out of every agreement and of the every-model list, as the one-model figures do', () => {
    const identical = (i: number) => i === 1;
    const report = consensusReport([big, small], labels.length, (i) => labels[i], undefined, identical);
    // Pair 1 (both models against label a) is identical text now: no verdict.
    assert.deepEqual(report.everyModelDisagrees, [3]);
    assert.deepEqual(report.agreement.map((a) => a.disagreements), [2, 3]);
    assert.deepEqual(report.pairwise, [{ a: 'big', b: 'small', pairs: 4, agreement: 3 / 4 }]);
  });

  it('standardises each model by its median |margin|, so a model with large rewards does not outvote', () => {
    const consensus = consensusMargins([big, small], labels.length);
    // Pair 2: big says −100 (a third of its median 300), small says +3 (1.5 medians of 2): small wins.
    assert.ok(consensus[2]! > 0, `consensus ${consensus[2]}`);
    assert.equal(consensus[5], 2 / 2, 'a pair only one model scored takes that model alone');
  });

  it('averages the models’ calibrated doubts in the noise score', () => {
    const pairs: Pair[] = labels.map((label, i) => ({ line: i + 1, prompt: [{ role: 'user', content: `q${i}` }], a: [{ role: 'assistant', content: 'x' }], b: [{ role: 'assistant', content: 'y' }], label }));
    const table = PairTable.fromPairs(pairs);
    const scoresOf = (m: ModelColumn) => labels.map((_, i) => m.score(i));
    scoresOf(small).forEach((s, i) => s && table.setScore(i, s as PairScore));
    const state = new ReviewState(table);
    const alone = state.noise().evidence(1).model!;
    state.otherModels = [big];
    const together = state.noise();
    assert.equal(together.betas.length, 2);
    const doubts = together.betas.map((beta, k) => 1 / (1 + Math.exp(beta * (k === 0 ? -2 : -200))));
    assert.ok(Math.abs(together.evidence(1).model! - (doubts[0] + doubts[1]) / 2) < 1e-12);
    assert.ok(Math.abs(doubts[0] - alone) < 1e-12, 'the first model’s part is what it was alone');
  });
});

describe('several models in the review state (the editor with preferenceLens.additionalModels)', () => {
  const labels: Preference[] = ['a', 'a', 'b', 'a', 'tie', 'a'];
  const pairs: Pair[] = labels.map((label, i) => ({ line: i + 1, prompt: [{ role: 'user', content: `q${i}` }], a: [{ role: 'assistant', content: 'x'.repeat(i + 1) }], b: [{ role: 'assistant', content: 'y' }], label }));
  const first = [300, -200, -100, -400, 50, undefined];
  const second = [1, -2, 3, -1, 1, 2];

  /** A state whose table holds the first model and whose further model fills in as the editor's does. */
  function stateWithTwo() {
    const table = PairTable.fromPairs(pairs);
    first.forEach((m, i) => m !== undefined && table.setScore(i, { rewardA: m, rewardB: 0 }));
    const state = new ReviewState(table);
    state.firstModelName = 'big';
    const other = new ModelScores('small');
    state.otherModels = [other];
    return { state, other };
  }

  it('stats, queue and pair rows follow the further model as it scores, with the figures plens review prints', async () => {
    const { state, other } = stateWithTwo();
    // Not scored yet by the second model: no pair has every model against its label.
    assert.deepEqual(await state.select({ filter: 'every-model-disagrees', sort: 'file' }), []);
    assert.equal(state.stats().models!.agreement[1].scored, 0);
    const noiseBefore = state.noise();
    second.forEach((m, i) => other.set(i, { rewardA: m, rewardB: 0 }));
    state.modelsChanged();
    const expected = consensusReport([column('big', first), column('small', second)], labels.length, (i) => labels[i]);
    const stats = state.stats().models!;
    assert.deepEqual(stats.agreement, expected.agreement);
    assert.deepEqual(stats.pairwise, expected.pairwise);
    assert.deepEqual(stats.consensus, expected.consensus);
    assert.equal(stats.everyModelDisagrees, 2);
    assert.deepEqual(stats.models, ['big', 'small']);
    assert.notEqual(state.noise(), noiseBefore, 'the noise score is refitted with the further model’s scores once it has scored');
    // The queue: pairs 1 and 3, the one the consensus contradicts most first.
    const queue = await state.select({ filter: 'every-model-disagrees', sort: 'consensus' });
    assert.deepEqual([...queue].sort(), [1, 3]);
    const margins = consensusMargins([column('big', first), column('small', second)], labels.length);
    assert.ok(margins[queue[0]]! <= margins[queue[1]]!, `queue ${queue} by consensus ${margins}`);
    const [row] = await state.pairRows([2]);
    assert.deepEqual(row.models!.map((m) => [m.name, m.score?.margin, m.score?.agrees]), [['big', -100, true], ['small', 3, false]]);
    assert.equal(row.consensusMargin, margins[2]);
    const [unscored] = await state.pairRows([5]);
    assert.equal(unscored.models![0].score, undefined, 'a pair the first model has not scored shows so');
    assert.deepEqual(state.status().models, [{ name: 'small', scored: 6 }]);
  });

  it('a reviewer relabelling a pair moves it out of the every-model queue', async () => {
    const { state, other } = stateWithTwo();
    second.forEach((m, i) => other.set(i, { rewardA: m, rewardB: 0 }));
    state.modelsChanged();
    state.annotations.record({ key: state.table.keys[1], line: 2, field: 'label', from: null, to: 'b', by: 'me', at: new Date().toISOString() });
    assert.deepEqual(await state.select({ filter: 'every-model-disagrees', sort: 'file' }), [3]);
    assert.equal(state.stats().models!.everyModelDisagrees, 1);
  });

  it('blind review withholds every model’s scores', async () => {
    const { state, other } = stateWithTwo();
    second.forEach((m, i) => other.set(i, { rewardA: m, rewardB: 0 }));
    state.blind = true;
    const [row] = await state.pairRows([2]);
    assert.equal(row.models, undefined);
    assert.equal(row.consensusMargin, undefined);
  });
});

describe('plens with two --model flags', () => {
  const scratch = cliScratch('plens-models-', 'shared');

  it('score writes every model’s columns; review reports each model, their agreement, the consensus and every-model disagreements', async () => {
    const scores = path.join(scratch.dir, 'scores.jsonl');
    const run = await scratch.plens('score', fixture, '--model', baseline, '--model', demo, '--out', scores);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.deepEqual(summary.models.map((m: { model: string }) => m.model), [baseline, demo]);
    const rows = (await readFile(scores, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 11);
    for (const row of rows) {
      assert.deepEqual(Object.keys(row.models), [baseline, demo]);
      assert.equal(row.reward_a, row.models[baseline].reward_a, 'the top-level columns are the first model’s');
    }
    // What the score file says, read independently: labelled pairs both models disagree with.
    const every = rows.filter((r) => (r.label === 'a' || r.label === 'b') && [baseline, demo].every((m) => r.models[m].agrees === false && r.models[m].margin !== 0)).map((r) => r.line);
    // Pairs with identical responses have no verdict (`agrees` null, `prefers` "identical"): out of every agreement.
    const labelled = (m: string) => rows.filter((r) => (r.label === 'a' || r.label === 'b') && r.models[m].agrees !== null);
    const perModel = (m: string) => labelled(m).filter((r) => r.models[m].agrees).length / labelled(m).length;
    const distinct = rows.filter((r) => r.models[baseline].prefers !== 'identical');
    assert.ok(distinct.length < rows.length, 'the fixture has a pair with identical responses');
    const same = distinct.filter((r) => Math.sign(r.models[baseline].margin) === Math.sign(r.models[demo].margin)).length / distinct.length;

    const review = await scratch.plens('review', fixture, '--scores', scores);
    assert.equal(review.code, 0, review.stderr);
    const report = JSON.parse(review.stdout).models;
    assert.deepEqual(report.models, [baseline, demo]);
    assert.deepEqual(report.every_model_disagrees, { count: every.length, lines: every });
    assert.deepEqual(report.agreement.map((a: { agreement: number }) => a.agreement), [perModel(baseline), perModel(demo)]);
    assert.equal(report.pairwise[0].agreement, same);
    assert.equal(JSON.parse(review.stdout).noise.queue.length > 0, true);

    // Scoring in the review itself gives the same report.
    const direct = await scratch.plens('review', fixture, '--model', baseline, '--model', demo);
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(JSON.parse(direct.stdout).models, report);
  });

  it('refuses the same model twice, and several models where one is taken', async () => {
    const twice = await scratch.plens('score', fixture, '--model', baseline, '--model', baseline);
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /given twice/);
    const exported = await scratch.plens('export', fixture, '--model', baseline, '--model', demo, '--out', path.join(scratch.dir, 'x.jsonl'));
    assert.notEqual(exported.code, 0);
    assert.match(exported.stderr, /takes one --model/);
  });
});
