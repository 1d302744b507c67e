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
}

/** Which pairs the list shows. */
export type RowFilter = 'all' | 'disagreements' | 'unreviewed' | 'flagged';

export type ScoringState = 'idle' | 'loading' | 'scoring' | 'done' | 'cancelled' | 'error';

export interface ReviewStatus {
  /** Pairs read so far; grows while a large file is still being read. */
  pairs: number;
  /** True until the whole file has been read. */
  loading: boolean;
  /** Records that could not be read as pairs (so far). */
  malformed: number;
  reviewed: number;
  scored: number;
  agreement: number | null;
  disagreements: number;
  scoring: { state: ScoringState; done: number; total: number; error?: string };
  model?: { name: string; device: string; template: string; isDemo: boolean; fallbackReason?: string };
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
  | { type: 'requestPage'; offset: number; count: number; filter: RowFilter }
  | { type: 'annotate'; index: number; field: AnnotationField; value: AnnotationValue | null }
  | { type: 'editNote'; index: number }
  | { type: 'requestStats' }
  | { type: 'cancelScoring' }
  | { type: 'rescore' };

export type HostToWebview =
  | { type: 'snapshot'; snapshot: ReviewSnapshot }
  | { type: 'page'; offset: number; total: number; filter: RowFilter; rows: PairRow[] }
  | { type: 'annotationsChanged' }
  | { type: 'stats'; stats: DatasetStats }
  | { type: 'status'; status: ReviewStatus };

/** Largest page the host serves: the webview never holds the whole file. */
export const MAX_PAGE_SIZE = 100;
