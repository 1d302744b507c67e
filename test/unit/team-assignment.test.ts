// A team splitting one file with no server, and settling its disagreements: the rendezvous-hashed
// shares (each pair to exactly `overlap` annotators, balanced, stable when someone joins), the
// adjudicator's decisions in the annotation log (kept apart from the annotators' own labels,
// surviving a git union merge), the export's label resolution, and the editor's queues over them.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { AnnotationLog, pairKeys, type AnnotationEvent, type ReviewLabel } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';
import { assignees, checkTeam, murmur3, parseTeam, teamProgress, TeamFileError, type Team } from '../../src/core/assignment';
import { teamPath } from '../../src/core/teamFile';
import { readTeam } from '../../src/core/teamFile';
import { exportDataset } from '../../src/core/export';
import { majorityLabel, resolveLabel } from '../../src/core/labelResolution';
import type { Pair } from '../../src/core/pair';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import { teamReport } from '../../src/core/team';

const keysOf = (n: number) => Array.from({ length: n }, (_, i) => `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${i}`);

describe('murmur3', () => {
  it('gives the published murmur3 x86 32-bit values', () => {
    // Reference values of MurmurHash3_x86_32 (Appleby's SMHasher), incl. every tail length.
    assert.equal(murmur3('', 0), 0);
    assert.equal(murmur3('', 1), 0x514e28b7);
    assert.equal(murmur3('hello', 0), 0x248bfa47);
    assert.equal(murmur3('The quick brown fox jumps over the lazy dog', 0), 0x2e4ff723);
    assert.equal(murmur3('aaaa', 0x9747b28c), 0x5a97808a);
    assert.equal(murmur3('abc', 0x9747b28c), 0xc84a62dd);
    assert.equal(murmur3('ab', 0x9747b28c), 0x74875592);
    assert.equal(murmur3('a', 0x9747b28c), 0x7fa09ea6);
  });
});

describe('assignment by rendezvous hashing', () => {
  const KEYS = keysOf(10_000);
  const team: Team = { annotators: ['alice', 'bob', 'carol', 'dan', 'eve'], overlap: 2 };

  it('gives each pair exactly `overlap` different annotators of the team, the same ones every time', () => {
    for (const key of KEYS) {
      const names = assignees(key, team);
      assert.equal(names.length, 2);
      assert.equal(new Set(names).size, 2);
      assert.ok(names.every((n) => team.annotators.includes(n)));
    }
    assert.deepEqual(KEYS.map((k) => assignees(k, team)), KEYS.map((k) => assignees(k, { annotators: [...team.annotators], overlap: 2 })));
    // The team file's order does not matter: the weights are the names'.
    const reordered = { annotators: [...team.annotators].reverse(), overlap: 2 };
    assert.deepEqual(KEYS.map((k) => assignees(k, team).sort()), KEYS.map((k) => assignees(k, reordered).sort()));
  });

  it('balances the shares within a few percent on 10k pairs', () => {
    const progress = teamProgress(KEYS, team, () => false);
    const expected = (KEYS.length * team.overlap) / team.annotators.length; // 4000
    for (const { name, assigned } of progress) assert.ok(Math.abs(assigned - expected) / expected < 0.04, `${name}: ${assigned} vs ${expected}`);
    assert.equal(progress.reduce((n, p) => n + p.assigned, 0), KEYS.length * team.overlap);
  });

  it('moves only about overlap/n of the assignments when an annotator joins, all of them to the newcomer', () => {
    const grown: Team = { annotators: [...team.annotators, 'frank'], overlap: 2 };
    let moved = 0;
    for (const key of KEYS) {
      const before = new Set(assignees(key, team));
      const after = assignees(key, grown);
      for (const name of after) {
        if (before.has(name)) continue;
        assert.equal(name, 'frank', 'a seat changes hands only to the newcomer');
        moved++;
      }
    }
    // frank wins a seat of each pair with probability overlap/6: 1/3 of pairs, one seat each.
    const share = moved / KEYS.length;
    assert.ok(Math.abs(share - 2 / 6) < 0.03, `moved ${share}`);
  });

  it('counts progress as the assigned pairs each annotator labelled', () => {
    const small: Team = { annotators: ['alice', 'bob'], overlap: 1 };
    const keys = keysOf(50);
    const alices = keys.filter((k) => assignees(k, small)[0] === 'alice');
    const labelled = new Set(alices.slice(0, 3).map((k) => `alice/${k}`));
    // A label outside her share does not count as progress.
    const outside = keys.find((k) => !alices.includes(k))!;
    labelled.add(`alice/${outside}`);
    const progress = teamProgress(keys, small, (key, name) => labelled.has(`${name}/${key}`));
    assert.deepEqual(progress, [{ name: 'alice', assigned: alices.length, done: 3 }, { name: 'bob', assigned: 50 - alices.length, done: 0 }]);
  });

  it('checks a team file and names what is wrong', async () => {
    assert.deepEqual(checkTeam({ annotators: [' alice ', 'bob'] }, 't'), { annotators: ['alice', 'bob'], overlap: 1 });
    assert.throws(() => checkTeam({ annotators: ['alice', 'bob'], overlap: 3 }, 'team.json'), /team\.json: "overlap" should be a whole number from 1 to 2.*got 3/);
    assert.throws(() => checkTeam({ annotators: ['alice', 'alice'] }, 't'), /"alice" is listed twice/);
    assert.throws(() => checkTeam({ annotators: [] }, 't'), /non-empty list/);
    assert.throws(() => parseTeam('{\n  "annotators": ["a",\n}', 'x.plens-team.json'), (e: Error) => e instanceof TeamFileError && /^x\.plens-team\.json(:3)?: invalid JSON/.test(e.message));
    const dir = await mkdtemp(path.join(os.tmpdir(), 'plens-team-file-'));
    try {
      const dataset = path.join(dir, 'd.jsonl');
      assert.equal(await readTeam(teamPath(dataset)), undefined);
      await writeFile(teamPath(dataset), JSON.stringify({ annotators: ['alice', 'bob'], overlap: 2 }));
      assert.deepEqual(await readTeam(teamPath(dataset)), { annotators: ['alice', 'bob'], overlap: 2 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const at = (s: number) => `2026-12-01T10:00:${String(s).padStart(2, '0')}.000Z`;
const label = (key: string, by: string, to: ReviewLabel | null, s: number, role?: 'adjudicator'): AnnotationEvent => ({
  key,
  line: 1,
  field: 'label',
  from: null,
  to,
  by,
  at: at(s),
  ...(role ? { role } : {}),
});

describe('adjudication in the annotation log', () => {
  it('keeps the decision apart from the annotators’ labels, and makes it the pair’s label', () => {
    const log = AnnotationLog.empty();
    log.record(label('k', 'alice', 'a', 1));
    log.record(label('k', 'bob', 'b', 2));
    assert.equal(log.get('k')?.label, 'b', 'before a decision: the label set last');
    log.record(label('k', 'carol', 'a', 3, 'adjudicator'));
    assert.deepEqual(log.adjudicationOf('k'), { label: 'a', by: 'carol', at: at(3) });
    assert.equal(log.get('k')?.label, 'a');
    // Agreement is computed on the annotators' own labels: the adjudicator is not one of them.
    assert.deepEqual([...log.labelsByAnnotator().get('k')!], [['alice', 'a'], ['bob', 'b']]);
    // A later annotator label does not override the decision; withdrawing the decision uncovers it.
    log.record(label('k', 'dan', 'tie', 4));
    assert.equal(log.get('k')?.label, 'a');
    log.record({ ...label('k', 'carol', null, 5, 'adjudicator'), from: 'a' });
    assert.equal(log.adjudicationOf('k'), undefined);
    assert.equal(log.get('k')?.label, 'tie');
  });

  it('round-trips through the sidecar and survives a union merge of two branches', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'plens-adjudication-'));
    try {
      const file = path.join(dir, 'd.jsonl.plens-annotations.jsonl');
      const base = AnnotationLog.empty();
      base.record(label('k', 'alice', 'a', 1));
      base.record(label('k', 'bob', 'b', 2));
      await base.save(file);
      const common = await readFile(file, 'utf8');
      // Branch 1: carol adjudicates. Branch 2: dan labels another pair. git's union driver concatenates.
      const one = AnnotationLog.parse(common, file);
      one.record(label('k', 'carol', 'b', 3, 'adjudicator'));
      await one.save(file);
      const left = await readFile(file, 'utf8');
      const two = AnnotationLog.parse(common, file);
      two.record(label('j', 'dan', 'tie', 4));
      await two.save(file);
      const right = await readFile(file, 'utf8');
      const merged = AnnotationLog.parse(left + right, file);
      assert.deepEqual(merged.adjudicationOf('k'), { label: 'b', by: 'carol', at: at(3) });
      assert.equal(merged.get('j')?.label, 'tie');
      assert.deepEqual([...merged.labelsByAnnotator().get('k')!.keys()], ['alice', 'bob']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a role it does not know, naming the line', () => {
    const text = `{"plens":"annotations","version":1}\n${JSON.stringify({ ...label('k', 'x', 'a', 1), role: 'owner' })}\n`;
    assert.throws(() => AnnotationLog.parse(text, 'f.jsonl'), /f\.jsonl:2: role "owner" is not one this version knows/);
    const flagged = `{"plens":"annotations","version":1}\n${JSON.stringify({ key: 'k', line: 1, field: 'flagged', from: null, to: true, by: 'x', at: at(1), role: 'adjudicator' })}\n`;
    assert.throws(() => AnnotationLog.parse(flagged, 'f.jsonl'), /f\.jsonl:2: role/);
  });
});

describe('label resolution', () => {
  it('takes the decision, else a strict majority, else the file; a tie falls through', () => {
    assert.equal(majorityLabel(['a', 'b', 'a']), 'a');
    assert.equal(majorityLabel(['a', 'b']), undefined);
    assert.equal(majorityLabel(['a', 'a', 'b', 'b', 'tie']), undefined);
    assert.equal(majorityLabel([]), undefined);
    const inputs = { adjudicated: 'tie' as const, labels: ['a', 'b', 'b'] as ReviewLabel[], fileLabel: 'a' as const };
    assert.deepEqual(resolveLabel('adjudicated', inputs), { label: 'tie', source: 'adjudicated' });
    assert.deepEqual(resolveLabel('majority', inputs), { label: 'b', source: 'majority' });
    assert.deepEqual(resolveLabel('file', inputs), { label: 'a', source: 'file' });
    assert.deepEqual(resolveLabel('adjudicated', { labels: ['a', 'b'], fileLabel: 'b' }), { label: 'b', source: 'file', tie: true });
    assert.deepEqual(resolveLabel('adjudicated', { labels: [], fileLabel: null }), { label: null, source: 'file' });
  });

  it('exports each pair with its resolved label under every policy', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'plens-resolve-'));
    try {
      const file = path.join(dir, 'd.jsonl');
      // chosen/rejected: every file label is "a".
      await writeFile(file, Array.from({ length: 5 }, (_, i) => JSON.stringify({ prompt: `Q${i}?`, chosen: `good ${i}`, rejected: `bad ${i}` })).join('\n') + '\n');
      const keys = pairKeys((await loadDataset(file)).pairs);
      const log = AnnotationLog.empty();
      // Pair 1: alice b, bob b → majority b. Pair 2: alice b, bob a → tie → file (a); adjudicated b.
      // Pair 3: alice b, bob a, carol b → majority b; adjudicated a. Pair 4: alice b alone → b. Pair 5: nobody.
      log.record(label(keys[0], 'alice', 'b', 1));
      log.record(label(keys[0], 'bob', 'b', 2));
      log.record(label(keys[1], 'alice', 'b', 3));
      log.record(label(keys[1], 'bob', 'a', 4));
      log.record(label(keys[1], 'carol', 'b', 5, 'adjudicator'));
      log.record(label(keys[2], 'alice', 'b', 6));
      log.record(label(keys[2], 'bob', 'a', 7));
      log.record(label(keys[2], 'carol', 'b', 8));
      log.record(label(keys[2], 'dan', 'a', 9, 'adjudicator'));
      log.record(label(keys[3], 'alice', 'b', 10));
      const labelsOut = async (resolve: 'adjudicated' | 'majority' | 'file') => {
        const out = path.join(dir, `${resolve}.jsonl`);
        const report = await exportDataset(file, out, { to: 'trl-standard', annotations: log, resolve });
        const chosen = (await readFile(out, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l).chosen as string).startsWith('good') ? 'a' : 'b');
        return { chosen, report };
      };
      const adjudicated = await labelsOut('adjudicated');
      assert.deepEqual(adjudicated.chosen, ['b', 'b', 'a', 'b', 'a']);
      assert.deepEqual(adjudicated.report.resolution, { policy: 'adjudicated', adjudicated: 2, majority: 2, ties: 0 });
      const majority = await labelsOut('majority');
      assert.deepEqual(majority.chosen, ['b', 'a', 'b', 'b', 'a']);
      assert.deepEqual(majority.report.resolution, { policy: 'majority', adjudicated: 0, majority: 3, ties: 1 });
      assert.deepEqual((await labelsOut('file')).chosen, ['a', 'a', 'a', 'a', 'a']);
      await assert.rejects(exportDataset(file, path.join(dir, 'x.jsonl'), { to: 'same', annotations: log, resolve: 'latest' as 'file' }), /unknown label resolution "latest"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the review editor’s team queues', () => {
  const pair = (i: number): Pair => ({ line: i + 1, prompt: [{ role: 'user', content: `Q${i}?` }], a: [{ role: 'assistant', content: `A${i}` }], b: [{ role: 'assistant', content: `B${i}` }], label: 'a' });
  let state: ReviewState;
  let keys: readonly string[];
  before(() => {
    const table = PairTable.fromPairs(Array.from({ length: 40 }, (_, i) => pair(i)));
    keys = table.keys;
    state = new ReviewState(table);
  });

  it('lists the pairs annotators label differently until adjudicated, and the adjudicated ones apart', async () => {
    const log = AnnotationLog.empty();
    log.record(label(keys[0], 'alice', 'a', 1));
    log.record(label(keys[0], 'bob', 'a', 2)); // agree
    log.record(label(keys[1], 'alice', 'a', 3));
    log.record(label(keys[1], 'bob', 'b', 4)); // conflict
    log.record(label(keys[2], 'alice', 'tie', 5));
    log.record(label(keys[2], 'bob', 'b', 6)); // conflict
    log.record(label(keys[3], 'alice', 'b', 7)); // alone
    state.annotations = log;
    state.annotator = 'carol';
    assert.deepEqual(await state.select({ filter: 'annotators-disagree', sort: 'file' }), [1, 2]);
    const [shown] = await state.pairRows([1]);
    assert.deepEqual(shown.annotators, [{ name: 'alice', label: 'a' }, { name: 'bob', label: 'b' }]);
    log.record(label(keys[1], 'carol', 'b', 8, 'adjudicator'));
    assert.deepEqual(await state.select({ filter: 'annotators-disagree', sort: 'file' }), [2]);
    assert.deepEqual(await state.select({ filter: 'adjudicated', sort: 'file' }), [1]);
    assert.deepEqual((await state.pairRows([1]))[0].adjudication, { label: 'b', by: 'carol' });
    const listed = (await state.rows(0, 3)).rows;
    assert.deepEqual(listed.map((row) => row.adjudicated === true), [false, true, false], 'the list marks the adjudicated pair');
    const report = state.stats().team!;
    assert.deepEqual([report.conflicts, report.adjudicated], [2, 1]);
  });

  it('a list row and the pair view say whose label the verdict is of: yours, a colleague’s, the adjudicator’s', async () => {
    const table = PairTable.fromPairs(Array.from({ length: 3 }, (_, i) => pair(i)));
    // The model prefers A on every pair.
    for (let i = 0; i < 3; i++) table.setScore(i, { rewardA: 1, rewardB: 0 });
    const own = new ReviewState(table);
    const k = table.keys;
    own.annotations.record(label(k[0], 'alice', 'b', 1));
    own.annotations.record(label(k[1], 'bob', 'b', 2));
    own.annotations.record(label(k[2], 'bob', 'b', 3));
    own.annotations.record(label(k[2], 'carol', 'a', 4, 'adjudicator'));
    own.annotator = 'bob';
    const rows = (await own.rows(0, 3)).rows;
    assert.deepEqual(rows.map((row) => row.decided), [
      { label: 'b', by: 'alice', yours: false },
      { label: 'b', by: 'bob', yours: true },
      { label: 'a', by: 'carol', yours: false },
    ]);
    // The verdict is of that label, not of the file's (a): alice's B disagrees with the model's A.
    assert.deepEqual(rows.map((row) => row.score?.agrees), [false, false, true]);
    assert.deepEqual((await own.pairRows([0, 1, 2])).map((row) => row.labelBy), [
      { name: 'alice', yours: false },
      { name: 'bob', yours: true },
      { name: 'carol', yours: false },
    ]);
  });

  it('hides colleagues’ labels in blind review until you decide, as adjudicator too', async () => {
    state.blind = true;
    state.annotator = 'dan';
    const [before] = await state.pairRows([2]);
    assert.equal(before.annotators, undefined);
    assert.equal((await state.rows(1, 1)).rows[0].adjudicated, undefined, 'blind: the decision is withheld from the list until you decide');
    assert.equal(before.annotation?.label, undefined);
    state.annotations.record(label(keys[2], 'dan', 'b', 9, 'adjudicator'));
    const [after] = await state.pairRows([2]);
    assert.deepEqual(after.annotators, [{ name: 'alice', label: 'tie' }, { name: 'bob', label: 'b' }]);
    state.blind = false;
  });

  it('lists my share: the pairs the team assigns me that I have not labelled', async () => {
    state.team = { annotators: ['alice', 'bob', 'carol'], overlap: 2 };
    state.annotator = 'alice';
    const mine = keys.map((k, i) => [k, i] as const).filter(([k]) => assignees(k, state.team!).includes('alice')).map(([, i]) => i);
    const expected = mine.filter((i) => !state.annotations.labelOf(keys[i], 'alice'));
    assert.ok(expected.length > 10 && expected.length < mine.length);
    assert.deepEqual(await state.select({ filter: 'my-share', sort: 'file' }), expected);
    const progress = state.stats().team!.annotators.map((a) => [a.name, a.assigned, a.done]);
    const done = (name: string) => keys.filter((k) => assignees(k, state.team!).includes(name) && state.annotations.labelOf(k, name)).length;
    const assigned = (name: string) => keys.filter((k) => assignees(k, state.team!).includes(name)).length;
    assert.deepEqual(progress, ['alice', 'bob', 'carol'].map((n) => [n, assigned(n), done(n)]));
    // Someone outside the team file has no share.
    state.annotator = 'zed';
    assert.deepEqual(await state.select({ filter: 'my-share', sort: 'file' }), []);
    // Changing the team (the file edited, pulled) changes the share at once.
    state.team = { annotators: ['zed'], overlap: 1 };
    assert.equal((await state.select({ filter: 'my-share', sort: 'file' })).length, 40);
    state.team = undefined;
  });
});

describe('teamReport with a team', () => {
  it('lists every member, labelled or not, with assigned and done', () => {
    const team: Team = { annotators: ['alice', 'bob'], overlap: 2 };
    const keys = keysOf(4);
    const labels = new Map([[keys[0], new Map<string, ReviewLabel>([['alice', 'a']])]]);
    const report = teamReport({ keys, fileLabel: () => 'a', modelPrefers: () => undefined, labels, team });
    assert.deepEqual(report.annotators.map((a) => [a.name, a.labelled, a.assigned, a.done]), [['alice', 1, 4, 1], ['bob', 0, 4, 0]]);
    assert.equal(report.overlap, 2);
  });
});
