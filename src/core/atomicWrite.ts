import { randomBytes } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where an atomic write of a path goes (see {@link atomicTarget}). */
export interface AtomicTarget {
  /** The file to write: the path, or the file a symbolic link at it points to. */
  path: string;
  /** Not a regular file (a device such as /dev/null, a named pipe, /dev/stdout): written straight to. */
  direct: boolean;
}

/**
 * Where a write of `target` by temporary-and-rename must go. Through a symbolic link to the file it
 * points at: a rename over the link would replace the link with a plain file, cutting it from its
 * target (a Hugging Face cache snapshot's link to its blob, a dataset linked into a project). And
 * straight to anything that is not a regular file: a rename over /dev/null replaces the device with
 * a plain file (root may rename in /dev), and every later `> /dev/null` on the machine writes into it.
 */
export function atomicTarget(target: string): AtomicTarget {
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    return { path: target, direct: false }; // Not there yet: a new file.
  }
  return { path: real, direct: !statSync(real).isFile() };
}

/**
 * A fresh name beside `file` for its temporary (`.name.<pid>.<random>.tmp`): the pid says whose it
 * is, and removeStaleTemporaries knows the pattern, so what a killed writer leaves is swept.
 */
export function temporaryBeside(file: string, extension = 'tmp'): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.${extension}`);
}

/**
 * Writes a file so that a crash at any moment leaves either the old content or the new, never a
 * mix: write a temporary file beside it, flush it to disk, rename it over the target (atomic on the
 * same filesystem), then flush the directory so the rename itself survives a power cut. A symbolic
 * link stays one, and what is not a regular file is written straight to (see {@link atomicTarget}).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: TemporaryCleanup = {}): Promise<void> {
  const { path: file, direct } = atomicTarget(target);
  if (direct) return writeFile(file, data);
  const temporary = temporaryBeside(file);
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncDirectory(path.dirname(file));
  await removeStaleTemporaries(file, options);
}

export interface TemporaryCleanup {
  /**
   * Only this machine writes the file (the extension's own storage, never a shared folder): then a
   * temporary whose writer's process is gone is stale at once, not after STALE_AFTER_MS. On a
   * shared folder another machine's pid means nothing here, so age alone decides.
   */
  writersOnThisMachine?: boolean;
}

/** A temporary file this old was left by a writer that was killed; a live one is seconds old. */
const STALE_AFTER_MS = 10 * 60 * 1000;

/** Deletes temporaries of `file` left behind by killed writers, so they do not pile up beside the data. */
export async function removeStaleTemporaries(file: string, { writersOnThisMachine = false }: TemporaryCleanup = {}): Promise<void> {
  const directory = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    const writer = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (!name.startsWith(prefix) || !writer) continue;
    const temporary = path.join(directory, name);
    try {
      const orphaned = writersOnThisMachine && !processIsAlive(Number(writer[1]));
      if (orphaned || now - (await stat(temporary)).mtimeMs > STALE_AFTER_MS) await rm(temporary, { force: true });
    } catch {
      // Gone already (another writer cleaned up): nothing to do.
    }
  }
}

/** Whether a process with this id runs here (one of another user's counts as running). */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Flushes a directory so a rename inside it survives a power cut. */
export async function syncDirectory(directory: string): Promise<void> {
  // Directories cannot be opened for fsync on Windows; there the rename is as durable as it gets.
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
