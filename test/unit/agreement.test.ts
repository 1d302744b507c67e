// Agreement figures against published worked examples and against a second, independently written
// computation on random ratings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cohenKappa, interAnnotator, krippendorffAlpha } from '../../src/core/agreement';

/** Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers × 12 units example with missing values. */
const KRIPPENDORFF_EXAMPLE: Array<Array<number | null>> = [
  // units:  1     2  3  4  5  6  7  8  9  10    11    12
  /* A */ [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
  /* B */ [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
  /* C */ [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
  /* D */ [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
];

function ratingsOf(table: Array<Array<number | string | null>>): Map<string, Map<string, string>> {
  const ratings = new Map<string, Map<string, string>>();
  table.forEach((row, observer) =>
    row.forEach((value, unit) => {
      if (value === null) return;
      const byObserver = ratings.get(`u${unit}`) ?? new Map<string, string>();
      byObserver.set(`obs${observer}`, String(value));
      ratings.set(`u${unit}`, byObserver);
    }),
  );
  return ratings;
}

/** α by enumerating every ordered pair of values: within units (weighted 1/(m−1)) and across all pairable values. */
function alphaByEnumeration(ratings: Map<string, Map<string, string>>): number {
  const units = [...ratings.values()].map((m) => [...m.values()]).filter((values) => values.length >= 2);
  const all = units.flat();
  let within = 0;
  for (const values of units) {
    let differing = 0;
    for (const x of values) for (const y of values) if (x !== y) differing++;
    within += differing / (values.length - 1);
  }
  let across = 0;
  for (let i = 0; i < all.length; i++) for (let j = 0; j < all.length; j++) if (i !== j && all[i] !== all[j]) across++;
  const observed = within / all.length;
  const expected = across / (all.length * (all.length - 1));
  return 1 - observed / expected;
}

/** κ from the confusion matrix, as statistics packages compute it. */
function kappaByMatrix(pairs: Array<[string, string]>): number {
  const categories = [...new Set(pairs.flat())];
  const index = new Map(categories.map((c, i) => [c, i]));
  const matrix = categories.map(() => categories.map(() => 0));
  for (const [x, y] of pairs) matrix[index.get(x)!][index.get(y)!]++;
  const n = pairs.length;
  const diagonal = categories.reduce((sum, _, i) => sum + matrix[i][i], 0);
  const chance = categories.reduce((sum, _, i) => sum + matrix[i].reduce((a, b) => a + b, 0) * matrix.reduce((a, row) => a + row[i], 0), 0);
  return (n * diagonal - chance) / (n * n - chance);
}

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('agreement between annotators', () => {
  it("Krippendorff's α reproduces his worked example (nominal: 0.743)", () => {
    const alpha = krippendorffAlpha(ratingsOf(KRIPPENDORFF_EXAMPLE));
    assert.equal(Number(alpha!.toFixed(3)), 0.743);
  });

  it("Cohen's κ reproduces the textbook example (20/5/10/15 of 50: κ = 0.4)", () => {
    const pairs: Array<[string, string]> = [
      ...Array.from({ length: 20 }, () => ['yes', 'yes'] as [string, string]),
      ...Array.from({ length: 5 }, () => ['yes', 'no'] as [string, string]),
      ...Array.from({ length: 10 }, () => ['no', 'yes'] as [string, string]),
      ...Array.from({ length: 15 }, () => ['no', 'no'] as [string, string]),
    ];
    assert.ok(Math.abs(cohenKappa(pairs)! - 0.4) < 1e-12);
  });

  it('equals a second computation on random ratings with missing values (α and every pairwise κ)', () => {
    const labels = ['a', 'b', 'tie', 'both-bad'];
    for (let seed = 1; seed <= 30; seed++) {
      const next = random(seed);
      const annotators = 2 + Math.floor(next() * 4);
      const table = Array.from({ length: annotators }, () =>
        Array.from({ length: 40 }, () => (next() < 0.25 ? null : labels[Math.floor(next() * (next() < 0.5 ? 2 : 4))])),
      );
      const ratings = ratingsOf(table);
      const figures = interAnnotator(ratings);
      const alpha = figures.krippendorffAlpha;
      if (alpha !== null) assert.ok(Math.abs(alpha - alphaByEnumeration(ratings)) < 1e-12, `seed ${seed}`);
      for (const pair of figures.pairwise) {
        const both: Array<[string, string]> = [];
        for (const byObserver of ratings.values()) {
          const x = byObserver.get(pair.a);
          const y = byObserver.get(pair.b);
          if (x !== undefined && y !== undefined) both.push([x, y]);
        }
        assert.equal(pair.units, both.length);
        if (pair.cohenKappa !== null) assert.ok(Math.abs(pair.cohenKappa - kappaByMatrix(both)) < 1e-12, `seed ${seed} ${pair.a}/${pair.b}`);
      }
    }
  });

  it('is undefined, not a number, where there is nothing to agree on', () => {
    assert.equal(cohenKappa([['a', 'a']]), null);
    assert.equal(cohenKappa([['a', 'a'], ['a', 'a']]), null);
    assert.equal(krippendorffAlpha(ratingsOf([['a', 'a'], ['a', 'a']])), null);
    assert.equal(krippendorffAlpha(ratingsOf([['a', null], [null, 'b']])), null, 'no unit labelled twice');
  });

  it('counts multiply labelled pairs and the share of matching label pairs', () => {
    const figures = interAnnotator(ratingsOf([
      ['a', 'b', 'tie', null],
      ['a', 'a', 'tie', 'b'],
      ['a', null, null, null],
    ]));
    assert.equal(figures.unitsMultiplyLabelled, 3);
    // Rows are annotators. Unit 0: a/a/a, 3 pairs that match; unit 1: b/a, 1 that differs; unit 2: tie/tie, 1 that matches.
    assert.equal(figures.percentAgreement, 4 / 5);
    assert.deepEqual(figures.pairwise.map((p) => [p.a, p.b, p.units]), [
      ['obs0', 'obs1', 3],
      ['obs0', 'obs2', 1],
      ['obs1', 'obs2', 1],
    ]);
  });
});
