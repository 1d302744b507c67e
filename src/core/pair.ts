/**
 * The normalised preference pair every format is read into. No `vscode`, no DOM: shared by the
 * extension host, the CLI and the scoring pipeline.
 */

/** One chat turn. Roles are kept as the dataset spells them after mapping to the OpenAI names. */
export interface Message {
  role: string;
  content: string;
}

/** Which response a judge (human or model) prefers; `null` when there is no judgement. */
export type Preference = 'a' | 'b' | 'tie' | null;

export interface Pair {
  /** 1-based line number of the record in its file (for JSON arrays: the line the record starts on). */
  line: number;
  /** The conversation both responses answer, turns and roles kept. */
  prompt: Message[];
  /** The two responses in stored order; for chosen/rejected data `a` is the chosen one. */
  a: Message[];
  b: Message[];
  /** The human label. */
  label: Preference;
  /**
   * What the dataset records about the pair besides the label, for the reviewer to see. Keys are
   * camelCase and shared across formats; `a` / `b` suffixes follow the pair's sides:
   * `bothBad` (a tie judged "both bad", e.g. Chatbot Arena's `tie (bothbad)`), `modelA` / `modelB`,
   * `scoreA` / `scoreB` (the dataset's own ratings, e.g. UltraFeedback's), `strength` (a signed
   * preference strength, e.g. HelpSteer3's −3…+3), `policyA` / `policyB`, `judge`, `votes`.
   */
  meta?: Record<string, unknown>;
}

/** A record that could not be read as a pair, reported and never silently dropped. */
export interface Malformed {
  line: number;
  error: string;
}
