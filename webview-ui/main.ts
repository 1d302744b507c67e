/**
 * The review webview. It holds view state only (which page is shown); the host owns the data and
 * serves it a page at a time. Dataset text is inserted as text nodes, or as markdown made inert by
 * ./markdown.ts; never as HTML.
 */
import type { Message, Preference } from '../src/core/pair';
import type { AnnotationField, AnnotationValue, ReviewLabel } from '../src/core/annotations';
import type { DatasetStats } from '../src/core/stats';
import {
  DEFAULT_QUERY,
  type BulkAction,
  type HostToWebview,
  type PairRow,
  type ReviewSnapshot,
  type ReviewStatus,
  type RowFilter,
  type RowQuery,
  type RowSort,
  type WebviewToHost,
} from '../src/shared/reviewProtocol';
import { el } from './dom';
import { renderMarkdown } from './markdown';
import { renderStats } from './stats';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): ViewState | undefined;
  setState(state: ViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface ViewState {
  offset: number;
  query: RowQuery;
  /** Position of the focused pair within the page. */
  focus: number;
  showStats: boolean;
  /** Show message text as written instead of rendered markdown. */
  raw: boolean;
}

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

let snapshot: ReviewSnapshot | undefined;
let status: ReviewStatus | undefined;
const saved = vscode.getState();
let offset = saved?.offset ?? 0;
let query: RowQuery = saved?.query ?? DEFAULT_QUERY;
/** The whole file in file order: the list grows as a large file is read. */
const isPlain = (q: RowQuery) => q.filter === 'all' && q.sort === 'file' && !q.search && q.marginMin === undefined && q.marginMax === undefined;
const sameQuery = (x: RowQuery, y: RowQuery) => JSON.stringify(x) === JSON.stringify(y);
let focus = saved?.focus ?? 0;
let showStats = saved?.showStats ?? false;
let raw = saved?.raw ?? false;
/** Messages the reviewer unfolded, by "pair index/turn key". */
const unfolded = new Set<string>();
/** Text longer than this is folded; markdown is not rendered past the markdown limit. */
const FOLD_CHARS = 4000;
const MARKDOWN_LIMIT = 100_000;
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
  vscode.setState({ offset, query, focus, showStats, raw });
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
  post({ type: 'requestPage', offset, count: snapshot.pageSize, query });
}

function setQuery(change: Partial<RowQuery>): void {
  query = { ...query, ...change };
  focus = 0;
  requestPage(0);
}

/** Response shown on the left (blind mode may show B first). */
const leftSide = (row: PairRow): 'a' | 'b' => (row.blind?.swapped ? 'b' : 'a');
const otherSide = (side: 'a' | 'b'): 'a' | 'b' => (side === 'a' ? 'b' : 'a');

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
        s.model.bundled
          ? el('div', { class: 'demo-note' }, `The bundled baseline: ${s.model.bundled} For real judgements choose a reward model with “Preference Lens: Choose Reward Model”.`)
          : null,
        // The full reason is long (library messages); it stays one click away.
        s.model.fallbackReason
          ? el('details', { class: 'fallback' }, el('summary', {}, `Running on ${s.model.device}: the preferred device is not available`), s.model.fallbackReason)
          : null,
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

function toggleRaw(): void {
  raw = !raw;
  saveViewState();
  render();
}

/** One message's text: markdown or as written, folded when long, always inert (see markdown.ts). */
function renderText(content: string, key: string): HTMLElement {
  const folded = content.length > FOLD_CHARS && !unfolded.has(key);
  const shown = folded ? content.slice(0, FOLD_CHARS) : content;
  const body =
    raw || content.length > MARKDOWN_LIMIT
      ? el('pre', { class: 'text' }, shown)
      : el('div', { class: 'text markdown' }, renderMarkdown(shown));
  if (!folded) return body;
  const more = button(`Show all ${content.length.toLocaleString()} characters`, () => {
    unfolded.add(key);
    render();
  });
  return el('div', { class: 'folded' }, body, more);
}

function renderMessages(messages: Message[], key: string): HTMLElement {
  return el(
    'div',
    { class: 'messages' },
    ...messages.map((m, i) =>
      el('div', { class: `turn role-${m.role.replace(/[^a-z]/gi, '')}` }, el('div', { class: 'role' }, m.role), renderText(m.content, `${key}/${i}`)),
    ),
  );
}

function responseText(messages: Message[]): number {
  return messages.reduce((n, m) => n + m.content.length, 0);
}

function renderResponse(row: PairRow, side: 'a' | 'b'): HTMLElement {
  // In blind mode the sides are named by position, so the name does not reveal the stored order.
  const name = row.blind ? (side === leftSide(row) ? 'Left response' : 'Right response') : `Response ${side.toUpperCase()}`;
  const score = row.score;
  const reward = score ? (side === 'a' ? score.rewardA : score.rewardB) : undefined;
  const preferred = score?.prefers === side;
  const isHumanChoice = row.label === side;
  const isReviewerChoice = row.annotation?.label === side;
  return el(
    'section',
    { class: `response${preferred ? ' preferred' : ''}`, 'aria-label': name },
    el(
      'div',
      { class: 'response-head' },
      el('span', { class: 'side' }, name),
      isHumanChoice ? el('span', { class: 'human-pick', title: 'The label in the file prefers this response' }, 'label ✓') : null,
      isReviewerChoice ? el('span', { class: 'reviewer-pick', title: 'You chose this response' }, 'you ✓') : null,
      preferred ? el('span', { class: 'model-pick', 'data-testid': `preferred-${side}`, title: 'The reward model prefers this response' }, '★ model') : null,
      row.blind ? null : el('span', { class: 'reward', 'data-testid': `reward-${side}` }, reward === undefined ? '…' : fmtReward(reward)),
    ),
    el('div', { class: 'length' }, `${responseText(side === 'a' ? row.a : row.b)} chars`),
    renderMessages(side === 'a' ? row.a : row.b, `${row.index}/${side}`),
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

/** What key `1` / `2` mean for this row: the left / right response, which blind mode may swap. */
function keyLabel(row: PairRow, label: ReviewLabel): ReviewLabel {
  if (label === 'a') return leftSide(row);
  if (label === 'b') return otherSide(leftSide(row));
  return label;
}

function renderAnnotationBar(row: PairRow): HTMLElement {
  const a = row.annotation ?? {};
  const title = (label: ReviewLabel, plain: string) => (row.blind && (label === 'a' || label === 'b') ? (label === 'a' ? 'Left is better' : 'Right is better') : plain);
  return el(
    'div',
    { class: 'annotation-bar', role: 'toolbar', 'aria-label': 'Annotate this pair' },
    ...LABEL_KEYS.map(([label, key, plain]) =>
      toggle(title(label, plain), key, a.label === keyLabel(row, label), () => setLabel(row, keyLabel(row, label)), `label-${label}`),
    ),
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
        row.blind
          ? 'Blind: scores and label hidden until you decide'
          : reviewerLabel
            ? `Label: ${reviewerLabel === 'both-bad' ? 'both bad' : sideName(reviewerLabel)} (yours; file: ${sideName(row.label)})`
            : `Label: ${sideName(row.label)}`,
      ),
      score
        ? el('span', { class: 'margin', 'data-testid': 'margin', title: 'reward A − reward B' }, `Margin ${fmtSigned(score.margin)} · P(A≻B) ${(100 * sigmoid(score.margin)).toFixed(0)}%`)
        : row.blind
          ? null
          : el('span', { class: 'margin pending' }, 'not scored yet'),
      badge,
    ),
    el('details', { class: 'prompt', open: '' }, el('summary', {}, `Prompt (${row.prompt.length} turn${row.prompt.length === 1 ? '' : 's'})`), renderMessages(row.prompt, `${row.index}/prompt`)),
    el('div', { class: 'responses' }, renderResponse(row, leftSide(row)), renderResponse(row, otherSide(leftSide(row)))),
    renderAnnotationBar(row),
  );
}

const FILTERS: [RowFilter, string][] = [
  ['all', 'All pairs'],
  ['disagreements', 'Disagreements'],
  ['agreements', 'Agreements'],
  ['unlabelled', 'Unlabelled'],
  ['ties', 'Ties'],
  ['flagged', 'Flagged'],
  ['reviewed', 'Reviewed'],
  ['unreviewed', 'Not reviewed'],
];

const SORTS: [RowSort, string][] = [
  ['file', 'File order'],
  ['confidence', 'Model confidence |margin| ↓'],
  ['margin', 'Margin ↑'],
  ['margin-desc', 'Margin ↓'],
  ['length-difference', 'Length difference ↓'],
];

const BULK: [string, string, BulkAction][] = [
  ['flag', 'Flag all shown', { field: 'flagged', value: true }],
  ['unflag', 'Unflag all shown', { field: 'flagged', value: null }],
  ['reviewed', 'Mark all shown reviewed', { field: 'reviewed', value: true }],
  ['label-a', 'Label all shown: A better', { field: 'label', value: 'a' }],
  ['label-b', 'Label all shown: B better', { field: 'label', value: 'b' }],
  ['label-tie', 'Label all shown: tie', { field: 'label', value: 'tie' }],
  ['label-both-bad', 'Label all shown: both bad', { field: 'label', value: 'both-bad' }],
  ['label-clear', 'Clear my labels on all shown', { field: 'label', value: null }],
];

function select<T extends string>(testId: string, label: string, options: [T, string][], value: T, onChange: (value: T) => void): HTMLElement {
  const control = el('select', { 'data-testid': testId, 'aria-label': label }, ...options.map(([v, text]) => el('option', { value: v }, text)));
  control.value = value;
  control.addEventListener('change', () => onChange(control.value as T));
  return el('label', { class: 'control' }, `${label} `, control);
}

function numberInput(testId: string, label: string, value: number | undefined, onChange: (value: number | undefined) => void): HTMLElement {
  const input = el('input', { type: 'number', step: 'any', 'data-testid': testId, 'aria-label': label, class: 'margin-bound' });
  if (value !== undefined) input.value = String(value);
  input.addEventListener('change', () => onChange(input.value === '' || !Number.isFinite(Number(input.value)) ? undefined : Number(input.value)));
  return el('label', { class: 'control' }, `${label} `, input);
}

function renderQueryBar(): HTMLElement {
  const search = el('input', { type: 'search', placeholder: 'Search text… (/)', 'data-testid': 'search', 'aria-label': 'Search text', class: 'search' });
  search.value = query.search ?? '';
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') setQuery({ search: search.value.trim() || undefined });
    if (event.key === 'Escape') search.blur();
  });
  const bulk = el('select', { 'data-testid': 'bulk', 'aria-label': 'Bulk action on all pairs shown' }, el('option', { value: '' }, 'Bulk action…'), ...BULK.map(([id, text]) => el('option', { value: id }, text)));
  bulk.addEventListener('change', () => {
    const action = BULK.find(([id]) => id === bulk.value)?.[2];
    bulk.value = '';
    if (action) post({ type: 'bulkAnnotate', query, action });
  });
  return el(
    'div',
    { class: 'toolbar', role: 'search' },
    button('Review queue (q)', () => setQuery({ filter: 'disagreements', sort: 'confidence' }), 'queue'),
    select('filter', 'Show', FILTERS, query.filter, (filter) => setQuery({ filter })),
    select('sort', 'Sort', SORTS, query.sort, (sort) => setQuery({ sort })),
    search,
    numberInput('margin-min', 'Margin ≥', query.marginMin, (marginMin) => setQuery({ marginMin })),
    numberInput('margin-max', '≤', query.marginMax, (marginMax) => setQuery({ marginMax })),
    bulk,
    button(status?.blind ? 'Blind: on (Shift+B)' : 'Blind: off (Shift+B)', () => post({ type: 'setBlind', blind: !status?.blind }), 'blind'),
    button(raw ? 'Text: as written (m)' : 'Text: markdown (m)', toggleRaw, 'raw-toggle'),
  );
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
    'Keys: j / k next / previous pair · 1 A (left) better · 2 B (right) better · 3 tie · 4 both bad · a accept the model · ' +
      'h keep the label · f flag · r reviewed · n note · q review queue · / search · Shift+B blind · m markdown / raw · s statistics · ' +
      '[ / ] page · Ctrl+Z undo · Ctrl+S save',
  );
}

function render(): void {
  if (!snapshot || !status) return;
  const scrollTop = document.scrollingElement?.scrollTop ?? 0;
  const empty = rows.length === 0 ? el('p', { class: 'empty' }, isPlain(query) ? 'No pairs.' : 'No pairs match.') : null;
  app.replaceChildren(
    renderHeader(),
    renderQueryBar(),
    renderPager(),
    ...(showStats ? [renderStats(stats)] : []),
    renderKeys(),
    el('main', { class: 'pairs' }, ...rows.map(renderRow), empty),
    renderPager(),
  );
  if (document.scrollingElement) document.scrollingElement.scrollTop = scrollTop;
  if (app.contains(document.activeElement) || document.activeElement === document.body) focusRow(false);
}

/** Moves focus to the focused pair's card, but never pulls focus into a webview the user is not in. */
function focusRow(scroll: boolean): void {
  if (!document.hasFocus()) return;
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
      total = isPlain(query) ? status.pairs : Math.max(total, offset + 1);
      requestPage(offset);
      render();
      break;
    case 'page': {
      pageRequested = false;
      if (message.offset !== offset || !sameQuery(message.query, query)) return;
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
      const pageCanGrow = isPlain(query) && rows.length < snapshot!.pageSize && status.pairs > offset + rows.length;
      if (isPlain(query)) total = status.pairs;
      const scoresMatter = pageHasUnscored || !isPlain(query) || rows.length === 0;
      if (pageCanGrow || (status.scored !== scoredBefore && scoresMatter)) {
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
    m: toggleRaw,
    q: () => setQuery({ filter: 'disagreements', sort: 'confidence' }),
    '/': () => app.querySelector<HTMLInputElement>('[data-testid="search"]')?.focus(),
    B: () => post({ type: 'setBlind', blind: !status?.blind }),
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
    for (const [label, key] of LABEL_KEYS) actions[key] = () => setLabel(row, keyLabel(row, label));
    // Blind rows carry no score, so there is no model preference to accept until the reviewer decides.
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
