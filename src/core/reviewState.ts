/**
 * The review state of one open dataset: its pairs, the scores so far and how scoring is going.
 * Authoritative state lives here, in the host; the webview asks for pages and receives status.
 */
import type { Dataset } from './dataset';
import { summarize, verdict, type PairScore } from './verdict';
import { MAX_PAGE_SIZE, type PairRow, type ReviewStatus, type ScoringState } from '../shared/reviewProtocol';

export class ReviewState {
  readonly scores = new Map<number, PairScore>();
  scoring: ReviewStatus['scoring'] = { state: 'idle', done: 0, total: 0 };
  model: ReviewStatus['model'];

  constructor(readonly dataset: Dataset) {}

  page(offset: number, count: number): PairRow[] {
    const { pairs } = this.dataset;
    const start = Math.max(0, Math.min(Math.floor(offset), pairs.length));
    const end = Math.min(pairs.length, start + Math.max(0, Math.min(Math.floor(count), MAX_PAGE_SIZE)));
    const rows: PairRow[] = [];
    for (let index = start; index < end; index++) {
      const pair = pairs[index];
      const score = this.scores.get(index);
      rows.push({ index, ...pair, score: score && verdict(pair, score) });
    }
    return rows;
  }

  status(): ReviewStatus {
    return { ...summarize(this.dataset.pairs, this.scores), scoring: { ...this.scoring }, model: this.model };
  }

  setScoring(state: ScoringState, error?: string): void {
    this.scoring = { ...this.scoring, state, error };
  }

  /** Pairs still without a score, in file order: what a (re)started scoring run has to do. */
  unscored(): number[] {
    const indices: number[] = [];
    for (let i = 0; i < this.dataset.pairs.length; i++) if (!this.scores.has(i)) indices.push(i);
    return indices;
  }
}
