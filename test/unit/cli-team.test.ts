// A team's labels through plens, as a user runs it: labels made elsewhere imported per annotator,
// checked before anything is written, and plens review's agreement figures equal to a computation
// of our own from the same labels.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath, runPlens } from '../support/plens';
import { assignees } from '../../src/core/assignment';
import { AnnotationLog, pairKeys } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';

let dir: string;
let dataset: string;
const PAIRS = 12;
before(async () => {
  assert.ok(existsSync(cliPath), `${cliPath} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'plens-team-'));
  dataset = path.join(dir, 'pairs.jsonl');
  const lines = Array.from({ length: PAIRS }, (_, i) => JSON.stringify({ prompt: `Question ${i}?`, chosen: `A careful answer number ${i}${' with detail'.repeat(i % 4)}.`, rejected: `Answer ${i}.` }));
  await writeFile(dataset, lines.join('\n') + '\n');
});
after(() => rm(dir, { recursive: true, force: true }));

const plens = (...args: string[]) => runPlens(args, { ...process.env, XDG_CACHE_HOME: path.join(dir, 'xdg') });
const labelsFile = async (name: string, rows: Array<[number, string]>) => {
  const file = path.join(dir, `${name}.jsonl`);
  await writeFile(file, rows.map(([line, label]) => JSON.stringify({ line, label })).join('\n') + '\n');
  return file;
};

const ALICE: Array<[number, string]> = [[1, 'a'], [2, 'a'], [3, 'b'], [4, 'a'], [5, 'tie'], [6, 'a'], [7, 'b'], [8, 'a']];
const BOB: Array<[number, string]> = [[3, 'b'], [4, 'b'], [5, 'tie'], [6, 'a'], [7, 'a'], [8, 'a'], [9, 'both-bad'], [10, 'a']];

describe('plens annotate --import and the team figures of plens review', () => {
  it('refuses a labels file with bad lines, listing each, and writes nothing', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    await writeFile(bad, ['{"line": 1, "label": "a"}', '{"line": 99, "label": "a"}', '{"line": 2, "label": "maybe"}', 'not json', '{"line": 1, "label": "b"}'].join('\n'));
    const run = await plens('annotate', dataset, '--annotator', 'alice', '--import', bad);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /4 line\(s\) of .*bad\.jsonl cannot be imported; nothing was written/);
    assert.match(run.stderr, /bad\.jsonl:2: .* has no pair on line 99/);
    assert.match(run.stderr, /bad\.jsonl:3: label "maybe" is not one of a, b, tie, both-bad/);
    assert.match(run.stderr, /bad\.jsonl:4: not JSON/);
    assert.match(run.stderr, /bad\.jsonl:5: line 1 is labelled a already \(.*bad\.jsonl:1\)/);
    assert.equal(existsSync(`${dataset}.plens-annotations.jsonl`), false);
    assert.match((await plens('annotate', dataset, '--import', bad)).stderr, /--annotator <name> is required/);
  });

  it('imports each annotator’s labels, and importing them again changes nothing', async () => {
    const first = await plens('annotate', dataset, '--annotator', 'alice', '--import', await labelsFile('alice', ALICE));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { annotator: 'alice', imported: 8, unchanged: 0, annotations: `${dataset}.plens-annotations.jsonl` });
    assert.equal((await plens('annotate', dataset, '--annotator', 'bob', '--import', await labelsFile('bob', BOB))).code, 0);
    const again = await plens('annotate', dataset, '--annotator', 'bob', '--import', path.join(dir, 'bob.jsonl'));
    assert.equal(JSON.parse(again.stdout).unchanged, 8);
  });

  it('reports each annotator and their agreement, equal to our own computation', async () => {
    const scores = path.join(dir, 'scores.jsonl');
    assert.equal((await plens('score', dataset, '--no-cache', '--out', scores)).code, 0);
    const run = await plens('review', dataset, '--scores', scores);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    const prefers = new Map((await readFile(scores, 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).map((row) => [row.line, row.prefers]));
    const expectedFor = (name: string, rows: Array<[number, string]>) => ({
      name,
      labelled: rows.length,
      // Every record's file label is "a" (chosen/rejected).
      agreement_with_file: rows.filter(([, label]) => label === 'a').length / rows.length,
      agreement_with_model: rows.filter(([line, label]) => label === prefers.get(line)).length / rows.length,
    });
    assert.deepEqual(report.annotators, [expectedFor('alice', ALICE), expectedFor('bob', BOB)]);

    // Cohen's κ on the six lines both labelled (3–8), by hand: alice b,a,tie,a,b,a — bob b,b,tie,a,a,a.
    const both = ALICE.filter(([line]) => BOB.some(([l]) => l === line)).map(([line, label]) => [label, BOB.find(([l]) => l === line)![1]]);
    assert.equal(both.length, 6);
    const po = both.filter(([x, y]) => x === y).length / 6; // 4/6
    const categories = ['a', 'b', 'tie'];
    const pe = categories.reduce((sum, c) => sum + (both.filter(([x]) => x === c).length / 6) * (both.filter(([, y]) => y === c).length / 6), 0);
    const kappa = (po - pe) / (1 - pe);
    assert.equal(report.inter_annotator.pairs_multiply_labelled, 6);
    assert.equal(report.inter_annotator.percent_agreement, po);
    assert.equal(report.inter_annotator.pairwise.length, 1);
    const [pair] = report.inter_annotator.pairwise;
    assert.deepEqual([pair.a, pair.b, pair.pairs], ['alice', 'bob', 6]);
    assert.ok(Math.abs(pair.cohen_kappa - kappa) < 1e-12, `${pair.cohen_kappa} vs ${kappa}`);
    // Krippendorff's α for two annotators over those six units: each unit gives the ordered pairs (x, y) and (y, x).
    const values = both.flat();
    const n = values.length;
    const observed = both.filter(([x, y]) => x !== y).length * 2;
    const counts = categories.map((c) => values.filter((v) => v === c).length);
    const expected = counts.reduce((sum, ci, i) => sum + counts.reduce((inner, ck, k) => inner + (i === k ? 0 : ci * ck), 0), 0);
    assert.ok(Math.abs(report.inter_annotator.krippendorff_alpha - (1 - ((n - 1) * observed) / expected)) < 1e-12);
  });

  it('reports each member’s assigned pairs and progress, from --team/--overlap or the team file', async () => {
    const scores = path.join(dir, 'scores.jsonl');
    const keys = pairKeys((await loadDataset(dataset)).pairs);
    const team = { annotators: ['alice', 'bob', 'carol'], overlap: 2 };
    const labelled = (rows: Array<[number, string]>) => new Set(rows.map(([line]) => keys[line - 1]));
    const byName: Record<string, Set<string>> = { alice: labelled(ALICE), bob: labelled(BOB), carol: new Set() };
    const expected = team.annotators.map((name) => {
      const mine = keys.filter((key) => assignees(key, team).includes(name));
      return [name, mine.length, mine.filter((key) => byName[name].has(key)).length];
    });
    const progress = (report: { annotators: Array<{ name: string; assigned: number; done: number }> }) => report.annotators.map((a) => [a.name, a.assigned, a.done]);
    const flags = await plens('review', dataset, '--scores', scores, '--team', 'alice,bob,carol', '--overlap', '2');
    assert.equal(flags.code, 0, flags.stderr);
    const fromFlags = JSON.parse(flags.stdout);
    assert.deepEqual(progress(fromFlags), expected);
    assert.deepEqual(fromFlags.team, team);
    assert.equal(expected.reduce((n, [, assigned]) => n + (assigned as number), 0), PAIRS * 2, 'every pair has two annotators');

    // The same team in the file beside the dataset, as the editor reads it.
    await writeFile(`${dataset}.plens-team.json`, JSON.stringify(team, null, 2) + '\n');
    try {
      const fromFile = JSON.parse((await plens('review', dataset, '--scores', scores)).stdout);
      assert.deepEqual(progress(fromFile), expected);
      const bad = await plens('review', dataset, '--scores', scores, '--team', 'alice,alice');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /annotator "alice" is listed twice/);
      const tooMany = await plens('review', dataset, '--scores', scores, '--overlap', '4');
      assert.match(tooMany.stderr, /plens-team\.json with --overlap: "overlap" should be a whole number from 1 to 3/);
    } finally {
      await rm(`${dataset}.plens-team.json`);
    }
  });

  it('adjudicates the conflicts and exports labels resolved by the policy asked for', async () => {
    const scores = path.join(dir, 'scores.jsonl');
    // Conflicts of alice and bob: lines 4 (a/b) and 7 (b/a).
    const before = JSON.parse((await plens('review', dataset, '--scores', scores)).stdout);
    assert.deepEqual(before.adjudication, { conflicts: 2, adjudicated: 0 });
    const decided = await plens('annotate', dataset, '--annotator', 'carol', '--adjudicate', '--import', await labelsFile('carol', [[4, 'b'], [7, 'b']]));
    assert.equal(decided.code, 0, decided.stderr);
    assert.equal(JSON.parse(decided.stdout).role, 'adjudicator');
    const after = JSON.parse((await plens('review', dataset, '--scores', scores)).stdout);
    assert.deepEqual(after.adjudication, { conflicts: 2, adjudicated: 2 });
    // carol is no annotator: the agreement figures are alice's and bob's alone.
    assert.deepEqual(after.annotators.map((a: { name: string }) => a.name), ['alice', 'bob']);
    const log = await AnnotationLog.load(`${dataset}.plens-annotations.jsonl`);
    assert.equal(log.adjudicationOf(pairKeys((await loadDataset(dataset)).pairs)[3])?.by, 'carol');

    const exported = async (resolve?: string) => {
      const out = path.join(dir, `out-${resolve ?? 'default'}.jsonl`);
      const run = await plens('export', dataset, '--out', out, '--to', 'trl-standard', ...(resolve ? ['--resolve', resolve] : []));
      assert.equal(run.code, 0, run.stderr);
      const chosen = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).chosen as string);
      // "a" where the chosen response is the file's chosen one (it is the longer, "careful" answer).
      const labels = chosen.map((c) => (c.startsWith('A careful') ? 'a' : 'b'));
      return { labels, report: JSON.parse(run.stdout) };
    };
    // Lines 1–12 — alice: a a b a tie a b a · bob (3–10): b b tie a a a both-bad a. Ties and both-bad
    // are not expressible in TRL standard, so those lines are left out: the lines kept are listed.
    const byDefault = await exported();
    // adjudicated → majority → file: 1 a, 2 a, 3 b, 4 b (carol), 6 a, 7 b (carol), 8 a, 10 a, 11 a, 12 a; 5 tie, 9 both-bad dropped.
    assert.deepEqual(byDefault.labels, ['a', 'a', 'b', 'b', 'a', 'b', 'a', 'a', 'a', 'a']);
    assert.deepEqual(byDefault.report.resolution, { policy: 'adjudicated', adjudicated: 2, majority: 6, ties: 0 });
    const majority = await exported('majority');
    // Without the decisions, lines 4 and 7 tie and keep the file's label (a).
    assert.deepEqual(majority.labels, ['a', 'a', 'b', 'a', 'a', 'a', 'a', 'a', 'a', 'a']);
    assert.deepEqual(majority.report.resolution, { policy: 'majority', adjudicated: 0, majority: 6, ties: 2 });
    assert.deepEqual((await exported('file')).labels, Array(12).fill('a'));
    const wrong = await plens('export', dataset, '--out', path.join(dir, 'x.jsonl'), '--resolve', 'latest');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /--resolve should be one of adjudicated, majority, file, got "latest"/);
  });
});
