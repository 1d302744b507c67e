/**
 * Every message between the review editor's host and its webview. The webview speaks first
 * (`ready`) and the host answers with a full snapshot, so a rebuilt webview re-syncs the same way.
 * No `vscode`, node or DOM imports: both ends take their types from here.
 */
import type { Annotation, FieldValues, ReviewLabel } from '../core/annotationTypes';
import type { Message, Preference } from '../core/pair';
import type { CheckName } from '../core/checkNames';
import type { NoiseEvidence } from '../core/noiseScore';
import type { DatasetStats } from '../core/stats';
import type { ModelPreference } from '../core/verdict';
import type { ReplyMessage, RequestMessage } from './requests';

export interface RowScore {
  rewardA: number;
  rewardB: number;
  margin: number;
  prefers: ModelPreference;
  agrees: boolean | null;
  /** The margin with the length effect fitted on the file taken out (src/core/lengthControl.ts). */
  lengthControlledMargin?: number;
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
  /** This annotator's own label, when they gave one (the annotation's label may be a colleague's). */
  mine?: ReviewLabel;
  score?: RowScore;
  /**
   * Blind mode: scores and the file's label are withheld until the reviewer decides, and `swapped`
   * says the sides are shown B first (chosen per pair at random, to counter position bias).
   */
  blind?: { swapped: boolean };
  /** The model-free label-noise checks the pair fails (src/core/noiseChecks.ts). */
  checks?: CheckName[];
  /** The probability its label is wrong, and its parts (src/core/noiseScore.ts); withheld in blind mode. */
  noise?: NoiseEvidence;
  /** With a team file: the annotators the pair is assigned to (src/core/assignment.ts). */
  assignees?: string[];
  /**
   * Each annotator's label, in the order set: when two or more labelled, when it was adjudicated, or
   * while adjudicating; withheld in blind mode until you decide.
   */
  annotators?: Array<{ name: string; label: ReviewLabel }>;
  /** The adjudicator's decision, when there is one (withheld likewise). */
  adjudication?: { label: ReviewLabel; by: string };
  /**
   * With further models (`preferenceLens.additionalModels`): each model's scores of the pair, the
   * first model's first, and their consensus margin (src/core/modelConsensus.ts). Withheld in blind mode.
   */
  models?: { name: string; score?: Omit<RowScore, 'lengthControlledMargin'> }[];
  consensusMargin?: number;
}

/** One line of the pair list: enough to scan and sort by eye; the text is a short preview. */
export interface RowSummary {
  index: number;
  line: number;
  /** The label in the file; null in blind mode until the reviewer decides. */
  label: Preference;
  /** The reviewer's label, flag, reviewed mark, and whether there is a note. */
  yours?: ReviewLabel;
  flagged?: boolean;
  reviewed?: boolean;
  noted?: boolean;
  /** Absent while unscored, and in blind mode until the reviewer decides. */
  score?: { margin: number; prefers: ModelPreference; agrees: boolean | null };
  blind?: boolean;
  /** The model-free label-noise checks the pair fails. */
  checks?: CheckName[];
  /** The start of the last prompt turn, whitespace collapsed. */
  preview: string;
}

/** Which pairs the list shows. */
export type RowFilter = 'all' | 'disagreements' | 'agreements' | 'unlabelled' | 'ties' | 'flagged' | 'reviewed' | 'unreviewed'
  /** The model prefers the longer response only because it is longer (src/core/lengthControl.ts). */
  | 'length-only'
  /** Pairs the team file assigns to you that you have not labelled yet (src/core/assignment.ts). */
  | 'my-share'
  /** The adjudication queue: pairs two or more annotators labelled differently, not yet adjudicated. */
  | 'annotators-disagree'
  /** Pairs an adjudicator decided. */
  | 'adjudicated'
  /** Scored by every model, and every model prefers the other response than the label (src/core/modelConsensus.ts). */
  | 'every-model-disagrees';

/** Row orders; `confidence` puts the disagreements the model is surest about first (the review queue). */
export type RowSort = 'file' | 'confidence' | 'margin' | 'margin-desc' | 'length-difference'
  /** Labelled pairs whose length-controlled margin contradicts the label most, first. */
  | 'length-controlled'
  /** The noise score (src/core/noiseScore.ts), highest first: the review queue's order. */
  | 'noise'
  /** Labelled pairs whose consensus margin over the models contradicts the label most, first. */
  | 'consensus';

/** Which pairs the list shows and in what order; the parts combine. */
export interface RowQuery {
  filter: RowFilter;
  sort: RowSort;
  /** Case-insensitive text that the prompt or a response contains. */
  search?: string;
  /** Margin range (reward A − reward B), inclusive; a bound excludes unscored pairs. */
  marginMin?: number;
  marginMax?: number;
  /** Only the pairs a model-free noise check flags. */
  check?: CheckName;
}

export const DEFAULT_QUERY: RowQuery = { filter: 'all', sort: 'file' };

/** Every pair in file order: the list is the table itself, and grows while a large file is read. */
export const isPlainQuery = (query: RowQuery): boolean =>
  query.filter === 'all' && query.sort === 'file' && !query.search && query.marginMin === undefined && query.marginMax === undefined && !query.check;

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
  /** Whose labels this editor records (the annotator setting, else the git user). */
  annotator?: string;
  /** Label keys record adjudications (see {@link PairRow.adjudication}). */
  adjudicating: boolean;
  /** The dataset's team file (src/core/assignment.ts), when it has one, or why it could not be read. */
  team?: { annotators: string[]; overlap: number };
  teamError?: string;
  scored: number;
  agreement: number | null;
  disagreements: number;
  /** Pairs each model-free noise check flags (so far, while the file is read). */
  checks?: Record<CheckName, number>;
  /** The further models (`preferenceLens.additionalModels`) and how many pairs each has scored. */
  models?: { name: string; scored: number }[];
  scoring: {
    state: ScoringState;
    done: number;
    total: number;
    error?: string;
    /** While loading: what takes the time (a checkpoint's graph being built, with its step). */
    detail?: string;
    /** While a further model (`preferenceLens.additionalModels`) scores: which, e.g. "model 2 of 3: org/name". */
    model?: string;
    /** Responses longer than the model's limit, scored on their last tokens (left truncation), in this session's runs. */
    truncated?: number;
  };
  /**
   * `bundled`: the note of the bundled baseline model when it is the one in use (what it is, how
   * good). `weights`: for a Hugging Face checkpoint, what was built in which precision. `padding`:
   * set when batches are not padded (an export whose pooling is unknown), and why.
   */
  model?: {
    name: string;
    device: string;
    template: string;
    bundled?: string;
    /** With the baseline: the reward model to offer instead, e.g. "Skywork Reward V2 (Qwen3, 0.6B), ~1.2 GB download". */
    recommendation?: string;
    fallbackReason?: string;
    weights?: string;
    precision?: string;
    padding?: string;
    /** A remote model's serving engine and version, and what to know about how its rewards are obtained. */
    server?: string;
    notes?: string[];
  };
}

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

/** Most list rows or pairs the host serves per request: the webview never holds the whole file. */
export const MAX_ROWS_PER_REQUEST = 200;
