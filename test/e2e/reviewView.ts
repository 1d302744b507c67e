/**
 * What the review webview shows, read from its DOM as a user sees it: the list rows (verdict mark,
 * margin, "you: B" label, ⚑ / ✓ marks), which row is focused, and which pair the pair view shows.
 * Shared by the e2e tests that drive the review editor from the keyboard.
 */
import { type VsCode, pollUntil } from './harness';

export type Label = 'a' | 'b' | 'tie' | 'both-bad';

export interface RowView {
  index: number;
  line: number;
  /** Signed margin as shown (3 decimals), null when not scored. */
  margin: number | null;
  disagrees: boolean;
  label: Label | null;
  flagged: boolean;
  reviewed: boolean;
}
export interface View {
  /** Pair index of the list's focused row, and of the pair the pair view shows. */
  focused: number | null;
  shown: number | null;
  filter: string;
  sort: string;
  /** Length of the whole list (aria-setsize: most rows of a long list are not in the DOM). */
  total: number;
  /** The list rows in the DOM, in list order. */
  rows: RowView[];
}

/** Reads the list as a user sees it: each row's verdict mark, margin, your label ("you: B") and marks (⚑ flagged, ✓ reviewed). */
export function readView(vscode: VsCode): Promise<View> {
  return vscode.evalInWebview<View>(
    '[data-testid="pair-list"]',
    `(() => {
      const names = { A: 'a', B: 'b', tie: 'tie', 'both bad': 'both-bad' };
      const marginOf = (text) => {
        const m = /([+−±])([0-9.e+-]+)/.exec(text);
        return m ? (m[1] === '−' ? -1 : 1) * Number(m[2]) : null;
      };
      const rows = [...document.querySelectorAll('.row[data-index]')].sort((x, y) => Number(x.dataset.position) - Number(y.dataset.position));
      const focused = document.querySelector('.row.focused[data-index]');
      const shown = document.querySelector('.pair[data-index]');
      return {
        focused: focused ? Number(focused.dataset.index) : null,
        shown: shown ? Number(shown.dataset.index) : null,
        filter: document.querySelector('select[data-testid="filter"]')?.value ?? '',
        sort: document.querySelector('select[data-testid="sort"]')?.value ?? '',
        total: Number(document.querySelector('.row')?.getAttribute('aria-setsize') ?? 0),
        rows: rows.map((row) => {
          const label = row.querySelector('.row-label')?.textContent ?? '';
          const marks = row.querySelector('.row-marks')?.textContent ?? '';
          return {
            index: Number(row.dataset.index),
            line: Number(/line (\\d+)/.exec(row.getAttribute('aria-label') ?? '')?.[1]),
            margin: marginOf(row.querySelector('.row-margin')?.textContent ?? ''),
            disagrees: row.classList.contains('disagrees'),
            label: label.startsWith('you: ') ? names[label.slice('you: '.length)] ?? label : null,
            flagged: marks.includes('⚑'),
            reviewed: marks.includes('✓'),
          };
        }),
      };
    })()`,
  );
}

/** Polls the view until `accept` holds. */
export function waitForView(vscode: VsCode, what: string, accept: (view: View) => boolean, timeoutMs = 20_000): Promise<View> {
  return pollUntil(vscode, `webview showing ${what}`, () => readView(vscode), accept, { timeoutMs, show: (view) => JSON.stringify(view && { ...view, rows: view.rows.slice(0, 6) }) });
}

export const rowOf = (view: View, line: number) => view.rows.find((r) => r.line === line);
export const shows = (line: number, expected: Pick<RowView, 'label' | 'flagged' | 'reviewed'>) => (view: View) => {
  const r = rowOf(view, line);
  return r !== undefined && r.label === expected.label && r.flagged === expected.flagged && r.reviewed === expected.reviewed;
};
/** The same as `shows`, for the pair at table index `index`. */
export const showsPair = (index: number, expected: Pick<RowView, 'label' | 'flagged' | 'reviewed'>) => (view: View) => {
  const r = view.rows.find((row) => row.index === index);
  return r !== undefined && r.label === expected.label && r.flagged === expected.flagged && r.reviewed === expected.reviewed;
};
export const absent = (line: number) => (view: View) => rowOf(view, line) === undefined;

export async function press(vscode: VsCode, key: string, what: string, accept: (view: View) => boolean): Promise<View> {
  await vscode.page.keyboard.press(key);
  return waitForView(vscode, `${what} after ${key}`, accept);
}

