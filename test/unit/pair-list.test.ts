// The virtualized pair list in a DOM in plain Node (jsdom has no layout, so the list's height and
// scroll offset are stubbed): past the height browsers allow it still reaches every row, only rows in
// view are in the DOM, rows are asked for ahead of the view, and unchanged rows are not rebuilt. The
// e2e tests and the editor benchmark scroll it in a real VS Code at 100k rows (under the cap).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { JSDOM } from 'jsdom';
import type { RowSummary } from '../../src/shared/reviewProtocol';
import type { ListSource, PairList as PairListClass } from '../../webview-ui/pairList';

let PairList: typeof PairListClass;
let ROW_HEIGHT: number;
const VIEWPORT = 520;

before(async () => {
  const { window } = new JSDOM('<!DOCTYPE html><body></body>');
  Object.assign(globalThis, {
    window,
    document: window.document,
    Node: window.Node,
    DocumentFragment: window.DocumentFragment,
    // Rendering is driven by the test (render()); observers and frames are not needed.
    ResizeObserver: class {
      observe(): void {}
    },
    requestAnimationFrame: () => 0,
  });
  ({ PairList, ROW_HEIGHT } = await import('../../webview-ui/pairList.js'));
});

interface Fixture {
  list: PairListClass;
  asked: [number, number][];
  focus: number;
  rows: Map<number, RowSummary>;
}

function makeList(total: number, loaded: (position: number) => boolean = () => true): Fixture {
  const fixture = { asked: [] as [number, number][], focus: 0, rows: new Map<number, RowSummary>() } as Fixture;
  const source: ListSource = {
    total: () => total,
    row: (position) => {
      if (!loaded(position)) return undefined;
      let row = fixture.rows.get(position);
      if (!row) fixture.rows.set(position, (row = { index: position, line: position + 1, label: 'a', preview: `prompt ${position}` }));
      return row;
    },
    need: (from, to) => fixture.asked.push([from, to]),
    focused: () => fixture.focus,
    choose: (position) => (fixture.focus = position),
  };
  fixture.list = new PairList(source);
  // No layout in jsdom: a fixed viewport, and a scroll offset that keeps what is set, within range.
  let scrollTop = 0;
  const element = fixture.list.element;
  Object.defineProperty(element, 'clientHeight', { get: () => VIEWPORT });
  Object.defineProperty(element, 'scrollHeight', { get: () => parseFloat((element.firstElementChild as HTMLElement).style.height) || 0 });
  Object.defineProperty(element, 'scrollTop', {
    get: () => scrollTop,
    set: (value: number) => (scrollTop = Math.max(0, Math.min(value, element.scrollHeight - VIEWPORT))),
  });
  fixture.list.render();
  return fixture;
}

/** The rows in the DOM by list position (their DOM order is free: they are placed by transform). */
const rendered = (list: PairListClass) => [...list.element.querySelectorAll<HTMLElement>('.row')].sort((x, y) => Number(x.dataset.position) - Number(y.dataset.position));
const offsetOf = (row: HTMLElement) => Number(/translateY\((-?[\d.]+)px\)/.exec(row.style.transform)?.[1]);

describe('PairList', () => {
  it('reaches the last of a million rows although the scroll range is capped', () => {
    const { list, asked } = makeList(1_000_000);
    const spacerHeight = list.element.scrollHeight;
    assert.ok(spacerHeight < 1_000_000 * ROW_HEIGHT, `the spacer is capped (${spacerHeight} px)`);
    assert.ok(rendered(list).length <= Math.ceil(VIEWPORT / ROW_HEIGHT) + 2 * 8 + 2, `only rows in view and a few either side: ${rendered(list).length}`);

    list.reveal(999_999);
    list.render();
    const last = rendered(list).find((row) => row.dataset.position === '999999');
    assert.ok(last, 'the last row is in the DOM after reveal');
    assert.equal(last.getAttribute('aria-posinset'), '1000000');
    assert.equal(last.getAttribute('aria-setsize'), '1000000');
    // Placed inside the viewport (offsets are in the spacer's coordinates, the viewport starts at scrollTop).
    const top = offsetOf(last) - list.element.scrollTop;
    assert.ok(top >= 0 && top + ROW_HEIGHT <= VIEWPORT, `the last row is in view: ${top} px from the top`);
    assert.ok(asked.some(([from, to]) => from <= 999_999 && to >= 999_999), 'the rows around the end were asked for');

    // A row in the middle: reveal puts it in view as well, rows in order one ROW_HEIGHT apart.
    list.reveal(500_000);
    list.render();
    const rows = rendered(list);
    const middle = rows.find((row) => row.dataset.position === '500000')!;
    const middleTop = offsetOf(middle) - list.element.scrollTop;
    assert.ok(middleTop >= 0 && middleTop + ROW_HEIGHT <= VIEWPORT, `row 500000 in view: ${middleTop}`);
    for (let k = 1; k < rows.length; k++) assert.equal(offsetOf(rows[k]) - offsetOf(rows[k - 1]), ROW_HEIGHT);
  });

  it('asks for rows ahead of the view and shows placeholders until they come', () => {
    const { list, asked } = makeList(10_000, (position) => position < 5);
    const [from, to] = asked.at(-1)!;
    assert.equal(from, 0);
    assert.ok(to >= Math.ceil(VIEWPORT / ROW_HEIGHT) + 50, `asks beyond the view: up to ${to}`);
    const placeholders = rendered(list).filter((row) => row.classList.contains('placeholder'));
    assert.ok(placeholders.length > 0 && rendered(list).slice(0, 5).every((row) => !row.classList.contains('placeholder')));
  });

  it('keeps the elements of rows that did not change, and marks the focused one', () => {
    const fixture = makeList(1000);
    const before = new Map(rendered(fixture.list).map((row) => [row.dataset.position, row]));
    fixture.focus = 3;
    fixture.list.render();
    const after = rendered(fixture.list);
    const changed = after.filter((row) => before.get(row.dataset.position) !== row).map((row) => row.dataset.position);
    assert.deepEqual(changed, ['0', '3'], 'only the rows whose focus changed are rebuilt');
    assert.equal(fixture.list.element.getAttribute('aria-activedescendant'), 'row-3');
    assert.equal(after.find((row) => row.dataset.position === '3')!.getAttribute('aria-selected'), 'true');
  });
});
