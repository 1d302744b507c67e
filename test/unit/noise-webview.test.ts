// What the review webview shows of the label-noise work, rendered in jsdom from the editor's state:
// the check counts and the noise suspects and length-control figures in the statistics view (the
// figures `plens review` prints), and a pair's check badges, noise score and length-controlled margin.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { JSDOM } from 'jsdom';
import path from 'node:path';
import { loadDataset } from '../../src/core/dataset';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import type { renderStats as RenderStats } from '../../webview-ui/stats';
import type { renderPair as RenderPair, PairViewContext } from '../../webview-ui/pairView';

const fixture = path.resolve(__dirname, '..', 'fixtures', 'label-noise.jsonl');
let renderStats: typeof RenderStats;
let renderPair: typeof RenderPair;

before(async () => {
  const { window } = new JSDOM('<!DOCTYPE html><body></body>');
  Object.assign(globalThis, { window, document: window.document, Node: window.Node, DocumentFragment: window.DocumentFragment });
  ({ renderStats } = await import('../../webview-ui/stats.js'));
  ({ renderPair } = await import('../../webview-ui/pairView.js'));
});

async function scoredState(): Promise<ReviewState> {
  const dataset = await loadDataset(fixture);
  const table = PairTable.fromPairs(dataset.pairs);
  // Rewards that grow with response length, plus a little: a length effect to take out.
  dataset.pairs.forEach((p, i) => table.setScore(i, { rewardA: Math.log1p(p.a[0].content.length) + (i % 3) * 0.1, rewardB: Math.log1p(p.b[0].content.length) }));
  return new ReviewState(table);
}

const text = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`)?.textContent?.trim();

describe('label noise in the webview', () => {
  it('the statistics view shows the check counts, the noise suspects and the length-control figures', async () => {
    const state = await scoredState();
    const stats = state.stats();
    const panel = renderStats(stats);
    assert.equal(text(panel, 'stats-check-identical_responses'), '1');
    assert.equal(text(panel, 'stats-check-conflicting_duplicates'), '2');
    assert.equal(text(panel, 'stats-check-near_duplicate_conflicts'), '2');
    assert.equal(text(panel, 'stats-noise-suspects'), String(state.noiseSuspects()));
    assert.equal(text(panel, 'length-slope'), stats.lengthControl!.slope!.toFixed(3));
    assert.equal(text(panel, 'length-only-count'), String((await state.select({ filter: 'length-only', sort: 'file' })).length));
  });

  it('a share of the agreement over 100% or below 0% says what it means', async () => {
    const stats = (await scoredState()).stats();
    const lc = stats.lengthControl!;
    const said = (explainedByLength: number) => text(renderStats({ ...stats, lengthControl: { ...lc, explainedByLength } }), 'length-control')!;
    assert.match(said(4 / 3), /explains 133\.3% of the agreement above chance \(over 100%: with length taken out the model agrees less often than chance would\)/);
    assert.match(said(-0.5), /\(below 0%: with length taken out the model agrees more often; length worked against the labels\)/);
    assert.doesNotMatch(said(0.4), /over 100%|below 0%/);
  });

  it('a pair shows its check badges, noise score and length-controlled margin', async () => {
    const state = await scoredState();
    const [row] = await state.pairRows([1]); // line 2: identical responses
    const context: PairViewContext = { raw: true, unfolded: new Set(), rerender() {}, setLabel() {}, annotate() {}, editNote() {} };
    const view = renderPair(context, row, 0, 1);
    assert.ok(view.querySelector('[data-testid="check-badge-identical_responses"]'));
    assert.equal(text(view, 'noise-score'), 'Noise 100%');
    assert.match(text(view, 'length-controlled-margin')!, /^Length-controlled [+−-]?\d/);
  });
});
