import type { Message } from '../core/pair';

/** One conversation to score: the prompt turns followed by the response turns. */
export interface ScoreItem {
  /** Caller's key, echoed back with the reward. */
  id: number;
  prompt: Message[];
  response: Message[];
}

export interface ScoreResult {
  id: number;
  reward: number;
}

/** What is loaded and where it runs, shown to the user in the CLI summary and the status bar. */
export interface ScorerInfo {
  /** Human-readable model name (folder name or hub id). */
  model: string;
  /** Execution provider actually in use, e.g. `cpu`, `cuda`. */
  device: string;
  /** Name of the prompt format used, e.g. `tulu` or `chat_template`. */
  template: string;
  /** Why a preferred device was not used, when it fell back. */
  fallbackReason?: string;
}

export interface ScoreStats {
  items: number;
  tokens: number;
  seconds: number;
  tokenizeSeconds: number;
  inferenceSeconds: number;
  /** Items longer than the model's limit, scored on their last tokens only (left truncation). */
  truncated?: number;
}

export interface ScoreOptions {
  signal?: AbortSignal;
  /** Called as batches finish, in completion order. */
  onResults: (results: ScoreResult[]) => void;
  onProgress?: (done: number, total: number) => void;
}

/** A reward model kept loaded between calls. */
export interface Scorer {
  load(): Promise<ScorerInfo>;
  /** Resolves when every item is scored; rejects with an `AbortError` when cancelled. */
  score(items: ScoreItem[], options: ScoreOptions): Promise<ScoreStats>;
  dispose(): Promise<void>;
}
