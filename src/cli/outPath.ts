/**
 * Checks an output path before any work is done: a typo in --out should cost a second, not a model
 * load and a scoring run that end in a stack trace from the write stream.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** An output path that cannot be written; the message names the path and says what to do. */
export class OutPathError extends Error {}

/** Throws {@link OutPathError} when `out` is a folder or its folder does not exist or cannot be written to. */
export function checkOutPath(out: string, flag = '--out'): void {
  const target = path.resolve(out);
  const existing = statOrUndefined(target);
  if (existing?.isDirectory()) {
    throw new OutPathError(`${flag} ${out} is a folder; give a file path, e.g. ${path.join(out, 'scores.jsonl')}`);
  }
  const folder = path.dirname(target);
  const parent = statOrUndefined(folder);
  if (!parent) throw new OutPathError(`${flag} ${out}: the folder ${folder} does not exist; create it first (mkdir -p ${folder})`);
  if (!parent.isDirectory()) throw new OutPathError(`${flag} ${out}: ${folder} is not a folder`);
  // The file itself when it exists (read-only files), else its folder (a new file is created there).
  try {
    accessSync(existing ? target : folder, constants.W_OK);
  } catch {
    throw new OutPathError(`${flag} ${out}: ${existing ? target : `the folder ${folder}`} is not writable`);
  }
}

function statOrUndefined(file: string) {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}
