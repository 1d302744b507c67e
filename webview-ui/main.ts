/**
 * The review webview. It holds view state only (which page is shown); the host owns the data and
 * serves it a page at a time. Dataset text is always inserted with `textContent`, never as HTML.
 */
import type { Message, Preference } from '../src/core/pair';
import type { HostToWebview, PairRow, ReviewSnapshot, ReviewStatus, WebviewToHost } from '../src/shared/reviewProtocol';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): ViewState | undefined;
  setState(state: ViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface ViewState {
  offset: number;
}

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

let snapshot: ReviewSnapshot | undefined;
let status: ReviewStatus | undefined;
let offset = vscode.getState()?.offset ?? 0;
let rows: PairRow[] = [];
/** Set while a page request is out, so streaming status updates do not pile up requests. */
let pageRequested = false;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

const post = (message: WebviewToHost) => vscode.postMessage(message);

function requestPage(newOffset: number): void {
  if (!snapshot || !status) return;
  const last = Math.max(0, status.pairs - 1);
  offset = Math.max(0, Math.min(newOffset, last - (last % snapshot.pageSize)));
  vscode.setState({ offset });
  pageRequested = true;
  post({ type: 'requestPage', offset, count: snapshot.pageSize });
}

const fmtReward = (x: number) => (Math.abs(x) >= 1000 ? x.toExponential(3) : x.toFixed(3));
const fmtSigned = (x: number) => (x > 0 ? '+' : x < 0 ? '−' : '±') + fmtReward(Math.abs(x));
const sideName = (p: Preference) => (p === 'a' ? 'A' : p === 'b' ? 'B' : p === 'tie' ? 'tie' : 'none');
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function renderHeader(): HTMLElement {
  const s = status!;
  const stat = (label: string, testId: string, value: string) =>
    el('div', { class: 'stat' }, el('span', { class: 'stat-label' }, label), el('span', { class: 'stat-value', 'data-testid': testId }, value));
  const scoring = s.scoring;
  const progress =
    scoring.state === 'scoring' || scoring.state === 'loading'
      ? el(
          'div',
          { class: 'scoring' },
          el('progress', { max: String(Math.max(1, scoring.total)), value: String(scoring.done), 'aria-label': 'Scoring progress' }),
          el('span', {}, scoring.state === 'loading' ? ' Loading model…' : ` Scoring ${scoring.done}/${scoring.total} responses `),
          button('Cancel', () => post({ type: 'cancelScoring' }), 'cancel-scoring'),
        )
      : scoring.state === 'error'
        ? el('div', { class: 'error', role: 'alert' }, `Scoring failed: ${scoring.error ?? 'unknown error'} `, button('Retry', () => post({ type: 'rescore' })))
        : scoring.state === 'cancelled'
          ? el('div', { class: 'scoring' }, 'Scoring cancelled. ', button('Resume', () => post({ type: 'rescore' })))
          : null;
  const model = s.model
    ? el(
        'div',
        { class: 'model', 'data-testid': 'model' },
        `Model: ${s.model.name} · ${s.model.device} · ${s.model.template}`,
        s.model.isDemo ? el('span', { class: 'demo-note' }, ' — demo model with made-up scores, not a real reward model: choose one with “Preference Lens: Choose Reward Model”') : null,
        s.model.fallbackReason ? el('div', { class: 'fallback' }, `Running on ${s.model.device}: ${s.model.fallbackReason}`) : null,
      )
    : null;
  const malformed = snapshot!.malformed.length
    ? el(
        'details',
        { class: 'malformed' },
        el('summary', {}, `${snapshot!.malformed.length}${snapshot!.malformed.length === 100 ? '+' : ''} record(s) skipped`),
        el('ul', {}, ...snapshot!.malformed.map((m) => el('li', {}, `line ${m.line}: ${m.error}`))),
      )
    : null;
  return el(
    'header',
    {},
    el('h1', {}, snapshot!.fileName, el('span', { class: 'format', title: snapshot!.formatTitle }, snapshot!.format)),
    el(
      'div',
      { class: 'stats', role: 'status', 'aria-live': 'polite' },
      stat('Pairs', 'pair-count', String(s.pairs)),
      stat('Scored', 'scored-count', String(s.scored)),
      stat('Agreement', 'agreement-rate', s.agreement === null ? '—' : `${(100 * s.agreement).toFixed(1)}%`),
      stat('Disagreements', 'disagreement-count', String(s.disagreements)),
    ),
    progress,
    model,
    malformed,
  );
}

function button(label: string, onClick: () => void, testId?: string): HTMLButtonElement {
  const b = el('button', testId ? { 'data-testid': testId } : {}, label);
  b.addEventListener('click', onClick);
  return b;
}

function renderMessages(messages: Message[]): HTMLElement {
  return el(
    'div',
    { class: 'messages' },
    ...messages.map((m) => el('div', { class: `turn role-${m.role.replace(/[^a-z]/gi, '')}` }, el('div', { class: 'role' }, m.role), el('pre', { class: 'text' }, m.content))),
  );
}

function responseText(messages: Message[]): number {
  return messages.reduce((n, m) => n + m.content.length, 0);
}

function renderResponse(row: PairRow, side: 'a' | 'b'): HTMLElement {
  const score = row.score;
  const reward = score ? (side === 'a' ? score.rewardA : score.rewardB) : undefined;
  const preferred = score?.prefers === side;
  const isHumanChoice = row.label === side;
  return el(
    'section',
    { class: `response${preferred ? ' preferred' : ''}`, 'aria-label': `Response ${side.toUpperCase()}` },
    el(
      'div',
      { class: 'response-head' },
      el('span', { class: 'side' }, `Response ${side.toUpperCase()}`),
      isHumanChoice ? el('span', { class: 'human-pick', title: 'The human label prefers this response' }, 'human ✓') : null,
      preferred ? el('span', { class: 'model-pick', 'data-testid': `preferred-${side}`, title: 'The reward model prefers this response' }, '★ model') : null,
      el('span', { class: 'reward', 'data-testid': `reward-${side}` }, reward === undefined ? '…' : fmtReward(reward)),
    ),
    el('div', { class: 'length' }, `${responseText(side === 'a' ? row.a : row.b)} chars`),
    renderMessages(side === 'a' ? row.a : row.b),
  );
}

function renderRow(row: PairRow): HTMLElement {
  const score = row.score;
  const badge =
    score && score.agrees !== null
      ? el('span', { class: `badge ${score.agrees ? 'agree' : 'disagree'}`, 'data-testid': score.agrees ? 'agree-badge' : 'disagree-badge' }, score.agrees ? 'agrees' : 'disagrees')
      : null;
  return el(
    'article',
    { class: `pair${score?.agrees === false ? ' is-disagreement' : ''}`, 'data-index': String(row.index), tabindex: '0', 'aria-label': `Pair ${row.index + 1}, line ${row.line}` },
    el(
      'div',
      { class: 'pair-head' },
      el('span', { class: 'pair-id' }, `#${row.index + 1} · line ${row.line}`),
      el('span', { class: 'label' }, `Human: ${sideName(row.label)}`),
      score
        ? el('span', { class: 'margin', 'data-testid': 'margin', title: 'reward A − reward B' }, `Margin ${fmtSigned(score.margin)} · P(A≻B) ${(100 * sigmoid(score.margin)).toFixed(0)}%`)
        : el('span', { class: 'margin pending' }, 'not scored yet'),
      badge,
    ),
    el('details', { class: 'prompt', open: '' }, el('summary', {}, `Prompt (${row.prompt.length} turn${row.prompt.length === 1 ? '' : 's'})`), renderMessages(row.prompt)),
    el('div', { class: 'responses' }, renderResponse(row, 'a'), renderResponse(row, 'b')),
  );
}

function renderPager(): HTMLElement {
  const total = status!.pairs;
  const pageSize = snapshot!.pageSize;
  const first = total ? offset + 1 : 0;
  const last = Math.min(total, offset + pageSize);
  return el(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    button('◀ Previous', () => requestPage(offset - pageSize)),
    el('span', { 'data-testid': 'page-range' }, `Pairs ${first}–${last} of ${total}`),
    button('Next ▶', () => requestPage(offset + pageSize)),
    el('span', { class: 'hint' }, '[ and ] turn pages; { and } go to the first and last'),
  );
}

function render(): void {
  if (!snapshot || !status) return;
  const scrollTop = document.scrollingElement?.scrollTop ?? 0;
  app.replaceChildren(renderHeader(), renderPager(), el('main', { class: 'pairs' }, ...rows.map(renderRow)), renderPager());
  if (document.scrollingElement) document.scrollingElement.scrollTop = scrollTop;
}

window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'snapshot':
      snapshot = message.snapshot;
      status = message.snapshot.status;
      requestPage(offset);
      render();
      break;
    case 'page':
      pageRequested = false;
      if (message.offset !== offset) return;
      rows = message.rows;
      render();
      break;
    case 'status': {
      const scoredBefore = status?.scored;
      status = message.status;
      // New scores may belong to pairs on this page: fetch it again once the last request is in.
      const pageHasUnscored = rows.some((row) => !row.score);
      if ((status.scored !== scoredBefore && pageHasUnscored) || rows.length === 0) {
        if (!pageRequested) requestPage(offset);
      }
      render();
      break;
    }
  }
});

document.addEventListener('keydown', (event) => {
  if (!snapshot || event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
  const pageSize = snapshot.pageSize;
  // Plain PageUp/PageDown keep scrolling the page; these keys turn pages.
  const moves: Record<string, () => number> = {
    ']': () => offset + pageSize,
    '[': () => offset - pageSize,
    '{': () => 0,
    '}': () => status!.pairs,
  };
  const move = moves[event.key];
  if (!move || event.ctrlKey || event.metaKey || event.altKey) return;
  event.preventDefault();
  requestPage(move());
  window.scrollTo(0, 0);
});

post({ type: 'ready' });
