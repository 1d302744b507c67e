/**
 * The review webview: a virtualized list of the pairs the query selects (./pairList.ts) beside the
 * pair view of the focused one (./pairView.ts). It holds view state only; the host owns the data:
 * list rows come a block at a time (./rowBlocks.ts), whole pairs on demand (./pairCache.ts), both as
 * typed requests (./host.ts), and the host pushes status, new scores and changed pairs. This file is
 * the wiring: the view state, the focus, the reviewer's actions, and what each push changes. Keys
 * arrive as `command` messages: they are VS Code keybindings (see REVIEW_KEYS).
 */
import type { FieldValues, ReviewLabel } from '../src/core/annotationTypes';
import type { DatasetStats } from '../src/core/stats';
import { DEFAULT_QUERY, isPlainQuery, type PairRow, type ReviewAction, type ReviewSnapshot, type ReviewStatus, type RowQuery } from '../src/shared/reviewProtocol';
import { el } from './dom';
import { renderHeader as headerOf } from './header';
import { host, onHostMessage, post, savedViewState, saveViewState as keepViewState } from './host';
import { keysOf, setKeymap } from './keys';
import { PairCache } from './pairCache';
import { PairList } from './pairList';
import { button, renderPair, sideLabel, type PairViewContext } from './pairView';
import { BLOCK, RowBlocks } from './rowBlocks';
import { renderStats } from './stats';
import { ADJUDICATION_QUEUE, EVERY_MODEL_QUEUE, MY_SHARE, REVIEW_QUEUE, renderToolbar as toolbarOf } from './toolbar';

/** Pairs fetched ahead of the focused one, so the next comes up at once. */
const PREFETCH_AHEAD = 5;
/** Stats walk every pair: while scores stream in, ask for them at most this often. */
const STATS_INTERVAL_MS = 1000;

const app = document.getElementById('app')!;

let snapshot: ReviewSnapshot | undefined;
let status: ReviewStatus | undefined;
const saved = savedViewState();
let query: RowQuery = saved?.query ?? DEFAULT_QUERY;
let focus = saved?.focus ?? 0;
let showStats = saved?.showStats ?? false;
let raw = saved?.raw ?? false;
let stats: DatasetStats | undefined;
let lastStatsRequest = 0;

const rows = new RowBlocks({
  query: () => query,
  focus: () => focus,
  arrived: (block, current) => {
    if (Math.floor(focus / BLOCK) === block) refocus(current);
    if (focus >= rows.total && rows.total > 0) setFocus(rows.total - 1);
    list.schedule();
    showFocusedPair();
  },
});
const pairs = new PairCache(() => showFocusedPair());

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
  keepViewState({ query, focus, showStats, raw });
}

function setFocus(position: number): void {
  focus = Math.max(0, Math.min(position, rows.total - 1));
  focusIndex = rows.rowAt(focus)?.index;
  saveViewState();
  list.reveal(focus);
  showFocusedPair();
}

/** Moves on from an annotated pair, at once: to the pair after it, if there is one. */
function advance(): void {
  if (rows.rowAt(focus + 1)) setFocus(focus + 1);
}

/** New rows arrived: where is the focused pair now? (The annotated pair before it may have left the list.) */
function refocus(blockIsCurrent: boolean): void {
  if (focusIndex === undefined) {
    focusIndex = rows.rowAt(focus)?.index;
    return;
  }
  if (rows.rowAt(focus)?.index === focusIndex) return;
  // Keys typed ahead of the list move the focus ahead of it by as many pairs as are still leaving.
  for (let distance = 1; distance <= BLOCK; distance++) {
    for (const position of [focus - distance, focus + distance]) {
      if (rows.rowAt(position)?.index === focusIndex) {
        focus = position;
        saveViewState();
        list.reveal(focus);
        return;
      }
    }
  }
  // The focused pair left the list (say, marked reviewed under "Not reviewed"): the pair that took
  // its place is focused now. Only on current rows: older ones may just not have caught up.
  if (blockIsCurrent) focusIndex = rows.rowAt(focus)?.index;
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
  total: () => rows.total,
  row: (position) => rows.rowAt(position),
  need: (from, to) => rows.need(from, to),
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
  const index = focusIndex ?? rows.rowAt(focus)?.index;
  if (index === undefined) {
    if (rows.total === 0 && snapshot) {
      shownPair = undefined;
      detail.replaceChildren(el('p', { class: 'empty' }, isPlainQuery(query) ? 'No pairs.' : 'No pairs match.'));
    }
    return;
  }
  const ahead: number[] = [];
  for (let k = 1; k <= PREFETCH_AHEAD; k++) {
    const next = rows.rowAt(focus + k);
    if (next) ahead.push(next.index);
  }
  const before = rows.rowAt(focus - 1);
  pairs.fetch([index, ...ahead, ...(before ? [before.index] : [])]);
  const pair = pairs.get(index);
  if (!pair) return;
  // The same pair at the same place in a list of the same length: nothing to redraw.
  if (pair === shownPair && shownAt === `${focus}/${rows.total}` && !force) return;
  shownAt = `${focus}/${rows.total}`;
  const samePair = shownPair?.index === pair.index;
  const scrollTop = detail.scrollTop;
  const hadFocus = detail.contains(document.activeElement);
  detail.replaceChildren(renderPair(pairContext, pair, focus, rows.total));
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

function renderHeader(): void {
  if (!snapshot || !status) return;
  headerSlot.replaceChildren(headerOf(snapshot, status, { showStats, toggleStats, setQuery, post }));
}

function renderToolbar(): void {
  toolbarSlot.replaceChildren(
    toolbarOf({ query, status, raw, setQuery, toggleBlind, toggleAdjudicating, toggleRaw, leaveSearch: () => list.element.focus(), post }),
  );
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
    // Blind review shuffles the sides and hides the model and the label: the keys say left and right,
    // and the two that act on what is hidden are left out.
    `Keys: ${k('next')} next · ${k('previous')} previous · ` +
      (status?.blind
        ? `${k('labelLeft')} left better · ${k('labelRight')} right better · ${k('labelTie')} tie · ${k('labelBothBad')} both bad · `
        : `${k('labelLeft')} left (A) better · ${k('labelRight')} right (B) better · ${k('labelTie')} tie · ${k('labelBothBad')} both bad · ` +
          `${k('acceptModel')} accept the model · ${k('keepLabel')} keep the label · `) +
      `${k('flag')} flag · ${k('reviewed')} reviewed · ${k('note')} note · ${k('queue')} review queue · ${k('search')} search · ` +
      `${k('blind')} blind · ${k('adjudicate')} adjudicate · ${k('adjudicationQueue')} annotators disagree · ${k('myShare')} my share · ${k('everyModelQueue')} every model disagrees · ${k('raw')} markdown / raw · ${k('stats')} statistics · ${k('pageDown')} / ${k('pageUp')} page · ` +
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
  void host.request('stats', {}).then(
    (next) => {
      stats = next;
      renderStatsSlot();
    },
    () => undefined,
  );
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
  rows.reset(isPlainQuery(query) && status ? status.pairs : undefined);
  saveViewState();
  renderToolbar();
  list.element.scrollTop = 0;
  list.schedule();
  rows.schedule();
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
    last: () => setFocus(rows.total - 1),
    queue: () => setQuery(REVIEW_QUEUE),
    search: () => app.querySelector<HTMLInputElement>('[data-testid="search"]')?.focus(),
    blind: toggleBlind,
    adjudicate: toggleAdjudicating,
    adjudicationQueue: () => setQuery(ADJUDICATION_QUEUE),
    myShare: () => setQuery(MY_SHARE),
    everyModelQueue: () => setQuery(EVERY_MODEL_QUEUE),
    raw: toggleRaw,
    stats: toggleStats,
  };
  const move = moves[action];
  if (move) return move();
  const pair = focusIndex === undefined ? undefined : pairs.get(focusIndex);
  if (!pair) {
    // The pair is on its way (keys pressed faster than it arrived): act when it is here.
    if (rows.total > 0) pendingActions.unshift(action);
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

// ---------------------------------------------------------------- what the host pushes

onHostMessage((message) => {
  switch (message.type) {
    case 'snapshot': {
      // The first one starts the view (a rebuilt webview starts from scratch and asks again). The
      // only later one comes when a large file has been read to the end, for the complete list of
      // skipped records in the header: the rows and pairs already here stay valid.
      const first = snapshot === undefined;
      snapshot = message.snapshot;
      setKeymap(message.snapshot.keymap);
      status = message.snapshot.status;
      if (isPlainQuery(query)) rows.total = status.pairs;
      renderHeader();
      if (!first) break;
      layout();
      renderToolbar();
      renderStatsSlot();
      requestStats(true);
      list.reveal(focus);
      rows.schedule();
      break;
    }
    case 'annotationsChanged':
      // The changed pairs come as they are now; the list may keep other pairs, so it is fetched again.
      if (message.pairs) pairs.put(message.pairs);
      else pairs.forget();
      rows.invalidate();
      list.schedule();
      requestStats(true);
      break;
    case 'scores':
      // New scores land in the rows held; a list in file order needs nothing more, a filtered or
      // sorted one may keep other pairs now. Pairs held without a score are fetched again when shown.
      rows.applyScores(message.scores);
      pairs.forget(message.scores.map(({ index }) => index).filter((index) => pairs.has(index)));
      if (!isPlainQuery(query)) rows.invalidateSoon();
      list.schedule();
      requestStats(status?.scoring.state !== 'scoring');
      showFocusedPair();
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
        rows.invalidate();
      }
      if (before && before.adjudicating !== status.adjudicating) {
        pairs.forget();
        renderToolbar();
        showFocusedPair(true);
      }
      // The key hints name the sides by blind review's rules (the first status may already be blind).
      if (!before || before.blind !== status.blind) keysSlot.replaceChildren(renderKeys());
      // Pairs were reviewed: a filtered list may hold other pairs now. The annotationsChanged push
      // says so too, but this status is posted at once, so the last of fast keys never waits on it.
      if (before && before.reviewed !== status.reviewed && !isPlainQuery(query)) {
        rows.invalidate();
        list.schedule();
      }
      if (before && before.blind !== status.blind) {
        pairs.forget();
        rows.invalidate();
        renderToolbar();
      } else if (before && modelsScored(status) !== modelsScored(before)) {
        // A further model scored more pairs: each pair's models, the consensus and its queues changed.
        pairs.forget();
        rows.invalidateSoon();
        requestStats(status.scoring.state !== 'scoring');
      } else if (before && status.scored < before.scored) {
        // Scores were dropped (another model): every row and pair held is out of date. New scores
        // are pushed as they come ('scores').
        pairs.forget();
        rows.invalidate();
        requestStats(true);
      }
      // A run that ends (the further models score after the first) leaves the last figures to fetch, unthrottled.
      if (before && before.scoring.state !== status.scoring.state && status.scoring.state === 'done') requestStats(true);
      if (before && status.pairs !== before.pairs) {
        if (isPlainQuery(query)) {
          rows.grew(status.pairs);
          list.schedule();
        } else {
          // Pairs read since may belong to a filtered list.
          rows.invalidateSoon();
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
