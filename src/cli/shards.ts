/**
 * Splitting one scoring job over n machines with no coordinator: `plens score --shard i/n` scores
 * the pairs whose position in the file is i−1 modulo n (every n-th pair, so each shard gets the
 * same mix of long and short ones), and `plens merge-scores` joins the shards' score files back
 * into what one unsharded run writes, line for line, after checking that no pair is missing or
 * scored twice. Everything follows from the file's own order, so the same file and format on every
 * machine is all the shards need to agree on.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Shard {
  /** 0-based. */
  index: number;
  count: number;
}

/** `2/3` → the second of three shards; throws with what is wrong. */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const [index, count] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!match || count < 1 || index < 1 || index > count) throw new Error(`--shard should be i/n with 1 ≤ i ≤ n (e.g. 2/3), got "${text}"`);
  return { index: index - 1, count };
}

/** Positions (indices into the file's pairs) of one shard's share. */
export function shardPositions(pairCount: number, shard: Shard | undefined): number[] {
  const positions: number[] = [];
  for (let i = shard?.index ?? 0; i < pairCount; i += shard?.count ?? 1) positions.push(i);
  return positions;
}

export interface MergeResult {
  /** The score lines, verbatim, in file order. */
  lines: string[];
  /** Dataset lines of pairs no shard scored. */
  missing: number[];
}

/**
 * Reads the shards' score files (each line a `plens score` pair line; summary lines, which have no
 * `line`, are skipped) and orders them as the dataset's pairs. A pair in two files, a line the
 * dataset has no pair on, or an unreadable line is an error naming the file and line.
 */
export async function mergeScoreFiles(files: readonly string[], pairLines: readonly number[]): Promise<MergeResult> {
  const known = new Set(pairLines);
  const byLine = new Map<number, { text: string; where: string }>();
  for (const file of files) {
    let number = 0;
    const reader = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const text of reader) {
      number++;
      if (!text.trim()) continue;
      const where = `${file}:${number}`;
      let row: { line?: unknown };
      try {
        row = JSON.parse(text);
      } catch (error) {
        throw new Error(`${where}: not JSON (${(error as Error).message}); is this a plens score file?`);
      }
      if (row.line === undefined) continue;
      if (typeof row.line !== 'number' || !known.has(row.line)) {
        throw new Error(`${where}: the dataset has no pair on line ${String(row.line)}; these scores belong to another file`);
      }
      const earlier = byLine.get(row.line);
      if (earlier) throw new Error(`${where}: the pair on line ${row.line} was scored twice (also ${earlier.where}); were two shards given the same i/n?`);
      byLine.set(row.line, { text, where });
    }
  }
  const lines: string[] = [];
  const missing: number[] = [];
  for (const line of pairLines) {
    const entry = byLine.get(line);
    if (entry) lines.push(entry.text);
    else missing.push(line);
  }
  return { lines, missing };
}
