import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a file so that a crash at any moment leaves either the old content or the new, never a
 * mix: write a temporary file beside it, flush it to disk, rename it over the target (atomic on the
 * same filesystem), then flush the directory so the rename itself survives a power cut.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
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
  await removeStaleTemporaries(file);
}

/** A temporary file this old was left by a writer that was killed; a live one is seconds old. */
const STALE_AFTER_MS = 10 * 60 * 1000;

/** Deletes temporaries of `file` left behind by killed writers, so they do not pile up beside the data. */
async function removeStaleTemporaries(file: string): Promise<void> {
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
    if (!name.startsWith(prefix) || !/^\d+\.[0-9a-f]{8}\.tmp$/.test(name.slice(prefix.length))) continue;
    const temporary = path.join(directory, name);
    try {
      if (now - (await stat(temporary)).mtimeMs > STALE_AFTER_MS) await rm(temporary, { force: true });
    } catch {
      // Gone already (another writer cleaned up): nothing to do.
    }
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
