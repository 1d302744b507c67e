import type { Message } from '../core/pair';

/** One conversation to score: the prompt turns followed by the response turns. */
export interface ScoreItem {
  /**
   * Caller's key, echoed back with the reward; unique within one score() call (after a worker
   * crash, the items still to score are the ones whose id has had no result).
   */
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
  /** A serving engine's name and version, e.g. `vLLM 0.11.1`, when the model is remote. */
  server?: string;
  /** What the user should know about how the rewards are obtained (a recovered logit, who truncates, an endpoint left out). */
  notes?: string[];
  /** Why a preferred device was not used, when it fell back. */
  fallbackReason?: string;
  /** The score cache file in use, when a cache folder was given. */
  cache?: string;
  /** Why scores are not cached although a cache folder was given (scoring goes on without it). */
  cacheError?: string;
  /** For a Hugging Face checkpoint: what was built, from what, in which precision. */
  weights?: string;
  /** The precision a checkpoint runs in (`fp32`, `int8`, `int4`). */
  precision?: string;
  /**
   * Set when batches are not padded because padding could change the rewards (an export whose
   * pooling is unknown): slower, never wrong. Says why, for the user.
   */
  padding?: string;
}

/** One endpoint's share of a remote scoring call. */
export interface EndpointStats {
  url: string;
  /** Items it returned rewards for. */
  items: number;
  requests: number;
  /** Requests that failed there (its items were retried elsewhere or reported as failures). */
  errors: number;
  /** Time its requests were in flight, summed over its lanes. */
  seconds: number;
  /** Why it was taken out of the rotation, when it was. */
  down?: string;
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
  /**
   * Times the scoring worker crashed during this call and was restarted. When set, `items` counts
   * every item delivered, and the other figures cover the last attempt only (a crashed attempt
   * reports none).
   */
  restarts?: number;
  /** Remote scorers: each endpoint's share. */
  endpoints?: EndpointStats[];
}

/** Something the user should hear about while scoring goes on (the extension shows it). */
/** Something the user should hear about while scoring goes on: a worker restart, or an endpoint slow to answer. */
export type ScoreNotice = WorkerRestartNotice | EndpointWaitNotice;

/** A remote request has had no answer for a while; scoring goes on waiting (up to the timeout). */
export interface EndpointWaitNotice {
  kind: 'endpoint-waiting';
  /** For the user, e.g. "Waiting for gpu1:8000: no answer for 30 s …". */
  message: string;
  seconds: number;
}

export interface WorkerRestartNotice {
  kind: 'worker-restart';
  /** For the user, e.g. "The scoring worker stopped (…); restarting it in 1 s (attempt 2 of 3)." */
  message: string;
  /** Consecutive crashes so far, from 1. */
  attempt: number;
  /** Crashes in a row after which scoring gives up and the call rejects. */
  maxAttempts: number;
  delayMs: number;
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
  /**
   * Told when the scoring worker crashed and is being restarted; the call then resumes by itself
   * with the items that had no result yet, so no item is reported twice. After too many crashes in
   * a row the call rejects instead.
   */
  onNotice?: (notice: ScoreNotice) => void;
}

/** A reward model kept loaded between calls. */
export interface Scorer {
  load(): Promise<ScorerInfo>;
  /** Resolves when every item is scored; rejects with an `AbortError` when cancelled. */
  score(items: ScoreItem[], options: ScoreOptions): Promise<ScoreStats>;
  dispose(): Promise<void>;
}
