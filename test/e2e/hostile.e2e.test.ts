/**
 * Hostile text is inert, in a real VS Code (issue 6 item 1). An HH-RLHF file whose prompts and
 * responses are the payloads of test/fixtures/hostile/payloads.json (script tags, event handlers,
 * javascript: links, SVG, CSS injection, markdown tricks, bidi / zero-width / NUL characters) plus
 * one 10 MB string is opened in the review editor. Every script payload would set a marker (frame
 * title or name `PWNED-<id>`, a `PWNED-<id>` postMessage to its parent and top) and every payload
 * would request `<recorder>/<id>` from a tiny HTTP server this test runs on 127.0.0.1. The test
 * pages through the whole file and asserts: no marker set, no request received, no element made
 * from dataset text (and no CSP violation naming the recorder, i.e. nothing even tried to load),
 * every payload visible as text, and the UI still works (pages turn, a pair can be labelled).
 * It also reads the live webview's CSP and checks that inline script, inline handlers and string timers (eval) are really refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode, type VsCode } from './harness';

const PAYLOADS = JSON.parse(readFileSync(path.join(repoRoot, 'test/fixtures/hostile/payloads.json'), 'utf8')) as { id: string; text: string }[];
const GIANT_BYTES = 10 * 1024 * 1024;

/** Records every request; answers 204 so an image or stylesheet that did load would be harmless. */
async function startRecorder(): Promise<{ origin: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(204, { 'access-control-allow-origin': '*' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

interface Built {
  jsonl: string;
  /** Payload text (placeholders filled) expected on each pair, by pair index. */
  expected: Map<number, string>;
  pairs: number;
  giantIndex: number;
  giantLength: number;
}

/**
 * Each payload twice: once in the human turn (so it is the prompt), once only in the responses.
 * The last pair's chosen response is 10 MB of script-tag payloads.
 */
function buildDataset(origin: string): Built {
  const lines: string[] = [];
  const expected = new Map<number, string>();
  const fill = (text: string, id: string) => text.replaceAll('ORIGIN', origin).replaceAll('ID', id);
  for (const { id, text } of PAYLOADS) {
    const inPrompt = fill(text, `${id}-prompt`);
    expected.set(lines.length, inPrompt);
    lines.push(JSON.stringify({ chosen: `\n\nHuman: ${inPrompt}\n\nAssistant: I will not run that.`, rejected: `\n\nHuman: ${inPrompt}\n\nAssistant: OK.` }));
    const inResponse = fill(text, `${id}-response`);
    expected.set(lines.length, inResponse);
    lines.push(JSON.stringify({ chosen: `\n\nHuman: Show me ${id}.\n\nAssistant: ${inResponse}`, rejected: `\n\nHuman: Show me ${id}.\n\nAssistant: ${inResponse} (worse)` }));
  }
  const unit = fill(`<script>document.title='PWNED-ID';fetch('ORIGIN/ID')</script><img src=x onerror="fetch('ORIGIN/ID')">`, 'giant');
  const giant = unit.repeat(Math.ceil(GIANT_BYTES / unit.length));
  const giantIndex = lines.length;
  lines.push(JSON.stringify({ chosen: `\n\nHuman: A very long answer, please.\n\nAssistant: ${giant}`, rejected: `\n\nHuman: A very long answer, please.\n\nAssistant: No.` }));
  return { jsonl: lines.join('\n') + '\n', expected, pairs: lines.length, giantIndex, giantLength: giant.length };
}

/**
 * Runs in every frame before its own scripts. Script payloads post the plain string `PWNED-<id>`;
 * VS Code's own messages are objects (and do carry payload text as data), so only strings count.
 */
const INIT_SCRIPT = `(() => {
  window.__plensMarkers = [];
  window.__plensCsp = [];
  window.addEventListener('message', (e) => {
    if (typeof e.data === 'string' && e.data.includes('PWNED')) window.__plensMarkers.push('message ' + e.data);
  }, true);
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__plensCsp.push(e.violatedDirective + ' ' + e.blockedURI);
  }, true);
})();`;

interface FrameReport {
  url: string;
  title: string;
  name: string;
  markers: string[];
  csp: string[];
}

/** Markers and CSP violations from every frame; frames that vanish mid-read are skipped. */
async function frameReports(vscode: VsCode): Promise<FrameReport[]> {
  const reports: FrameReport[] = [];
  for (const frame of vscode.page.frames()) {
    const report = await frame
      .evaluate(`({ title: document.title, name: window.name, markers: window.__plensMarkers || [], csp: window.__plensCsp || [] })`)
      .catch(() => undefined);
    if (report) reports.push({ url: frame.url().slice(0, 120), ...(report as Omit<FrameReport, 'url'>) });
  }
  return reports;
}

/**
 * What the review shows now: the pair view's position ("3 of 40 shown"), the pair it shows and its
 * text, and — over the pair view and the list rows, whose previews are dataset text too — elements
 * that only dataset-made markup could have produced, and any attribute named on*.
 */
interface PageCensus {
  position: string;
  rows: { index: number; text: string }[];
  /** Texts of the list rows in the DOM. */
  listTexts: string[];
  foreignElements: string[];
  handlerAttributes: string[];
  scripts: number;
  longestText: number;
  /** Messages rendered as markdown on the page (0 in raw mode). */
  markdown: number;
}
const CENSUS_SCRIPT = `(() => {
  const app = document.getElementById('app');
  const foreign = 'script, img, iframe, object, embed, video, audio, source, form, input, base, meta, link, style, a, math, noscript, marquee, body body, svg script, svg a, svg animate';
  return {
    position: document.querySelector('[data-testid="position"]')?.textContent ?? '',
    rows: [...document.querySelectorAll('.pair')].map((card) => ({ index: Number(card.getAttribute('data-index')), text: card.textContent })),
    listTexts: [...document.querySelectorAll('.row[data-index]')].map((row) => row.textContent),
    // Dataset text lives in the pair view and the list; the toolbar's own inputs are not from the data.
    foreignElements: [...app.querySelectorAll('.pair, .row')].flatMap((card) => [...card.querySelectorAll(foreign)]).map((e) => e.outerHTML.slice(0, 120)),
    handlerAttributes: [...document.querySelectorAll('*')].flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => e.tagName + ' ' + a.name)),
    scripts: document.querySelectorAll('script').length,
    longestText: Math.max(0, ...[...document.querySelectorAll('.text')].map((p) => p.textContent.length)),
    markdown: document.querySelectorAll('.text.markdown').length,
  };
})()`;

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function census(vscode: VsCode): Promise<PageCensus> {
  return vscode.evalInWebview<PageCensus>('.pair', CENSUS_SCRIPT);
}

/** Waits until the pair view shows the pair at list position `position` (1-based) of `total`. */
async function waitForPosition(vscode: VsCode, position: number, total: number, timeoutMs = 120_000): Promise<PageCensus> {
  const want = `${position} of ${total} shown`;
  const deadline = Date.now() + timeoutMs;
  let last: PageCensus | undefined;
  for (;;) {
    last = await census(vscode).catch(() => undefined);
    if (last?.position === want && last.rows.length === 1) return last;
    if (Date.now() > deadline) throw new Error(`the pair view never showed "${want}"; last: "${last?.position}"`);
    await vscode.page.waitForTimeout(50);
  }
}

/** Chromium's text of an element: `textContent` keeps NUL and control characters as they are. */
/** What must hold in both text modes: nothing from the data became an active element. */
function checkInert(page: PageCensus): void {
  assert.deepEqual(page.foreignElements, [], 'dataset text became elements');
  assert.deepEqual(page.handlerAttributes, [], 'an on* attribute exists in the webview');
  // Ours plus the acquireVsCodeApi script VS Code injects into every webview; never more.
  assert.ok(page.scripts <= 2, `the webview holds ${page.scripts} scripts`);
}

/** Raw mode: every payload is on the page, character for character, as text. */
function checkPage(page: PageCensus, built: Built, seen: Set<number>): void {
  checkInert(page);
  assert.equal(page.markdown, 0, 'raw mode still rendered markdown');
  for (const row of page.rows) {
    seen.add(row.index);
    const text = built.expected.get(row.index);
    if (text !== undefined) assert.ok(row.text.includes(text), `pair ${row.index + 1} does not show its payload as text: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

test('hostile dataset text is shown as text and never runs, loads or posts', { timeout: 10 * 60_000 }, async () => {
  const recorder = await startRecorder();
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-hostile-'));
  const built = buildDataset(recorder.origin);
  writeFileSync(path.join(workspace, 'hostile.jsonl'), built.jsonl);
  const consoleErrors: string[] = [];
  const vscode = await launchVsCode({
    workspace,
    vsix: findVsix(),
    name: 'hostile',
    initScript: INIT_SCRIPT,
    // Scoring is not under test; off, a 10 MB tokenization does not compete for the 2 CPUs.
    settings: { 'preferenceLens.scoreOnOpen': false, 'files.autoSave': 'off' },
  });
  vscode.page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text().slice(0, 300));
  });
  try {
    await vscode.quickOpen('hostile.jsonl');
    await vscode.runCommand('Preference Lens: Open Review');
    const [pairCount] = await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t.length > 0, { timeoutMs: 120_000 });
    assert.equal(pairCount, String(built.pairs));

    // Raw mode first ("m"): step through every pair with "j" and check the pair view shows its
    // payload verbatim; the last pair holds the 10 MB string.
    const seen = new Set<number>();
    let page = await waitForPosition(vscode, 1, built.pairs);
    checkInert(page);
    assert.ok(page.markdown > 0, 'markdown is the default text mode');
    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    await vscode.page.keyboard.press('m');
    await waitFor(async () => (await census(vscode)).markdown === 0, 'raw mode');
    page = await census(vscode);
    checkPage(page, built, seen);
    const stepTimes: number[] = [];
    for (let position = 2; position <= built.pairs; position++) {
      const started = Date.now();
      await vscode.page.keyboard.press('j');
      page = await waitForPosition(vscode, position, built.pairs);
      stepTimes.push(Date.now() - started);
      checkPage(page, built, seen);
    }
    assert.equal(seen.size, built.pairs, 'every pair was shown');
    assert.equal(page.rows[0]?.index, built.giantIndex, 'the last pair is the 10 MB one');
    // Long text is folded; unfolding shows the 10 MB response whole.
    assert.ok(page.longestText < built.giantLength, 'the 10 MB response is folded at first');
    await vscode.evalInWebview('.pair', `document.querySelector('.pair[data-index="${built.giantIndex}"] .folded > button').click()`);
    await waitFor(async () => (await census(vscode)).longestText >= built.giantLength, 'the 10 MB response shown whole');
    stepTimes.sort((x, y) => x - y);
    console.log(`next pair (ms): median ${stepTimes[Math.floor(stepTimes.length / 2)]}, max ${stepTimes.at(-1)}; the last with the ${(built.giantLength / 1e6).toFixed(1)} MB string`);

    // Markdown mode ("m" again) over the same pairs, back to the first with "k": still nothing active.
    await vscode.focusWebview(`.pair[data-index="${built.giantIndex}"] .pair-id`);
    await vscode.page.keyboard.press('m');
    await waitFor(async () => (await census(vscode)).markdown > 0, 'markdown mode');
    checkInert(await census(vscode));
    for (let position = built.pairs - 1; position >= 1; position--) {
      await vscode.page.keyboard.press('k');
      checkInert(await waitForPosition(vscode, position, built.pairs));
    }
    // End jumps to the last pair, PageUp moves a screenful back.
    await vscode.page.keyboard.press('End');
    await waitForPosition(vscode, built.pairs, built.pairs);
    await vscode.page.keyboard.press('PageUp');
    const back = await waitFor(async () => Number((await census(vscode)).position.split(' ')[0]) < built.pairs, 'a page up').then(() => census(vscode));
    assert.ok(Number(back.position.split(' ')[0]) < built.pairs - 1, `PageUp moved more than one row: ${back.position}`);
    checkInert(back);

    // Still usable after all that: label the focused pair from the keyboard.
    await vscode.focusWebview('.pair .pair-id');
    await vscode.page.keyboard.press('1');
    await vscode.waitForWebviewTexts('[data-testid="reviewed-count"]', (t) => t[0] === '1', { timeoutMs: 30_000 });

    // Give any deferred payload (autofocus, meta refresh, lazy image) time to fire, then look.
    await vscode.page.waitForTimeout(3000);
    const reports = await frameReports(vscode);
    const markers = reports.flatMap((r) => [...r.markers, ...(/PWNED/.test(r.title) ? [`title ${r.title}`] : []), ...(/PWNED/.test(r.name) ? [`name ${r.name}`] : [])]);
    assert.deepEqual(markers, [], 'a payload ran');
    assert.ok(!/PWNED/.test(await vscode.page.title()), 'the workbench title was changed');
    assert.deepEqual(recorder.requests, [], 'a payload made a request');
    const violations = reports.flatMap((r) => r.csp);
    // With text-only rendering nothing from the dataset even tries to load: a violation naming the
    // recorder would mean a payload became an element and only the CSP stopped it.
    assert.deepEqual(violations.filter((v) => v.includes(recorder.origin)), [], 'dataset text tried to load something');
    console.log(`CSP violations seen: ${violations.length}${violations.length ? ` (${[...new Set(violations)].slice(0, 5).join(' | ')})` : ''}`);
    console.log(`console errors: ${consoleErrors.length}${consoleErrors.length ? ` (first: ${[...new Set(consoleErrors)].slice(0, 5).join(' | ')})` : ''}`);

    // The second line of defence, checked live: the policy the webview really has, and that it
    // refuses inline script and eval (the probes run as the page would, not as DevTools code).
    const policy = await vscode.evalInWebview<string>('.pair', `document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? ''`);
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /script-src 'nonce-[^']+'(;|$)/);
    assert.doesNotMatch(policy, /unsafe-|strict-dynamic/, `live CSP: ${policy}`);
    // Every source is the webview's own origin (webview.cspSource: 'self' and *.vscode-cdn.net
    // here), the nonce, or 'none': nothing remote, no data: or blob:.
    for (const directive of policy.split(';')) {
      const [name, ...sources] = directive.trim().split(/\s+/);
      for (const source of sources) {
        assert.match(source, /^('none'|'self'|'nonce-[^']+'|https:\/\/\*\.vscode-cdn\.net)$/, `live CSP ${name} allows ${source}: ${policy}`);
      }
    }
    const probes = await vscode.evalInWebview<{ inline: boolean; handler: boolean; timerString: boolean }>(
      '.pair',
      `new Promise((resolve) => {
        window.__probeInline = false; window.__probeHandler = false; window.__probeTimer = false;
        const script = document.createElement('script');
        script.textContent = 'window.__probeInline = true';
        document.body.append(script);
        const holder = document.createElement('div');
        holder.innerHTML = '<img src="data:," onerror="window.__probeHandler = true" onload="window.__probeHandler = true">';
        document.body.append(holder);
        // A string handed to setTimeout is compiled later, by the page, so 'unsafe-eval' decides.
        // (A direct eval() here would prove nothing: DevTools' Runtime.evaluate, which runs this
        // probe, is exempt from the page's eval rule.)
        try { setTimeout('window.__probeTimer = true', 0); } catch (e) {}
        setTimeout(() => {
          holder.remove(); script.remove();
          resolve({ inline: window.__probeInline, handler: window.__probeHandler, timerString: window.__probeTimer });
        }, 500);
      })`,
    );
    assert.deepEqual(probes, { inline: false, handler: false, timerString: false }, 'the live CSP let an inline script, handler or string-eval run');
  } catch (error) {
    await vscode.screenshot('hostile-failure').catch(() => undefined);
    throw error;
  } finally {
    await vscode.stop();
    recorder.server.close();
    rmSync(workspace, { recursive: true, force: true });
  }
});
