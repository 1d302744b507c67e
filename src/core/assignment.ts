/**
 * Who labels what, with no server: each pair goes to `overlap` annotators of the team, chosen by
 * rendezvous (highest-random-weight) hashing of the pair's content key with each name. Everyone
 * computes the same split from the same team file, the split follows a pair when the dataset is
 * re-sorted (the key is the content's), and adding an annotator moves only the pairs the newcomer
 * now wins — about overlap/n of them — instead of reshuffling everyone's share.
 *
 * The team lives in a small file committed next to the dataset (`<dataset>.plens-team.json`), not in
 * each person's settings: an assignment is only useful if the whole team computes the same one, and
 * a file in the repository is the one thing they all share (and change through git, with history).
 * Reading it from disk is ./teamFile.ts: this module needs no Node, as the webview's types reach it.
 */
import { fmix32 } from './hash';

export interface Team {
  /** Everyone who labels, each name as the annotation log records it. */
  annotators: string[];
  /** How many annotators label each pair: 1 splits the file, 2 or more gives the overlap agreement is measured on. */
  overlap: number;
}

export class TeamFileError extends Error {}

/**
 * murmur3 x86 32-bit over the string's UTF-8 bytes: a proper hash of whole strings (every byte
 * mixed, then finalised by ./hash's fmix32), so each name gives the key an independent weight.
 */
export function murmur3(text: string, seed = 0): number {
  const bytes = new TextEncoder().encode(text);
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const o = i * 4;
    let k = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest) {
    let k = 0;
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | bytes[tail + i];
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= bytes.length;
  return fmix32(h);
}

/** The annotators pair `key` is assigned to: the `overlap` names with the highest weight for it (ties by name). */
export function assignees(key: string, team: Team): string[] {
  const weighted = team.annotators.map((name) => ({ name, weight: murmur3(`${key}\u0000${name}`) }));
  weighted.sort((x, y) => y.weight - x.weight || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return weighted.slice(0, Math.min(team.overlap, weighted.length)).map((w) => w.name);
}

export const isAssigned = (key: string, name: string, team: Team): boolean => team.annotators.includes(name) && assignees(key, team).includes(name);

export interface AnnotatorProgress {
  name: string;
  /** Pairs assigned to them. */
  assigned: number;
  /** Of those, the pairs they have labelled. */
  done: number;
}

/**
 * Each team member's assigned pairs and how many of them they have labelled, in the team file's order.
 * `assigneesAt` may serve the assignment from a cache (the editor keeps one: hashing every name for
 * every pair at each statistics refresh would cost seconds on a million pairs).
 */
export function teamProgress(
  keys: readonly string[],
  team: Team,
  labelled: (key: string, name: string) => boolean,
  assigneesAt: (index: number) => readonly string[] = (index) => assignees(keys[index], team),
): AnnotatorProgress[] {
  const progress = new Map(team.annotators.map((name) => [name, { name, assigned: 0, done: 0 }]));
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index];
    for (const name of assigneesAt(index)) {
      const entry = progress.get(name)!;
      entry.assigned++;
      if (labelled(key, name)) entry.done++;
    }
  }
  return [...progress.values()];
}

/** Checks a team as given (a file or the command line); `where` names the source in errors. */
export function checkTeam(value: unknown, where: string): Team {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TeamFileError(`${where}: expected an object like {"annotators": ["alice", "bob"], "overlap": 1}`);
  const { annotators, overlap = 1 } = value as { annotators?: unknown; overlap?: unknown };
  if (!Array.isArray(annotators) || annotators.length === 0) throw new TeamFileError(`${where}: "annotators" should be a non-empty list of names`);
  const names = annotators.map((name, i) => {
    if (typeof name !== 'string' || !name.trim()) throw new TeamFileError(`${where}: annotator ${i + 1} should be a non-empty name, got ${JSON.stringify(name)}`);
    return name.trim();
  });
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new TeamFileError(`${where}: annotator "${twice}" is listed twice`);
  if (typeof overlap !== 'number' || !Number.isInteger(overlap) || overlap < 1 || overlap > names.length) {
    throw new TeamFileError(`${where}: "overlap" should be a whole number from 1 to ${names.length} (the number of annotators), got ${JSON.stringify(overlap)}`);
  }
  return { annotators: names, overlap };
}

/** Parses a team file's text. */
export function parseTeam(text: string, file: string): Team {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    // JSON.parse names a character position; the line is what an editor jumps to.
    const position = /position (\d+)/.exec(message);
    const line = position ? text.slice(0, Number(position[1])).split('\n').length : undefined;
    throw new TeamFileError(`${file}${line ? `:${line}` : ''}: invalid JSON: ${message}`);
  }
  return checkTeam(value, file);
}
