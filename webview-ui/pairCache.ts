/**
 * Whole pairs for the pair view, fetched from the host a few at a time (the focused one and those
 * around it) and kept for a while. Changed pairs are forgotten, or replaced by the host's push; an
 * answer that left before a pair changed is dropped, so the view never goes back to an old state.
 */
import type { PairRow } from '../src/shared/reviewProtocol';
import { host } from './host';

/** Whole pairs kept; older ones are fetched again when needed. */
const MAX_CACHED_PAIRS = 200;

export class PairCache {
  /** Grows at every change; an answer older than its pair's last change is stale. */
  private generation = 0;
  private readonly pairs = new Map<number, PairRow>();
  private readonly asked = new Map<number, number>();
  private readonly changedAt = new Map<number, number>();
  private allChangedAt = 0;

  /** `arrived`: pairs came in (the view shows the focused one if it is among them). */
  constructor(private readonly arrived: () => void) {}

  get(index: number): PairRow | undefined {
    return this.pairs.get(index);
  }

  has(index: number): boolean {
    return this.pairs.has(index);
  }

  /** The pairs held that have no score yet. */
  unscored(): number[] {
    return [...this.pairs.values()].filter((pair) => !pair.score && !pair.blind).map((pair) => pair.index);
  }

  /** These pairs (all, without indices) changed: fetch them again when shown. */
  forget(indices?: readonly number[]): void {
    this.generation++;
    if (!indices) {
      this.pairs.clear();
      this.asked.clear();
      this.changedAt.clear();
      this.allChangedAt = this.generation;
      return;
    }
    for (const index of indices) {
      this.pairs.delete(index);
      this.asked.delete(index);
      this.changedAt.set(index, this.generation);
    }
  }

  /** Pairs as they are now, pushed by the host: newer than anything on its way. */
  put(rows: readonly PairRow[]): void {
    this.generation++;
    for (const row of rows) {
      this.asked.delete(row.index);
      this.changedAt.set(row.index, this.generation);
      this.pairs.set(row.index, row);
    }
    this.trim();
    this.arrived();
  }

  fetch(indices: readonly number[]): void {
    // A pair on its way is not asked for again: a change to it forgets the request (forget), so
    // what is still asked is still wanted.
    const wanted = indices.filter((index) => !this.pairs.has(index) && !this.asked.has(index));
    if (!wanted.length) return;
    const generation = this.generation;
    for (const index of wanted) this.asked.set(index, generation);
    host.request('pairs', { indices: wanted }).then(
      (rows) => {
        for (const row of rows) {
          if (this.asked.get(row.index) === generation) this.asked.delete(row.index);
          if (generation < Math.max(this.allChangedAt, this.changedAt.get(row.index) ?? 0)) continue;
          this.pairs.set(row.index, row);
        }
        this.trim();
        this.arrived();
      },
      // The host has told the user why; the pairs are asked for again when next shown.
      () => {
        for (const index of wanted) if (this.asked.get(index) === generation) this.asked.delete(index);
      },
    );
  }

  private trim(): void {
    while (this.pairs.size > MAX_CACHED_PAIRS) this.pairs.delete(this.pairs.keys().next().value!);
  }
}
