// The recovery journal of unsaved review changes (src/core/recoveryJournal.ts): what a session that
// ended without closing the review leaves for the next one, and nothing after a save or close.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { AnnotationEvent } from '../../src/core/annotations';
import { RecoveryJournal } from '../../src/core/recoveryJournal';

const dir = mkdtempSync(path.join(os.tmpdir(), 'plens-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const event = (key: string, to: AnnotationEvent['to'], field: AnnotationEvent['field'] = 'label'): AnnotationEvent => ({
  key,
  line: 1,
  field,
  from: null,
  to,
  by: 'tester',
  at: '2026-11-29T00:00:00.000Z',
});

describe('RecoveryJournal', () => {
  it('keeps the unsaved changes for the next session, and forgets them once there are none', async () => {
    const journal = RecoveryJournal.for(dir, '/data/a.jsonl');
    assert.equal(await journal.read(), undefined);
    const events = [event('k1', 'a'), event('k1', true, 'reviewed'), event('k2', 'both-bad')];
    await journal.write(events);
    // A new session (another object, same dataset) reads them back, in order.
    assert.deepEqual(await RecoveryJournal.for(dir, '/data/a.jsonl').read(), events);
    assert.match(readFileSync(journal.file, 'utf8').split('\n')[0]!, /"recoveryOf":"\/data\/a.jsonl"/);
    await journal.write([]);
    assert.equal(existsSync(journal.file), false);
    assert.equal(await journal.read(), undefined);
  });

  it('ends with the last state however fast the writes come', async () => {
    const journal = RecoveryJournal.for(dir, '/data/b.jsonl');
    const states = Array.from({ length: 30 }, (_, n) => Array.from({ length: n + 1 }, (_, k) => event(`k${k}`, 'tie')));
    await Promise.all(states.map((state) => journal.write(state)));
    assert.equal((await journal.read())?.length, 30);
    void journal.write(states[3]!);
    void journal.delete();
    assert.equal(await journal.read(), undefined, 'the delete asked for last wins');
  });

  it('two objects for one dataset (a document opened again before the old one is gone) write in the order asked', async () => {
    const old = RecoveryJournal.for(dir, '/data/f.jsonl');
    const reopened = RecoveryJournal.for(dir, '/data/f.jsonl');
    const many = Array.from({ length: 2000 }, (_, k) => event(`k${k}`, 'tie'));
    const oldWrite = old.write(many); // the larger, slower write, asked first
    await Promise.all([oldWrite, reopened.delete()]);
    assert.equal(existsSync(old.file), false, "the old object's earlier write must not land after the delete");
  });

  it('one journal per dataset; a damaged one reads as nothing to recover', async () => {
    const a = RecoveryJournal.for(dir, '/data/c.jsonl');
    const b = RecoveryJournal.for(dir, '/data/d.jsonl');
    assert.notEqual(a.file, b.file);
    await a.write([event('k', 'a')]);
    assert.equal(await b.read(), undefined);
    writeFileSync(a.file, '{"plens":"annotations"}\n{not json\n');
    assert.equal(await a.read(), undefined);
  });

  it('an emptied journal takes along the temporary of a writer that was killed mid-write, not that of a live one', async () => {
    const journal = RecoveryJournal.for(dir, '/data/e.jsonl');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid runs nothing now
    const temporary = (pid: number, tag: string) => path.join(path.dirname(journal.file), `.${path.basename(journal.file)}.${pid}.${tag}.tmp`);
    mkdirSync(path.dirname(journal.file), { recursive: true });
    writeFileSync(temporary(deadPid, '0badc0de'), '{"plens":"annotations"}\n');
    writeFileSync(temporary(process.pid, '0000beef'), '{"plens":"annotations"}\n');
    await journal.write([event('k', 'a')]);
    await journal.delete();
    assert.equal(existsSync(journal.file), false);
    assert.equal(existsSync(temporary(deadPid, '0badc0de')), false, "a killed writer's temporary is swept at once");
    assert.equal(existsSync(temporary(process.pid, '0000beef')), true, "a live writer's temporary is left to it");
  });
});
