/**
 * The review editor at scale, in the real VS Code (code-server + headless Chromium, the e2e harness):
 *
 *   node --import tsx bench/editor.bench.ts [--pairs 100000] [--scroll-s 3] [--turns 5] [--keep]
 *
 * Generates a --pairs HH-RLHF file by repeating the lines of the shared helpful-base test split
 * (skips, exit 0, when that is absent), opens it in the review editor with scoring off
 * (`preferenceLens.scoreOnOpen: false`) and measures:
 *
 * - **first rows**: from running "Preference Lens: Open Review" (the command palette's Enter, its
 *   typing excluded) to the first `.pair` in the webview (polled every 25 ms), and to the header's
 *   pair count reaching --pairs (the whole file read, polled every 250 ms); the first time includes
 *   the extension's activation, so the review editor is closed and opened again for a warm figure;
 * - **scrolling**: inside the webview frame, a requestAnimationFrame loop records frame-to-frame
 *   deltas while the document scrolls by 120 px a frame (back to the top at the bottom) for
 *   --scroll-s seconds: median and 95th percentile;
 * - **page turn** (`]`): keydown dispatched in the webview to the first pair of the next page
 *   rendered, --turns times: median and max.
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
import { findVsix, launchVsCode, type VsCode } from '../test/e2e/harness';

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100000' },
    'scroll-s': { type: 'string', default: '3' },
    turns: { type: 'string', default: '5' },
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

/** Runs a command through the palette and returns performance.now() at its Enter. */
async function runCommandTimed(vscode: VsCode, title: string): Promise<number> {
  const { page } = vscode;
  await page.locator('.part.statusbar').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('F1');
  const quickInput = page.locator('.quick-input-widget');
  await quickInput.locator('input').fill(`>${title}`);
  await quickInput.locator('.monaco-list-row.focused', { has: page.locator('.label-name', { hasText: title }) }).waitFor({ timeout: 30_000 });
  const at = performance.now();
  await page.keyboard.press('Enter');
  return at;
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

const SCROLL_SCRIPT = (seconds: number) => `new Promise((resolve) => {
  const el = document.scrollingElement;
  const deltas = [];
  let last = performance.now();
  const end = last + ${seconds * 1000};
  el.scrollTop = 0;
  const step = (now) => {
    deltas.push(now - last);
    last = now;
    const max = el.scrollHeight - el.clientHeight;
    el.scrollTop = el.scrollTop + 120 >= max ? 0 : el.scrollTop + 120;
    if (now < end) requestAnimationFrame(step);
    else resolve({ deltas: deltas.slice(1), scrollHeight: el.scrollHeight, pairs: document.querySelectorAll('.pair').length });
  };
  requestAnimationFrame((now) => { last = now; requestAnimationFrame(step); });
})`;

const TURN_SCRIPT = `new Promise((resolve, reject) => {
  const first = () => document.querySelector('.pair')?.getAttribute('data-index');
  const before = first();
  const t0 = performance.now();
  document.dispatchEvent(new KeyboardEvent('keydown', { key: ']', bubbles: true }));
  const poll = () => {
    const now = first();
    if (now !== undefined && now !== null && now !== before) resolve({ ms: performance.now() - t0, from: before, to: now });
    else if (performance.now() - t0 > 30000) reject(new Error('page did not turn'));
    else requestAnimationFrame(poll);
  };
  poll();
})`;

interface Summary {
  date: string;
  pairs: number;
  fileMb: number;
  firstRowsMs: number;
  /** The same, a second time: extension active, file cached. */
  firstRowsWarmMs: number;
  allReadMs: number | null;
  /** The header's pair count when the first rows were seen: "N…" while the file is still read. */
  pairCountAtFirstRows: string;
  frameMedianMs: number;
  frameP95Ms: number;
  frames: number;
  pageTurnMedianMs: number;
  pageTurnMaxMs: number;
  scrollHeightPx: number;
  pairsInDom: number;
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
    const firstRowsMs = (await firstAppearance(vscode, '.pair', 120_000)) - t0;
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
    const scroll = await vscode.evalInWebview<{ deltas: number[]; scrollHeight: number; pairs: number }>('.pair', SCROLL_SCRIPT(SCROLL_S));
    const turns: number[] = [];
    await vscode.focusWebview('.pair .pair-id');
    for (let i = 0; i < TURNS; i++) {
      const turn = await vscode.evalInWebview<{ ms: number; from: string; to: string }>('.pair', TURN_SCRIPT);
      turns.push(turn.ms);
      await vscode.page.waitForTimeout(200);
    }
    await vscode.screenshot('bench-editor');
    // Again with the extension already active and the file in the page cache: what a second file costs.
    // The active tab is the review editor: its close button.
    await vscode.page.locator('.tabs-container .tab.active .tab-actions .action-label').click();
    await vscode.page.waitForTimeout(1000);
    await vscode.quickOpen(DATASET);
    const t1 = await runCommandTimed(vscode, 'Preference Lens: Open Review');
    const firstRowsWarmMs = (await firstAppearance(vscode, '.pair', 120_000)) - t1;
    summary = {
      date: new Date().toISOString(),
      pairs: PAIRS,
      fileMb: Number(fileMb.toFixed(1)),
      firstRowsMs: Math.round(firstRowsMs),
      firstRowsWarmMs: Math.round(firstRowsWarmMs),
      allReadMs: allReadMs === null ? null : Math.round(allReadMs),
      pairCountAtFirstRows: pairCountAtFirstRows ?? '',
      frameMedianMs: Number(quantile(scroll.deltas, 0.5).toFixed(1)),
      frameP95Ms: Number(quantile(scroll.deltas, 0.95).toFixed(1)),
      frames: scroll.deltas.length,
      pageTurnMedianMs: Math.round(quantile(turns, 0.5)),
      pageTurnMaxMs: Math.round(Math.max(...turns)),
      scrollHeightPx: scroll.scrollHeight,
      pairsInDom: scroll.pairs,
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
