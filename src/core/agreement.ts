/**
 * How far annotators agree, by the figures annotation teams report: percent agreement, Cohen's κ
 * for each pair of annotators, and Krippendorff's α over everyone (nominal; any number of
 * annotators; a pair not labelled by all of them still counts). Labels are nominal categories —
 * `a`, `b`, `tie`, `both-bad` — so "tie" and "both bad" are categories of their own, not
 * half-agreements.
 *
 * References: Cohen (1960), "A coefficient of agreement for nominal scales"; Krippendorff (2011),
 * "Computing Krippendorff's Alpha-Reliability" (the coincidence-matrix computation used here, and
 * the worked example the tests reproduce).
 */

/** For each unit (pair), each annotator's category; a missing annotator is simply absent. */
export type Ratings<C extends string = string> = ReadonlyMap<string, ReadonlyMap<string, C>>;

export interface PairwiseAgreement {
  a: string;
  b: string;
  /** Units both labelled. */
  units: number;
  /** Share of those units with the same label. */
  percentAgreement: number | null;
  /** null when undefined: fewer than two units, or both always used one and the same category. */
  cohenKappa: number | null;
}

/**
 * Cohen's κ of two annotators over the units both labelled: (po − pe) / (1 − pe), with pe from
 * each annotator's own category frequencies.
 */
export function cohenKappa<C extends string>(pairs: ReadonlyArray<readonly [C, C]>): number | null {
  const n = pairs.length;
  if (n < 2) return null;
  const first = new Map<C, number>();
  const second = new Map<C, number>();
  let same = 0;
  for (const [x, y] of pairs) {
    if (x === y) same++;
    first.set(x, (first.get(x) ?? 0) + 1);
    second.set(y, (second.get(y) ?? 0) + 1);
  }
  const observed = same / n;
  let expected = 0;
  for (const [category, count] of first) expected += (count / n) * ((second.get(category) ?? 0) / n);
  return expected === 1 ? null : (observed - expected) / (1 - expected);
}

/**
 * Krippendorff's α, nominal: 1 − (n − 1) · Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k, from the coincidence
 * matrix o of every pairable value (units with at least two labels). null when fewer than two
 * pairable values, or when every value is one category (no variation to agree on).
 */
export function krippendorffAlpha<C extends string>(ratings: Ratings<C>): number | null {
  const coincidence = new Map<string, number>();
  const totals = new Map<C, number>();
  let pairable = 0;
  for (const byAnnotator of ratings.values()) {
    const values = [...byAnnotator.values()];
    const m = values.length;
    if (m < 2) continue;
    pairable += m;
    for (let i = 0; i < m; i++) {
      totals.set(values[i], (totals.get(values[i]) ?? 0) + 1);
      for (let j = 0; j < m; j++) {
        if (i === j) continue;
        const key = `${values[i]}\u0000${values[j]}`;
        coincidence.set(key, (coincidence.get(key) ?? 0) + 1 / (m - 1));
      }
    }
  }
  if (pairable < 2) return null;
  let observedDisagreement = 0;
  for (const [key, count] of coincidence) {
    const [c, k] = key.split('\u0000');
    if (c !== k) observedDisagreement += count;
  }
  let expectedDisagreement = 0;
  const counts = [...totals.values()];
  for (let i = 0; i < counts.length; i++) for (let j = 0; j < counts.length; j++) if (i !== j) expectedDisagreement += counts[i] * counts[j];
  if (expectedDisagreement === 0) return null;
  return 1 - ((pairable - 1) * observedDisagreement) / expectedDisagreement;
}

export interface InterAnnotator {
  /** Units with labels from two or more annotators. */
  unitsMultiplyLabelled: number;
  /** Over every pair of labels given to one unit: the share that match. */
  percentAgreement: number | null;
  krippendorffAlpha: number | null;
  pairwise: PairwiseAgreement[];
}

/** Every agreement figure for a set of ratings; annotators in name order. */
export function interAnnotator<C extends string>(ratings: Ratings<C>): InterAnnotator {
  const names = [...new Set([...ratings.values()].flatMap((byAnnotator) => [...byAnnotator.keys()]))].sort();
  let multiply = 0;
  let matchingPairs = 0;
  let labelPairs = 0;
  for (const byAnnotator of ratings.values()) {
    const values = [...byAnnotator.values()];
    if (values.length < 2) continue;
    multiply++;
    for (let i = 0; i < values.length; i++) {
      for (let j = i + 1; j < values.length; j++) {
        labelPairs++;
        if (values[i] === values[j]) matchingPairs++;
      }
    }
  }
  const pairwise: PairwiseAgreement[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const both: Array<[C, C]> = [];
      for (const byAnnotator of ratings.values()) {
        const x = byAnnotator.get(names[i]);
        const y = byAnnotator.get(names[j]);
        if (x !== undefined && y !== undefined) both.push([x, y]);
      }
      pairwise.push({
        a: names[i],
        b: names[j],
        units: both.length,
        percentAgreement: both.length ? both.filter(([x, y]) => x === y).length / both.length : null,
        cohenKappa: cohenKappa(both),
      });
    }
  }
  return {
    unitsMultiplyLabelled: multiply,
    percentAgreement: labelPairs ? matchingPairs / labelPairs : null,
    krippendorffAlpha: krippendorffAlpha(ratings),
    pairwise,
  };
}
