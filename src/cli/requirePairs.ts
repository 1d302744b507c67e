/**
 * A dataset of which not one record reads as a pair is a failure, not an empty success: scoring it
 * would print "scored 0" and exit 0, and a script would carry on with nothing.
 */
import { DatasetError } from '../core/dataset';
import { FORMATS, type PreferenceFormat } from '../core/formats';
import type { Malformed } from '../core/pair';

interface Read {
  file: string;
  format: PreferenceFormat;
  /** Pairs read. */
  pairs: number;
  malformed: readonly Malformed[];
}

/** Throws a {@link DatasetError} naming the file, the first skipped line and what to do, when `read` has no pair. */
export function requirePairs(read: Read, forcedFormat: string | undefined): void {
  if (read.pairs > 0) return;
  const first = read.malformed[0];
  const why = first ? ` (line ${first.line}: ${first.error})` : '';
  const records = read.malformed.length;
  if (forcedFormat !== undefined) {
    throw new DatasetError(
      `${read.file}: none of its ${records} records fits --format ${forcedFormat}${why}; ` +
        `leave out --format to detect the format, or name one that fits (${FORMATS.map((f) => f.name).join(', ')})`,
    );
  }
  throw new DatasetError(`${read.file}: none of its ${records} records could be read as ${read.format.name}${why}`);
}
