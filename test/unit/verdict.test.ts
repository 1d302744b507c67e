import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pair } from '../../src/core/pair';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import { summarize, verdict, type PairScore } from '../../src/core/verdict';
import { scorePairs } from '../../src/engine/scorePairs';
import type { ScoreItem, Scorer, ScoreOptions } from '../../src/engine/scorer';

const pair = (label: Pair['label'], line = 1): Pair => ({
  line,
  prompt: [{ role: 'user', content: 'q' }],
  a: [{ role: 'assistant', content: 'x' }],
  b: [{ role: 'assistant', content: 'y' }],
  label,
});

describe('verdict', () => {
  it('margin is a − b and the larger reward is preferred', () => {
    assert.deepEqual(verdict('a', { rewardA: 2, rewardB: 0.5 }), { rewardA: 2, rewardB: 0.5, margin: 1.5, prefers: 'a', agrees: true });
    assert.deepEqual(verdict('a', { rewardA: -1, rewardB: 0.5 }), { rewardA: -1, rewardB: 0.5, margin: -1.5, prefers: 'b', agrees: false });
  });

  it('equal rewards are a tie; unlabelled pairs neither agree nor disagree', () => {
    assert.equal(verdict('tie', { rewardA: 1, rewardB: 1 }).agrees, true);
    assert.equal(verdict('b', { rewardA: 1, rewardB: 1 }).agrees, false);
    assert.equal(verdict(null, { rewardA: 3, rewardB: 1 }).agrees, null);
  });

  it('agreement counts only scored, labelled pairs', () => {
    const table = PairTable.fromPairs([pair('a'), pair('b'), pair(null), pair('a')]);
    assert.deepEqual(summarize(table), { pairs: 4, scored: 0, agreement: null, disagreements: 0, identical: 0 });
    for (const index of [0, 1, 2]) table.setScore(index, { rewardA: 1, rewardB: 0 });
    assert.deepEqual(summarize(table), { pairs: 4, scored: 3, agreement: 0.5, disagreements: 1, identical: 0 });
  });
});

/** Rewards each response by its length, answering in reverse order to mimic out-of-order batches. */
class LengthScorer implements Scorer {
  seen: ScoreItem[] = [];
  async load() {
    return { model: 'length', device: 'cpu', template: 'none' };
  }
  async score(items: ScoreItem[], options: ScoreOptions) {
    this.seen.push(...items);
    for (const item of [...items].reverse()) options.onResults([{ id: item.id, reward: item.response[0].content.length }]);
    return { items: items.length, tokens: 0, seconds: 0, tokenizeSeconds: 0, inferenceSeconds: 0 };
  }
  async dispose() {}
}

describe('scorePairs', () => {
  it('reports each pair once both rewards are in, whatever order they arrive in', async () => {
    const pairs = [pair('a'), { ...pair('b'), a: [{ role: 'assistant', content: 'long answer' }] }, pair('a')];
    const scorer = new LengthScorer();
    const got = new Map<number, PairScore>();
    await scorePairs(pairs, [1, 2], scorer, { onPair: (index, score) => got.set(index, score) });
    assert.deepEqual([...got.keys()].sort(), [1, 2]);
    assert.deepEqual(got.get(1), { rewardA: 11, rewardB: 1 });
    assert.equal(scorer.seen.length, 4);
    assert.deepEqual(scorer.seen.map((item) => item.prompt), [pairs[1].prompt, pairs[1].prompt, pairs[2].prompt, pairs[2].prompt]);
  });
});

describe('ReviewState', () => {
  it('serves bounded windows of list rows with verdicts for scored pairs only', async () => {
    const pairs = Array.from({ length: 250 }, (_, i) => pair('a', i + 1));
    const state = new ReviewState(PairTable.fromPairs(pairs));
    state.table.setScore(200, { rewardA: 0, rewardB: 1 });
    const { rows, total } = await state.rows(190, 1000);
    assert.equal(total, 250);
    assert.equal(rows.length, 60);
    assert.equal(rows[0].index, 190);
    assert.equal(rows[0].line, 191);
    assert.deepEqual(rows[10].score, { margin: -1, prefers: 'b', agrees: false });
    assert.equal(rows[11].score, undefined);
    assert.equal((await state.rows(-5, 2)).rows[0].index, 0);
    assert.deepEqual((await state.rows(999, 10)).rows, []);
    assert.equal((await state.rows(0, 10_000)).rows.length, 200, 'one request is capped');
    const disagreements = await state.rows(0, 10, { filter: 'disagreements', sort: 'file' });
    assert.equal(disagreements.total, 1);
    assert.equal(disagreements.rows[0].index, 200);
    assert.equal(state.unscored().length, 249);
    assert.deepEqual(state.unscored(199, 3), [199, 201, 202]);
    assert.equal(state.status().disagreements, 1);
  });

  it('list rows preview the last prompt turn and carry the reviewer marks', async () => {
    const long = { ...pair('a', 1), prompt: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'x' }, { role: 'user', content: `  second\n\tturn ${'w'.repeat(500)}` }] };
    const state = new ReviewState(PairTable.fromPairs([long, pair('b', 2)]));
    const record = (field: 'label' | 'flagged' | 'note', to: string | boolean) =>
      state.annotations.record({ key: state.table.keys[0], line: 1, field, from: null, to, by: 't', at: 'now' });
    record('label', 'both-bad');
    record('flagged', true);
    record('note', 'look again');
    const [row, plain] = (await state.rows(0, 2)).rows;
    assert.equal(row.preview.length, 160);
    assert.ok(row.preview.startsWith('second turn www'), row.preview);
    assert.deepEqual(row.decided, { label: 'both-bad', by: 't', yours: true });
    assert.equal(row.flagged, true);
    assert.equal(row.noted, true);
    assert.equal(row.reviewed, undefined);
    assert.equal(plain.decided, undefined);
    assert.equal(plain.label, 'b');
  });

  it('list rows read a pair\'s text once: fetching them again (new scores, labels) reads no text', async () => {
    const state = new ReviewState(PairTable.fromPairs(Array.from({ length: 30 }, (_, i) => ({ ...pair('a', i + 1), prompt: [{ role: 'user', content: `question ${i}` }] }))));
    const read: number[] = [];
    const pairsOf = state.table.pairs.bind(state.table);
    state.table.pairs = (indices) => {
      read.push(...indices);
      return pairsOf(indices);
    };
    const first = (await state.rows(0, 20)).rows;
    assert.equal(read.length, 20);
    state.table.setScore(3, { rewardA: 0, rewardB: 2 });
    const again = (await state.rows(0, 20)).rows;
    assert.equal(read.length, 20, 'no text read for rows already previewed');
    assert.deepEqual(again.map((r) => r.preview), first.map((r) => r.preview));
    assert.equal(again[3].preview, 'question 3');
    assert.deepEqual(again[3].score, { margin: -2, prefers: 'b', agrees: false }, 'the new score is in the row');
    assert.deepEqual(state.rowScore(3), again[3].score, 'the score the host pushes is the row\'s');
    await state.rows(10, 20);
    assert.deepEqual(read.slice(20), [20, 21, 22, 23, 24, 25, 26, 27, 28, 29], 'only rows never shown are read');
  });

  it('a cached selection follows new scores, annotations and pairs', async () => {
    const state = new ReviewState(PairTable.fromPairs(Array.from({ length: 6 }, (_, i) => pair('a', i + 1))));
    const queue = { filter: 'disagreements', sort: 'confidence' } as const;
    assert.deepEqual(await state.select(queue), []);
    state.table.setScore(2, { rewardA: 0, rewardB: 1 });
    state.table.setScore(4, { rewardA: 0, rewardB: 3 });
    assert.deepEqual(await state.select(queue), [4, 2]);
    assert.equal((await state.rows(0, 10, queue)).total, 2);
    // Relabelling pair 4 to the model's side takes it out of the queue.
    state.annotations.record({ key: state.table.keys[4], line: 5, field: 'label', from: null, to: 'b', by: 't', at: 'now' });
    assert.deepEqual(await state.select(queue), [2]);
    const list = await state.select(queue);
    list.push(99);
    assert.deepEqual(await state.select(queue), [2], 'callers get a copy');
  });
});

describe('ReviewState queries', () => {
  const texts = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const make = () => {
    const pairs = texts.map((t, i) => ({ ...pair(i === 4 ? null : 'a', i + 1), a: [{ role: 'assistant', content: `${t} answer`.repeat(i + 1) }] }));
    const state = new ReviewState(PairTable.fromPairs(pairs));
    // margins: +1, -3, +0.5, -0.2, (unscored)
    [[1, 0], [0, 3], [0.5, 0], [0, 0.2]].forEach(([a, b], i) => state.table.setScore(i, { rewardA: a, rewardB: b }));
    return state;
  };

  it('the review queue lists disagreements the model is surest about first', async () => {
    assert.deepEqual(await make().select({ filter: 'disagreements', sort: 'confidence' }), [1, 3]);
  });

  it('filters, sorts, margin ranges and text search combine', async () => {
    const state = make();
    assert.deepEqual(await state.select({ filter: 'all', sort: 'margin' }), [1, 3, 2, 0, 4]);
    assert.deepEqual(await state.select({ filter: 'all', sort: 'margin-desc' }), [0, 2, 3, 1, 4]);
    assert.deepEqual(await state.select({ filter: 'agreements', sort: 'file' }), [0, 2]);
    assert.deepEqual(await state.select({ filter: 'unlabelled', sort: 'file' }), [4]);
    assert.deepEqual(await state.select({ filter: 'all', sort: 'file', marginMin: -0.5, marginMax: 0.7 }), [2, 3]);
    assert.deepEqual(await state.select({ filter: 'all', sort: 'file', search: 'GAMMA' }), [2]);
    assert.deepEqual(await state.select({ filter: 'disagreements', sort: 'file', search: 'a answer' }), [1, 3]);
    assert.deepEqual(await state.select({ filter: 'all', sort: 'length-difference' }), [4, 3, 2, 1, 0]);
  });

  it('blind rows carry no score or file label until the reviewer labels them', async () => {
    const state = make();
    state.blind = true;
    const [row] = await state.pairRows([1]);
    assert.equal(row.score, undefined);
    const [listed] = (await state.rows(1, 1)).rows;
    assert.deepEqual([listed.score, listed.label, listed.blind], [undefined, null, true]);
    assert.equal(row.label, null);
    assert.equal(typeof row.blind?.swapped, 'boolean');
    state.annotations.record({ key: state.table.keys[1], line: 2, field: 'label', from: null, to: 'b', by: 't', at: 'now' });
    const [decided] = await state.pairRows([1]);
    assert.equal(decided.blind, undefined);
    assert.equal(decided.score?.agrees, true);
    // Sides are shuffled per pair, not all one way.
    const many = new ReviewState(PairTable.fromPairs(Array.from({ length: 40 }, (_, i) => ({ ...pair('a', i + 1), a: [{ role: 'assistant', content: `answer ${i}` }] }))));
    many.blind = true;
    const swapped = (await many.pairRows(Array.from({ length: 40 }, (_, i) => i))).filter((r) => r.blind!.swapped).length;
    assert.ok(swapped > 5 && swapped < 35, `${swapped} of 40 swapped`);
  });
});

describe('list rows while edits land', () => {
  it('a reply is of one state: a pair reviewed while the previews were read has left the "not reviewed" list', async () => {
    const state = new ReviewState(PairTable.fromPairs(Array.from({ length: 10 }, (_, i) => pair('a', i + 1))));
    const query = { filter: 'unreviewed', sort: 'file' } as const;
    // A key typed fast: pair 1 is marked reviewed while this request reads its previews.
    const internals = state as unknown as { previews(indices: number[]): Promise<string[]> };
    const read = internals.previews.bind(state);
    let edited = false;
    internals.previews = async (indices) => {
      if (!edited) {
        edited = true;
        state.annotations.record({ key: state.table.keys[0], line: 1, field: 'reviewed', from: null, to: true, by: 't', at: 'now' });
      }
      return read(indices);
    };
    const { total, rows } = await state.rows(0, 10, query);
    assert.equal(total, 9);
    assert.deepEqual(rows.map((row) => row.index), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
