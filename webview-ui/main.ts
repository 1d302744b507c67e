/**
 * The review webview. It holds view state only (which page is shown); the host owns the data and
 * serves it a page at a time. Dataset text is always inserted with `textContent`, never as HTML.
 */
import type { Message, Preference } from '../src/core/pair';
import type { AnnotationField, AnnotationValue, ReviewLabel } from '../src/core/annotations';
import type { DatasetStats } from '../src/core/stats';
import type { HostToWebview, PairRow, ReviewSnapshot, ReviewStatus, RowFilter, WebviewToHost } from '../src/shared/reviewProtocol';
import { el } from './dom';
import { renderStats } from './stats';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): ViewState | undefined;
  setState(state: ViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface ViewState {
  offset: number;
  filter: RowFilter;
  /** Position of the focused pair within the page. */
  focus: number;
  showStats: boolean;
}

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

let snapshot: ReviewSnapshot | undefined;
let status: ReviewStatus | undefined;
const saved = vscode.getState();
let offset = saved?.offset ?? 0;
let filter: RowFilter = saved?.filter ?? 'all';
let focus = saved?.focus ?? 0;
let showStats = saved?.showStats ?? false;
let stats: DatasetStats | undefined;
let lastStatsRequest = 0;
/** Stats walk every pair: while scores stream in, ask for them at most this often. */
const STATS_INTERVAL_MS = 1000;
let rows: PairRow[] = [];
let total = 0;
/** The pair just annotated: when the next page arrives, focus moves past it (or to what took its place). */
let advanceFrom: number | undefined;
/** Set while a page request is out, so streaming status updates do not pile up requests. */
let pageRequested = false;

const post = (message: WebviewToHost) => vscode.postMessage(message);

function saveViewState(): void {
  vscode.setState({ offset, filter, focus, showStats });
}

function requestStats(force: boolean): void {
  if (!showStats || (!force && Date.now() - lastStatsRequest < STATS_INTERVAL_MS)) return;
  lastStatsRequest = Date.now();
  post({ type: 'requestStats' });
}

function toggleStats(): void {
  showStats = !showStats;
  saveViewState();
  requestStats(true);
  render();
}

function requestPage(newOffset: number): void {
  if (!snapshot) return;
  const last = Math.max(0, total - 1);
  offset = Math.max(0, Math.min(newOffset, last - (last % snapshot.pageSize)));
  saveViewState();
  pageRequested = true;
  post({ type: 'requestPage', offset, count: snapshot.pageSize, filter });
}

function annotate(row: PairRow, field: AnnotationField, value: AnnotationValue | null, advance: boolean): void {
  if (advance) advanceFrom = row.index;
  post({ type: 'annotate', index: row.index, field, value });
}

/** Sets the reviewer's label (pressing the same one again clears it) and marks the pair reviewed. */
function setLabel(row: PairRow, label: ReviewLabel): void {
  const same = row.annotation?.label === label;
  annotate(row, 'label', same ? null : label, false);
  if (!same && !row.annotation?.reviewed) annotate(row, 'reviewed', true, false);
  if (!same) advanceFrom = row.index;
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
  const reading = s.loading ? el('div', { class: 'scoring', 'data-testid': 'reading' }, `Reading the file… ${s.pairs} pairs so far`) : null;
  const malformed = s.malformed
    ? el(
        'details',
        { class: 'malformed' },
        el('summary', {}, `${s.malformed} record(s) could not be read and are skipped`),
        el('ul', {}, ...snapshot!.malformed.map((m) => el('li', {}, `line ${m.line}: ${m.error}`))),
      )
    : null;
  return el(
    'header',
    {},
    el(
      'h1',
      {},
      snapshot!.fileName,
      el('span', { class: 'format', title: snapshot!.formatTitle }, snapshot!.format),
      button(showStats ? 'Hide statistics (s)' : 'Statistics (s)', toggleStats, 'toggle-stats'),
    ),
    el(
      'div',
      { class: 'stats', role: 'status', 'aria-live': 'polite' },
      stat('Pairs', 'pair-count', s.loading ? `${s.pairs}…` : String(s.pairs)),
      stat('Scored', 'scored-count', String(s.scored)),
      stat('Agreement', 'agreement-rate', s.agreement === null ? '—' : `${(100 * s.agreement).toFixed(1)}%`),
      stat('Disagreements', 'disagreement-count', String(s.disagreements)),
      stat('Reviewed', 'reviewed-count', String(s.reviewed)),
    ),
    reading,
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
  const isReviewerChoice = row.annotation?.label === side;
  return el(
    'section',
    { class: `response${preferred ? ' preferred' : ''}`, 'aria-label': `Response ${side.toUpperCase()}` },
    el(
      'div',
      { class: 'response-head' },
      el('span', { class: 'side' }, `Response ${side.toUpperCase()}`),
      isHumanChoice ? el('span', { class: 'human-pick', title: 'The label in the file prefers this response' }, 'label ✓') : null,
      isReviewerChoice ? el('span', { class: 'reviewer-pick', title: 'You chose this response' }, 'you ✓') : null,
      preferred ? el('span', { class: 'model-pick', 'data-testid': `preferred-${side}`, title: 'The reward model prefers this response' }, '★ model') : null,
      el('span', { class: 'reward', 'data-testid': `reward-${side}` }, reward === undefined ? '…' : fmtReward(reward)),
    ),
    el('div', { class: 'length' }, `${responseText(side === 'a' ? row.a : row.b)} chars`),
    renderMessages(side === 'a' ? row.a : row.b),
  );
}

const LABEL_KEYS: [ReviewLabel, string, string][] = [
  ['a', '1', 'A is better'],
  ['b', '2', 'B is better'],
  ['tie', '3', 'Tie'],
  ['both-bad', '4', 'Both bad'],
];

function toggle(label: string, key: string, pressed: boolean, onClick: () => void, testId: string): HTMLButtonElement {
  const b = button(`${label} (${key})`, onClick, testId);
  b.setAttribute('aria-pressed', String(pressed));
  b.setAttribute('aria-keyshortcuts', key);
  b.tabIndex = -1;
  return b;
}

function renderAnnotationBar(row: PairRow): HTMLElement {
  const a = row.annotation ?? {};
  return el(
    'div',
    { class: 'annotation-bar', role: 'toolbar', 'aria-label': 'Annotate this pair' },
    ...LABEL_KEYS.map(([label, key, title]) => toggle(title, key, a.label === label, () => setLabel(row, label), `label-${label}`)),
    toggle('Flag', 'f', a.flagged === true, () => annotate(row, 'flagged', a.flagged ? null : true, false), 'flag'),
    toggle('Reviewed', 'r', a.reviewed === true, () => annotate(row, 'reviewed', a.reviewed ? null : true, false), 'reviewed'),
    toggle('Note', 'n', Boolean(a.note), () => post({ type: 'editNote', index: row.index }), 'note'),
    a.note ? el('span', { class: 'note', 'data-testid': 'note-text' }, a.note) : null,
  );
}

function renderRow(row: PairRow, position: number): HTMLElement {
  const score = row.score;
  const reviewerLabel = row.annotation?.label;
  const badge =
    score && score.agrees !== null
      ? el('span', { class: `badge ${score.agrees ? 'agree' : 'disagree'}`, 'data-testid': score.agrees ? 'agree-badge' : 'disagree-badge' }, score.agrees ? 'agrees' : 'disagrees')
      : null;
  return el(
    'article',
    {
      class: `pair${score?.agrees === false ? ' is-disagreement' : ''}${row.annotation?.flagged ? ' is-flagged' : ''}`,
      'data-index': String(row.index),
      'data-position': String(position),
      tabindex: position === focus ? '0' : '-1',
      'aria-label': `Pair ${row.index + 1}, line ${row.line}`,
    },
    el(
      'div',
      { class: 'pair-head' },
      el('span', { class: 'pair-id' }, `#${row.index + 1} · line ${row.line}`),
      el(
        'span',
        { class: 'label', 'data-testid': 'label' },
        reviewerLabel ? `Label: ${reviewerLabel === 'both-bad' ? 'both bad' : sideName(reviewerLabel)} (yours; file: ${sideName(row.label)})` : `Label: ${sideName(row.label)}`,
      ),
      score
        ? el('span', { class: 'margin', 'data-testid': 'margin', title: 'reward A − reward B' }, `Margin ${fmtSigned(score.margin)} · P(A≻B) ${(100 * sigmoid(score.margin)).toFixed(0)}%`)
        : el('span', { class: 'margin pending' }, 'not scored yet'),
      badge,
    ),
    el('details', { class: 'prompt', open: '' }, el('summary', {}, `Prompt (${row.prompt.length} turn${row.prompt.length === 1 ? '' : 's'})`), renderMessages(row.prompt)),
    el('div', { class: 'responses' }, renderResponse(row, 'a'), renderResponse(row, 'b')),
    renderAnnotationBar(row),
  );
}

const FILTERS: [RowFilter, string][] = [
  ['all', 'All pairs'],
  ['disagreements', 'Disagreements'],
  ['unreviewed', 'Not reviewed'],
  ['flagged', 'Flagged'],
];

function renderFilter(): HTMLElement {
  const select = el('select', { 'data-testid': 'filter', 'aria-label': 'Show' }, ...FILTERS.map(([value, label]) => el('option', { value }, label)));
  select.value = filter;
  select.addEventListener('change', () => {
    filter = select.value as RowFilter;
    focus = 0;
    requestPage(0);
  });
  return el('label', { class: 'filter' }, 'Show ', select);
}

function renderPager(): HTMLElement {
  const pageSize = snapshot!.pageSize;
  const first = total ? offset + 1 : 0;
  const last = Math.min(total, offset + pageSize);
  return el(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    button('◀ Previous', () => requestPage(offset - pageSize)),
    el('span', { 'data-testid': 'page-range' }, `${first}–${last} of ${total}`),
    button('Next ▶', () => requestPage(offset + pageSize)),
  );
}

function renderKeys(): HTMLElement {
  return el(
    'p',
    { class: 'hint', 'data-testid': 'key-help' },
    'Keys: j / k next / previous pair · 1 A better · 2 B better · 3 tie · 4 both bad · a accept the model · ' +
      'h keep the label · f flag · r reviewed · n note · [ / ] page · Ctrl+Z undo · Ctrl+S save',
  );
}

function render(): void {
  if (!snapshot || !status) return;
  const scrollTop = document.scrollingElement?.scrollTop ?? 0;
  const empty = rows.length === 0 ? el('p', { class: 'empty' }, filter === 'all' ? 'No pairs.' : 'No pairs match this filter.') : null;
  app.replaceChildren(
    renderHeader(),
    el('div', { class: 'toolbar' }, renderFilter(), renderPager()),
    ...(showStats ? [renderStats(stats)] : []),
    renderKeys(),
    el('main', { class: 'pairs' }, ...rows.map(renderRow), empty),
    renderPager(),
  );
  if (document.scrollingElement) document.scrollingElement.scrollTop = scrollTop;
  if (app.contains(document.activeElement) || document.activeElement === document.body) focusRow(false);
}

function focusRow(scroll: boolean): void {
  const card = app.querySelector<HTMLElement>(`.pair[data-position="${focus}"]`);
  if (!card) return;
  card.focus({ preventScroll: !scroll });
  if (scroll) card.scrollIntoView({ block: 'nearest' });
}

/** Moves the focus by one pair, turning the page at either end. */
function moveFocus(step: number): void {
  const next = focus + step;
  if (next >= 0 && next < rows.length) {
    focus = next;
    saveViewState();
    app.querySelectorAll('.pair').forEach((card) => card.setAttribute('tabindex', card.getAttribute('data-position') === String(focus) ? '0' : '-1'));
    focusRow(true);
  } else if (next >= rows.length && offset + rows.length < total) {
    focus = 0;
    requestPage(offset + snapshot!.pageSize);
  } else if (next < 0 && offset > 0) {
    focus = snapshot!.pageSize - 1;
    requestPage(offset - snapshot!.pageSize);
  }
}

window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'snapshot':
      requestStats(true);
      snapshot = message.snapshot;
      status = message.snapshot.status;
      total = filter === 'all' ? status.pairs : Math.max(total, offset + 1);
      requestPage(offset);
      render();
      break;
    case 'page': {
      pageRequested = false;
      if (message.offset !== offset || message.filter !== filter) return;
      if (message.rows.length === 0 && message.total > 0 && offset > 0) {
        // The filtered list shrank below this page: show its last page instead.
        total = message.total;
        requestPage(message.total - 1);
        return;
      }
      rows = message.rows;
      total = message.total;
      if (advanceFrom !== undefined) {
        const stillHere = rows.findIndex((row) => row.index === advanceFrom);
        // Still listed: move to the next pair. Filtered out: the next pair has taken its place.
        if (stillHere >= 0) focus = stillHere + 1;
        advanceFrom = undefined;
        if (focus >= rows.length && offset + rows.length < total) {
          focus = 0;
          requestPage(offset + snapshot!.pageSize);
          return;
        }
      }
      focus = Math.max(0, Math.min(focus, rows.length - 1));
      saveViewState();
      render();
      focusRow(true);
      break;
    }
    case 'annotationsChanged':
      requestPage(offset);
      requestStats(true);
      break;
    case 'stats':
      stats = message.stats;
      render();
      break;
    case 'status': {
      const scoredBefore = status?.scored;
      // The whole file is read now: the snapshot's list of skipped records can be complete.
      if (status?.loading && !message.status.loading) post({ type: 'ready' });
      status = message.status;
      // New scores may belong to pairs on this page, or change which pairs a filter keeps: fetch
      // the page again once the last request is in.
      const pageHasUnscored = rows.some((row) => !row.score);
      if (status.scored !== scoredBefore) requestStats(status.scoring.state !== 'scoring');
      // While a large file is still being read, the page fills up as pairs arrive.
      const pageCanGrow = filter === 'all' && rows.length < snapshot!.pageSize && status.pairs > offset + rows.length;
      if (filter === 'all') total = status.pairs;
      if (pageCanGrow || (status.scored !== scoredBefore && (pageHasUnscored || filter === 'disagreements' || rows.length === 0))) {
        if (!pageRequested) requestPage(offset);
      }
      render();
      break;
    }
  }
});

document.addEventListener('keydown', (event) => {
  if (!snapshot || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLSelectElement || event.target instanceof HTMLInputElement) return;
  const row = rows[focus];
  const pageSize = snapshot.pageSize;
  const actions: Record<string, () => void> = {
    j: () => moveFocus(1),
    ArrowDown: () => moveFocus(1),
    k: () => moveFocus(-1),
    ArrowUp: () => moveFocus(-1),
    s: toggleStats,
    ']': () => {
      focus = 0;
      requestPage(offset + pageSize);
    },
    '[': () => {
      focus = 0;
      requestPage(offset - pageSize);
    },
  };
  if (row) {
    for (const [label, key] of LABEL_KEYS) actions[key] = () => setLabel(row, label);
    actions.a = () => row.score?.prefers && setLabel(row, row.score.prefers);
    actions.h = () => {
      if (row.annotation?.label) annotate(row, 'label', null, false);
      annotate(row, 'reviewed', true, true);
    };
    actions.f = () => annotate(row, 'flagged', row.annotation?.flagged ? null : true, false);
    actions.r = () => annotate(row, 'reviewed', row.annotation?.reviewed ? null : true, false);
    actions.n = () => post({ type: 'editNote', index: row.index });
  }
  const action = actions[event.key];
  if (!action) return;
  event.preventDefault();
  action();
});

post({ type: 'ready' });
