import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AnnotationLog, pairKeys, sidecarPath, type AnnotationEvent } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';

const fixtures = path.join(__dirname, '..', 'fixtures', 'formats');
let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'plens-annotations-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

const event = (key: string, field: AnnotationEvent['field'], to: AnnotationEvent['to'], by = 'alice'): AnnotationEvent => ({
  key,
  line: 1,
  field,
  from: null,
  to,
  by,
  at: '2026-11-29T12:00:00.000Z',
});

describe('pair keys', () => {
  it('follow content, not position, and tell identical pairs apart', async () => {
    const { pairs } = await loadDataset(path.join(fixtures, 'hh-rlhf.jsonl'));
    const keys = pairKeys(pairs);
    assert.equal(new Set(keys).size, keys.length);
    const reversed = pairKeys([...pairs].reverse());
    assert.deepEqual(reversed, [...keys].reverse());
    const doubled = pairKeys([pairs[0], pairs[0]]);
    assert.equal(doubled[1], `${doubled[0]}#1`);
  });
});

describe('AnnotationLog', () => {
  it('round-trips through the sidecar with who, what, from and when', async () => {
    const file = sidecarPath(path.join(dir, 'data.jsonl'));
    const log = await AnnotationLog.load(file);
    assert.equal(log.get('k1'), undefined);
    log.record(event('k1', 'label', 'b'));
    log.record({ ...event('k1', 'label', 'tie'), from: 'b' });
    log.record(event('k2', 'flagged', true));
    log.record(event('k2', 'note', 'check the maths'));
    assert.ok(log.hasPendingChanges);
    assert.equal(await log.save(file), 0);
    assert.ok(!log.hasPendingChanges);

    const reloaded = await AnnotationLog.load(file);
    assert.deepEqual(reloaded.get('k1'), { label: 'tie' });
    assert.deepEqual(reloaded.get('k2'), { flagged: true, note: 'check the maths' });
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { plens: 'annotations', version: 1 });
    assert.deepEqual(lines[2], { key: 'k1', line: 1, field: 'label', from: 'b', to: 'tie', by: 'alice', at: '2026-11-29T12:00:00.000Z' });
  });

  it('clearing a field removes it', async () => {
    const log = AnnotationLog.empty();
    log.record(event('k', 'flagged', true));
    log.record(event('k', 'flagged', null));
    assert.equal(log.get('k'), undefined);
  });

  it('never overwrites changes another writer saved in between: both survive', async () => {
    const file = path.join(dir, 'x.plens-annotations.jsonl');
    const first = await AnnotationLog.load(file);
    const second = await AnnotationLog.load(file);
    first.record(event('k1', 'label', 'a', 'alice'));
    second.record(event('k2', 'label', 'b', 'bob'));
    await first.save(file);
    assert.equal(await second.save(file), 1);
    const merged = await AnnotationLog.load(file);
    assert.deepEqual(merged.get('k1'), { label: 'a' });
    assert.deepEqual(merged.get('k2'), { label: 'b' });
    assert.deepEqual(second.get('k1'), { label: 'a' });
  });

  it('keeps its saved events when the file was replaced underneath', async () => {
    const file = path.join(dir, 'y.plens-annotations.jsonl');
    const log = await AnnotationLog.load(file);
    log.record(event('k1', 'reviewed', true));
    await log.save(file);
    await writeFile(file, '{"plens":"annotations","version":1}\n');
    log.record(event('k2', 'reviewed', true));
    await log.save(file);
    const reloaded = await AnnotationLog.load(file);
    assert.deepEqual(reloaded.get('k1'), { reviewed: true });
    assert.deepEqual(reloaded.get('k2'), { reviewed: true });
  });

  it('refuses a corrupt sidecar with the file and line, and does not save over it', async () => {
    const file = path.join(dir, 'z.plens-annotations.jsonl');
    await writeFile(file, '{"plens":"annotations","version":1}\n{"key":"k","field":"label","to":"maybe"}\n');
    await assert.rejects(AnnotationLog.load(file), /z\.plens-annotations\.jsonl:2: invalid value "maybe" for "label"/);
    const log = AnnotationLog.empty();
    log.record(event('k', 'label', 'a'));
    await assert.rejects(log.save(file), /:2: invalid value/);
    assert.match(await readFile(file, 'utf8'), /maybe/);
    await writeFile(file, 'hello\n');
    await assert.rejects(AnnotationLog.load(file), /:1: not a Preference Lens annotations file/);
  });

  it('restores the unsaved changes of a backup on top of what was saved', async () => {
    const file = path.join(dir, 'b.plens-annotations.jsonl');
    const log = await AnnotationLog.load(file);
    log.record(event('k1', 'label', 'a'));
    await log.save(file);
    log.record(event('k2', 'flagged', true));
    const backup = JSON.parse(JSON.stringify(log.pendingChanges)) as AnnotationEvent[];
    const restored = await AnnotationLog.load(file);
    restored.restorePending(backup);
    assert.deepEqual(restored.get('k1'), { label: 'a' });
    assert.deepEqual(restored.get('k2'), { flagged: true });
    assert.ok(restored.hasPendingChanges);
  });
});

describe('writeFileAtomic', () => {
  it('removes temporaries killed writers left behind, but not a live writer’s', async () => {
    const { writeFileAtomic } = await import('../../src/core/atomicWrite.js');
    const { utimes, readdir: list } = await import('node:fs/promises');
    const file = path.join(dir, 'data.jsonl.plens-annotations.jsonl');
    const stale = path.join(dir, '.data.jsonl.plens-annotations.jsonl.4242.0badc0de.tmp');
    const fresh = path.join(dir, '.data.jsonl.plens-annotations.jsonl.4243.0badc0df.tmp');
    const unrelated = path.join(dir, '.other.4242.0badc0de.tmp');
    for (const name of [stale, fresh, unrelated]) await writeFile(name, 'partial');
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    await utimes(stale, hourAgo, hourAgo);
    await utimes(unrelated, hourAgo, hourAgo);
    await writeFileAtomic(file, 'new content\n');
    assert.equal(await readFile(file, 'utf8'), 'new content\n');
    assert.deepEqual((await list(dir)).sort(), [path.basename(fresh), path.basename(unrelated), path.basename(file)].sort());
  });

  it('writes through a symbolic link, which stays a link (a sidecar kept in another folder)', async () => {
    const { writeFileAtomic } = await import('../../src/core/atomicWrite.js');
    const { lstat, symlink } = await import('node:fs/promises');
    const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'plens-link-'));
    const real = path.join(elsewhere, 'labels.jsonl');
    const link = path.join(dir, 'linked.plens-annotations.jsonl');
    await writeFile(real, 'old\n');
    await symlink(real, link);
    await writeFileAtomic(link, 'new\n');
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await readFile(real, 'utf8'), 'new\n');
    await rm(elsewhere, { recursive: true, force: true });
  });
});
