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
import { writeFileAtomic } from './atomicWrite';

export class RecoveryJournal {
  /** Writes one after another, in the order asked: a later state never loses to an earlier one. */
  private queue: Promise<void> = Promise.resolve();

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
    await this.queue;
    const events = await readAnnotationEvents(this.file).catch(() => undefined);
    return events?.length ? events : undefined;
  }

  /** Records `events` as the unsaved changes now; none deletes the journal. */
  write(events: readonly AnnotationEvent[]): Promise<void> {
    const snapshot = [...events];
    this.queue = this.queue.then(async () => {
      if (snapshot.length === 0) return rm(this.file, { force: true });
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, annotationsText(snapshot, { recoveryOf: this.dataset }));
    }).catch(() => undefined); // A journal that cannot be written must not break editing.
    return this.queue;
  }

  delete(): Promise<void> {
    return this.write([]);
  }
}
