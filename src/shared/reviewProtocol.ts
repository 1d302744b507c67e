/**
 * Every message between the review editor's host and its webview. The webview speaks first
 * (`ready`) and the host answers with a full snapshot, so a rebuilt webview re-syncs the same way.
 * No `vscode`, node or DOM imports: both ends take their types from here.
 */
import type { FieldValues } from '../core/annotationTypes';
import type { DatasetStats } from '../core/stats';
import type { BulkAction, PairRow, ReviewStatus, RowQuery, RowSummary } from '../core/reviewView';
import type { ReplyMessage, RequestMessage } from './requests';

// What a review shows (rows, pairs, queries, status) is the core's: the host's review model computes
// it. The protocol carries it, and re-exports it for the webview.
export { DEFAULT_QUERY, isPlainQuery, MAX_ROWS_PER_REQUEST } from '../core/reviewView';
export type { BulkAction, PairRow, ReviewStatus, RowFilter, RowQuery, RowScore, RowSort, RowSummary, ScoringState } from '../core/reviewView';

export interface ReviewSnapshot {
  fileName: string;
  format: string;
  formatTitle: string;
  malformed: { line: number; error: string }[];
  status: ReviewStatus;
  keymap: ReviewKeymap;
}

/**
 * What the review keys do. Each is a VS Code command (`preferenceLens.review.<action>`) with a
 * default keybinding in package.json (a unit test keeps the two in step), so users rebind them in
 * Keyboard Shortcuts; the host relays the command to the focused review webview. `keys` are in
 * VS Code's keybinding syntax; the first is the one the webview's hints show.
 */
export const REVIEW_KEYS = {
  next: { keys: ['j', 'down'], title: 'Next Pair' },
  previous: { keys: ['k', 'up'], title: 'Previous Pair' },
  pageDown: { keys: [']', 'pagedown'], title: 'Page Down the List' },
  pageUp: { keys: ['[', 'pageup'], title: 'Page Up the List' },
  first: { keys: ['home'], title: 'First Pair' },
  last: { keys: ['end'], title: 'Last Pair' },
  labelLeft: { keys: ['1'], title: 'Label: Left Response (A) Better' },
  labelRight: { keys: ['2'], title: 'Label: Right Response (B) Better' },
  labelTie: { keys: ['3'], title: 'Label: Tie' },
  labelBothBad: { keys: ['4'], title: 'Label: Both Bad' },
  acceptModel: { keys: ['a'], title: "Accept the Model's Preference" },
  keepLabel: { keys: ['h'], title: "Keep the File's Label" },
  flag: { keys: ['f'], title: 'Toggle Flag' },
  reviewed: { keys: ['r'], title: 'Toggle Reviewed' },
  note: { keys: ['n'], title: 'Edit Note' },
  queue: { keys: ['q'], title: 'Show the Review Queue' },
  search: { keys: ['/'], title: 'Search Text' },
  blind: { keys: ['shift+b'], title: 'Toggle Blind Review' },
  adjudicate: { keys: ['shift+a'], title: 'Toggle Adjudication (Label Keys Record the Decision)' },
  adjudicationQueue: { keys: ['shift+q'], title: 'Show the Adjudication Queue (Annotators Disagree)' },
  myShare: { keys: ['shift+m'], title: 'Show My Share (Assigned to Me, Not Yet Labelled)' },
  everyModelQueue: { keys: ['shift+e'], title: 'Show the Pairs Every Model Disagrees With (Several Models)' },
  raw: { keys: ['m'], title: 'Toggle Markdown / Raw Text' },
  stats: { keys: ['s'], title: 'Toggle Statistics' },
} as const satisfies Record<string, { keys: readonly string[]; title: string }>;
export type ReviewAction = keyof typeof REVIEW_KEYS;
export const REVIEW_ACTIONS = Object.keys(REVIEW_KEYS) as ReviewAction[];
/** The keys of each action as the user has them (defaults changed by their keybindings.json). */
export type ReviewKeymap = Record<ReviewAction, string[]>;
/** The context key that is true while a review webview has keyboard focus (the keybindings' `when`). */
export const REVIEW_FOCUS_CONTEXT = 'preferenceLens.reviewFocus';

/**
 * What the webview asks of the host, each with its reply (see ./requests.ts): list rows a window at
 * a time, whole pairs for the pair view, the statistics.
 */
export type ReviewRequests = {
  rows: { params: { offset: number; count: number; query: RowQuery }; reply: { total: number; rows: RowSummary[] } };
  pairs: { params: { indices: number[] }; reply: PairRow[] };
  stats: { params: Record<string, never>; reply: DatasetStats };
};

export type WebviewToHost =
  | { type: 'ready' }
  | RequestMessage<ReviewRequests>
  /** The webview gained or lost keyboard focus: the review keybindings apply only while it has it. */
  | { type: 'focus'; focused: boolean }
  /** Opens Keyboard Shortcuts filtered to the review keys. */
  | { type: 'customizeKeys' }
  | { type: 'bulkAnnotate'; query: RowQuery; action: BulkAction }
  | { type: 'setBlind'; blind: boolean }
  | { type: 'setAdjudicating'; adjudicating: boolean }
  /** One reviewer action on one pair: every field it sets is one edit, one undo step. */
  | { type: 'annotate'; index: number; values: FieldValues }
  | { type: 'editNote'; index: number }
  | { type: 'cancelScoring' }
  | { type: 'rescore' }
  /** The baseline is scoring: the user picked the recommended reward model (a download they agreed to), or wants to choose. */
  | { type: 'useRecommendedModel' }
  | { type: 'chooseModel' };

export type HostToWebview =
  | { type: 'snapshot'; snapshot: ReviewSnapshot }
  | ReplyMessage
  | { type: 'command'; action: ReviewAction }
  /** The user changed their keybindings: the hints show these keys now. */
  | { type: 'keymap'; keymap: ReviewKeymap }
  /** The review keybindings are now on (this webview has focus) or off. */
  | { type: 'keys'; active: boolean }
  /**
   * `pairs`: the pairs whose annotations changed, as the pair view shows them now, when it is a few;
   * absent: any may have.
   */
  | { type: 'annotationsChanged'; pairs?: PairRow[] }
  /** Pairs scored since the last push, each with its verdict as a list row shows it (none while blind review withholds it). */
  | { type: 'scores'; scores: Array<{ index: number; score?: RowSummary['score'] }> }
  | { type: 'status'; status: ReviewStatus };

