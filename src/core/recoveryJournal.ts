/**
 * A journal of a review's unsaved annotation changes, rewritten after every edit, so that they
 * survive what VS Code's hot-exit backup does not cover. Hot exit backs up on a timer and restores
 * only when the window starts again; when the VS Code server (extension host included) dies and the
 * window reconnects, VS Code opens the document afresh, without a backup, while the tab stays
 * dirty, and the next backup is then taken of the fresh, empty document: the edits were gone. With
 * the journal, a document opened without a backup takes its unsaved changes from here.
 *
 * The file is an annotations file (header, then events: see annotations.ts) under the extension's
 * storage, named by a hash of the dataset's path. Saving, reverting or closing the review deletes it;
 * only a session that ended without closing leaves one behind.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { annotationsText, readAnnotationEvents, type AnnotationEvent } from './annotations';
import { removeStaleTemporaries, writeFileAtomic } from './atomicWrite';

/**
 * The pending writes of each journal file, one after another in the order asked, so a later state
 * never loses to an earlier one. Kept per file, not per object: when VS Code opens a document again
 * before the old one is disposed, the two objects share the file, and the old one's slow write must
 * not land after the new one's delete.
 */
const queues = new Map<string, Promise<void>>();

export class RecoveryJournal {
  private constructor(
    readonly file: string,
    private readonly dataset: string,
  ) {}

  static for(storageDir: string, dataset: string): RecoveryJournal {
    const name = createHash('sha256').update(path.resolve(dataset)).digest('hex').slice(0, 24);
    return new RecoveryJournal(path.join(storageDir, 'recovery', `${name}.plens-annotations.jsonl`), path.resolve(dataset));
  }

  /** The unsaved changes a previous session left, if any (undefined when none or unreadable). */
  async read(): Promise<AnnotationEvent[] | undefined> {
    await queues.get(this.file);
    const events = await readAnnotationEvents(this.file).catch(() => undefined);
    return events?.length ? events : undefined;
  }

  /** Records `events` as the unsaved changes now; none deletes the journal. */
  write(events: readonly AnnotationEvent[]): Promise<void> {
    const snapshot = [...events];
    // The journal lives in this machine's extension storage, so a temporary of a writer that is
    // gone (an extension host killed mid-write) is swept at once: it would otherwise sit beside an
    // emptied journal for ten minutes.
    const cleanup = { writersOnThisMachine: true };
    const queued = (queues.get(this.file) ?? Promise.resolve()).then(async () => {
      if (snapshot.length === 0) {
        await rm(this.file, { force: true });
        return removeStaleTemporaries(this.file, cleanup);
      }
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, annotationsText(snapshot, { recoveryOf: this.dataset }), cleanup);
    }).catch(() => undefined); // A journal that cannot be written must not break editing.
    queues.set(this.file, queued);
    void queued.then(() => {
      if (queues.get(this.file) === queued) queues.delete(this.file);
    });
    return queued;
  }

  delete(): Promise<void> {
    return this.write([]);
  }
}
