/**
 * Keystrokes and seconds to review the first 50 disagreements of the HH-RLHF helpful-base test split
 * with a scripted reviewer, in the review editor and, for scale (not as a target), with the file
 * open in VS Code's plain text editor (issue 5, "Measure"):
 *
 *   npm run build && npm run package && npm run bench:review -- [--pairs 50] [--arm both|review|text] [--quiet-ms 0] [--trace] [--keep]
 *
 * The disagreements are `plens review <copy> --model dist/models/baseline --top 50` (the bundled
 * baseline, the editor's default model), in review-queue order: most confident first. The reviewer's
 * decisions are scripted and the same in both arms: at queue position i (from 0), even i → fix the
 * label (adopt the model's preference), odd i → keep the file's label. Every key goes through the
 * real VS Code (code-server + headless Chromium, the e2e harness) by `page.keyboard`, as a user's
 * would. A key counts 1, a chord (Ctrl+G) counts 1, a typed string of n characters counts n.
 *
 * **Review editor.** Quick Open of the copy, "Preference Lens: Open Review", then wait until the
 * header's `scored-count` equals its `pair-count` (reported apart, as "open → scored"). A click in the
 * webview body's top-left corner gives the webview the focus (a mouse action, not counted). Timing
 * starts at the first review key: `q` (review queue: disagreements by confidence), then per pair `a`
 * (accept the model's preference) or `h` (keep the label, mark reviewed), then Ctrl+S. After each key
 * the reviewer looks at the result before going on: it waits until the header's `reviewed-count` has
 * gone up by one, the pair view shows another pair, and the webview has been still (no DOM change,
 * no message from the extension) for --quiet-ms (default 0: keys go on as soon as the next pair is
 * up). The paged webview this was first written against needed 200 ms of stillness, or a key
 * pressed before its page caught up landed on the wrong pair (see README); the list tracks the
 * focused pair by index now, and `--quiet-ms 0 --trace` shows keys acting on the pair on screen. Timing stops when the sidecar
 * `<file>.plens-annotations.jsonl` on disk holds the 50 reviews. "Seconds less stillness waits" takes
 * out the --quiet-ms windows (as observed); "key → last change" is from a key to the webview's last
 * change after it. Verified: 50 pairs reviewed, the 25 even-position pairs labelled with the model's
 * preference, the 25 others carrying no label, nothing else annotated, the dataset byte-identical.
 *
 * **Text editor.** A fresh copy opened by Quick Open in the plain text editor; the reviewer has the 50
 * line numbers as a printed list (not counted). Per pair: Ctrl+G, the line number, Enter (go to line,
 * cursor at column 1). "Keep": nothing more. "Fix" swaps the two keys of the record
 * `{"chosen": "…", "rejected": "…"}`, which is the same as swapping the two responses:
 *
 *   →, →, Ctrl+Shift+→   select the word `chosen` (after `{"`)                            3 keys
 *   rejected              type over it                                                     8 keys
 *   Ctrl+F, rejected"     find the old key: the next `rejected"` after the cursor          10 keys
 *                         (inside a JSON string every quote is escaped, so `d"` with no
 *                         backslash between ends a key or a value; checked: once per line)
 *   Escape, Shift+←       close Find, the match stays selected; drop its quote             2 keys
 *   chosen                type over the word                                                6 keys
 *
 * 29 keys per fix, then Ctrl+S once. Each step waits for the UI (status bar "Ln N, Col C
 * (k selected)", the find widget or the quick input open or closed). Timing runs from the first
 * Ctrl+G to the saved file on disk. Verified: exactly the 25 fixed lines changed, each is JSON with
 * chosen and rejected swapped against the original; every other line byte-identical.
 *
 * Skips (exit 0) when ../shared is absent. Installs PLENS_VSIX or the single *.vsix in the repo root.
 * Prints both arms side by side with the previous saved run; saves JSON in bench/results/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Frame, Page } from 'playwright-core';
import { repoRoot } from '../test/e2e/codeServer';
import { findVsix, launchVsCode, type VsCode, runCommandTimed } from '../test/e2e/harness';
import { foldSidecar } from '../test/e2e/sidecar';

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '50' },
    arm: { type: 'string', default: 'both' },
    'quiet-ms': { type: 'string', default: '0' },
    trace: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const PAIRS = Number(args.pairs);
const QUIET_MS = Number(args['quiet-ms']);
const ARM = args.arm as 'both' | 'review' | 'text';
assert.ok(Number.isInteger(PAIRS) && PAIRS > 0, '--pairs: a positive integer');
assert.ok(['both', 'review', 'text'].includes(ARM), '--arm: both, review or text');
const SOURCE = path.resolve(repoRoot, '../shared/data/hh-rlhf-helpful-base-test/test.jsonl');
const RESULTS = path.join(__dirname, 'results');
const REVIEW_FILE = 'hh-review.jsonl';
const TEXT_FILE = 'hh-text.jsonl';
const SIDECAR = `${REVIEW_FILE}.plens-annotations.jsonl`;
const ANNOTATOR = 'bench-review';
/** Scoring 2354 pairs on a busy 2-core machine; generous on purpose. */
const SCORING_TIMEOUT_MS = 30 * 60_000;
/** How long one key may take to show its result before the run fails. */
const STEP_TIMEOUT_MS = 30_000;

interface Disagreement {
  line: number;
  margin: number;
  prefers: 'a' | 'b' | 'tie' | null;
  label: 'a' | 'b' | 'tie' | null;
}

interface ArmResult {
  keystrokes: number;
  keystrokesPerPair: number;
  seconds: number;
  secondsPerPair: number;
}

interface Summary {
  date: string;
  pairs: number;
  review: (ArmResult & { openToScoredS: number; pairsInFile: number; quietMs: number; secondsLessStillness: number; keyMedianMs: number; keyMaxMs: number; keyMaxPair: number }) | null;
  text: (ArmResult & { fixes: number; keeps: number; stepSeconds: Record<string, number> }) | null;
  /** What did not go as scripted but did not fail the run. */
  notes: string[];
}

/** Counts what the scripted reviewer presses: a key or chord 1, a typed string its length. */
class CountingKeyboard {
  count = 0;
  constructor(private readonly page: Page) {}
  async press(key: string): Promise<void> {
    this.count += 1;
    await this.page.keyboard.press(key);
  }
  async type(text: string): Promise<void> {
    this.count += [...text].length;
    await this.page.keyboard.type(text);
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};
const decision = (i: number): 'fix' | 'keep' => (i % 2 === 0 ? 'fix' : 'keep');

/** The first `pairs` disagreements in review-queue order, from the CLI with the bundled baseline. */
function firstDisagreements(dataset: string, pairs: number): Disagreement[] {
  const cli = path.join(repoRoot, 'dist/cli.js');
  assert.ok(existsSync(cli), `${cli} is missing: run \`npm run build\` first`);
  const stdout = execFileSync(
    process.execPath,
    [cli, 'review', dataset, '--model', path.join(repoRoot, 'dist/models/baseline'), '--top', String(pairs), '--no-cache'],
    { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const report = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as { top_disagreements: Disagreement[] };
  const top = report.top_disagreements;
  assert.equal(top.length, pairs, `the CLI lists ${top.length} disagreements, not ${pairs}`);
  for (const d of top) assert.ok((d.prefers === 'a' || d.prefers === 'b') && d.label !== d.prefers, `line ${d.line} is not a disagreement: ${JSON.stringify(d)}`);
  return top;
}

// ---------------------------------------------------------------------------- arm 1: the review editor

/**
 * Which pair the reviewer is on: the pair view's heading ("#14 · line 14"; '' while none is shown).
 * `line` is the "line N" it shows, for the notes.
 */
const FOCUSED = `(() => {
  const text = document.querySelector('[data-testid="pair-view"] .pair-id')?.textContent ?? '';
  const m = /line (\\d+)/.exec(text);
  return { text, line: m ? Number(m[1]) : null };
})()`;
const REVIEWED = `Number(document.querySelector('[data-testid="reviewed-count"]')?.textContent?.trim())`;
/**
 * Installed in the webview (by the DevTools protocol, so its CSP does not apply): the time of the
 * last DOM change or message from the extension, and the messages' types, for the stillness wait
 * and --trace.
 */
const WATCH = `(() => {
  if (window.__plensBench) return;
  const w = (window.__plensBench = { last: performance.now(), messages: [] });
  new MutationObserver(() => { w.last = performance.now(); }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  window.addEventListener('message', (e) => { w.last = performance.now(); w.messages.push(Math.round(performance.now()) + ' ' + (e.data && e.data.type)); }, true);
})()`;
const TAKE_MESSAGES = `(() => { const m = window.__plensBench.messages; window.__plensBench.messages = []; return m; })()`;
/**
 * The wait after a key, as a waitForFunction predicate: `reviewed` shown, the focus on a pair other
 * than `from`, and the webview still (no DOM change, no message) for `quietMs`. Returns how long it
 * has been still. A function, not a string: a string predicate is compiled in the page, which the
 * webview's CSP (no unsafe-eval) refuses; no named inner functions (tsx's keepNames, see harness.ts).
 */
const settled = ([reviewed, from, quietMs]: readonly [number, string, number]): number | false => {
  const text = document.querySelector('[data-testid="pair-view"] .pair-id')?.textContent ?? '';
  const count = Number(document.querySelector('[data-testid="reviewed-count"]')?.textContent?.trim());
  // window.performance: the bare name is this module's import from node:perf_hooks once compiled.
  const still = window.performance.now() - (window as unknown as { __plensBench: { last: number } }).__plensBench.last;
  return count === reviewed && text !== '' && text !== from && still >= quietMs ? still : false;
};

async function reviewArm(vscode: VsCode, workspace: string, queue: Disagreement[], notes: string[]): Promise<NonNullable<Summary['review']>> {
  const { page } = vscode;
  const dataset = path.join(workspace, REVIEW_FILE);
  const before = readFileSync(dataset);
  await vscode.quickOpen(REVIEW_FILE);
  const opened = await runCommandTimed(vscode, 'Preference Lens: Open Review');
  const [pairCount] = await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => /^\d+$/.test(t[0] ?? ''), { timeoutMs: 5 * 60_000 });
  const scoring = { timeoutMs: SCORING_TIMEOUT_MS, failOn: '[role="alert"]' };
  await vscode.waitForWebviewTexts('[data-testid="scored-count"]', (t) => t[0] === pairCount, scoring);
  const openToScoredS = (performance.now() - opened) / 1000;
  console.log(`review editor: ${pairCount} pairs scored ${openToScoredS.toFixed(1)} s after Open Review`);

  const frame: Frame = await vscode.webviewFrame('[data-testid="reviewed-count"]');
  assert.equal(await frame.evaluate(REVIEWED), 0, 'nothing reviewed before the review starts');
  // Focus into the webview: a click in the body's top-left corner (margin, nothing there to act on),
  // not counted as a keystroke; the webview's own keys must then reach its document.
  const FOCUS_STATE = `({ hasFocus: document.hasFocus(), active: (document.activeElement?.tagName ?? '') + (document.activeElement?.getAttribute('data-testid') ? '[' + document.activeElement.getAttribute('data-testid') + ']' : '') })`;
  console.log(`review editor: webview focus before the click: ${JSON.stringify(await frame.evaluate(FOCUS_STATE))}`);
  await frame.locator('body').click({ position: { x: 3, y: 3 } });
  // The review keys are VS Code keybindings, on once the extension heard of the focus (the body says so).
  await frame.locator('body[data-review-keys="on"]').waitFor({ timeout: 10_000 });
  const focusState = (await frame.evaluate(FOCUS_STATE)) as { hasFocus: boolean; active: string };
  console.log(`review editor: webview focus after the click: ${JSON.stringify(focusState)}`);
  assert.ok(focusState.hasFocus && !/^(INPUT|SELECT|TEXTAREA)/.test(focusState.active), `the click did not leave the focus in the webview's document: ${JSON.stringify(focusState)}`);

  await frame.evaluate(WATCH);

  const keyboard = new CountingKeyboard(page);
  /** Waits for the key's result (see `settled`); returns the pair focused then and how long the webview had been still. */
  const settle = async (reviewed: number, from: string, what: string) => {
    let still: number;
    try {
      const handle = await frame.waitForFunction(settled, [reviewed, from, QUIET_MS] as const, { polling: 'raf', timeout: STEP_TIMEOUT_MS });
      still = (await handle.jsonValue()) as number;
    } catch (error) {
      const [count, focused, focusState] = await Promise.all([
        frame.evaluate(REVIEWED),
        frame.evaluate(FOCUSED) as Promise<{ text: string; line: number | null }>,
        frame.evaluate(FOCUS_STATE),
      ]);
      throw new Error(
        `${what}: reviewed-count is ${count} (want ${reviewed}), focus on line ${focused.line}${focused.text === from ? ' (unchanged)' : ''}, webview ${JSON.stringify(focusState)}: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    const focused = (await frame.evaluate(FOCUSED)) as { text: string; line: number | null };
    if (args.trace) console.log(`trace: ${what} → focus on line ${focused.line}; webview got ${((await frame.evaluate(TAKE_MESSAGES)) as string[]).join(', ')}`);
    return { focused, still };
  };

  const started = performance.now();
  let focused = (await frame.evaluate(FOCUSED)) as { text: string; line: number | null };
  let stillTotal = 0;
  if (args.trace) await frame.evaluate(TAKE_MESSAGES);
  await keyboard.press('q');
  ({ focused, still: stillTotal } = await settle(0, focused.text, 'q (review queue)'));
  /** From each key to the webview's last change after it (the stillness wait left out). */
  const keyMs: number[] = [];
  for (let i = 0; i < queue.length; i++) {
    const want = queue[i]!;
    if (focused.line !== null && focused.line !== want.line) {
      notes.push(`review editor: before key ${i + 1} the focus was on line ${focused.line}, the queue's pair ${i + 1} is line ${want.line}`);
      console.log(`note: ${notes.at(-1)}`);
    }
    const t = performance.now();
    await keyboard.press(decision(i) === 'fix' ? 'a' : 'h');
    const result = await settle(i + 1, focused.text, `pair ${i + 1} (line ${want.line}, ${decision(i) === 'fix' ? 'a' : 'h'})`);
    keyMs.push(performance.now() - t - result.still);
    stillTotal += result.still;
    focused = result.focused;
  }
  await keyboard.press('Control+s');
  const sidecar = path.join(workspace, SIDECAR);
  const deadline = performance.now() + 60_000;
  let folded: ReturnType<typeof foldSidecar> | undefined;
  for (;;) {
    if (existsSync(sidecar)) {
      try {
        folded = foldSidecar(sidecar);
        if ([...folded.annotations.values()].filter((a) => a.reviewed === true).length === queue.length) break;
      } catch {
        // Read mid-write: try again.
      }
    }
    assert.ok(performance.now() < deadline, `Ctrl+S: ${SIDECAR} did not get ${queue.length} reviews within 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;

  // ---- verify: per queue position, what the sidecar says against the script
  const wrong: string[] = [];
  queue.forEach((d, i) => {
    const want = decision(i) === 'fix' ? { label: d.prefers, reviewed: true } : { reviewed: true };
    const got = folded.annotations.get(d.line);
    if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`#${i + 1} line ${d.line} (${decision(i)}): ${JSON.stringify(got ?? null)}`);
  });
  const inQueue = new Set(queue.map((d) => d.line));
  for (const [line, annotation] of folded.annotations) if (!inQueue.has(line)) wrong.push(`line ${line}, not in the queue: ${JSON.stringify(annotation)}`);
  assert.equal(wrong.length, 0, `review editor: the sidecar is not the scripted review:\n  ${wrong.join('\n  ')}`);
  assert.equal([...folded.annotations.values()].filter((a) => a.label !== undefined).length, Math.ceil(queue.length / 2));
  assert.ok(readFileSync(dataset).equals(before), 'review editor: the dataset must stay byte-identical');
  console.log(`review editor: verified — ${queue.length} reviewed, ${Math.ceil(queue.length / 2)} relabelled to the model's preference, dataset unchanged`);
  return {
    keystrokes: keyboard.count,
    keystrokesPerPair: round(keyboard.count / queue.length, 2),
    seconds: round(seconds, 1),
    secondsPerPair: round(seconds / queue.length, 2),
    openToScoredS: round(openToScoredS, 1),
    quietMs: QUIET_MS,
    pairsInFile: Number(pairCount),
    secondsLessStillness: round(seconds - stillTotal / 1000, 1),
    keyMedianMs: Math.round(median(keyMs)),
    keyMaxMs: Math.round(Math.max(...keyMs)),
    keyMaxPair: keyMs.indexOf(Math.max(...keyMs)) + 1,
  };
}

// ---------------------------------------------------------------------------- arm 2: the text editor

async function textArm(vscode: VsCode, workspace: string, queue: Disagreement[]): Promise<NonNullable<Summary['text']>> {
  const { page } = vscode;
  const dataset = path.join(workspace, TEXT_FILE);
  const before = readFileSync(dataset, 'utf8');
  // The method's premise, on the lines it edits: the record starts with the key "chosen", and
  // `rejected"` (the Find target) occurs once, as the other key.
  for (const [i, { line }] of queue.entries()) {
    if (decision(i) !== 'fix') continue;
    const text = before.split('\n')[line - 1]!;
    assert.ok(text.startsWith('{"chosen": ') && text.split('rejected"').length === 2, `text editor: line ${line} does not fit the keyboard method (see the header)`);
  }
  await vscode.quickOpen(TEXT_FILE);
  const editorFocused = `!!document.activeElement?.closest('.monaco-editor') && !document.activeElement?.closest('.find-widget')`;
  await page.waitForFunction(editorFocused, undefined, { timeout: STEP_TIMEOUT_MS });
  // Let the editor settle (tokenization, the language's status bar items) before the clock starts.
  await page.waitForTimeout(1000);

  const STATUS = `(document.querySelector('.part.statusbar')?.innerText ?? '')`;
  const status = () => page.evaluate(STATUS) as Promise<string>;
  const waitFor = async (what: string, condition: string) => {
    try {
      await page.waitForFunction(condition, undefined, { polling: 'raf', timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new Error(`text editor: ${what} not seen in ${STEP_TIMEOUT_MS} ms; status bar: ${(await status()).replace(/\s+/g, ' ')}`);
    }
  };
  /** Waits for the status bar's cursor item to match `pattern` (a RegExp source) with the editor focused. */
  const cursorIs = (what: string, pattern: string) => waitFor(what, `${editorFocused} && new RegExp(${JSON.stringify(pattern)}).test(${STATUS})`);
  const cursorCol = async () => Number(/Ln \d+, Col (\d+)/.exec(await status())?.[1]);
  const quickInputFocused = `!!document.activeElement?.closest('.quick-input-widget')`;
  const findFocused = `!!document.activeElement?.closest('.find-widget')`;

  const keyboard = new CountingKeyboard(page);
  /** Seconds spent per kind of step, summed over the pairs: where the time goes. */
  const steps: Record<string, number> = { 'go to line': 0, 'chosen → rejected': 0, 'find the old key': 0, 'rejected → chosen': 0, save: 0 };
  let lapAt = performance.now();
  const lap = (step: string) => {
    const now = performance.now();
    steps[step]! += (now - lapAt) / 1000;
    lapAt = now;
  };
  const started = performance.now();
  lapAt = started;
  for (let i = 0; i < queue.length; i++) {
    const { line } = queue[i]!;
    await keyboard.press('Control+g');
    await waitFor(`line ${line}: the Go to Line box`, quickInputFocused);
    await keyboard.type(String(line));
    await keyboard.press('Enter');
    await cursorIs(`line ${line}: the cursor at its start`, `Ln ${line}, Col 1(?!\\d)(?! \\()`);
    lap('go to line');
    if (decision(i) === 'keep') continue;
    // `{"chosen"` → `{"rejected"`
    await keyboard.press('ArrowRight');
    await keyboard.press('ArrowRight');
    await keyboard.press('Control+Shift+ArrowRight');
    await cursorIs(`line ${line}: "chosen" selected`, `Ln ${line}, Col 9 \\(6 selected\\)`);
    await keyboard.type('rejected');
    await cursorIs(`line ${line}: "rejected" typed`, `Ln ${line}, Col 11(?!\\d)(?! \\()`);
    lap('chosen → rejected');
    // the old `"rejected"` → `"chosen"`
    await keyboard.press('Control+f');
    await waitFor(`line ${line}: the find widget`, findFocused);
    await keyboard.type('rejected"');
    await waitFor(`line ${line}: the old key found`, `${findFocused} && new RegExp(${JSON.stringify(`Ln ${line}, Col \\d+ \\(9 selected\\)`)}).test(${STATUS})`);
    await keyboard.press('Escape');
    await cursorIs(`line ${line}: find closed, the match selected`, `Ln ${line}, Col \\d+ \\(9 selected\\)`);
    lap('find the old key');
    await keyboard.press('Shift+ArrowLeft');
    await cursorIs(`line ${line}: the key's quote left out`, `Ln ${line}, Col \\d+ \\(8 selected\\)`);
    const end = await cursorCol();
    await keyboard.type('chosen');
    await cursorIs(`line ${line}: "chosen" typed`, `Ln ${line}, Col ${end - 2}(?!\\d)(?! \\()`);
    lap('rejected → chosen');
  }
  await keyboard.press('Control+s');
  const deadline = performance.now() + 60_000;
  while (readFileSync(dataset, 'utf8') === before || (await vscode.tabIsDirty(TEXT_FILE))) {
    assert.ok(performance.now() < deadline, 'text editor: Ctrl+S did not save within 60 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  lap('save');

  // ---- verify on disk
  const after = readFileSync(dataset, 'utf8');
  const beforeLines = before.split('\n');
  const afterLines = after.split('\n');
  assert.equal(afterLines.length, beforeLines.length, 'text editor: the number of lines changed');
  const fixed = new Set(queue.filter((_, i) => decision(i) === 'fix').map((d) => d.line));
  const changed = beforeLines.flatMap((l, k) => (l === afterLines[k] ? [] : [k + 1]));
  assert.deepEqual(changed, [...fixed].sort((a, b) => a - b), 'text editor: exactly the fixed lines must change');
  for (const line of fixed) {
    const was = JSON.parse(beforeLines[line - 1]!) as Record<string, unknown>;
    const is = JSON.parse(afterLines[line - 1]!) as Record<string, unknown>;
    assert.deepEqual(is, { chosen: was.rejected, rejected: was.chosen }, `text editor: line ${line} is not the record with chosen and rejected swapped`);
  }
  console.log(`text editor: verified — ${fixed.size} lines swapped, every other line byte-identical`);
  return {
    keystrokes: keyboard.count,
    keystrokesPerPair: round(keyboard.count / queue.length, 2),
    seconds: round(seconds, 1),
    secondsPerPair: round(seconds / queue.length, 2),
    fixes: fixed.size,
    keeps: queue.length - fixed.size,
    stepSeconds: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, round(v, 1)])),
  };
}

// ---------------------------------------------------------------------------- main

function report(summary: Summary, previous: { review?: Summary; text?: Summary }): void {
  const cell = (arm: 'review' | 'text', run: Summary | undefined, key: string) => {
    const value = (run?.[arm] as Record<string, unknown> | null | undefined)?.[key];
    return value === undefined ? '—' : value;
  };
  const rows: [string, string][] = [
    ['keystrokes', 'keystrokes'],
    ['keystrokes / pair', 'keystrokesPerPair'],
    ['seconds', 'seconds'],
    ['seconds / pair', 'secondsPerPair'],
    ['seconds less stillness waits', 'secondsLessStillness'],
    ['open → scored (s, not in seconds)', 'openToScoredS'],
    ['key → last change, median (ms)', 'keyMedianMs'],
    ['key → last change, max (ms)', 'keyMaxMs'],
    ['… at pair', 'keyMaxPair'],
  ];
  const table = Object.fromEntries(
    rows.map(([label, key]) => [
      label,
      {
        'review editor': cell('review', summary, key),
        'text editor': cell('text', summary, key),
        'review (previous)': cell('review', previous.review, key),
        'text (previous)': cell('text', previous.text, key),
      },
    ]),
  );
  console.log(
    `first ${summary.pairs} disagreements of the HH-RLHF helpful-base test split; previous runs: review editor ${previous.review?.date ?? 'none'}, text editor ${previous.text?.date ?? 'none'}`,
  );
  console.table(table);
}

async function main(): Promise<void> {
  if (!existsSync(SOURCE)) {
    console.log(`SKIPPED: ${SOURCE} is absent, so there is no HH-RLHF test split to review`);
    return;
  }
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-bench-keystrokes-'));
  copyFileSync(SOURCE, path.join(workspace, REVIEW_FILE));
  copyFileSync(SOURCE, path.join(workspace, TEXT_FILE));
  const wall = performance.now();
  // Before VS Code starts, so the two scorers do not compete for the CPUs.
  const queue = firstDisagreements(path.join(workspace, REVIEW_FILE), PAIRS);
  console.log(`the reviewer's list (queue order, * = fix the label, else keep):\n  ${queue.map((d, i) => `${d.line}${decision(i) === 'fix' ? '*' : ''}`).join(' ')}`);
  const summary: Summary = { date: new Date().toISOString(), pairs: PAIRS, review: null, text: null, notes: [] };
  const vscode = await launchVsCode({
    workspace,
    vsix: findVsix(),
    name: 'bench-review-keystrokes',
    settings: { 'preferenceLens.scoreOnOpen': true, 'preferenceLens.annotator': ANNOTATOR, 'files.autoSave': 'off' },
  });
  try {
    if (ARM !== 'text') {
      summary.review = await reviewArm(vscode, workspace, queue, summary.notes);
      await vscode.runCommand('View: Close All Editors');
    }
    if (ARM !== 'review') summary.text = await textArm(vscode, workspace, queue);
  } catch (error) {
    await vscode.screenshot('bench-review-keystrokes-failure').catch(() => undefined);
    throw error;
  } finally {
    await vscode.stop();
    if (!args.keep) rmSync(workspace, { recursive: true, force: true });
    else console.log(`kept ${workspace}`);
  }

  mkdirSync(RESULTS, { recursive: true });
  // The latest saved run of each arm with the same number of pairs (a one-arm run saves one arm).
  const saved = readdirSync(RESULTS)
    .filter((f) => /^review-keystrokes-.*\.json$/.test(f))
    .sort()
    .reverse()
    .map((f) => JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')) as Summary)
    .filter((run) => run.pairs === PAIRS);
  const previous = { review: saved.find((run) => run.review), text: saved.find((run) => run.text) };
  report(summary, previous);
  if (summary.text) console.log(`text editor, seconds by step: ${JSON.stringify(summary.text.stepSeconds)}`);
  for (const note of summary.notes) console.log(`note: ${note}`);
  console.log(`whole run: ${((performance.now() - wall) / 1000).toFixed(0)} s`);
  const out = path.join(RESULTS, `review-keystrokes-${summary.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`saved ${path.relative(repoRoot, out)}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
