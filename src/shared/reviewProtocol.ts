/**
 * Every message between the review editor's host and its webview. The webview speaks first
 * (`ready`) and the host answers with a full snapshot, so a rebuilt webview re-syncs the same way.
 * No `vscode`, node or DOM imports: both ends take their types from here.
 */
import type { Annotation, AnnotationField, AnnotationValue } from '../core/annotations';
import type { Message, Preference } from '../core/pair';
import type { DatasetStats } from '../core/stats';

export interface RowScore {
  rewardA: number;
  rewardB: number;
  margin: number;
  prefers: Preference;
  agrees: boolean | null;
}

/** One pair as the webview shows it. */
export interface PairRow {
  /** 0-based position among the file's pairs. */
  index: number;
  line: number;
  prompt: Message[];
  a: Message[];
  b: Message[];
  /** The label in the file. */
  label: Preference;
  /** The reviewer's annotations, when there are any; a reviewer's label overrides `label`. */
  annotation?: Annotation;
  score?: RowScore;
  /**
   * Blind mode: scores and the file's label are withheld until the reviewer decides, and `swapped`
   * says the sides are shown B first (chosen per pair at random, to counter position bias).
   */
  blind?: { swapped: boolean };
}

/** Which pairs the list shows. */
export type RowFilter = 'all' | 'disagreements' | 'agreements' | 'unlabelled' | 'ties' | 'flagged' | 'reviewed' | 'unreviewed';

/** Row orders; `confidence` puts the disagreements the model is surest about first (the review queue). */
export type RowSort = 'file' | 'confidence' | 'margin' | 'margin-desc' | 'length-difference';

/** Which pairs the list shows and in what order; the parts combine. */
export interface RowQuery {
  filter: RowFilter;
  sort: RowSort;
  /** Case-insensitive text that the prompt or a response contains. */
  search?: string;
  /** Margin range (reward A − reward B), inclusive; a bound excludes unscored pairs. */
  marginMin?: number;
  marginMax?: number;
}

export const DEFAULT_QUERY: RowQuery = { filter: 'all', sort: 'file' };

export type BulkAction =
  | { field: 'flagged'; value: true | null }
  | { field: 'reviewed'; value: true | null }
  | { field: 'label'; value: 'a' | 'b' | 'tie' | 'both-bad' | null };

export type ScoringState = 'idle' | 'loading' | 'scoring' | 'done' | 'cancelled' | 'error';

export interface ReviewStatus {
  /** Pairs read so far; grows while a large file is still being read. */
  pairs: number;
  /** True until the whole file has been read. */
  loading: boolean;
  /** Records that could not be read as pairs (so far). */
  malformed: number;
  reviewed: number;
  /** Blind review is on (see {@link PairRow.blind}). */
  blind: boolean;
  scored: number;
  agreement: number | null;
  disagreements: number;
  scoring: { state: ScoringState; done: number; total: number; error?: string };
  /** `bundled`: the note of the bundled baseline model when it is the one in use (what it is, how good). */
  model?: { name: string; device: string; template: string; bundled?: string; fallbackReason?: string };
}

export interface ReviewSnapshot {
  fileName: string;
  format: string;
  formatTitle: string;
  malformed: { line: number; error: string }[];
  pageSize: number;
  status: ReviewStatus;
}

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'requestPage'; offset: number; count: number; query: RowQuery }
  | { type: 'bulkAnnotate'; query: RowQuery; action: BulkAction }
  | { type: 'setBlind'; blind: boolean }
  | { type: 'annotate'; index: number; field: AnnotationField; value: AnnotationValue | null }
  | { type: 'editNote'; index: number }
  | { type: 'requestStats' }
  | { type: 'cancelScoring' }
  | { type: 'rescore' };

export type HostToWebview =
  | { type: 'snapshot'; snapshot: ReviewSnapshot }
  | { type: 'page'; offset: number; total: number; query: RowQuery; rows: PairRow[] }
  | { type: 'annotationsChanged' }
  | { type: 'stats'; stats: DatasetStats }
  | { type: 'status'; status: ReviewStatus };

/** Largest page the host serves: the webview never holds the whole file. */
export const MAX_PAGE_SIZE = 100;
