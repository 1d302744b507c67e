/**
 * Reading `plens score` output back (for `plens review --scores` and `plens export --scores`), and
 * making sure it belongs to the dataset it is used with. Each score line carries the content key of
 * the pair it scored (the key annotations use: a hash of prompt and responses, see PairKeyer), so
 * the scores of another file, of an older version of this one, or the dataset itself given by
 * mistake are refused rather than read as wrong figures. Score files written before the key existed
 * are still read, matched by line, with a warning.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { PairScore } from '../core/verdict';

/** A score file that cannot be used with the dataset; the message names both and says what to do. */
export class ScoreFileError extends Error {}

interface ScoreRow extends PairScore {
  /** Content key of the pair that was scored; absent in files written before plens recorded it. */
  key?: string;
  /** Line of the score file, for messages. */
  at: number;
}

export interface ScoreFile {
  file: string;
  /** Score rows by the dataset line they score. */
  rows: Map<number, ScoreRow>;
  /** Rows without a content key (an older plens wrote them). */
  unkeyed: number;
  /** The summary says the bundled baseline scored (so a review of them must say so too). */
  baseline: boolean;
}

/** Reads a score file line by line (it has a line per pair of a dataset of any size). */
export async function readScoreFile(file: string): Promise<ScoreFile> {
  const rows = new Map<number, ScoreRow>();
  let unkeyed = 0;
  let summary = false;
  let baseline = false;
  let number = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      number++;
      if (!text.trim()) continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(text);
      } catch (error) {
        throw new ScoreFileError(`${file}:${number}: not a plens score file: invalid JSON (${(error as Error).message}); --scores takes what \`plens score --out\` wrote`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new ScoreFileError(`${file}:${number}: not a plens score line (not a JSON object)`);
      if (row.line === undefined && typeof row.scored === 'number' && typeof row.pairs === 'number') {
        // The summary `plens score` prints last when writing to stdout.
        summary = true;
        baseline ||= row.baseline === true;
        continue;
      }
      if (typeof row.line !== 'number' || typeof row.reward_a !== 'number' || typeof row.reward_b !== 'number') {
        // A dataset record has none of these: the likeliest mistake is the dataset itself as --scores.
        throw new ScoreFileError(
          `${file}:${number}: not a plens score line (needs numeric "line", "reward_a", "reward_b"; has ${Object.keys(row).slice(0, 6).join(', ') || 'no fields'}); ` +
            '--scores takes what `plens score --out` wrote, not the dataset',
        );
      }
      if (row.key !== undefined && typeof row.key !== 'string') throw new ScoreFileError(`${file}:${number}: "key" should be a string`);
      if (row.key === undefined) unkeyed++;
      rows.set(row.line, { rewardA: row.reward_a, rewardB: row.reward_b, key: row.key as string | undefined, at: number });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ScoreFileError(`--scores: ${file} does not exist`);
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw new ScoreFileError(`--scores: ${file} is a folder; give the file \`plens score --out\` wrote`);
    throw error;
  }
  if (rows.size === 0 && !summary) throw new ScoreFileError(`${file}: holds no plens score lines; --scores takes what \`plens score --out\` wrote`);
  return { file, rows, unkeyed, baseline };
}

/** What the check needs of the dataset: each pair's line and content key. */
export interface KeyedPairs {
  readonly count: number;
  line(index: number): number;
  readonly keys: readonly string[];
}

/**
 * The scores of the dataset's pairs, by pair index, after checking that every score line scored the
 * pair now on its line. Throws {@link ScoreFileError} on any mismatch: rewards of another pair would
 * give wrong figures, and re-scoring an unchanged file is cheap (the score cache). `warn` hears about
 * score files too old to carry keys.
 */
export function matchScores(scores: ScoreFile, dataset: string, pairs: KeyedPairs, warn: (message: string) => void): Map<number, PairScore> {
  const matched = new Map<number, PairScore>();
  const used = new Set<number>();
  let mismatched = 0;
  let first: string | undefined;
  for (let index = 0; index < pairs.count; index++) {
    const line = pairs.line(index);
    const row = scores.rows.get(line);
    if (!row) continue;
    used.add(line);
    if (row.key !== undefined && row.key !== pairs.keys[index]) {
      mismatched++;
      first ??= `${scores.file}:${row.at} scored another pair than the one on line ${line} of ${dataset}`;
      continue;
    }
    matched.set(index, { rewardA: row.rewardA, rewardB: row.rewardB });
  }
  for (const [line, row] of scores.rows) {
    if (used.has(line)) continue;
    mismatched++;
    first ??= `${scores.file}:${row.at} scores line ${line}, which is no pair of ${dataset}`;
  }
  if (mismatched > 0) {
    throw new ScoreFileError(
      `${first}${mismatched > 1 ? ` (and ${mismatched - 1} more of its score lines)` : ''}: these scores are of another file or of an older version of this one; ` +
        `score it again with \`plens score ${dataset} --out <file>\` (unchanged pairs come from the score cache)`,
    );
  }
  if (scores.unkeyed > 0) {
    warn(
      `${scores.file} was written by an older plens, without the pairs' content keys: its scores are matched by line only and cannot be checked ` +
        `to belong to ${dataset}; score it again to be sure`,
    );
  }
  return matched;
}
