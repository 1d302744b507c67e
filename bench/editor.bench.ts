/**
 * The review editor at scale, in the real VS Code (code-server + headless Chromium, the e2e harness):
 *
 *   node --import tsx bench/editor.bench.ts [--pairs 100000] [--scroll-s 3] [--turns 20] [--keep]
 *
 * Generates a --pairs HH-RLHF file by repeating the lines of the shared helpful-base test split
 * (skips, exit 0, when that is absent), opens it in the review editor with scoring off
 * (`preferenceLens.scoreOnOpen: false`) and measures:
 *
 * - **first rows**: from running "Preference Lens: Open Review" (the command palette's Enter, its
 *   typing excluded) to the first list row with its data (`.row[data-index]`, polled every 25 ms),
 *   and to the header's pair count reaching --pairs (the whole file read, polled every 250 ms); the
 *   first time includes the extension's activation, so the review editor is closed and opened
 *   again for a warm figure;
 * - **scrolling** the virtualized list: inside the webview frame, a requestAnimationFrame loop
 *   records frame-to-frame deltas while the list scrolls for --scroll-s seconds, at 120 px a frame
 *   (a wheel) and then at 2600 px a frame (100 rows, a dragged scrollbar): median and 95th
 *   percentile, and the share of rows in view still waiting for their data ("…") per frame;
 * - **next pair** (`j`, pressed through VS Code: it is a keybinding): from the key press to the
 *   pair view showing the next pair, --turns times: median and max.
 *
 * Installs PLENS_VSIX or the single *.vsix in the repo root (`npm run build && npm run package`).
 * Prints a table with this run and the previous saved one; saves JSON in bench/results/.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { repoRoot } from '../test/e2e/codeServer';
import { findVsix, launchVsCode, type VsCode, runCommandTimed } from '../test/e2e/harness';

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100000' },
    'scroll-s': { type: 'string', default: '3' },
    turns: { type: 'string', default: '20' },
    keep: { type: 'boolean', default: false },
  },
});
const PAIRS = Number(args.pairs);
const SCROLL_S = Number(args['scroll-s']);
const TURNS = Number(args.turns);
const SOURCE = path.resolve(repoRoot, '../shared/data/hh-rlhf-helpful-base-test/test.jsonl');
const RESULTS = path.join(__dirname, 'results');
const DATASET = `hh-${PAIRS}.jsonl`;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};

/** Repeats the source's lines until `pairs` lines; returns the file's size in MB. */
function generate(file: string, pairs: number): number {
  const lines = readFileSync(SOURCE, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const out: string[] = [];
  for (let i = 0; i < pairs; i++) out.push(lines[i % lines.length]!);
  const text = `${out.join('\n')}\n`;
  writeFileSync(file, text);
  return Buffer.byteLength(text) / 1e6;
}

/** Polls every frame for `selector` every 25 ms; returns performance.now() when found. */
async function firstAppearance(vscode: VsCode, selector: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const frame of vscode.page.frames().filter((f) => f !== vscode.page.mainFrame())) {
      if (await frame.$(selector).catch(() => null)) return performance.now();
    }
    if (performance.now() > deadline) throw new Error(`${selector} did not appear in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface ScrollRun {
  deltas: number[];
  /** Per frame: rows in view without their data yet, over rows in view. */
  waiting: number[];
  scrollHeight: number;
  rowsInDom: number;
}

const SCROLL_SCRIPT = (seconds: number, pxPerFrame: number) => `new Promise((resolve) => {
  const list = document.querySelector('[data-testid="pair-list"]');
  const deltas = [];
  const waiting = [];
  let last = performance.now();
  const end = last + ${seconds * 1000};
  list.scrollTop = 0;
  const step = (now) => {
    deltas.push(now - last);
    last = now;
    const rows = [...list.querySelectorAll('.row')];
    const top = list.getBoundingClientRect().top;
    const inView = rows.filter((r) => { const y = r.getBoundingClientRect().top - top; return y >= 0 && y < list.clientHeight; });
    if (inView.length) waiting.push(inView.filter((r) => r.classList.contains('placeholder')).length / inView.length);
    const max = list.scrollHeight - list.clientHeight;
    list.scrollTop = list.scrollTop + ${pxPerFrame} >= max ? 0 : list.scrollTop + ${pxPerFrame};
    if (now < end) requestAnimationFrame(step);
    else resolve({ deltas: deltas.slice(1), waiting, scrollHeight: list.scrollHeight, rowsInDom: rows.length });
  };
  requestAnimationFrame((now) => { last = now; requestAnimationFrame(step); });
})`;

/** Records (Date.now()) when the pair view next shows another pair than now. */
const WATCH_NEXT_SCRIPT = `(() => {
  const shown = () => document.querySelector('.pair')?.getAttribute('data-index');
  const before = shown();
  window.__nextPairAt = undefined;
  const observer = new MutationObserver(() => {
    if (shown() !== before && window.__nextPairAt === undefined) { window.__nextPairAt = Date.now(); observer.disconnect(); }
  });
  observer.observe(document.querySelector('[data-testid="pair-view"]'), { childList: true, subtree: true });
  return before;
})()`;

/** Presses j through the workbench (a VS Code keybinding) and returns ms until the next pair is shown. */
async function nextPairMs(vscode: VsCode): Promise<number> {
  await vscode.evalInWebview('[data-testid="pair-view"]', WATCH_NEXT_SCRIPT);
  const pressedAt = Date.now();
  await vscode.page.keyboard.press('j');
  for (;;) {
    const at = await vscode.evalInWebview<number | null>('[data-testid="pair-view"]', 'window.__nextPairAt ?? null');
    if (at !== null) return at - pressedAt;
    if (Date.now() - pressedAt > 30_000) throw new Error('the next pair did not come up');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

interface Summary {
  date: string;
  pairs: number;
  fileMb: number;
  /** To the header (the webview up, the host's first snapshot in). */
  headerMs: number;
  firstRowsMs: number;
  /** The same, a second time: extension active, file cached. */
  firstRowsWarmMs: number;
  /** Open Review from the explorer's context menu, no text editor open, extension active. */
  firstRowsFromExplorerMs: number;
  pairCountAtExplorerRows: string;
  allReadMs: number | null;
  /** The header's pair count when the first rows were seen: "N…" while the file is still read. */
  pairCountAtFirstRows: string;
  frameMedianMs: number;
  frameP95Ms: number;
  frames: number;
  /** Mean share of the rows in view still showing "…" per frame, scrolling 120 px a frame. */
  rowsWaitingPct: number;
  fastFrameMedianMs: number;
  fastFrameP95Ms: number;
  /** The same, at 2600 px (100 rows) a frame. */
  fastRowsWaitingPct: number;
  nextPairMedianMs: number;
  nextPairMaxMs: number;
  scrollHeightPx: number;
  rowsInDom: number;
}

async function main(): Promise<void> {
  if (!existsSync(SOURCE)) {
    console.log(`SKIPPED: ${SOURCE} is absent, so there is no HH-RLHF split to repeat`);
    return;
  }
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-bench-editor-'));
  const dataset = path.join(workspace, DATASET);
  const fileMb = generate(dataset, PAIRS);
  console.log(`generated ${PAIRS} pairs, ${fileMb.toFixed(1)} MB`);
  const vscode = await launchVsCode({
    workspace,
    vsix: findVsix(),
    name: 'bench-editor',
    settings: { 'preferenceLens.scoreOnOpen': false, 'files.autoSave': 'off' },
  });
  let summary: Summary;
  try {
    await vscode.quickOpen(DATASET);
    const t0 = await runCommandTimed(vscode, 'Preference Lens: Open Review');
    const headerMs = (await firstAppearance(vscode, '[data-testid="pair-count"]', 120_000)) - t0;
    const firstRowsMs = (await firstAppearance(vscode, '.row[data-index]', 120_000)) - t0;
    // Were the first rows shown while the file was still being read ("12345…"), or only after?
    const [pairCountAtFirstRows] = await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t.length > 0);
    let allReadMs: number | null = null;
    try {
      await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t[0] === String(PAIRS), { timeoutMs: 300_000 });
      allReadMs = performance.now() - t0;
    } catch (error) {
      console.error(`the whole file was not read: ${(error as Error).message}`);
    }
    await vscode.page.waitForTimeout(500);
    const scroll = await vscode.evalInWebview<ScrollRun>('[data-testid="pair-list"]', SCROLL_SCRIPT(SCROLL_S, 120));
    const fast = await vscode.evalInWebview<ScrollRun>('[data-testid="pair-list"]', SCROLL_SCRIPT(SCROLL_S, 100 * 26));
    const turns: number[] = [];
    await vscode.focusWebview('.pair .pair-id');
    for (let i = 0; i < TURNS; i++) {
      turns.push(await nextPairMs(vscode));
      await vscode.page.waitForTimeout(200);
    }
    await vscode.screenshot('bench-editor');
    // Again with the extension already active and the file in the page cache: what a second file costs.
    // The active tab is the review editor: its close button.
    await vscode.page.locator('.tabs-container .tab.active .tab-actions .action-label').click();
    await vscode.page.waitForTimeout(1000);
    await vscode.quickOpen(DATASET);
    const t1 = await runCommandTimed(vscode, 'Preference Lens: Open Review');
    const firstRowsWarmMs = (await firstAppearance(vscode, '.row[data-index]', 120_000)) - t1;
    // Once more from the explorer's context menu, with no editor open: opening the file in the text
    // editor first (Quick Open above) makes the workbench load all of it, which delays the webview.
    await vscode.runCommand('View: Close All Editors');
    await vscode.page.waitForTimeout(1000);
    await vscode.page.locator('.explorer-folders-view .monaco-list-row', { hasText: DATASET }).click({ button: 'right' });
    const menuItem = vscode.page.locator('.context-view .action-item', { hasText: 'Open Review' });
    await menuItem.waitFor({ timeout: 10_000 });
    // VS Code's menus act on the item under the mouse and Enter (a plain click is not always taken).
    await menuItem.hover();
    const t2 = performance.now();
    await vscode.page.keyboard.press('Enter');
    const explorerHeaderMs = (await firstAppearance(vscode, '[data-testid="pair-count"]', 120_000)) - t2;
    const firstRowsFromExplorerMs = (await firstAppearance(vscode, '.row[data-index]', 120_000)) - t2;
    const [pairCountAtExplorerRows] = await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t.length > 0);
    console.log(`from the explorer: header ${Math.round(explorerHeaderMs)} ms, first rows ${Math.round(firstRowsFromExplorerMs)} ms, pair count then "${pairCountAtExplorerRows}"`);
    summary = {
      date: new Date().toISOString(),
      pairs: PAIRS,
      fileMb: Number(fileMb.toFixed(1)),
      headerMs: Math.round(headerMs),
      firstRowsMs: Math.round(firstRowsMs),
      firstRowsWarmMs: Math.round(firstRowsWarmMs),
      firstRowsFromExplorerMs: Math.round(firstRowsFromExplorerMs),
      pairCountAtExplorerRows: pairCountAtExplorerRows ?? '',
      allReadMs: allReadMs === null ? null : Math.round(allReadMs),
      pairCountAtFirstRows: pairCountAtFirstRows ?? '',
      frameMedianMs: Number(quantile(scroll.deltas, 0.5).toFixed(1)),
      frameP95Ms: Number(quantile(scroll.deltas, 0.95).toFixed(1)),
      frames: scroll.deltas.length,
      rowsWaitingPct: Number((100 * mean(scroll.waiting)).toFixed(1)),
      fastFrameMedianMs: Number(quantile(fast.deltas, 0.5).toFixed(1)),
      fastFrameP95Ms: Number(quantile(fast.deltas, 0.95).toFixed(1)),
      fastRowsWaitingPct: Number((100 * mean(fast.waiting)).toFixed(1)),
      nextPairMedianMs: Math.round(quantile(turns, 0.5)),
      nextPairMaxMs: Math.round(Math.max(...turns)),
      scrollHeightPx: scroll.scrollHeight,
      rowsInDom: scroll.rowsInDom,
    };
  } finally {
    await vscode.stop();
    if (!args.keep) rmSync(workspace, { recursive: true, force: true });
    else console.log(`kept ${dataset}`);
  }

  mkdirSync(RESULTS, { recursive: true });
  const previousFile = readdirSync(RESULTS).filter((f) => /^editor-.*\.json$/.test(f)).sort().at(-1);
  const previous = previousFile ? (JSON.parse(readFileSync(path.join(RESULTS, previousFile), 'utf8')) as Summary) : undefined;
  const table = Object.fromEntries(
    (Object.keys(summary) as (keyof Summary)[]).filter((k) => k !== 'date').map((k) => [k, { 'this run': summary[k], previous: previous?.[k] ?? '—' }]),
  );
  console.table(table);
  const out = path.join(RESULTS, `editor-${summary.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`saved ${path.relative(repoRoot, out)}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
