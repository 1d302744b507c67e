/**
 * End-to-end harness: a real VS Code (code-server, see codeServer.ts) driven through its web
 * workbench by headless Debian chromium via playwright-core. Everything listens on 127.0.0.1 only
 * and is stopped by process id in stop(), which tests call from `finally`/`after` hooks.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { ensureHost, repoRoot, startCodeServer, type CodeServer } from './codeServer';

const resultsDir = path.join(repoRoot, 'test-results');

/** Flags from /work/shared/docs/vscode-host.md: no sandbox (root in a container), no GPU, and no
 * background traffic to Google services that are unreachable here and only add noise and delay. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** The VSIX under test: PLENS_VSIX, else the single *.vsix in the repo root (`npm run package`). */
export function findVsix(): string {
  if (process.env.PLENS_VSIX) return path.resolve(process.env.PLENS_VSIX);
  const found = readdirSync(repoRoot).filter((f) => f.endsWith('.vsix'));
  assert.equal(found.length, 1, `expected exactly one *.vsix in ${repoRoot} (run \`npm run package\` or set PLENS_VSIX), found: ${found.join(', ') || 'none'}`);
  return path.join(repoRoot, found[0]!);
}

export interface LaunchOptions {
  /** Folder to open; must exist. */
  workspace: string;
  /** Packaged extension to install with `code-server --install-extension`. */
  vsix: string;
  /** Extra user settings, merged over the harness defaults. */
  settings?: Record<string, unknown>;
  /** The user's keybindings.json (rules as VS Code writes them). */
  keybindings?: unknown[];
  /** Prefix for the logs copied into test-results/ on stop. */
  name?: string;
  /**
   * JavaScript run in every frame (workbench, webview hosts, webviews) before the frame's own
   * scripts, on every load: e.g. listeners that record what a hostile payload might do. It runs
   * through the DevTools protocol, so the pages' CSP does not apply to it.
   */
  initScript?: string;
}

export interface WaitOptions {
  /** Default 60s. */
  timeoutMs?: number;
  /** Fail at once, with its text, when an element matching this shows text in the same webview:
   * a scoring error should not cost the whole timeout. */
  failOn?: string;
}

export interface VsCode {
  page: Page;
  /** The running server; a new object after restartServer(). */
  readonly server: CodeServer;
  /**
   * Dialogs the page raised (`beforeunload: …` when VS Code vetoes an unload over unsaved work),
   * in order. They are accepted so a reload goes through; tests assert on this list instead.
   */
  readonly dialogs: string[];
  /**
   * Runs a command through the command palette by its title, e.g. "Preference Lens: Open Review".
   * `opensPickWith`: the command shows a quick pick; returns once its row with that label shows.
   */
  runCommand(title: string, opensPickWith?: string): Promise<void>;
  /** Runs a command that asks for text in an input box titled `inputTitle`, enters `value` and accepts it. */
  runCommandWithInput(title: string, inputTitle: string, value: string): Promise<void>;
  /** Opens a workspace file through Quick Open (Ctrl+P) by its name. */
  quickOpen(fileName: string): Promise<void>;
  /** In an open quick pick (one a command showed), types `text` and accepts the row labelled `label`. */
  pickQuickInput(text: string, label: string): Promise<void>;
  /** The (nested iframe) webview frame that contains `selector`; polls until `timeoutMs`. */
  webviewFrame(selector: string, timeoutMs?: number): Promise<Frame>;
  /**
   * Polls the texts of every element matching `selector` in any webview until `accept` returns
   * true, and returns them. Re-finds the frame on each poll: a webview's iframe is replaced when the
   * panel is moved or reloaded.
   */
  waitForWebviewTexts(selector: string, accept: (texts: string[]) => boolean, options?: WaitOptions): Promise<string[]>;
  /** Saves a full-window screenshot to test-results/<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
  /** The extension host's log files (remote extension host and extension output channels). */
  extensionHostLogs(): string[];
  /** Runs "Developer: Reload Window" and waits for the reloaded workbench. */
  reloadWindow(): Promise<void>;
  /**
   * Crashes the server (SIGKILL to its whole process group: extension host included, nothing gets
   * to run a shutdown hook), starts a new one on the same port with the same user data, extensions
   * and backups, and loads the workbench again in the same browser. Same port, because the
   * workspace's identity (and so where VS Code keeps its backups) includes the remote authority.
   */
  restartServer(): Promise<void>;
  /** Clicks `selector` inside the webview that has it, so that keys typed next go to that webview. */
  focusWebview(selector: string): Promise<void>;
  /**
   * Evaluates the JavaScript expression `script` in the webview frame that contains `selector`.
   * A string, not a function: tsx compiles test functions with esbuild's keepNames, which wraps
   * inner functions in a `__name(...)` helper that does not exist inside the page.
   */
  evalInWebview<T>(selector: string, script: string): Promise<T>;
  /** Whether an editor tab for the file named `label` shows the dirty (unsaved) marker. */
  tabIsDirty(label: string): Promise<boolean>;
  /**
   * Merges `patch` into the user settings.json on the server; VS Code watches that file and applies
   * the change without a reload (e.g. `workbench.colorTheme`).
   */
  updateUserSettings(patch: Record<string, unknown>): void;
  /**
   * Picks the color theme labelled `theme` in "Preferences: Color Theme" (VS Code 1.139 labels
   * "Default Dark Modern" as "Dark Modern") and waits until the workbench shows a theme of `kind`.
   */
  setColorTheme(theme: string, kind: 'light' | 'dark' | 'high-contrast'): Promise<void>;
  /** Clicks the button labelled `label` of VS Code's modal dialog (e.g. a `{ modal: true }` message); returns the dialog's text. */
  clickDialogButton(label: string, timeoutMs?: number): Promise<string>;
  /** Stops browser and server (by process id) and copies their logs to test-results/<name>-logs/. */
  stop(): Promise<void>;
}

export async function launchVsCode(options: LaunchOptions): Promise<VsCode> {
  const host = ensureHost();
  const server = await startCodeServer({
    host,
    workspace: options.workspace,
    vsix: options.vsix,
    settings: options.settings,
    keybindings: options.keybindings,
  });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: host.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      // Chromium keeps its crash-report database under $XDG_CONFIG_HOME/chromium even with a temp
      // profile; point it into the server's temp dir so a test run writes nothing to $HOME.
      env: { ...process.env, XDG_CONFIG_HOME: path.join(server.baseDir, 'browser-config') },
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    if (options.initScript) await page.addInitScript(options.initScript);
    const vscode = makeVsCode(page, browser, server, options);
    await page.goto(server.url());
    await waitForWorkbench(page);
    return vscode;
  } catch (error) {
    await browser?.close();
    await server.stop();
    throw error;
  }
}

/** The workbench is usable once the explorer has rendered the workspace folder. */
async function waitForWorkbench(page: Page): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 60_000 });
}

function makeVsCode(page: Page, browser: Browser, firstServer: CodeServer, options: LaunchOptions): VsCode {
  const name = options.name ?? 'e2e';
  let server = firstServer;
  const quickInput = page.locator('.quick-input-widget');
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.accept().catch(() => undefined);
  });

  /**
   * Types into an open quick input and accepts the row whose label matches `label` exactly. With
   * `next`, the command shows another quick pick in the same widget, so it stays open: wait for that
   * one's row labelled `next` instead.
   */
  async function pick(text: string, label: string, next?: string | { inputTitle: string }): Promise<void> {
    const box = quickInput.locator('input');
    await box.waitFor({ state: 'visible' });
    await box.fill(text);
    // Wait until the wanted row is rendered and focused before Enter: typing races the filter, and
    // Enter on a stale list runs whatever was first a moment ago.
    const row = quickInput.locator('.monaco-list-row.focused', {
      has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }),
    });
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await page.keyboard.press('Enter');
    if (next === undefined) await quickInput.waitFor({ state: 'hidden' });
    else if (typeof next === 'object') await quickInput.locator('.quick-input-title', { hasText: next.inputTitle }).waitFor({ state: 'visible', timeout: 30_000 });
    else await quickInput.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(next)}$`) }).first().waitFor({ state: 'visible', timeout: 30_000 });
  }

  async function webviewFrame(selector: string, timeoutMs = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Child frames only: webview content never lives in the workbench's own document.
      for (const frame of page.frames().filter((f) => f !== page.mainFrame())) {
        // A frame can detach between frames() and the query (webviews are recreated); skip it.
        if (await frame.$(selector).catch(() => null)) return frame;
      }
      if (Date.now() > deadline) throw new Error(`no webview frame contains ${selector} after ${timeoutMs}ms`);
      await page.waitForTimeout(250);
    }
  }

  async function runCommand(title: string, opensPickWith?: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await focusWorkbench(page);
      await page.keyboard.press('F1');
      try {
        // F1 opens the palette with a ">" prefix; fill() replaces it, so put it back.
        await pick(`>${title}`, title, opensPickWith);
        return;
      } catch (error) {
        // Seen once in a full run: the palette stayed "inert" (its closing animation never ended) for
        // 30 s after Quick Open under load. Escape resets the widget; a second failure is real.
        if (attempt > 1 || !(error instanceof Error) || error.name !== 'TimeoutError') throw error;
        await page.keyboard.press('Escape');
      }
    }
  }

  async function runCommandWithInput(title: string, inputTitle: string, value: string): Promise<void> {
    await focusWorkbench(page);
    await page.keyboard.press('F1');
    await pick(`>${title}`, title, { inputTitle });
    await quickInput.locator('input').fill(value);
    await page.keyboard.press('Enter');
    await quickInput.waitFor({ state: 'hidden' });
  }

  return {
    page,
    get server() {
      return server;
    },
    dialogs,
    runCommand,
    runCommandWithInput,
    pickQuickInput: (text, label) => pick(text, label),
    async reloadWindow() {
      const reloaded = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame(), timeout: 60_000 });
      // Awaited below; if the command fails first, this one rejects when the browser closes and must
      // not surface as an unhandled rejection that hides the command's own error.
      reloaded.catch(() => undefined);
      await runCommand('Developer: Reload Window');
      await reloaded;
      await waitForWorkbench(page);
    },
    async restartServer() {
      const port = Number(new URL(server.origin).port);
      await server.crash();
      server = await startCodeServer({ host: ensureHost(), workspace: options.workspace, baseDir: server.baseDir, port });
      await page.goto(server.url());
      await waitForWorkbench(page);
    },
    async focusWebview(selector) {
      const frame = await webviewFrame(selector);
      await frame.locator(selector).first().click();
      // The review webview's keys are VS Code keybindings that switch on once the host hears of the
      // focus (webview-ui/main.ts marks the body); a key pressed before that would go nowhere.
      // (Polled with evaluate: waitForFunction evaluates a string with eval, which the webview's CSP refuses.)
      const deadline = Date.now() + 10_000;
      while ((await frame.evaluate(`document.body.dataset.reviewKeys ?? 'on'`)) !== 'on') {
        if (Date.now() > deadline) throw new Error(`the webview's keys did not switch on after clicking ${selector}`);
        await page.waitForTimeout(25);
      }
    },
    async evalInWebview<T>(selector: string, script: string) {
      const frame = await webviewFrame(selector);
      return (await frame.evaluate(script)) as T;
    },
    async tabIsDirty(label) {
      // VS Code puts the class "dirty" on a tab while its editor has unsaved changes. The tab's
      // label is split into name and suffix ("sample" + ".jsonl"); data-resource-name is whole.
      const tabs = await page.locator('.tabs-container .tab').evaluateAll((elements) =>
        elements.map((tab) => ({ label: tab.getAttribute('data-resource-name') ?? '', dirty: tab.classList.contains('dirty') })),
      );
      return tabs.some((tab) => tab.label === label && tab.dirty);
    },
    updateUserSettings(patch) {
      const file = path.join(server.userDataDir, 'User/settings.json');
      const current = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
      writeFileSync(file, JSON.stringify({ ...current, ...patch }, null, 2));
    },
    async setColorTheme(theme, kind) {
      // The workbench root carries "vs" (light), "vs-dark" or "hc-black" once the theme is applied.
      const wanted = kind === 'light' ? 'vs' : kind === 'dark' ? 'vs-dark' : 'hc-black';
      const applied = `document.querySelector('.monaco-workbench')?.classList.contains(${JSON.stringify(wanted)})`;
      // code-server does not pick up an edit of settings.json on disk, so use the theme picker
      // ("Preferences: Color Theme"), which also writes the user setting.
      // Not runCommand(): its Enter does not hide the quick input, the theme list replaces the palette.
      await focusWorkbench(page);
      await page.keyboard.press('F1');
      const title = 'Preferences: Color Theme';
      await quickInput.locator('input').fill(`>${title}`);
      // "Preferences: Browse Color Themes in Marketplace" ranks first for this text: click ours.
      await quickInput
        .locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) })
        .first()
        .click({ timeout: 30_000 });
      await quickInput.locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(theme)}$`) }) }).first().waitFor({ timeout: 30_000 });
      await pick(theme, theme);
      await page.waitForFunction(applied, undefined, { timeout: 30_000 });
      // Webviews get the new theme's variables by a message of their own; let them repaint.
      await page.waitForTimeout(500);
    },
    async clickDialogButton(label, timeoutMs = 30_000) {
      const dialog = page.locator('.monaco-dialog-box');
      await dialog.waitFor({ state: 'visible', timeout: timeoutMs });
      // The whole dialog's text (message, detail and buttons): its inner class names vary by version.
      const message = await dialog.innerText().catch(() => '');
      await dialog.getByRole('button', { name: label, exact: true }).click({ timeout: timeoutMs });
      await dialog.waitFor({ state: 'hidden', timeout: timeoutMs });
      return message.trim();
    },
    async quickOpen(fileName) {
      await focusWorkbench(page);
      await page.keyboard.press('Control+P');
      await pick(fileName, fileName);
    },
    webviewFrame,
    async waitForWebviewTexts(selector, accept, { timeoutMs = 60_000, failOn }: WaitOptions = {}) {
      const deadline = Date.now() + timeoutMs;
      let texts: string[] = [];
      for (;;) {
        const remaining = Math.max(1, deadline - Date.now());
        const frame = await webviewFrame(selector, remaining);
        texts = await trimmedTexts(frame, selector);
        if (accept(texts)) return texts;
        const failure = failOn ? (await trimmedTexts(frame, failOn)).filter(Boolean) : [];
        if (failure.length > 0) throw new Error(`while waiting for ${selector}, the webview shows ${failOn}: ${failure.join(' | ')}`);
        if (Date.now() > deadline) {
          throw new Error(`${selector} texts never became acceptable in ${timeoutMs}ms; last: ${JSON.stringify(texts.slice(0, 10))}`);
        }
        await page.waitForTimeout(250);
      }
    },
    async screenshot(shotName) {
      mkdirSync(resultsDir, { recursive: true });
      const file = path.join(resultsDir, `${shotName}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    extensionHostLogs() {
      return findFiles(path.join(server.userDataDir, 'logs'), (file) => /exthost/i.test(file) && file.endsWith('.log'));
    },
    async stop() {
      try {
        await browser.close();
      } finally {
        await server.stop();
        const logs = path.join(resultsDir, `${name}-logs`);
        rmSync(logs, { recursive: true, force: true });
        mkdirSync(logs, { recursive: true });
        // Either may be missing when the server died early; copy what exists.
        for (const [from, to] of [
          [server.serverLog, 'code-server.log'],
          [path.join(server.userDataDir, 'logs'), 'vscode'],
        ] as const) {
          if (existsSync(from)) cpSync(from, path.join(logs, to), { recursive: true });
        }
        rmSync(server.baseDir, { recursive: true, force: true });
      }
    },
  };
}

/** Keyboard shortcuts go to whatever has focus; after page load nothing has, so click the status bar. */
async function focusWorkbench(page: Page): Promise<void> {
  await page.locator('.part.statusbar').click({ position: { x: 5, y: 5 } });
}

/** A frame that detaches mid-query reads as empty; the caller polls again. */
async function trimmedTexts(frame: Frame, selector: string): Promise<string[]> {
  const texts = await frame.locator(selector).allTextContents().catch(() => []);
  return texts.map((text) => text.trim());
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function findFiles(dir: string, accept: (file: string) => boolean): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const file = path.join(dir, entry);
    return statSync(file).isDirectory() ? findFiles(file, accept) : accept(file) ? [file] : [];
  });
}

/**
 * Polls `read` until `accept` holds. With `retryFailedReads` a read that throws counts as nothing
 * seen yet (a webview frame replaced mid-read, as on reload); without, it fails the wait at once.
 * The error says what was awaited and what was last seen.
 */
export async function pollUntil<T>(
  vscode: VsCode,
  what: string,
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  { timeoutMs = 20_000, intervalMs = 150, retryFailedReads = true, show = (value: T | undefined) => JSON.stringify(value) } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = retryFailedReads ? await read().catch(() => undefined) : await read();
    if (value !== undefined && accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen in ${timeoutMs} ms; last: ${show(value)}`);
    await vscode.page.waitForTimeout(intervalMs);
  }
}

/** Runs a command through the palette and returns performance.now() at its Enter (the typing before it not counted). */
export async function runCommandTimed(vscode: VsCode, title: string): Promise<number> {
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

/**
 * After a failed test: a screenshot (test-results/<name>-failure.png) and, on stderr, where CI shows
 * it first, the tail of the extension host's logs (the whole logs land in test-results/ on stop).
 */
export async function reportFailure(vscode: VsCode, name: string, tailLines = 30): Promise<void> {
  await vscode.screenshot(`${name}-failure`).catch(() => undefined);
  for (const log of vscode.extensionHostLogs().filter((f) => /remoteexthost|preference/i.test(f))) {
    console.error(`--- ${path.basename(log)} (last ${tailLines} lines)\n${readFileSync(log, 'utf8').split('\n').slice(-tailLines).join('\n')}`);
  }
}
