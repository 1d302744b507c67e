/**
 * Checks an output path before any work is done: a typo in --out should cost a second, not a model
 * load and a scoring run that end in a stack trace from the write stream.
 */
import { accessSync, closeSync, constants, createWriteStream, openSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { atomicTarget, temporaryBeside } from '../core/atomicWrite';

/** An output path that cannot be written; the message names the path and says what to do. */
export class OutPathError extends Error {}

/**
 * Throws {@link OutPathError} when `out` is a folder or its folder does not exist or cannot be
 * written to. `example` names a file the command would write, for the message when `out` is a folder.
 */
export function checkOutPath(out: string, { flag = '--out', example = 'scores.jsonl' } = {}): void {
  const target = path.resolve(out);
  const existing = statOrUndefined(target);
  if (existing?.isDirectory()) {
    throw new OutPathError(`${flag} ${out} is a folder; give a file path, e.g. ${path.join(out, example)}`);
  }
  const folder = path.dirname(target);
  const parent = statOrUndefined(folder);
  if (!parent) throw new OutPathError(`${flag} ${out}: the folder ${folder} does not exist; create it first (mkdir -p ${folder})`);
  if (!parent.isDirectory()) throw new OutPathError(`${flag} ${out}: ${folder} is not a folder`);
  // The file itself when it exists (read-only files); and the folder by creating a file there, as
  // the output will be (a temporary renamed over the target): permission bits do not tell, for root
  // or on a read-only or special file system. Not for a device or pipe (/dev/null): it is written
  // straight to (see atomicTarget).
  try {
    if (existing) accessSync(target, constants.W_OK);
  } catch {
    throw new OutPathError(`${flag} ${out}: ${target} is not writable`);
  }
  if (existing && !existing.isFile()) return;
  const probe = temporaryBeside(target, 'probe');
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (error) {
    throw new OutPathError(`${flag} ${out}: cannot create a file in the folder ${folder} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  rmSync(probe, { force: true });
}

function statOrUndefined(file: string) {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * An output written beside its target under a temporary name and renamed over it only when complete:
 * a run that fails or is cancelled (a model that will not load, Ctrl-C) leaves an earlier file at
 * that path as it was, rather than cut short or empty.
 */
export class PendingOutput {
  readonly stream: WriteStream;
  /** Undefined when the target is written straight to: /dev/null, a pipe (see atomicTarget). */
  private readonly temporary: string | undefined;
  /** The file renamed over: the target, or the file a symbolic link at it points to. */
  private readonly file: string;
  private error: Error | undefined;

  constructor(readonly target: string) {
    const { path: file, direct } = atomicTarget(target);
    this.file = file;
    this.temporary = direct ? undefined : temporaryBeside(file);
    this.stream = createWriteStream(this.temporary ?? file);
    // A write stream reports failures as an 'error' event, which would crash with a stack trace unheard.
    this.stream.on('error', (error) => (this.error ??= error));
  }

  /** Whether writing has failed (the reason comes out of {@link commit}). */
  get failed(): boolean {
    return this.error !== undefined;
  }

  async commit(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    if (this.error) {
      await this.abort();
      throw new OutPathError(`cannot write ${this.target}: ${this.error.message}`);
    }
    if (this.temporary !== undefined) await rename(this.temporary, this.file);
  }

  async abort(): Promise<void> {
    if (!this.stream.destroyed) this.stream.destroy();
    if (this.temporary !== undefined) await rm(this.temporary, { force: true });
  }
}
