/**
 * The review state of one open dataset: its pairs, the reviewer's annotations, the scores so far and
 * how scoring is going. Authoritative state lives here, in the host; the webview asks for pages and
 * receives status.
 */
import { AnnotationLog, pairKeys, type Annotation } from './annotations';
import type { Dataset } from './dataset';
import type { Preference } from './pair';
import { datasetStats, type DatasetStats } from './stats';
import { summarize, verdict, type PairScore } from './verdict';
import { MAX_PAGE_SIZE, type PairRow, type ReviewStatus, type RowFilter, type ScoringState } from '../shared/reviewProtocol';

export class ReviewState {
  readonly scores = new Map<number, PairScore>();
  scoring: ReviewStatus['scoring'] = { state: 'idle', done: 0, total: 0 };
  model: ReviewStatus['model'];
  /** Content key of each pair, parallel to `dataset.pairs`. */
  readonly keys: string[];

  constructor(
    readonly dataset: Dataset,
    public annotations: AnnotationLog = AnnotationLog.empty(),
  ) {
    this.keys = pairKeys(dataset.pairs);
  }

  annotation(index: number): Annotation | undefined {
    return this.annotations.get(this.keys[index]);
  }

  /** The human label as it stands: the reviewer's when they set one ("both bad" compares nothing). */
  label(index: number): Preference {
    const reviewed = this.annotation(index)?.label;
    if (reviewed === undefined || reviewed === null) return this.dataset.pairs[index].label;
    return reviewed === 'both-bad' ? null : reviewed;
  }

  private matches(index: number, filter: RowFilter): boolean {
    switch (filter) {
      case 'all':
        return true;
      case 'disagreements': {
        const score = this.scores.get(index);
        return score !== undefined && verdict(this.label(index), score).agrees === false;
      }
      case 'unreviewed':
        return !this.annotation(index)?.reviewed;
      case 'flagged':
        return this.annotation(index)?.flagged === true;
    }
  }

  /** Indices of the pairs a filter keeps, in file order. */
  filtered(filter: RowFilter): number[] {
    const indices: number[] = [];
    for (let i = 0; i < this.dataset.pairs.length; i++) if (this.matches(i, filter)) indices.push(i);
    return indices;
  }

  row(index: number): PairRow {
    const pair = this.dataset.pairs[index];
    const score = this.scores.get(index);
    return { index, ...pair, annotation: this.annotation(index), score: score && verdict(this.label(index), score) };
  }

  page(offset: number, count: number, filter: RowFilter = 'all'): { total: number; rows: PairRow[] } {
    const indices = filter === 'all' ? undefined : this.filtered(filter);
    const total = indices ? indices.length : this.dataset.pairs.length;
    const start = Math.max(0, Math.min(Math.floor(offset), total));
    const end = Math.min(total, start + Math.max(0, Math.min(Math.floor(count), MAX_PAGE_SIZE)));
    const rows: PairRow[] = [];
    for (let i = start; i < end; i++) rows.push(this.row(indices ? indices[i] : i));
    return { total, rows };
  }

  status(): ReviewStatus {
    let reviewed = 0;
    for (let i = 0; i < this.keys.length; i++) if (this.annotation(i)?.reviewed) reviewed++;
    return {
      ...summarize(this.dataset.pairs, this.scores, (index) => this.label(index)),
      reviewed,
      scoring: { ...this.scoring },
      model: this.model,
    };
  }

  stats(): DatasetStats {
    return datasetStats({
      pairs: this.dataset.pairs,
      scores: this.scores,
      labelOf: (index) => this.label(index),
      annotationOf: (index) => this.annotation(index),
    });
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
