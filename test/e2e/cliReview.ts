/** The label-noise part of what `plens review` prints (src/cli/plens.ts), which several end-to-end tests compare with the statistics view. */
export interface CliLabelNoise {
  length_control: {
    slope: number | null;
    agreement: number | null;
    agreement_length_controlled: number | null;
    agreement_length_only: number | null;
    explained_by_length: number | null;
    preferred_only_for_length: { count: number };
  };
  checks: Record<string, { count: number }>;
  noise: { suspects: number };
}
