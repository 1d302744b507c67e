/**
 * The toolbar above the list: the queues, what the list shows and in which order, the checks filter,
 * text search, margin bounds, bulk actions, and the blind, adjudicate and text toggles.
 */
import type { BulkAction, ReviewStatus, RowFilter, RowQuery, RowSort, WebviewToHost } from '../src/shared/reviewProtocol';
import { CHECK_FILTERS } from './checks';
import { el } from './dom';
import { keyHint } from './keys';
import { button } from './pairView';

/** What the toolbar needs of the rest of the view. */
export interface ToolbarView {
  query: RowQuery;
  status: ReviewStatus | undefined;
  raw: boolean;
  setQuery(change: Partial<RowQuery>): void;
  toggleBlind(): void;
  toggleAdjudicating(): void;
  toggleRaw(): void;
  /** Escape in the search box: back to the list. */
  leaveSearch(): void;
  post(message: WebviewToHost): void;
}

/** The review queue: the disagreements, likeliest label errors first by the noise score (src/core/noiseScore.ts). */
export const REVIEW_QUEUE: Partial<RowQuery> = { filter: 'disagreements', sort: 'noise' };
/** The adjudication queue: pairs annotators labelled differently, not yet decided, in file order. */
export const ADJUDICATION_QUEUE: Partial<RowQuery> = { filter: 'annotators-disagree', sort: 'file' };
/** The pairs the team file assigns to you that you have not labelled yet, in file order. */
export const MY_SHARE: Partial<RowQuery> = { filter: 'my-share', sort: 'file' };
/** With several models: the pairs every model disagrees with, the label the models together contradict most first. */
export const EVERY_MODEL_QUEUE: Partial<RowQuery> = { filter: 'every-model-disagrees', sort: 'consensus' };

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

/** A button that is on or off: screen readers say which, and the theme shows it pressed. */
function toggle(b: HTMLButtonElement, on: boolean): HTMLButtonElement {
  b.setAttribute('aria-pressed', String(on));
  return b;
}

function primary(b: HTMLButtonElement): HTMLButtonElement {
  b.classList.add('primary');
  return b;
}

/** Adjudication on or off: pressed while the label keys record decisions. */
function adjudicateToggle(view: ToolbarView): HTMLElement {
  const b = toggle(button(`Adjudicate: ${view.status?.adjudicating ? 'on' : 'off'} (${keyHint('adjudicate')})`, view.toggleAdjudicating, 'adjudicate'), view.status?.adjudicating === true);
  b.title = 'While on, the label keys record your decision as the adjudicator; the annotators’ own labels stay theirs';
  return b;
}

export function renderToolbar(view: ToolbarView): HTMLElement {
  const { query, status, setQuery } = view;
  const search = el('input', { type: 'search', placeholder: `Search text… (${keyHint('search')})`, 'data-testid': 'search', 'aria-label': 'Search text', class: 'search' });
  search.value = query.search ?? '';
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') setQuery({ search: search.value.trim() || undefined });
    if (event.key === 'Escape') view.leaveSearch();
  });
  const bulk = el('select', { 'data-testid': 'bulk', 'aria-label': 'Bulk action on all pairs shown' }, el('option', { value: '' }, 'Bulk action…'), ...BULK.map(([id, text]) => el('option', { value: id }, text)));
  bulk.addEventListener('change', () => {
    const action = BULK.find(([id]) => id === bulk.value)?.[2];
    bulk.value = '';
    if (action) view.post({ type: 'bulkAnnotate', query, action });
  });
  return el(
    'div',
    { class: 'toolbar', role: 'search' },
    primary(button(`Review queue (${keyHint('queue')})`, () => setQuery(REVIEW_QUEUE), 'queue')),
    select('filter', 'Show', FILTERS, query.filter, (filter) => setQuery({ filter })),
    select('sort', 'Sort', SORTS, query.sort, (sort) => setQuery({ sort })),
    select('check', 'Check', CHECK_FILTERS, query.check ?? '', (check) => setQuery({ check: check || undefined })),
    search,
    numberInput('margin-min', 'Margin ≥', query.marginMin, (marginMin) => setQuery({ marginMin })),
    numberInput('margin-max', '≤', query.marginMax, (marginMax) => setQuery({ marginMax })),
    bulk,
    toggle(button(`Blind: ${status?.blind ? 'on' : 'off'} (${keyHint('blind')})`, view.toggleBlind, 'blind'), status?.blind === true),
    status?.annotator ? el('span', { class: 'annotator', 'data-testid': 'annotator', title: 'Labels are recorded under this name (preferenceLens.annotator, else your git user name)' }, `Annotating as ${status.annotator}`) : null,
    adjudicateToggle(view),
    status?.team
      ? el('span', { class: 'annotator', 'data-testid': 'team-file', title: 'From the team file beside the dataset (<dataset>.plens-team.json)' }, `Team: ${status.team.annotators.join(', ')} · ${status.team.overlap} per pair`)
      : null,
    status?.teamError ? el('span', { class: 'error', role: 'alert', 'data-testid': 'team-error' }, `Team file not used: ${status.teamError}`) : null,
    toggle(button(`Text: ${view.raw ? 'as written' : 'markdown'} (${keyHint('raw')})`, view.toggleRaw, 'raw-toggle'), view.raw),
  );
}
