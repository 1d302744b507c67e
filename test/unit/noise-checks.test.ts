// Model-free label-noise checks: on hand-made pairs, on a fixture streamed through the file index as
// the editor reads it, and in `plens review` run as a user runs it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadDataset, openDatasetIndex } from '../../src/core/dataset';
import { checksReport, NoiseChecks, normalizedWords, similarity, sketch } from '../../src/core/noiseChecks';
import { mulberry32 } from '../../src/core/lengthControl';
import type { Pair, Preference } from '../../src/core/pair';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import { cliScratch } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = path.join(repoRoot, 'test', 'fixtures', 'label-noise.jsonl');
const shared = path.resolve(repoRoot, '..', 'shared', 'data', 'hh-rlhf-helpful-base-test', 'test.jsonl');

const turn = (content: string, role = 'assistant') => [{ role, content }];
const pair = (line: number, prompt: string, a: string, b: string, label: Preference = 'a'): Pair => ({
  line,
  prompt: turn(prompt, 'user'),
  a: turn(a),
  b: turn(b),
  label,
});

function run(pairs: Pair[]): NoiseChecks {
  const checks = new NoiseChecks();
  pairs.forEach((p, i) => checks.add(i, p));
  return checks;
}

const LONG_A =
  'Water the plants deeply two or three times a week rather than a little every day, so that the roots grow down into the soil and the garden survives a hot and dry summer without trouble.';
const LONG_B =
  'Plant whatever you like wherever you like, most vegetables do not mind their neighbours, and you can water them whenever you happen to remember that they exist at all, it really does not matter.';
const LONG_PROMPT = 'How often should I water the vegetables in my garden during a hot summer, and does it matter how much water I give them each time?';

describe('noise checks on hand-made pairs', () => {
  it('flags identical responses, and only those', () => {
    const checks = run([pair(1, 'Hi', 'Hello', 'Hello'), pair(2, 'Hi', 'Hello', 'Hello!')]);
    assert.deepEqual(checks.indices('identical_responses'), [0]);
  });

  it('flags exact duplicates whose labels prefer different responses, including swapped sides', () => {
    const checks = run([
      pair(1, 'Q', 'right', 'wrong'),
      pair(2, 'Q', 'wrong', 'right'), // same two responses, sides swapped, label still "a": a conflict
      pair(3, 'R', 'x', 'y'),
      pair(4, 'R', 'y', 'x', 'b'), // swapped and relabelled: the same preference, no conflict
      pair(5, 'S', 'p', 'q'),
      pair(6, 'S', 'p', 'q', 'tie'), // a tie against a preference is a conflict
      pair(7, 'T', 'p', 'q'),
      pair(8, 'T', 'p', 'q', null), // unlabelled: nothing to conflict with
    ]);
    assert.deepEqual(checks.indices('conflicting_duplicates'), [0, 1, 4, 5]);
    assert.equal(checks.summary().conflicting_duplicates, 4);
    assert.deepEqual(checks.indices('near_duplicate_conflicts'), [], 'exact duplicates are not counted again as near-duplicates');
  });

  it('flags near-duplicates with conflicting labels despite case, punctuation and a changed word', () => {
    const edited = (text: string) => text.toUpperCase().replace(/,/g, ' ;').replace('garden', 'yard');
    const checks = run([
      pair(1, LONG_PROMPT, LONG_A, LONG_B),
      pair(2, edited(LONG_PROMPT), edited(LONG_B), edited(LONG_A)), // near-copy, chosen and rejected swapped
      pair(3, `${LONG_PROMPT} Thanks.`, LONG_A.toLowerCase(), LONG_B), // near-copy, same preference
    ]);
    assert.ok(checks.has(0, 'near_duplicate_conflicts') && checks.has(1, 'near_duplicate_conflicts'));
    // Pair 3 agrees with pair 1 but conflicts with pair 2, which it also nearly duplicates.
    assert.deepEqual(checks.indices('near_duplicate_conflicts'), [0, 1, 2]);
  });

  it('still finds a near-duplicate of the first pair after thousands of others (the bucket table grows)', () => {
    const random = mulberry32(4);
    const word = () => Math.floor(random() * 1e6).toString(36);
    const sentence = (n: number) => Array.from({ length: n }, word).join(' ');
    const pairs = [pair(1, LONG_PROMPT, LONG_A, LONG_B)];
    for (let i = 0; i < 800; i++) pairs.push(pair(pairs.length + 1, sentence(20), sentence(30), sentence(30)));
    pairs.push(pair(pairs.length + 1, LONG_PROMPT.toLowerCase(), LONG_B, LONG_A.replace('garden', 'yard')));
    const checks = run(pairs);
    assert.deepEqual(checks.indices('near_duplicate_conflicts'), [0, pairs.length - 1]);
  });

  it('does not match pairs that only share a prompt, or whose responses are unrelated', () => {
    const checks = run([
      pair(1, LONG_PROMPT, LONG_A, LONG_B),
      pair(2, LONG_PROMPT, 'Every day at dawn, about two litres a plant.', 'Only when it has not rained for a week.', 'b'),
    ]);
    assert.deepEqual(checks.indices('near_duplicate_conflicts'), []);
  });

  it('flags empty and whitespace-only responses, and responses of more than one turn', () => {
    const diverging: Pair = { line: 3, prompt: turn('Hi', 'user'), a: [...turn('Hello!'), ...turn('Owls?', 'user'), ...turn('They hunt.')], b: turn('Go away.'), label: 'a' };
    const checks = run([pair(1, 'Q', ' \n\t ', 'answer'), pair(2, 'Q', 'answer', ''), diverging, pair(4, 'Q', 'a', 'b')]);
    assert.deepEqual(checks.indices('empty_responses'), [0, 1]);
    assert.deepEqual(checks.indices('diverging_transcripts'), [2]);
    assert.deepEqual(checks.of(2), ['diverging_transcripts']);
    assert.deepEqual(checks.of(3), []);
  });

  it('estimates Jaccard similarity from the sketches of normalized text', () => {
    assert.deepEqual(normalizedWords('Hello,  WORLD! Ça va?'), ['hello', 'world', 'ça', 'va']);
    const x = sketch(turn(LONG_A));
    assert.equal(similarity(x, sketch(turn(LONG_A.toUpperCase().replace(/\./g, ' !')))), 1);
    assert.ok(similarity(x, sketch(turn(LONG_B))) < 0.2);
    // Non-ASCII text: case, accents kept, NFKC (the "ﬁ" ligature is "fi"), curly apostrophes split words.
    const accented = 'The CAFÉ’s déjà-vu ﬁle is naïve, said the résumé of Ça Va';
    assert.equal(similarity(sketch(turn(accented)), sketch(turn("the café's DÉJÀ vu file is NAÏVE said the résumé of ça va"))), 1);
    assert.ok(similarity(sketch(turn(accented)), sketch(turn('The cafe s deja vu file is naive said the resume of ca va'))) < 0.5, 'accents are not dropped');
  });
});

describe('noise checks while a file is indexed', () => {
  const expected = {
    identical_responses: { count: 1, lines: [2] },
    conflicting_duplicates: { count: 2, lines: [3, 4] },
    near_duplicate_conflicts: { count: 2, lines: [6, 7] },
    empty_responses: { count: 1, lines: [10] },
    diverging_transcripts: { count: 1, lines: [11] },
  };

  it('finds the same pairs streamed in small batches as read whole', async () => {
    const dataset = await loadDataset(fixture);
    const whole = PairTable.fromPairs(dataset.pairs);
    assert.deepEqual(checksReport(whole.checks, (i) => whole.line(i)), expected);
    const index = await openDatasetIndex(fixture);
    try {
      const { table, done } = PairTable.fromIndex(index, { batch: 3 });
      await done;
      assert.deepEqual(checksReport(table.checks, (i) => table.line(i)), expected);
    } finally {
      await index.close();
    }
  });

  it('counts the two identical-response pairs of the shared HH-RLHF test split', { skip: existsSync(shared) ? false : `${shared} is absent` }, async () => {
    const dataset = await loadDataset(shared);
    const table = PairTable.fromPairs(dataset.pairs);
    const report = checksReport(table.checks, (i) => table.line(i));
    assert.equal(report.identical_responses.count, 2);
    for (const line of report.identical_responses.lines) {
      const p = dataset.pairs.find((x) => x.line === line)!;
      assert.deepEqual(p.a, p.b);
    }
    assert.equal(report.conflicting_duplicates.count, 0);
  });
});

describe('noise checks in the review editor state', () => {
  it('counts each check in the status, filters the list by it, and marks rows and pairs', async () => {
    const dataset = await loadDataset(fixture);
    const state = new ReviewState(PairTable.fromPairs(dataset.pairs));
    assert.deepEqual(state.status().checks, {
      identical_responses: 1,
      conflicting_duplicates: 2,
      near_duplicate_conflicts: 2,
      empty_responses: 1,
      diverging_transcripts: 1,
    });
    const shown = await state.select({ filter: 'all', sort: 'file', check: 'conflicting_duplicates' });
    assert.deepEqual(shown.map((i) => state.table.line(i)), [3, 4]);
    const { total, rows } = await state.rows(0, 10, { filter: 'all', sort: 'file', check: 'near_duplicate_conflicts' });
    assert.equal(total, 2);
    assert.deepEqual(rows.map((r) => [r.line, r.checks]), [[6, ['near_duplicate_conflicts']], [7, ['near_duplicate_conflicts']]]);
    const [plain] = await state.pairRows([0]);
    assert.equal(plain.checks, undefined);
    const [identical] = await state.pairRows([1]);
    assert.deepEqual(identical.checks, ['identical_responses']);
  });
});

describe('plens review: checks', () => {
  const scratch = cliScratch('plens-checks-', 'shared');

  it('reports every check with its count and 1-based lines', async () => {
    const dataset = await loadDataset(fixture);
    const scores = path.join(scratch.dir, 'scores.jsonl');
    await writeFile(scores, dataset.pairs.map((p, i) => JSON.stringify({ line: p.line, reward_a: i % 3, reward_b: 1 })).join('\n') + '\n');
    const run = await scratch.plens('review', fixture, '--scores', scores);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.checks, {
      identical_responses: { count: 1, lines: [2] },
      conflicting_duplicates: { count: 2, lines: [3, 4] },
      near_duplicate_conflicts: { count: 2, lines: [6, 7] },
      empty_responses: { count: 1, lines: [10] },
      diverging_transcripts: { count: 1, lines: [11] },
    });
  });
});
