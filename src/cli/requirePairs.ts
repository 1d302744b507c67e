/**
 * A dataset of which not one record reads as a pair is a failure, not an empty success: scoring it
 * would print "scored 0" and exit 0, and a script would carry on with nothing.
 */
import { DatasetError, type Dataset } from '../core/dataset';
import { FORMATS } from '../core/formats';

/** Throws a {@link DatasetError} naming the file, the first skipped line and what to do, when `dataset` has no pair. */
export function requirePairs(dataset: Dataset, forcedFormat: string | undefined): void {
  if (dataset.pairs.length > 0) return;
  const first = dataset.malformed[0];
  const why = first ? ` (line ${first.line}: ${first.error})` : '';
  const records = dataset.malformed.length;
  if (forcedFormat !== undefined) {
    throw new DatasetError(
      `${dataset.file}: none of its ${records} records fits --format ${forcedFormat}${why}; ` +
        `leave out --format to detect the format, or name one that fits (${FORMATS.map((f) => f.name).join(', ')})`,
    );
  }
  throw new DatasetError(`${dataset.file}: none of its ${records} records could be read as ${dataset.format.name}${why}`);
}
