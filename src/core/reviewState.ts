/**
 * The review state of one open dataset: its pair table (columns, text read on demand), the
 * reviewer's annotations, and how scoring is going. Authoritative state lives here, in the host; the
 * webview asks for pages and receives status.
 */
import { AnnotationLog, type Annotation } from './annotations';
import type { Preference } from './pair';
import type { PairTable } from './pairTable';
import { datasetStats, type DatasetStats } from './stats';
import { summarize, verdict } from './verdict';
import { MAX_PAGE_SIZE, type PairRow, type ReviewStatus, type RowFilter, type ScoringState } from '../shared/reviewProtocol';

export class ReviewState {
  scoring: ReviewStatus['scoring'] = { state: 'idle', done: 0, total: 0 };
  model: ReviewStatus['model'];

  constructor(
    readonly table: PairTable,
    public annotations: AnnotationLog = AnnotationLog.empty(),
  ) {}

  annotation(index: number): Annotation | undefined {
    return this.annotations.get(this.table.keys[index]);
  }

  /** The human label as it stands: the reviewer's when they set one ("both bad" compares nothing). */
  label(index: number): Preference {
    const reviewed = this.annotation(index)?.label;
    if (reviewed === undefined || reviewed === null) return this.table.fileLabel(index);
    return reviewed === 'both-bad' ? null : reviewed;
  }

  private matches(index: number, filter: RowFilter): boolean {
    switch (filter) {
      case 'all':
        return true;
      case 'disagreements': {
        const score = this.table.score(index);
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
    for (let i = 0; i < this.table.count; i++) if (this.matches(i, filter)) indices.push(i);
    return indices;
  }

  async page(offset: number, count: number, filter: RowFilter = 'all'): Promise<{ total: number; rows: PairRow[] }> {
    const indices = filter === 'all' ? undefined : this.filtered(filter);
    const total = indices ? indices.length : this.table.count;
    const start = Math.max(0, Math.min(Math.floor(offset), total));
    const end = Math.min(total, start + Math.max(0, Math.min(Math.floor(count), MAX_PAGE_SIZE)));
    const positions: number[] = [];
    for (let i = start; i < end; i++) positions.push(indices ? indices[i] : i);
    const pairs = await this.table.pairs(positions);
    const rows = positions.map((index, k): PairRow => {
      const score = this.table.score(index);
      return { index, ...pairs[k], annotation: this.annotation(index), score: score && verdict(this.label(index), score) };
    });
    return { total, rows };
  }

  status(): ReviewStatus {
    let reviewed = 0;
    for (let i = 0; i < this.table.count; i++) if (this.annotation(i)?.reviewed) reviewed++;
    return {
      ...summarize(this.table, (index) => this.label(index)),
      loading: !this.table.complete,
      malformed: this.table.malformed.length,
      reviewed,
      scoring: { ...this.scoring },
      model: this.model,
    };
  }

  stats(): DatasetStats {
    return datasetStats({ pairs: this.table, labelOf: (index) => this.label(index), annotationOf: (index) => this.annotation(index) });
  }

  setScoring(state: ScoringState, error?: string): void {
    this.scoring = { ...this.scoring, state, error };
  }

  /** Up to `limit` pairs from `from` on that have no score yet, in file order. */
  unscored(from = 0, limit = Infinity): number[] {
    const indices: number[] = [];
    for (let i = from; i < this.table.count && indices.length < limit; i++) if (!this.table.score(i)) indices.push(i);
    return indices;
  }
}
