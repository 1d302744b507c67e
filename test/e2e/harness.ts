/**
 * End-to-end harness: a real VS Code (code-server, see codeServer.ts) driven through its web
 * workbench by headless Debian chromium via playwright-core. Everything listens on 127.0.0.1 only
 * and is stopped by process id in stop(), which tests call from `finally`/`after` hooks.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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

export interface LaunchOptions {
  /** Folder to open; must exist. */
  workspace: string;
  /** Packaged extension to install with `code-server --install-extension`. */
  vsix: string;
  /** Extra user settings, merged over the harness defaults. */
  settings?: Record<string, unknown>;
  /** Prefix for the logs copied into test-results/ on stop. */
  name?: string;
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
  server: CodeServer;
  /** Runs a command through the command palette by its title, e.g. "Preference Lens: Open Review". */
  runCommand(title: string): Promise<void>;
  /** Opens a workspace file through Quick Open (Ctrl+P) by its name. */
  quickOpen(fileName: string): Promise<void>;
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
    const vscode = makeVsCode(page, browser, server, options.name ?? 'e2e');
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

function makeVsCode(page: Page, browser: Browser, server: CodeServer, name: string): VsCode {
  const quickInput = page.locator('.quick-input-widget');

  /** Types into an open quick input and accepts the row whose label matches `label` exactly. */
  async function pick(text: string, label: string): Promise<void> {
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
    await quickInput.waitFor({ state: 'hidden' });
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

  return {
    page,
    server,
    async runCommand(title) {
      await focusWorkbench(page);
      await page.keyboard.press('F1');
      // F1 opens the palette with a ">" prefix; fill() replaces it, so put it back.
      await pick(`>${title}`, title);
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
