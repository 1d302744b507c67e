/**
 * Label noise that needs no model: checks computed pair by pair while a file is read (PairTable
 * feeds every pair to `NoiseChecks.add` as it indexes), so their counts are ready when the index is.
 *
 * - `identical_responses`: both responses are the same text; a label between them means nothing.
 * - `conflicting_duplicates`: the same prompt and the same two responses (either side order) appear
 *   more than once with labels that prefer different responses (or a tie against a preference).
 * - `near_duplicate_conflicts`: the same, for pairs whose text differs only a little (see below).
 * - `empty_responses`: a response is empty or whitespace only.
 * - `diverging_transcripts`: a response is more than one turn, i.e. the two conversations differ
 *   before their last turn (HH-RLHF transcripts that branch early), so the label compares more than
 *   two answers to one prompt.
 *
 * Near-duplicates: text is normalised (Unicode NFKC, lower case, every run of non-letters/digits a
 * single space), cut into word 3-shingles (a text of fewer than 3 words is one shingle), and
 * sketched with one-permutation MinHash (Li, Owen & Zhang 2012) into SKETCH_BINS bins, per part
 * (prompt, response A, response B), 16 bits a bin. The sketch of the whole pair is the bin-wise
 * minimum of its parts' sketches (a MinHash of a union), densified by rotation (Shrivastava & Li
 * 2014), and is banded for locality-sensitive hashing: LSH_BANDS bands of LSH_ROWS bins, so a pair
 * whose shingle sets have Jaccard similarity J becomes a candidate with probability
 * 1 − (1 − J^3)^10: 0.985 at J = 0.7, 0.91 at 0.6, 0.74 at 0.5. A candidate is kept when its
 * estimated whole-pair similarity is at least NEAR_DUPLICATE_JACCARD and each response is at
 * least SIDE_JACCARD similar to its counterpart in the better of the two side orders, and that
 * order is clearly better than the other (so a pair whose two responses are alike is not matched
 * at random). Memory: about 600 bytes a pair (sketches 192, LSH buckets and links ~250, exact keys and their map).
 */
import { CHECK_NAMES, type CheckName } from './checkNames';
import { fmix32 } from './hash';
import type { Message, Pair, Preference } from './pair';

export { CHECK_NAMES, CHECK_TITLES, type CheckName } from './checkNames';

export const SKETCH_BINS = 32;
export const LSH_BANDS = 10;
export const LSH_ROWS = 3;
export const SHINGLE_WORDS = 3;
export const NEAR_DUPLICATE_JACCARD = 0.6;
export const SIDE_JACCARD = 0.5;
/** The better side order must beat the other by this much (mean of the two sides' similarities). */
const ORIENTATION_MARGIN = 0.2;
/** Most earlier pairs compared per band bucket: a bucket of thousands of look-alikes stays linear. */
const BUCKET_CAP = 64;
const EMPTY_BIN = 0xffff;

const BIT: Record<CheckName, number> = {
  identical_responses: 1,
  conflicting_duplicates: 2,
  near_duplicate_conflicts: 4,
  empty_responses: 8,
  diverging_transcripts: 16,
};
/** Which side is empty (for the noise score: an empty chosen response is worse than an empty rejected one). */
const EMPTY_A = 32;
const EMPTY_B = 64;

/** The words of a text after normalisation (see the header). */
export function normalizedWords(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

const WORD_CHAR = /^[\p{L}\p{N}]$/u;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The hashes of a text's normalised words (the same words as normalizedWords), scanned in place
 * without building strings: text with non-ASCII characters is NFKC-normalised and lower-cased first
 * (one native call each), ASCII is lower-cased and classified by code, and only the rare non-ASCII
 * character (a curly apostrophe, an accented letter) is classified by a Unicode regex.
 */
function wordHashes(text: string): number[] {
  const t = NON_ASCII.test(text) ? text.normalize('NFKC').toLowerCase() : text;
  const hashes: number[] = [];
  let h = 0x811c9dc5;
  let inWord = false;
  for (let i = 0; i < t.length; i++) {
    let c = t.charCodeAt(i);
    let units = 1;
    let word: boolean;
    if (c < 128) {
      if (c >= 65 && c <= 90) c += 32;
      word = (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    } else {
      const point = t.codePointAt(i)!;
      units = point > 0xffff ? 2 : 1;
      word = WORD_CHAR.test(String.fromCodePoint(point));
    }
    if (word) {
      if (!inWord) h = 0x811c9dc5;
      inWord = true;
      for (let k = 0; k < units; k++) {
        h ^= k === 0 ? c : t.charCodeAt(i + k);
        h = Math.imul(h, 0x01000193);
      }
    } else if (inWord) {
      hashes.push(fmix32(h));
      inWord = false;
    }
    i += units - 1;
  }
  if (inWord) hashes.push(fmix32(h));
  return hashes;
}

/** One-permutation MinHash of a text's word shingles, not densified (empty bins are EMPTY_BIN). */
export function sketch(messages: readonly Message[], into = new Uint16Array(SKETCH_BINS)): Uint16Array {
  into.fill(EMPTY_BIN);
  const words = wordHashes(messages.length === 1 ? messages[0].content : messages.map((m) => m.content).join(' '));
  // A text shorter than a shingle is one shingle of all its words.
  const shingles = words.length === 0 ? 0 : Math.max(1, words.length - SHINGLE_WORDS + 1);
  const width = Math.min(SHINGLE_WORDS, words.length);
  for (let i = 0; i < shingles; i++) {
    let h = 7;
    for (let k = 0; k < width; k++) h = Math.imul(h ^ words[i + k], 0x9e3779b1);
    h = fmix32(h);
    const bin = h >>> 27; // top 5 bits: SKETCH_BINS = 32 bins
    const value = Math.min((h >>> 11) & 0xffff, EMPTY_BIN - 1);
    if (value < into[bin]) into[bin] = value;
  }
  return into;
}

/** Fills empty bins from the next non-empty bin, offset by the distance (rotation densification). */
function densify(raw: ArrayLike<number>): number[] {
  const out = Array.from(raw);
  if (out.every((v) => v === EMPTY_BIN)) return out;
  for (let bin = 0; bin < out.length; bin++) {
    if (raw[bin] !== EMPTY_BIN) continue;
    let distance = 1;
    while (raw[(bin + distance) % out.length] === EMPTY_BIN) distance++;
    out[bin] = raw[(bin + distance) % out.length] + distance * 0x10000;
  }
  return out;
}

/** Estimated Jaccard similarity of two sketches (share of equal bins, densified). */
export function similarity(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const dx = densify(x);
  const dy = densify(y);
  const xEmpty = dx.every((v) => v === EMPTY_BIN);
  const yEmpty = dy.every((v) => v === EMPTY_BIN);
  if (xEmpty || yEmpty) return xEmpty && yEmpty ? 1 : 0;
  let equal = 0;
  for (let i = 0; i < dx.length; i++) if (dx[i] === dy[i]) equal++;
  return equal / dx.length;
}

/** 2²¹: a content key is a 32-bit hash times this plus 21 bits of a second one (53 bits, exact in a double). */
const LOW = 0x200000;

/**
 * A 53-bit content key of messages (two 32-bit FNV-style hashes with different multipliers, roles
 * and contents separated), kept as a number so it costs no string: two different texts share a
 * key with probability 2⁻⁵³, and a million pairs hold a colliding pair of keys with probability
 * about n²/2⁵⁴, 6 in 100,000 — at a fraction of a cryptographic hash's cost.
 */
function digest(messages: readonly Message[]): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x2f1a4b3c;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    // A code after each string, so that ["ab", "c"] and ["a", "bc"] hash apart.
    h1 = Math.imul(h1 ^ 0xdfff, 0x01000193);
    h2 = Math.imul(h2 ^ 0xdfff, 0x5bd1e995);
  };
  for (const m of messages) {
    mix(m.role);
    mix(m.content);
  }
  return fmix32(h1) * LOW + (fmix32(h2 ^ messages.length) >>> 11);
}

/** One 53-bit key of several 53-bit keys, in order. */
function combine(keys: readonly number[]): number {
  let h1 = 0x6a09e667;
  let h2 = 0xbb67ae85;
  for (const key of keys) {
    h1 = fmix32(Math.imul(h1 ^ Math.floor(key / LOW), 0x01000193));
    h2 = fmix32(Math.imul(h2 ^ key % LOW, 0x5bd1e995) ^ h1);
  }
  return h1 * LOW + (h2 >>> 11);
}

/**
 * LSH buckets in typed arrays (a Map entry per pair and band would cost ~50 bytes; this costs
 * about 25): an open-addressing table from (band, band key) to the latest pair in that bucket,
 * each pair linking to the one before it in each of its buckets.
 */
class BandIndex {
  private keys = new Uint32Array(1 << 12);
  private bands = new Uint8Array(1 << 12);
  private heads = new Int32Array(1 << 12).fill(-1);
  private used = 0;
  /** previous[pair · LSH_BANDS + band]: the pair before it in that bucket, or −1. */
  private previous = new Int32Array(1024 * LSH_BANDS);

  /** Puts `pair` into bucket (band, key) and adds up to `cap` earlier pairs of that bucket to `into`, latest first. */
  add(band: number, key: number, pair: number, cap: number, into: Set<number>): void {
    if ((pair + 1) * LSH_BANDS > this.previous.length) {
      const grown = new Int32Array(Math.max((pair + 1) * LSH_BANDS, this.previous.length * 2));
      grown.set(this.previous);
      this.previous = grown;
    }
    if ((this.used + 1) * 2 > this.keys.length) this.rehash();
    const slot = this.find(band, key);
    const head = this.heads[slot];
    if (head === -1) {
      this.keys[slot] = key;
      this.bands[slot] = band;
      this.used++;
    }
    for (let other = head, steps = 0; other !== -1 && steps < cap; other = this.previous[other * LSH_BANDS + band], steps++) into.add(other);
    this.previous[pair * LSH_BANDS + band] = head;
    this.heads[slot] = pair;
  }

  private find(band: number, key: number): number {
    const mask = this.keys.length - 1;
    let slot = (key ^ Math.imul(band, 0x9e3779b1)) & mask;
    while (this.heads[slot] !== -1 && (this.keys[slot] !== key || this.bands[slot] !== band)) slot = (slot + 1) & mask;
    return slot;
  }

  private rehash(): void {
    const { keys, bands, heads } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.bands = new Uint8Array(keys.length * 2);
    this.heads = new Int32Array(keys.length * 2).fill(-1);
    for (let slot = 0; slot < keys.length; slot++) {
      if (heads[slot] === -1) continue;
      const at = this.find(bands[slot], keys[slot]);
      this.keys[at] = keys[slot];
      this.bands[at] = bands[slot];
      this.heads[at] = heads[slot];
    }
  }
}
const isBlank = (messages: readonly Message[]) => messages.every((m) => m.content.trim() === '');

/**
 * Which of the two responses a label prefers, in terms of content: 1 = the response whose digest
 * sorts first, 2 = the other, 3 = tie, 0 = no label. Lets duplicates stored with swapped sides be
 * compared.
 */
function preferenceCode(label: Preference, aFirst: boolean): number {
  if (label === null) return 0;
  if (label === 'tie') return 3;
  return (label === 'a') === aFirst ? 1 : 2;
}

interface DuplicateGroup {
  members: number[];
}

export class NoiseChecks {
  private flags = new Uint8Array(1024);
  private size = 0;
  private readonly counts: Record<CheckName, number> = Object.fromEntries(CHECK_NAMES.map((name) => [name, 0])) as Record<CheckName, number>;
  /** Exact key (prompt + unordered responses) → the first pair with it, or the group once repeated. */
  private readonly exact = new Map<number, number | DuplicateGroup>();
  private exactKeys = new Float64Array(1024);
  /** Per pair: preference code (see preferenceCode); -1 for pairs left out of duplicate checks. */
  private preference = new Int8Array(1024);
  /** Per pair: the label by side, 0 none, 1 a, 2 b, 3 tie. */
  private sideLabels = new Int8Array(1024);
  /** Per pair: sketches of prompt, A and B, SKETCH_BINS bins each. */
  private sketches = new Uint16Array(1024 * 3 * SKETCH_BINS);
  /** LSH buckets: the earlier pairs a pair is compared with (the latest BUCKET_CAP of each bucket). */
  private readonly buckets = new BandIndex();
  private changes = 0;

  /** Grows with every change to any pair's checks. */
  get version(): number {
    return this.changes;
  }

  get count(): number {
    return this.size;
  }

  private grow(size: number): void {
    if (size <= this.flags.length) return;
    const length = Math.max(size, this.flags.length * 2);
    const flags = new Uint8Array(length);
    flags.set(this.flags);
    this.flags = flags;
    const preference = new Int8Array(length);
    preference.set(this.preference);
    this.preference = preference;
    const exactKeys = new Float64Array(length);
    exactKeys.set(this.exactKeys);
    this.exactKeys = exactKeys;
    const sideLabels = new Int8Array(length);
    sideLabels.set(this.sideLabels);
    this.sideLabels = sideLabels;
    const sketches = new Uint16Array(length * 3 * SKETCH_BINS);
    sketches.set(this.sketches);
    this.sketches = sketches;
  }

  private mark(index: number, check: CheckName): void {
    if (this.flags[index] & BIT[check]) return;
    this.flags[index] |= BIT[check];
    this.counts[check]++;
    this.changes++;
  }

  /** Pairs must be added in table order (index 0, 1, 2, …). */
  add(index: number, pair: Pair): void {
    if (index !== this.size) throw new Error(`noise checks: pair ${index} added out of order (expected ${this.size})`);
    this.grow(index + 1);
    this.size++;
    const aKey = digest(pair.a);
    const bKey = digest(pair.b);
    // Equal keys are checked on the text: the identical-responses check stays exact.
    const identical = aKey === bKey && pair.a.length === pair.b.length && pair.a.every((m, k) => m.role === pair.b[k].role && m.content === pair.b[k].content);
    if (identical) this.mark(index, 'identical_responses');
    if (isBlank(pair.a) || isBlank(pair.b)) {
      this.mark(index, 'empty_responses');
      this.flags[index] |= (isBlank(pair.a) ? EMPTY_A : 0) | (isBlank(pair.b) ? EMPTY_B : 0);
    }
    if (pair.a.length > 1 || pair.b.length > 1) this.mark(index, 'diverging_transcripts');

    const aFirst = aKey <= bKey;
    // A label between two identical responses has nothing to conflict about: its own check covers it.
    this.preference[index] = identical ? -1 : preferenceCode(pair.label, aFirst);
    this.sideLabels[index] = pair.label === null ? 0 : pair.label === 'a' ? 1 : pair.label === 'b' ? 2 : 3;
    const exactKey = combine([digest(pair.prompt), aFirst ? aKey : bKey, aFirst ? bKey : aKey]);
    this.exactKeys[index] = exactKey;
    if (!identical) this.addExact(index, exactKey);

    const base = index * 3 * SKETCH_BINS;
    sketch(pair.prompt, this.sketches.subarray(base, base + SKETCH_BINS));
    sketch(pair.a, this.sketches.subarray(base + SKETCH_BINS, base + 2 * SKETCH_BINS));
    sketch(pair.b, this.sketches.subarray(base + 2 * SKETCH_BINS, base + 3 * SKETCH_BINS));
    if (!identical && pair.label !== null) this.addNear(index);
  }

  private addExact(index: number, key: number): void {
    const found = this.exact.get(key);
    if (found === undefined) {
      this.exact.set(key, index);
      return;
    }
    const group = typeof found === 'number' ? { members: [found] } : found;
    group.members.push(index);
    this.exact.set(key, group);
    const codes = new Set(group.members.map((m) => this.preference[m]).filter((code) => code > 0));
    if (codes.size > 1) for (const member of group.members) if (this.preference[member] > 0) this.mark(member, 'conflicting_duplicates');
  }

  private part(index: number, part: 0 | 1 | 2): Uint16Array {
    const base = (index * 3 + part) * SKETCH_BINS;
    return this.sketches.subarray(base, base + SKETCH_BINS);
  }

  /** The sketch of the whole pair: the bin-wise minimum of its parts' (a MinHash of the union). */
  private union(index: number): Uint16Array {
    const out = new Uint16Array(SKETCH_BINS);
    const sketches = this.sketches;
    const base = index * 3 * SKETCH_BINS;
    for (let bin = 0; bin < SKETCH_BINS; bin++) {
      out[bin] = Math.min(sketches[base + bin], sketches[base + SKETCH_BINS + bin], sketches[base + 2 * SKETCH_BINS + bin]);
    }
    return out;
  }

  private addNear(index: number): void {
    const whole = this.union(index);
    const dense = densify(whole);
    const candidates = new Set<number>();
    for (let band = 0; band < LSH_BANDS; band++) {
      let h = Math.imul(band + 1, 0x9e3779b1);
      for (let row = 0; row < LSH_ROWS; row++) h = Math.imul(h ^ dense[band * LSH_ROWS + row], 0x01000193);
      this.buckets.add(band, fmix32(h), index, BUCKET_CAP, candidates);
    }
    for (const other of candidates) {
      if (this.preference[other] <= 0 || this.exactKeys[other] === this.exactKeys[index]) continue;
      if (similarity(whole, this.union(other)) < NEAR_DUPLICATE_JACCARD) continue;
      const straight = [similarity(this.part(index, 1), this.part(other, 1)), similarity(this.part(index, 2), this.part(other, 2))];
      const crossed = [similarity(this.part(index, 1), this.part(other, 2)), similarity(this.part(index, 2), this.part(other, 1))];
      const mean = (s: number[]) => (s[0] + s[1]) / 2;
      const swapped = mean(crossed) > mean(straight);
      const best = swapped ? crossed : straight;
      if (Math.min(...best) < SIDE_JACCARD || Math.abs(mean(straight) - mean(crossed)) < ORIENTATION_MARGIN) continue;
      if (this.conflict(index, other, swapped)) {
        this.mark(index, 'near_duplicate_conflicts');
        this.mark(other, 'near_duplicate_conflicts');
      }
    }
  }

  /** Whether two matched pairs' labels differ (`swapped`: response A of one matches B of the other). */
  private conflict(index: number, other: number, swapped: boolean): boolean {
    const mine = this.sideLabels[index];
    let theirs = this.sideLabels[other];
    if (swapped && (theirs === 1 || theirs === 2)) theirs = 3 - theirs;
    return mine !== theirs;
  }

  has(index: number, check: CheckName): boolean {
    return (this.flags[index] & BIT[check]) !== 0;
  }

  /** Which responses of pair `index` are empty or whitespace only. */
  emptySides(index: number): { a: boolean; b: boolean } {
    return { a: (this.flags[index] & EMPTY_A) !== 0, b: (this.flags[index] & EMPTY_B) !== 0 };
  }

  /** The checks pair `index` fails, in CHECK_NAMES order. */
  of(index: number): CheckName[] {
    if (index >= this.size || this.flags[index] === 0) return [];
    return CHECK_NAMES.filter((name) => this.flags[index] & BIT[name]);
  }

  /** Pairs involved in each check. */
  summary(): Record<CheckName, number> {
    return { ...this.counts };
  }

  /** Table positions of the pairs a check flags, in order. */
  indices(check: CheckName): number[] {
    const found: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.flags[i] & BIT[check]) found.push(i);
    return found;
  }
}

/** What `plens review` prints (and the stats view shows): per check, the pairs involved and their 1-based lines. */
export function checksReport(checks: NoiseChecks, lineOf: (index: number) => number): Record<CheckName, { count: number; lines: number[] }> {
  return Object.fromEntries(
    CHECK_NAMES.map((name) => {
      const lines = checks.indices(name).map(lineOf);
      return [name, { count: lines.length, lines }];
    }),
  ) as Record<CheckName, { count: number; lines: number[] }>;
}
