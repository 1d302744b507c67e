/**
 * The pair list, virtualized: one fixed-height row per pair of the current query, of which only the
 * rows in view (and a few either side) exist in the DOM, so 100k pairs or 10M scroll the same. Rows
 * come from the host a window at a time (see main.ts); a row not here yet shows as a placeholder.
 *
 * Browsers cap an element's height (Chromium near 33.5M px), so past MAX_SCROLL_PX the scroll range
 * stands for the list in proportion and rows are placed relative to the viewport.
 *
 * It is a listbox: one tab stop, the focused pair as aria-activedescendant, each row an option with
 * its position in the whole list (aria-posinset / aria-setsize) since most rows are not in the DOM.
 */
import type { RowSummary } from '../src/shared/reviewProtocol';
import { checkMarks } from './checks';
import { el } from './dom';
import { fmtSigned, reviewLabelName, sideName } from './pairView';

/** Must match `.row` height in style.css. */
export const ROW_HEIGHT = 26;
const OVERSCAN = 8;
/** Rows beyond the view whose data is fetched ahead, so scrolling at wheel speed never waits. */
const LOOKAHEAD = 100;
const MAX_SCROLL_PX = 4_000_000;

export interface ListSource {
  total(): number;
  row(position: number): RowSummary | undefined;
  /** Rows `from`..`to` (inclusive) are about to be shown: fetch the ones not here. */
  need(from: number, to: number): void;
  focused(): number;
  /** The reviewer clicked the row at `position`. */
  choose(position: number): void;
}

export class PairList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly rows: HTMLElement;
  private frame = 0;
  /** Row elements by position, with what they were built from: reused while that is unchanged. */
  private built = new Map<number, { row: RowSummary | undefined; focused: boolean; total: number; element: HTMLElement }>();

  constructor(private readonly source: ListSource) {
    this.rows = el('div', { class: 'rows' });
    this.spacer = el('div', { class: 'spacer' }, this.rows);
    this.element = el('div', { class: 'list', role: 'listbox', tabindex: '0', 'aria-label': 'Pairs', 'data-testid': 'pair-list' }, this.spacer);
    this.element.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.element.addEventListener('click', (event) => {
      const row = (event.target as Element).closest<HTMLElement>('.row');
      if (row?.dataset.position) source.choose(Number(row.dataset.position));
    });
    new ResizeObserver(() => this.schedule()).observe(this.element);
  }

  /** Renders on the next animation frame; many calls in one frame render once. */
  schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  /** Rows that fit in the view: what page up / page down move by. */
  get pageRows(): number {
    return Math.max(1, Math.floor(this.element.clientHeight / ROW_HEIGHT) - 1);
  }

  /** Scroll range per list pixel: 1 unless the list is taller than MAX_SCROLL_PX. */
  private geometry(): { viewport: number; realHeight: number; ratio: number } {
    const viewport = this.element.clientHeight;
    const virtualHeight = this.source.total() * ROW_HEIGHT;
    const realHeight = Math.min(virtualHeight, MAX_SCROLL_PX);
    const ratio = realHeight > viewport ? (virtualHeight - viewport) / (realHeight - viewport) : 1;
    return { viewport, realHeight, ratio };
  }

  /** Scrolls as little as needed to show the row at `position`. */
  reveal(position: number): void {
    const { viewport, ratio } = this.geometry();
    const top = this.element.scrollTop * ratio;
    const rowTop = position * ROW_HEIGHT;
    let target = top;
    if (rowTop < top) target = rowTop;
    else if (rowTop + ROW_HEIGHT > top + viewport) target = rowTop + ROW_HEIGHT - viewport;
    if (target !== top) this.element.scrollTop = target / ratio;
    this.schedule();
  }

  render(): void {
    this.frame = 0;
    const total = this.source.total();
    const { viewport, realHeight, ratio } = this.geometry();
    this.spacer.style.height = `${realHeight}px`;
    const scrollTop = this.element.scrollTop;
    const top = scrollTop * ratio;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((top + viewport) / ROW_HEIGHT) + OVERSCAN);
    // Ask for a block of rows before it scrolls into view.
    if (last >= first) this.source.need(Math.max(0, first - LOOKAHEAD), Math.min(total - 1, last + LOOKAHEAD));
    const focused = this.source.focused();
    // Scrolling by a few rows a frame changes a few rows: keep the rest, only move them.
    const built = new Map<number, { row: RowSummary | undefined; focused: boolean; total: number; element: HTMLElement }>();
    const children: HTMLElement[] = [];
    for (let position = first; position <= last; position++) {
      const row = this.source.row(position);
      const isFocused = position === focused;
      const previous = this.built.get(position);
      const element =
        previous && previous.row === row && previous.focused === isFocused && previous.total === total ? previous.element : this.renderRow(position, row, total, isFocused);
      element.style.transform = `translateY(${position * ROW_HEIGHT - top + scrollTop}px)`;
      built.set(position, { row, focused: isFocused, total, element });
      children.push(element);
    }
    if (total === 0) this.rows.replaceChildren(el('div', { class: 'empty' }, 'No pairs match.'));
    else {
      // Rows are placed by transform, so their DOM order does not matter: take out the ones that
      // left and add the new ones, leaving the rest untouched (no re-insertion, no restyle of all).
      const kept = new Set(children);
      for (const child of [...this.rows.children]) if (!kept.has(child as HTMLElement)) child.remove();
      const present = new Set(this.rows.children);
      for (const child of children) if (!present.has(child)) this.rows.append(child);
    }
    this.built = built;
    if (focused >= first && focused <= last) this.element.setAttribute('aria-activedescendant', `row-${focused}`);
    else this.element.removeAttribute('aria-activedescendant');
  }

  private renderRow(position: number, row: RowSummary | undefined, total: number, focused: boolean): HTMLElement {
    const attributes: Record<string, string> = {
      class: `row${focused ? ' focused' : ''}`,
      id: `row-${position}`,
      role: 'option',
      'aria-selected': String(focused),
      'aria-posinset': String(position + 1),
      'aria-setsize': String(total),
      'data-position': String(position),
    };
    if (!row) return el('div', { ...attributes, class: `${attributes.class} placeholder` }, el('span', { class: 'row-id' }, `${position + 1}`), '…');
    const score = row.score;
    const verdict = row.blind ? 'blind' : !score ? 'unscored' : score.agrees === false ? 'disagrees' : score.agrees ? 'agrees' : 'no label';
    // The label the verdict mark is of: yours, a colleague's or an adjudicator's (named), else the file's.
    const label = row.blind ? '' : row.decided ? (row.decided.yours ? `you: ${reviewLabelName(row.decided.label)}` : `${reviewLabelName(row.decided.label)} · ${row.decided.by}`) : sideName(row.label);
    const marks = `${row.flagged ? '⚑' : ''}${row.reviewed ? '✓' : ''}${row.noted ? '✎' : ''}${row.adjudicated ? '⚖' : ''}`;
    return el(
      'div',
      {
        ...attributes,
        class: `${attributes.class} ${verdict.replace(' ', '-')}`,
        'data-index': String(row.index),
        'aria-label': `Pair ${row.index + 1}, line ${row.line}, ${verdict}${score ? `, margin ${fmtSigned(score.margin)}` : ''}${label ? `, label ${row.decided && !row.decided.yours ? `${reviewLabelName(row.decided.label)}, ${row.decided.by}'s` : label.replace('you:', 'yours,')}` : ''}${row.flagged ? ', flagged' : ''}${row.reviewed ? ', reviewed' : ''}${row.noted ? ', has a note' : ''}${row.adjudicated ? ', adjudicated' : ''}${row.checks ? `, checks: ${row.checks.join(', ')}` : ''}: ${row.preview}`,
      },
      el('span', { class: 'row-id' }, `#${row.index + 1}`),
      el('span', { class: 'row-verdict', title: verdict }, row.blind ? '◌' : !score ? '·' : score.agrees === false ? '≠' : score.agrees ? '=' : '–'),
      el('span', { class: 'row-margin' }, score ? fmtSigned(score.margin) : ''),
      el('span', { class: 'row-label' }, label),
      el('span', { class: 'row-marks' }, marks),
      row.checks ? el('span', { class: 'row-checks', title: row.checks.join(', ') }, checkMarks(row.checks)) : null,
      el('span', { class: 'row-preview' }, row.preview),
    );
  }
}
