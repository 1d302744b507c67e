/**
 * The review webview: a virtualized list of the pairs the query selects (./pairList.ts) beside the
 * pair view of the focused one (./pairView.ts). It holds view state only; the host owns the data and
 * serves list rows a window at a time and whole pairs on demand, so the webview never holds the
 * whole file. Keys arrive as `command` messages: they are VS Code keybindings (see REVIEW_KEYS).
 */
import type { FieldValues, ReviewLabel } from '../src/core/annotationTypes';
import type { DatasetStats } from '../src/core/stats';
import {
  DEFAULT_QUERY,
  isPlainQuery,
  type BulkAction,
  type HostToWebview,
  type PairRow,
  type ReviewAction,
  type ReviewSnapshot,
  type ReviewStatus,
  type RowFilter,
  type RowQuery,
  type RowSort,
  type RowSummary,
  type WebviewToHost,
} from '../src/shared/reviewProtocol';
import { CHECK_FILTERS, renderCheckCounts } from './checks';
import { el } from './dom';
import { keyHint, keysOf, setKeymap } from './keys';
import { PairList } from './pairList';
import { button, renderPair, sideLabel, type PairViewContext } from './pairView';
import { renderStats } from './stats';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): ViewState | undefined;
  setState(state: ViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface ViewState {
  query: RowQuery;
  /** Position of the focused pair in the list. */
  focus: number;
  showStats: boolean;
  raw: boolean;
}

/** List rows per request. */
const BLOCK = 100;
/** Pairs fetched ahead of the focused one, so the next comes up at once. */
const PREFETCH_AHEAD = 5;
/** Whole pairs kept; older ones are fetched again when needed. */
const MAX_CACHED_PAIRS = 200;
/** Stats walk every pair: while scores stream in, ask for them at most this often. */
const STATS_INTERVAL_MS = 1000;
/** While scores stream in, the list is fetched again at most this often. */
const SCORE_REFRESH_MS = 400;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;
const post = (message: WebviewToHost) => vscode.postMessage(message);

let snapshot: ReviewSnapshot | undefined;
let status: ReviewStatus | undefined;
const saved = vscode.getState();
let query: RowQuery = saved?.query ?? DEFAULT_QUERY;
let focus = saved?.focus ?? 0;
let showStats = saved?.showStats ?? false;
let raw = saved?.raw ?? false;
let stats: DatasetStats | undefined;
let lastStatsRequest = 0;


// ---------------------------------------------------------------- list rows, a block at a time

/** Length of the query's list, as last heard. */
let total = 0;
/** Grows whenever the list's rows may have changed; answers carry the token they were asked with. */
let listToken = 0;
/** The token of the last query change: answers from before it belong to another list. */
let queryToken = 0;
/** The token of the answer `total` came from: an older answer must not undo a newer length. */
let totalToken = 0;
const blocks = new Map<number, { token: number; rows: RowSummary[] }>();
const askedBlocks = new Map<number, number>();

const rowAt = (position: number): RowSummary | undefined => blocks.get(Math.floor(position / BLOCK))?.rows[position % BLOCK];

/**
 * Rows the list is about to show, and the focused row. Requests go out at most every
 * REQUEST_INTERVAL_MS, for what is wanted then: dragging the scrollbar through 100k rows asks for
 * where it stops, not for every block it passed.
 */
let wantedView: { from: number; to: number } | undefined;
let requestTimer: ReturnType<typeof setTimeout> | undefined;
let lastRequestAt = 0;
const REQUEST_INTERVAL_MS = 50;

function need(from: number, to: number): void {
  wantedView = { from, to };
  scheduleRequests();
}

function scheduleRequests(): void {
  if (requestTimer) return;
  const wait = lastRequestAt + REQUEST_INTERVAL_MS - Date.now();
  if (wait <= 0) return requestWanted();
  requestTimer = setTimeout(requestWanted, wait);
}

function requestWanted(): void {
  requestTimer = undefined;
  lastRequestAt = Date.now();
  const wantedBlocks = new Set([Math.floor(focus / BLOCK)]);
  if (wantedView) for (let block = Math.floor(wantedView.from / BLOCK); block <= Math.floor(wantedView.to / BLOCK); block++) wantedBlocks.add(block);
  wantedView = undefined;
  for (const block of wantedBlocks) {
    const have = blocks.get(block);
    if ((have && have.token === listToken) || askedBlocks.get(block) === listToken) continue;
    askedBlocks.set(block, listToken);
    post({ type: 'requestRows', token: listToken, offset: block * BLOCK, count: BLOCK, query });
  }
}

/** The rows may have changed (scores, annotations): fetch what is in view again; show the old rows meanwhile. */
function invalidateList(): void {
  listToken++;
  list.schedule();
  scheduleRequests();
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
function invalidateListSoon(): void {
  refreshTimer ??= setTimeout(() => {
    refreshTimer = undefined;
    invalidateList();
  }, SCORE_REFRESH_MS);
}

// ---------------------------------------------------------------- whole pairs, for the pair view

let pairToken = 0;
/** Pairs by table index; an answer older than the pair's last change is dropped. */
const pairs = new Map<number, PairRow>();
const askedPairs = new Map<number, number>();
const changedAt = new Map<number, number>();
let allChangedAt = 0;

function forgetPairs(indices?: readonly number[]): void {
  pairToken++;
  if (!indices) {
    pairs.clear();
    askedPairs.clear();
    changedAt.clear();
    allChangedAt = pairToken;
    return;
  }
  for (const index of indices) {
    pairs.delete(index);
    askedPairs.delete(index);
    changedAt.set(index, pairToken);
  }
}

function fetchPairs(indices: number[]): void {
  const wanted = indices.filter((index) => !pairs.has(index) && askedPairs.get(index) !== pairToken);
  if (!wanted.length) return;
  for (const index of wanted) askedPairs.set(index, pairToken);
  post({ type: 'requestPairs', token: pairToken, indices: wanted });
}

// ---------------------------------------------------------------- focus

/**
 * The focused pair's table index: the pair the keys act on and the pair view shows. Rows that
 * arrive later (after an annotation, new scores) may have moved it: its position is found again
 * each time, so a key pressed before the list caught up still acts on the pair on screen.
 */
let focusIndex: number | undefined;
/** Keys pressed before their pair had arrived, in order: they run when it does. */
const pendingActions: ReviewAction[] = [];

function saveViewState(): void {
  vscode.setState({ query, focus, showStats, raw });
}

function setFocus(position: number): void {
  focus = Math.max(0, Math.min(position, total - 1));
  focusIndex = rowAt(focus)?.index;
  saveViewState();
  list.reveal(focus);
  showFocusedPair();
}

/** Moves on from an annotated pair, at once: to the pair after it, if there is one. */
function advance(): void {
  if (rowAt(focus + 1)) setFocus(focus + 1);
}

/** New rows arrived: where is the focused pair now? (The annotated pair before it may have left the list.) */
function refocus(blockIsCurrent: boolean): void {
  if (focusIndex === undefined) {
    focusIndex = rowAt(focus)?.index;
    return;
  }
  if (rowAt(focus)?.index === focusIndex) return;
  // Keys typed ahead of the list move the focus ahead of it by as many pairs as are still leaving.
  for (let distance = 1; distance <= BLOCK; distance++) {
    for (const position of [focus - distance, focus + distance]) {
      if (rowAt(position)?.index === focusIndex) {
        focus = position;
        saveViewState();
        list.reveal(focus);
        return;
      }
    }
  }
  // The focused pair left the list (say, marked reviewed under "Not reviewed"): the pair that took
  // its place is focused now. Only on current rows: older ones may just not have caught up.
  if (blockIsCurrent) focusIndex = rowAt(focus)?.index;
}

// ---------------------------------------------------------------- the page

const pairContext: PairViewContext = {
  get raw() {
    return raw;
  },
  unfolded: new Set<string>(),
  rerender: () => showFocusedPair(true),
  setLabel,
  annotate: (row, values) => annotate(row.index, values),
  editNote: (row) => post({ type: 'editNote', index: row.index }),
};

const list = new PairList({
  total: () => total,
  row: rowAt,
  need,
  focused: () => focus,
  choose: (position) => setFocus(position),
});
const headerSlot = el('div', { class: 'header-slot' });
const toolbarSlot = el('div', { class: 'toolbar-slot' });
const keysSlot = el('div', { class: 'keys-slot' });
const statsSlot = el('div', { class: 'stats-slot' });
const detail = el('div', { class: 'detail', role: 'region', 'aria-label': 'The focused pair', 'data-testid': 'pair-view' });
let shownPair: PairRow | undefined;
/** Where in the list the shown pair was ("position/total"): the pair view says "6 of 40 shown". */
let shownAt = '';

function showFocusedPair(force = false): void {
  const index = focusIndex ?? rowAt(focus)?.index;
  if (index === undefined) {
    if (total === 0 && snapshot) {
      shownPair = undefined;
      detail.replaceChildren(el('p', { class: 'empty' }, isPlainQuery(query) ? 'No pairs.' : 'No pairs match.'));
    }
    return;
  }
  const ahead: number[] = [];
  for (let k = 1; k <= PREFETCH_AHEAD; k++) {
    const next = rowAt(focus + k);
    if (next) ahead.push(next.index);
  }
  const before = rowAt(focus - 1);
  fetchPairs([index, ...ahead, ...(before ? [before.index] : [])]);
  const pair = pairs.get(index);
  if (!pair) return;
  // The same pair at the same place in a list of the same length: nothing to redraw.
  if (pair === shownPair && shownAt === `${focus}/${total}` && !force) return;
  shownAt = `${focus}/${total}`;
  const samePair = shownPair?.index === pair.index;
  const scrollTop = detail.scrollTop;
  const hadFocus = detail.contains(document.activeElement);
  detail.replaceChildren(renderPair(pairContext, pair, focus, total));
  // The same pair again (an annotation, new scores): keep the reader's place.
  detail.scrollTop = samePair ? scrollTop : 0;
  if (hadFocus && !samePair) list.element.focus({ preventScroll: true });
  shownPair = pair;
  runPendingActions();
}

/** Runs the keys that waited for their pair, in order, while the focused pair is here. */
function runPendingActions(): void {
  while (pendingActions.length && focusIndex !== undefined && pairs.has(focusIndex)) runAction(pendingActions.shift()!, true);
}

function renderToolbar(): void {
  toolbarSlot.replaceChildren(renderQueryBar());
}

function renderStatsSlot(): void {
  statsSlot.replaceChildren(...(showStats ? [renderStats(stats)] : []));
}

function renderKeys(): HTMLElement {
  const k = keysOf;
  const customize = button('Change keys…', () => post({ type: 'customizeKeys' }), 'customize-keys');
  customize.classList.add('link');
  return el(
    'p',
    { class: 'hint', 'data-testid': 'key-help' },
    `Keys: ${k('next')} next · ${k('previous')} previous · ${k('labelLeft')} left (A) better · ${k('labelRight')} right (B) better · ` +
      `${k('labelTie')} tie · ${k('labelBothBad')} both bad · ${k('acceptModel')} accept the model · ${k('keepLabel')} keep the label · ` +
      `${k('flag')} flag · ${k('reviewed')} reviewed · ${k('note')} note · ${k('queue')} review queue · ${k('search')} search · ` +
      `${k('blind')} blind · ${k('adjudicate')} adjudicate · ${k('adjudicationQueue')} annotators disagree · ${k('myShare')} my share · ${k('raw')} markdown / raw · ${k('stats')} statistics · ${k('pageDown')} / ${k('pageUp')} page · ` +
      'Ctrl+Z undo · Ctrl+S save ',
    customize,
  );
}

function layout(): void {
  app.replaceChildren(headerSlot, toolbarSlot, statsSlot, el('div', { class: 'workspace' }, list.element, detail), keysSlot);
  keysSlot.replaceChildren(renderKeys());
}

/** Pairs scored by the further models, all together, and how many models: a change re-fetches what they feed. */
const modelsScored = (s: ReviewStatus) => (s.models ?? []).map((m) => `${m.name}:${m.scored}`).join('|');

function requestStats(force: boolean): void {
  if (!showStats || (!force && Date.now() - lastStatsRequest < STATS_INTERVAL_MS)) return;
  lastStatsRequest = Date.now();
  post({ type: 'requestStats' });
}

function toggleStats(): void {
  showStats = !showStats;
  saveViewState();
  requestStats(true);
  renderStatsSlot();
  renderHeader();
}

function toggleRaw(): void {
  raw = !raw;
  saveViewState();
  renderToolbar();
  showFocusedPair(true);
}

function toggleBlind(): void {
  post({ type: 'setBlind', blind: !status?.blind });
}

function toggleAdjudicating(): void {
  post({ type: 'setAdjudicating', adjudicating: !status?.adjudicating });
}

function setQuery(change: Partial<RowQuery>): void {
  query = { ...query, ...change };
  focus = 0;
  focusIndex = undefined;
  pendingActions.length = 0;
  blocks.clear();
  askedBlocks.clear();
  listToken++;
  queryToken = listToken;
  totalToken = listToken;
  if (isPlainQuery(query) && status) total = status.pairs;
  saveViewState();
  renderToolbar();
  list.element.scrollTop = 0;
  list.schedule();
  scheduleRequests();
}

// ---------------------------------------------------------------- annotating

/** One reviewer action: every field it sets is one edit on the host, undone by one Ctrl+Z. */
function annotate(index: number, values: FieldValues): void {
  post({ type: 'annotate', index, values });
}

/**
 * Sets the reviewer's own label (the same one again clears it), marks the pair reviewed, and moves on.
 * Adjudicating, the host records the label as the adjudicator's decision instead.
 */
function setLabel(row: PairRow, label: ReviewLabel): void {
  const same = status?.adjudicating ? row.adjudication?.label === label : row.mine === label;
  if (same) return annotate(row.index, { label: null });
  annotate(row.index, { label, reviewed: true });
  advance();
}

function runAction(action: ReviewAction, fromQueue = false): void {
  if (!snapshot) return;
  // Keys keep their order: while earlier ones wait for their pair, later ones (moves too) wait behind them.
  if (pendingActions.length && !fromQueue) {
    pendingActions.push(action);
    return;
  }
  const moves: Partial<Record<ReviewAction, () => void>> = {
    next: () => setFocus(focus + 1),
    previous: () => setFocus(focus - 1),
    pageDown: () => setFocus(focus + list.pageRows),
    pageUp: () => setFocus(focus - list.pageRows),
    first: () => setFocus(0),
    last: () => setFocus(total - 1),
    queue: () => setQuery(REVIEW_QUEUE),
    search: () => app.querySelector<HTMLInputElement>('[data-testid="search"]')?.focus(),
    blind: toggleBlind,
    adjudicate: toggleAdjudicating,
    adjudicationQueue: () => setQuery(ADJUDICATION_QUEUE),
    myShare: () => setQuery(MY_SHARE),
    raw: toggleRaw,
    stats: toggleStats,
  };
  const move = moves[action];
  if (move) return move();
  const pair = focusIndex === undefined ? undefined : pairs.get(focusIndex);
  if (!pair) {
    // The pair is on its way (keys pressed faster than it arrived): act when it is here.
    if (total > 0) pendingActions.unshift(action);
    return;
  }
  switch (action) {
    case 'labelLeft':
      return setLabel(pair, sideLabel(pair, 'a'));
    case 'labelRight':
      return setLabel(pair, sideLabel(pair, 'b'));
    case 'labelTie':
      return setLabel(pair, 'tie');
    case 'labelBothBad':
      return setLabel(pair, 'both-bad');
    case 'acceptModel':
      // Blind pairs carry no score, so there is no model preference to accept until the reviewer decides;
      // nor do identical responses, which the model cannot prefer one of.
      if (pair.score?.prefers && pair.score.prefers !== 'identical') setLabel(pair, pair.score.prefers);
      return;
    case 'keepLabel':
      annotate(pair.index, { label: null, reviewed: true });
      return advance();
    case 'flag':
      return annotate(pair.index, { flagged: pair.annotation?.flagged ? null : true });
    case 'reviewed':
      return annotate(pair.index, { reviewed: pair.annotation?.reviewed ? null : true });
    case 'note':
      return post({ type: 'editNote', index: pair.index });
  }
}

// ---------------------------------------------------------------- header and toolbar

function renderHeaderElement(): HTMLElement {
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
          el('span', { 'data-testid': 'scoring-text' }, scoring.state === 'loading' ? ` ${scoring.detail ?? 'Loading model…'} ` : ` ${scoring.model ? `${scoring.model}: ` : ''}Scoring ${scoring.done}/${scoring.total} responses `),
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
        `Model: ${s.model.name} · ${s.model.device} · ${s.model.template}${s.model.precision ? ` · ${s.model.precision}` : ''}`,
        s.model.bundled
          ? el(
              'div',
              { class: 'demo-note', 'data-testid': 'baseline-note' },
              `The bundled baseline: ${s.model.bundled} Its disagreements with the labels are not findings. `,
              s.model.recommendation ? button(`Use ${s.model.recommendation}`, () => post({ type: 'useRecommendedModel' }), 'use-recommended-model') : null,
              ' ',
              button('Choose reward model…', () => post({ type: 'chooseModel' }), 'choose-model'),
            )
          : null,
        s.model.weights ? el('div', { class: 'model-detail', 'data-testid': 'model-weights' }, s.model.weights) : null,
        s.model.padding ? el('div', { class: 'model-detail', 'data-testid': 'model-padding' }, s.model.padding) : null,
        s.model.server ? el('div', { class: 'model-detail', 'data-testid': 'model-server' }, `Served by ${s.model.server}`) : null,
        ...(s.model.notes ?? []).map((note) => el('div', { class: 'model-detail', 'data-testid': 'model-note' }, note)),
        scoring.truncated
          ? el(
              'div',
              { class: 'model-detail', 'data-testid': 'truncated' },
              `${scoring.truncated} response(s) were longer than the model's limit and were scored on their last tokens (the start of the prompt was cut).`,
            )
          : null,
        // The full reason is long (library messages); it stays one click away.
        s.model.fallbackReason
          ? el('details', { class: 'fallback' }, el('summary', {}, `Running on ${s.model.device}: the preferred device is not available`), s.model.fallbackReason)
          : null,
      )
    : null;
  // The further models (preferenceLens.additionalModels) and how far each has scored.
  const others = s.models?.length
    ? el(
        'div',
        { class: 'model-detail', 'data-testid': 'other-models' },
        'Also scored by: ',
        ...s.models.flatMap((m, i) => [i ? ' · ' : '', el('span', { 'data-testid': 'other-model' }, `${m.name} (${m.scored}/${s.pairs})`)]),
        ' ',
        button('Every model disagrees', () => setQuery(EVERY_MODEL_QUEUE), 'every-model-queue'),
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
      button(`${showStats ? 'Hide statistics' : 'Statistics'} (${keyHint('stats')})`, toggleStats, 'toggle-stats'),
    ),
    el(
      'div',
      { class: 'stats', role: 'status', 'aria-live': 'polite' },
      stat('Pairs', 'pair-count', s.loading ? `${s.pairs}…` : String(s.pairs)),
      stat('Scored', 'scored-count', String(s.scored)),
      stat('Agreement', 'agreement-rate', s.agreement === null ? '—' : `${(100 * s.agreement).toFixed(1)}%`),
      // With the baseline, "disagreements" would read as evidence; it is only where a length model differs.
      stat(s.model?.bundled ? 'Baseline differs' : 'Disagreements', 'disagreement-count', String(s.disagreements)),
      stat('Reviewed', 'reviewed-count', String(s.reviewed)),
    ),
    renderCheckCounts(s.checks, (check) => setQuery({ check })),
    reading,
    progress,
    model,
    others,
    malformed,
  );
}


function renderHeader(): void {
  headerSlot.replaceChildren(renderHeaderElement());
}

/** The review queue: the disagreements, likeliest label errors first by the noise score (src/core/noiseScore.ts). */
const REVIEW_QUEUE: Partial<RowQuery> = { filter: 'disagreements', sort: 'noise' };
/** The adjudication queue: pairs annotators labelled differently, not yet decided, in file order. */
const ADJUDICATION_QUEUE: Partial<RowQuery> = { filter: 'annotators-disagree', sort: 'file' };
/** The pairs the team file assigns to you that you have not labelled yet, in file order. */
const MY_SHARE: Partial<RowQuery> = { filter: 'my-share', sort: 'file' };
/** With several models: the pairs every model disagrees with, the label the models together contradict most first. */
const EVERY_MODEL_QUEUE: Partial<RowQuery> = { filter: 'every-model-disagrees', sort: 'consensus' };

const FILTERS: [RowFilter, string][] = [
  ['all', 'All pairs'],
  ['disagreements', 'Disagreements'],
  ['agreements', 'Agreements'],
  ['unlabelled', 'Unlabelled'],
  ['ties', 'Ties'],
  ['flagged', 'Flagged'],
  ['reviewed', 'Reviewed'],
  ['unreviewed', 'Not reviewed'],
  ['length-only', 'Preferred only for length'],
  ['my-share', 'My share (assigned, not labelled by me)'],
  ['annotators-disagree', 'Annotators disagree (to adjudicate)'],
  ['adjudicated', 'Adjudicated'],
  ['every-model-disagrees', 'Every model disagrees (several models)'],
];

const SORTS: [RowSort, string][] = [
  ['file', 'File order'],
  ['confidence', 'Model confidence |margin| ↓'],
  ['margin', 'Margin ↑'],
  ['margin-desc', 'Margin ↓'],
  ['length-difference', 'Length difference ↓'],
  ['length-controlled', 'Length-controlled doubt ↓'],
  ['noise', 'Noise score ↓'],
  ['consensus', 'Consensus doubt ↓ (several models)'],
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

/** Adjudication on or off: pressed while the label keys record decisions. */
function adjudicateToggle(): HTMLElement {
  const b = button(`Adjudicate: ${status?.adjudicating ? 'on' : 'off'} (${keyHint('adjudicate')})`, toggleAdjudicating, 'adjudicate');
  b.setAttribute('aria-pressed', String(status?.adjudicating === true));
  b.title = 'While on, the label keys record your decision as the adjudicator; the annotators’ own labels stay theirs';
  return b;
}

function renderQueryBar(): HTMLElement {
  const search = el('input', { type: 'search', placeholder: `Search text… (${keyHint('search')})`, 'data-testid': 'search', 'aria-label': 'Search text', class: 'search' });
  search.value = query.search ?? '';
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') setQuery({ search: search.value.trim() || undefined });
    if (event.key === 'Escape') list.element.focus();
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
    button(`Review queue (${keyHint('queue')})`, () => setQuery(REVIEW_QUEUE), 'queue'),
    select('filter', 'Show', FILTERS, query.filter, (filter) => setQuery({ filter })),
    select('sort', 'Sort', SORTS, query.sort, (sort) => setQuery({ sort })),
    select('check', 'Check', CHECK_FILTERS, query.check ?? '', (check) => setQuery({ check: check || undefined })),
    search,
    numberInput('margin-min', 'Margin ≥', query.marginMin, (marginMin) => setQuery({ marginMin })),
    numberInput('margin-max', '≤', query.marginMax, (marginMax) => setQuery({ marginMax })),
    bulk,
    button(`Blind: ${status?.blind ? 'on' : 'off'} (${keyHint('blind')})`, toggleBlind, 'blind'),
    status?.annotator ? el('span', { class: 'annotator', 'data-testid': 'annotator', title: 'Labels are recorded under this name (preferenceLens.annotator, else your git user name)' }, `Annotating as ${status.annotator}`) : null,
    adjudicateToggle(),
    status?.team
      ? el('span', { class: 'annotator', 'data-testid': 'team-file', title: 'From the team file beside the dataset (<dataset>.plens-team.json)' }, `Team: ${status.team.annotators.join(', ')} · ${status.team.overlap} per pair`)
      : null,
    status?.teamError ? el('span', { class: 'error', role: 'alert', 'data-testid': 'team-error' }, `Team file not used: ${status.teamError}`) : null,
    button(`Text: ${raw ? 'as written' : 'markdown'} (${keyHint('raw')})`, toggleRaw, 'raw-toggle'),
  );
}


// ---------------------------------------------------------------- messages from the host

window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'snapshot': {
      // The first one starts the view (a rebuilt webview starts from scratch and asks again). The
      // only later one comes when a large file has been read to the end, for the complete list of
      // skipped records in the header: the rows and pairs already here stay valid.
      const first = snapshot === undefined;
      snapshot = message.snapshot;
      setKeymap(message.snapshot.keymap);
      status = message.snapshot.status;
      if (isPlainQuery(query)) total = status.pairs;
      renderHeader();
      if (!first) break;
      layout();
      renderToolbar();
      renderStatsSlot();
      requestStats(true);
      list.reveal(focus);
      scheduleRequests();
      break;
    }
    case 'rows': {
      if (message.token < queryToken) return; // Another query's list.
      const block = Math.floor(message.offset / BLOCK);
      const have = blocks.get(block);
      if (message.token >= totalToken) {
        total = message.total;
        totalToken = message.token;
      }
      if (have && have.token >= message.token) return;
      if (askedBlocks.get(block) === message.token) askedBlocks.delete(block);
      blocks.set(block, { token: message.token, rows: message.rows });
      if (Math.floor(focus / BLOCK) === block) refocus(message.token === listToken);
      if (focus >= total && total > 0) setFocus(total - 1);
      list.schedule();
      showFocusedPair();
      break;
    }
    case 'pairs':
      for (const row of message.rows) {
        if (askedPairs.get(row.index) === message.token) askedPairs.delete(row.index);
        if (message.token < Math.max(allChangedAt, changedAt.get(row.index) ?? 0)) continue;
        pairs.set(row.index, row);
      }
      while (pairs.size > MAX_CACHED_PAIRS) pairs.delete(pairs.keys().next().value!);
      showFocusedPair();
      break;
    case 'annotationsChanged':
      forgetPairs(message.indices);
      invalidateList();
      requestStats(true);
      break;
    case 'stats':
      stats = message.stats;
      renderStatsSlot();
      break;
    case 'command':
      runAction(message.action);
      break;
    case 'keymap':
      setKeymap(message.keymap);
      keysSlot.replaceChildren(renderKeys());
      renderToolbar();
      renderHeader();
      showFocusedPair(true);
      break;
    case 'keys':
      // For tests and for CSS: whether the review keys reach this webview now.
      document.body.dataset.reviewKeys = message.active ? 'on' : 'off';
      break;
    case 'status': {
      const before = status;
      // The whole file is read now: the snapshot's list of skipped records can be complete.
      if (before?.loading && !message.status.loading) post({ type: 'ready' });
      status = message.status;
      if (before && (before.annotator !== status.annotator || JSON.stringify(before.team) !== JSON.stringify(status.team) || before.teamError !== status.teamError)) {
        renderToolbar();
        // Shares changed: "My share" keeps other pairs now.
        invalidateList();
      }
      if (before && before.adjudicating !== status.adjudicating) {
        forgetPairs();
        renderToolbar();
        showFocusedPair(true);
      }
      if (before && before.blind !== status.blind) {
        forgetPairs();
        invalidateList();
        renderToolbar();
      } else if (before && modelsScored(status) !== modelsScored(before)) {
        // A further model scored more pairs: each pair's models, the consensus and its queues changed.
        forgetPairs();
        invalidateListSoon();
        requestStats(status.scoring.state !== 'scoring');
      } else if (before && status.scored !== before.scored) {
        // Scores of pairs in view (or of the pairs a filter keeps) changed.
        if (status.scored < before.scored) forgetPairs();
        else forgetPairs([...pairs.values()].filter((pair) => !pair.score).map((pair) => pair.index));
        invalidateListSoon();
        requestStats(status.scoring.state !== 'scoring');
      }
      // A run that ends (the further models score after the first) leaves the last figures to fetch, unthrottled.
      if (before && before.scoring.state !== status.scoring.state && status.scoring.state === 'done') requestStats(true);
      if (before && status.pairs !== before.pairs) {
        if (isPlainQuery(query)) {
          total = status.pairs;
          // The last block was short while the file was still being read.
          for (const [block, { rows }] of blocks) {
            if (rows.length < BLOCK) {
              blocks.delete(block);
              askedBlocks.delete(block);
            }
          }
          list.schedule();
        } else {
          // Pairs read since may belong to a filtered list.
          invalidateListSoon();
        }
      }
      renderHeader();
      showFocusedPair(shownPair !== undefined && !pairs.has(shownPair.index));
      break;
    }
  }
});

// ---------------------------------------------------------------- focus and keys

/**
 * The review keys are VS Code keybindings that apply while this webview has focus: tell the host.
 * Typing in the search box or a number field must not label pairs, so plain keys pressed there are
 * kept from VS Code (which sees every key the webview does not stop).
 */
window.addEventListener('focus', () => post({ type: 'focus', focused: true }));
window.addEventListener('blur', () => post({ type: 'focus', focused: false }));
document.addEventListener('keydown', (event) => {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement;
  if (typing && !event.ctrlKey && !event.metaKey && !event.altKey && event.key !== 'Escape' && !/^F\d+$/.test(event.key)) event.stopPropagation();
});

document.body.dataset.reviewKeys = 'off';
post({ type: 'ready' });
if (document.hasFocus()) post({ type: 'focus', focused: true });
