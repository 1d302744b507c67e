/**
 * The names of the model-free label-noise checks (./noiseChecks), apart from their code so the
 * webview can show them without bundling node's crypto.
 */
export const CHECK_NAMES = [
  'identical_responses',
  'conflicting_duplicates',
  'near_duplicate_conflicts',
  'empty_responses',
  'diverging_transcripts',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** What the user reads for each check (header, filter, badge). */
export const CHECK_TITLES: Record<CheckName, string> = {
  identical_responses: 'Identical responses',
  conflicting_duplicates: 'Duplicates with conflicting labels',
  near_duplicate_conflicts: 'Near-duplicates with conflicting labels',
  empty_responses: 'Empty response',
  diverging_transcripts: 'Transcripts differ before the last turn',
};
