import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnnotationLog } from '../../src/core/annotations';
import { applyEdit, invertEdit, makeEdit } from '../../src/core/reviewEdits';

const pair = (index: number) => ({ index, key: `k${index}`, line: index + 1 });
/** What a reviewer sees of pairs 0..n-1: the folded annotation and each annotator's label. */
const view = (log: AnnotationLog, n = 3) =>
  Array.from({ length: n }, (_, i) => ({ annotation: log.get(`k${i}`) ?? null, labels: log.labelsOf(`k${i}`) }));

describe('review edits', () => {
  it('a label key is one edit: label and reviewed together, undone by one inverse and redone by the edit', () => {
    const log = AnnotationLog.empty();
    const before = view(log);
    const edit = makeEdit(log, 'alice', [pair(1)], { label: 'b', reviewed: true }, 'label of pair 2');
    assert.ok(edit);
    assert.deepEqual(applyEdit(log, edit), [1]);
    const after = view(log);
    assert.deepEqual(after[1].annotation, { label: 'b', reviewed: true });

    applyEdit(log, invertEdit(edit));
    assert.deepEqual(view(log), before, 'one undo restores both fields');
    applyEdit(log, edit);
    assert.deepEqual(view(log), after, 'one redo sets both again');
    // The log says what happened: two changes, their undo, their redo, each by alice.
    assert.deepEqual(
      log.pendingChanges.map((e) => `${e.field}:${e.from}->${e.to}`),
      ['label:null->b', 'reviewed:null->true', 'reviewed:true->null', 'label:b->null', 'label:null->b', 'reviewed:null->true'],
    );
    assert.ok(log.pendingChanges.every((e) => e.by === 'alice' && e.key === 'k1' && e.line === 2));
  });

  it('leaves out what a pair already has, so undo restores exactly what each pair had', () => {
    const log = AnnotationLog.empty();
    applyEdit(log, makeEdit(log, 'alice', [pair(0)], { reviewed: true, flagged: true }, 'setup')!);
    const before = view(log);
    const edit = makeEdit(log, 'alice', [pair(0), pair(2)], { reviewed: true }, 'mark reviewed 2 pairs');
    assert.deepEqual(edit?.changes.map((c) => c.index), [2], 'pair 1 was reviewed already');
    applyEdit(log, edit!);
    applyEdit(log, invertEdit(edit!));
    assert.deepEqual(view(log), before, 'pair 1 stays reviewed after the undo');
    assert.equal(makeEdit(log, 'alice', [pair(0)], { reviewed: true, flagged: true }, 'again'), undefined, 'nothing to change: no edit');
  });

  it("a label edit is the annotator's own: undoing it uncovers a colleague's label, never clears it", () => {
    const log = AnnotationLog.empty();
    applyEdit(log, makeEdit(log, 'bob', [pair(0)], { label: 'a' }, 'bob labels')!);
    const mine = makeEdit(log, 'alice', [pair(0)], { label: 'b' }, 'alice labels')!;
    assert.deepEqual(mine.changes.map((c) => [c.from, c.to]), [[null, 'b']], "alice's label starts from hers (none), not bob's");
    applyEdit(log, mine);
    assert.equal(log.get('k0')?.label, 'b');
    applyEdit(log, invertEdit(mine));
    assert.equal(log.get('k0')?.label, 'a', "bob's label is the pair's again");
    assert.deepEqual(log.labelsOf('k0'), [['bob', 'a']]);
  });

  it('inverting twice gives the edit back; inverse changes run in reverse order', () => {
    const log = AnnotationLog.empty();
    const edit = makeEdit(log, 'alice', [pair(0), pair(1)], { label: 'tie', reviewed: true }, 'bulk')!;
    assert.deepEqual(invertEdit(invertEdit(edit)), edit);
    assert.deepEqual(
      invertEdit(edit).changes.map((c) => `${c.index}.${c.field}`),
      ['1.reviewed', '1.label', '0.reviewed', '0.label'],
    );
  });
});
