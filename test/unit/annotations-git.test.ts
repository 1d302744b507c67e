// Two annotators on two git branches of one dataset: their annotation logs merge with real git, and
// both sets are there afterwards — with the union attribute cleanly, without it as a conflict that
// still reads as the union and is written clean by the next save.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AnnotationLog, gitAttributesLine, sidecarPath, type ReviewLabel } from '../../src/core/annotations';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function repo(withAttributes: boolean): Promise<{ dir: string; git: (...args: string[]) => string; sidecar: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'plens-git-'));
  dirs.push(dir);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null' } });
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Test');
  git('config', 'user.email', 'test@example.com');
  await writeFile(path.join(dir, 'data.jsonl'), '{"prompt":"p","chosen":"a","rejected":"b"}\n');
  if (withAttributes) await writeFile(path.join(dir, '.gitattributes'), `${gitAttributesLine}\n`);
  git('add', '-A');
  git('commit', '-q', '-m', 'dataset');
  return { dir, git, sidecar: sidecarPath(path.join(dir, 'data.jsonl')) };
}

async function annotate(sidecar: string, by: string, labels: Array<[string, ReviewLabel]>, at: string) {
  const log = await AnnotationLog.load(sidecar);
  for (const [key, label] of labels) log.record({ key, line: 1, field: 'label', from: null, to: label, by, at });
  await log.save(sidecar);
}

/** Alice annotates on branch alice, Bob on branch bob, both from main; then bob is merged into alice. */
async function twoBranches(withAttributes: boolean, shared: boolean) {
  const { git, sidecar } = await repo(withAttributes);
  if (shared) {
    await annotate(sidecar, 'carol', [['k0', 'a']], '2026-01-01T00:00:00.000Z');
    git('add', '-A');
    git('commit', '-q', '-m', 'first annotation');
  }
  git('checkout', '-q', '-b', 'alice');
  await annotate(sidecar, 'alice', [['k1', 'a'], ['k2', 'b'], ['k3', 'tie']], '2026-01-02T00:00:00.000Z');
  git('add', '-A');
  git('commit', '-q', '-m', 'alice');
  git('checkout', '-q', 'main');
  git('checkout', '-q', '-b', 'bob');
  await annotate(sidecar, 'bob', [['k1', 'b'], ['k2', 'b'], ['k4', 'both-bad']], '2026-01-03T00:00:00.000Z');
  git('add', '-A');
  git('commit', '-q', '-m', 'bob');
  git('checkout', '-q', 'alice');
  const merge = spawnSync('git', ['merge', '-q', '--no-edit', 'bob'], { cwd: path.dirname(sidecar), encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null' } });
  return { merge, sidecar, git };
}

function assertBothSets(labels: Map<string, Map<string, ReviewLabel>>) {
  assert.deepEqual(Object.fromEntries([...labels].map(([key, byAnnotator]) => [key, Object.fromEntries(byAnnotator)])), {
    ...(labels.has('k0') ? { k0: { carol: 'a' } } : {}),
    k1: { alice: 'a', bob: 'b' },
    k2: { alice: 'b', bob: 'b' },
    k3: { alice: 'tie' },
    k4: { bob: 'both-bad' },
  });
}

describe('annotations in git', () => {
  for (const shared of [true, false]) {
    it(`with the union attribute, two branches merge cleanly and both annotators' labels are there (${shared ? 'sidecar in the base' : 'sidecar created on both branches'})`, async () => {
      const { merge, sidecar } = await twoBranches(true, shared);
      assert.equal(merge.status, 0, merge.stdout + merge.stderr);
      const labels = (await AnnotationLog.load(sidecar)).labelsByAnnotator();
      assertBothSets(labels);
      assert.equal(labels.has('k0'), shared);
    });
  }

  it('without it, the conflicted file still reads as the union, and saving writes it clean', async () => {
    const { merge, sidecar } = await twoBranches(false, true);
    assert.notEqual(merge.status, 0, 'git reports a conflict');
    const conflicted = await readFile(sidecar, 'utf8');
    assert.match(conflicted, /^<<<<<<< /m);
    const log = await AnnotationLog.load(sidecar);
    assertBothSets(log.labelsByAnnotator());
    // Bob's later label of k1 wins the folded state: events fold by time, not file position.
    assert.equal(log.get('k1')?.label, 'b');
    log.record({ key: 'k5', line: 1, field: 'label', from: null, to: 'a', by: 'alice', at: '2026-01-04T00:00:00.000Z' });
    await log.save(sidecar);
    const saved = await readFile(sidecar, 'utf8');
    assert.doesNotMatch(saved, /^(<<<<<<<|=======|>>>>>>>)/m);
    assertBothSets(new Map([...(await AnnotationLog.load(sidecar)).labelsByAnnotator()].filter(([key]) => key !== 'k5')));
  });
});

describe('several annotators on one pair', () => {
  it("the pair's label is the latest one set; clearing yours uncovers a colleague's; each keeps their own", () => {
    const log = AnnotationLog.empty();
    const event = (by: string, from: ReviewLabel | null, to: ReviewLabel | null) => log.record({ key: 'k', line: 1, field: 'label', from, to, by, at: '2026-01-01T00:00:00.000Z' });
    event('alice', null, 'a');
    event('bob', null, 'b');
    assert.equal(log.get('k')?.label, 'b');
    assert.equal(log.labelOf('k', 'alice'), 'a');
    assert.deepEqual(log.labelsOf('k'), [['alice', 'a'], ['bob', 'b']]);
    event('alice', 'a', 'tie');
    assert.equal(log.get('k')?.label, 'tie');
    assert.deepEqual(log.labelsOf('k'), [['bob', 'b'], ['alice', 'tie']]);
    // Alice undoes: Bob's label is the pair's again, not nothing.
    event('alice', 'tie', null);
    assert.equal(log.get('k')?.label, 'b');
    event('bob', 'b', null);
    assert.equal(log.get('k'), undefined);
  });
});
