/**
 * What a review shows: list rows and whole pairs as the webview gets them, the queries that pick and
 * order the list, and the status the header reads. The host's review model (./reviewState.ts)
 * computes them; the webview protocol (src/shared/reviewProtocol.ts) carries them. Types and two
 * small helpers, no Node: the webview's type check reaches this file.
 */
import type { Annotation, ReviewLabel } from './annotationTypes';
import type { Message, Preference } from './pair';
import type { CheckName } from './checkNames';
import type { NoiseEvidence } from './noiseScore';
import type { ModelPreference } from './verdict';

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
  /** Who set the annotation's label (you, a colleague, or the adjudicator), and whether that is you. */
  labelBy?: { name: string; yours: boolean };
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
  /**
   * The pair's label when a reviewer set it (the adjudicated one, else the one set last: the label
   * the verdict is of), who set it, and whether that is you; withheld in blind mode until you decide.
   */
  decided?: { label: ReviewLabel; by: string; yours: boolean };
  /** Your flag, reviewed mark, and whether there is a note. */
  flagged?: boolean;
  reviewed?: boolean;
  noted?: boolean;
  /** An adjudicator decided the pair's label (withheld in blind review until you decide, as the decision is). */
  adjudicated?: boolean;
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

/** Most list rows or pairs the host serves per request: the webview never holds the whole file. */
export const MAX_ROWS_PER_REQUEST = 200;
