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

/** An item that got no reward (a remote request that failed for good); never a score. */
export interface ScoreFailure {
  id: number;
  /** Why, for the user; never contains the access token. */
  error: string;
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
  /** The score cache file in use, when a cache folder was given. */
  cache?: string;
  /** Why scores are not cached although a cache folder was given (scoring goes on without it). */
  cacheError?: string;
}

export interface ScoreStats {
  items: number;
  tokens: number;
  seconds: number;
  tokenizeSeconds: number;
  inferenceSeconds: number;
  /** Items longer than the model's limit, scored on their last tokens only (left truncation). */
  truncated?: number;
  /** Items answered from the score cache, without running the model. */
  cached?: number;
  /** Inference calls made (onnxruntime runs, or HTTP requests for a remote model). */
  modelCalls?: number;
  /** Set when storing scores in the cache failed; the scores themselves were still delivered. */
  cacheError?: string;
  /** Items reported through `onFailures` instead of `onResults`. */
  failed?: number;
}

export interface ScoreOptions {
  signal?: AbortSignal;
  /** Called as batches finish, in completion order. */
  onResults: (results: ScoreResult[]) => void;
  onProgress?: (done: number, total: number) => void;
  /**
   * Called with items that could not be scored (remote scorers: retries exhausted, a rejected
   * request). A separate callback so a failure can never be taken for a reward; `stats.failed`
   * counts them either way.
   */
  onFailures?: (failures: ScoreFailure[]) => void;
}

/** A reward model kept loaded between calls. */
export interface Scorer {
  load(): Promise<ScorerInfo>;
  /** Resolves when every item is scored; rejects with an `AbortError` when cancelled. */
  score(items: ScoreItem[], options: ScoreOptions): Promise<ScoreStats>;
  dispose(): Promise<void>;
}
