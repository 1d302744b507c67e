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

/** A share as the statistics view writes it. */
export const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);

/** The length-control figures of `plens review`, written as the statistics view shows them. */
export function lengthControlShown(lc: CliLabelNoise['length_control']) {
  return {
    slope: lc.slope?.toFixed(3),
    raw: pct(lc.agreement),
    controlled: pct(lc.agreement_length_controlled),
    only: pct(lc.agreement_length_only),
    explained: pct(lc.explained_by_length),
    onlyForLength: String(lc.preferred_only_for_length.count),
  };
}

/**
 * The same figures read off the statistics view: an expression for a script run in the webview
 * (see evalInWebview) that defines `one(testId)`, giving that element's text.
 */
export const LENGTH_CONTROL_READ = `{
  slope: one('length-slope'),
  raw: one('length-agreement-raw'),
  controlled: one('length-agreement-controlled'),
  only: one('length-agreement-only'),
  explained: one('length-explained'),
  onlyForLength: one('length-only-count'),
}`;
