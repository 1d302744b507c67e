// The review webview against a host that answers as the extension does (a ReviewState over a real
// fixture, requests answered by answerRequests): every request gets the reply it asked for, and what
// the host pushes — new scores, changed pairs — shows without the webview asking again.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JSDOM } from 'jsdom';
import { loadDataset } from '../../src/core/dataset';
import { PairTable } from '../../src/core/pairTable';
import { ReviewState } from '../../src/core/reviewState';
import { reviewKeymap } from '../../src/shared/userKeymap';
import type { HostToWebview, ReviewRequests, WebviewToHost } from '../../src/shared/reviewProtocol';
import { answerRequests, RequestClient, type ReplyMessage, type RequestMessage } from '../../src/shared/requests';

const fixture = path.resolve(__dirname, '..', 'fixtures', 'hh-rlhf-sample.jsonl');

describe('typed requests', () => {
  it('tie each reply to its request, out of order, and turn a handler error into a rejection', async () => {
    const sent: RequestMessage<ReviewRequests>[] = [];
    const client = new RequestClient<ReviewRequests>((message) => sent.push(message));
    const rows = client.request('rows', { offset: 0, count: 2, query: { filter: 'all', sort: 'file' } });
    const stats = client.request('stats', {});
    assert.deepEqual(sent.map((m) => [m.kind, m.id]), [['rows', 1], ['stats', 2]]);
    // Answered in the other order: each promise still gets its own reply.
    assert.equal(client.receive({ type: 'reply', inReplyTo: 2, error: 'no stats yet' }), true);
    assert.equal(client.receive({ type: 'reply', inReplyTo: 1, reply: { total: 7, rows: [] } }), true);
    assert.equal(client.receive({ type: 'reply', inReplyTo: 1, reply: { total: 8, rows: [] } }), false, 'a second reply answers nothing');
    assert.deepEqual(await rows, { total: 7, rows: [] });
    await assert.rejects(stats, /no stats yet/);
    assert.equal(client.waiting, 0);

    const replies: ReplyMessage[] = [];
    const answer = answerRequests<ReviewRequests>(
      {
        rows: () => {
          throw new Error('the file is gone');
        },
        pairs: async ({ indices }) => indices.map(() => ({}) as never),
        stats: () => ({}) as never,
      },
      (reply) => replies.push(reply),
    );
    await answer({ type: 'request', id: 5, kind: 'rows', params: { offset: 0, count: 1, query: { filter: 'all', sort: 'file' } } });
    await answer({ type: 'request', id: 6, kind: 'pairs', params: { indices: [1, 2] } });
    await answer({ type: 'request', id: 7, kind: 'nope', params: {} } as never);
    assert.deepEqual(replies, [
      { type: 'reply', inReplyTo: 5, error: 'the file is gone' },
      { type: 'reply', inReplyTo: 6, reply: [{}, {}] },
      { type: 'reply', inReplyTo: 7, error: 'unknown request "nope"' },
    ]);
  });
});

describe('the review webview and its host', () => {
  let dom: JSDOM;
  let state: ReviewState;
  const fromWebview: WebviewToHost[] = [];
  const toWebview = (message: HostToWebview) => dom.window.dispatchEvent(new dom.window.MessageEvent('message', { data: message }));
  const requests = (kind: string) => fromWebview.filter((m) => m.type === 'request' && m.kind === kind) as RequestMessage<ReviewRequests>[];
  const until = async (what: string, check: () => boolean) => {
    for (const started = Date.now(); !check(); ) {
      assert.ok(Date.now() - started < 5000, `timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const rowText = (index: number) => dom.window.document.querySelector(`.row[data-index="${index}"]`)?.getAttribute('aria-label') ?? '';
  const pairView = () => dom.window.document.querySelector('[data-testid="pair-view"]')?.textContent ?? '';

  before(async () => {
    const dataset = await loadDataset(fixture);
    state = new ReviewState(PairTable.fromPairs(dataset.pairs));
    dom = new JSDOM('<!DOCTYPE html><body><div id="app"></div></body>', { pretendToBeVisual: true });
    const { window } = dom;
    // jsdom lays nothing out: give the list a viewport, and a ResizeObserver that never fires.
    Object.defineProperty(window.HTMLElement.prototype, 'clientHeight', { get: () => 600 });
    const answer = answerRequests<ReviewRequests>(
      {
        rows: ({ offset, count, query }) => state.rows(offset, count, query),
        pairs: ({ indices }) => state.pairRows(indices),
        stats: () => state.stats(),
      },
      toWebview,
    );
    const host = (message: WebviewToHost) => {
      fromWebview.push(message);
      if (message.type === 'ready') {
        toWebview({ type: 'snapshot', snapshot: { fileName: 'hh.jsonl', format: 'hh-rlhf', formatTitle: 'HH-RLHF', malformed: [], keymap: reviewKeymap(undefined), status: state.status() } });
      }
      if (message.type === 'request') void answer(message);
    };
    Object.assign(globalThis, {
      window,
      document: window.document,
      Node: window.Node,
      HTMLElement: window.HTMLElement,
      HTMLInputElement: window.HTMLInputElement,
      HTMLSelectElement: window.HTMLSelectElement,
      HTMLTextAreaElement: window.HTMLTextAreaElement,
      MessageEvent: window.MessageEvent,
      DocumentFragment: window.DocumentFragment,
      requestAnimationFrame: window.requestAnimationFrame.bind(window),
      ResizeObserver: class {
        observe(): void {}
      },
      acquireVsCodeApi: () => ({ postMessage: (message: WebviewToHost) => queueMicrotask(() => host(message)), getState: () => undefined, setState: () => undefined }),
    });
    await import('../../webview-ui/main.js');
    await until('the first rows and the first pair', () => rowText(0) !== '' && pairView().includes('#1 · line'));
  });

  after(() => dom.window.close());

  it('asks for rows and pairs as typed requests and shows what they answer', () => {
    assert.ok(requests('rows').length >= 1);
    assert.ok(requests('pairs').some((r) => r.kind === 'pairs' && r.params.indices.includes(0)));
    assert.match(rowText(0), /Pair 1, line 1, unscored/);
  });

  it('shows pushed scores in the list without asking for rows again', async () => {
    const rowsAsked = requests('rows').length;
    state.table.setScore(0, { rewardA: 2, rewardB: -1 });
    state.table.setScore(1, { rewardA: -0.5, rewardB: 0.5 });
    toWebview({ type: 'scores', scores: [0, 1].map((index) => ({ index, score: state.rowScore(index) })) });
    // The margin is A − B; the file labels both pairs A, so pair 2 (B preferred) disagrees.
    await until('the pushed margins in the rows', () => /agrees, margin \+3\.000/.test(rowText(0)) && /disagrees, margin −1\.000/.test(rowText(1)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(requests('rows').length, rowsAsked, 'a list in file order takes the scores as pushed');
  });

  it('shows a pushed pair in the pair view without asking for it', async () => {
    const pairsAsked = requests('pairs').filter((r) => r.kind === 'pairs' && r.params.indices.includes(0)).length;
    state.annotations.record({ key: state.table.keys[0], line: 1, field: 'note', from: null, to: 'pushed note', by: 'test', at: new Date().toISOString() });
    toWebview({ type: 'annotationsChanged', pairs: await state.pairRows([0]) });
    await until('the note in the pair view', () => pairView().includes('pushed note'));
    assert.equal(requests('pairs').filter((r) => r.kind === 'pairs' && r.params.indices.includes(0)).length, pairsAsked, 'the changed pair came with the push');
  });

  it("names a colleague's label as theirs, in the list and the pair view, and the verdict is of it", async () => {
    state.annotator = 'alice';
    state.annotations.record({ key: state.table.keys[0], line: 1, field: 'label', from: null, to: 'b', by: 'bob', at: new Date().toISOString() });
    toWebview({ type: 'annotationsChanged', pairs: await state.pairRows([0]) });
    // The model prefers A (margin +3); bob's B, not the file's A, is the label it disagrees with.
    await until("bob's label in the row", () => /Pair 1, line 1, disagrees, margin \+3\.000, label B, bob's/.test(rowText(0)));
    await until("bob's label in the pair view", () => pairView().includes("Label: B (bob's; file: A)"));
    state.annotator = undefined;
  });

  it('key hints in blind review say left and right, and leave out the keys that act on what is hidden', async () => {
    const keys = () => dom.window.document.querySelector('[data-testid="key-help"]')?.textContent ?? '';
    assert.match(keys(), /1 left \(A\) better · 2 right \(B\) better .* a accept the model/);
    state.blind = true;
    toWebview({ type: 'status', status: state.status() });
    await until('blind key hints', () => /1 left better · 2 right better/.test(keys()));
    assert.doesNotMatch(keys(), /accept the model|keep the label|\(A\)/);
    state.blind = false;
    toWebview({ type: 'status', status: state.status() });
    await until('the usual key hints again', () => /accept the model/.test(keys()));
  });
});
