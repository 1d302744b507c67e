/**
 * Checks the harness itself against a throwaway extension built in a temp dir, so a failure of
 * review.e2e.test.ts can be told apart from a broken VS Code host: VSIX install, command palette,
 * Quick Open, finding an element inside a webview, screenshots.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './codeServer';
import { launchVsCode } from './harness';

const PROBE_MANIFEST = {
  name: 'e2e-probe',
  version: '0.0.1',
  publisher: 'probe',
  license: 'MIT',
  engines: { vscode: '^1.90.0' },
  main: './extension.js',
  contributes: { commands: [{ command: 'probe.open', title: 'Probe: Open Panel' }] },
};

const PROBE_SOURCE = `const vscode = require('vscode');
exports.activate = (context) => {
  context.subscriptions.push(vscode.commands.registerCommand('probe.open', () => {
    const panel = vscode.window.createWebviewPanel('probe', 'Probe Panel', vscode.ViewColumn.One, {});
    panel.webview.html = '<!doctype html><body><div data-testid="probe">ok</div></body>';
  }));
};
`;

function packageProbe(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(PROBE_MANIFEST));
  writeFileSync(path.join(dir, 'extension.js'), PROBE_SOURCE);
  writeFileSync(path.join(dir, 'README.md'), 'probe\n');
  const vsix = path.join(dir, 'probe.vsix');
  // Both flags avoid vsce's interactive prompts (no repository field, no LICENSE file).
  execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/@vscode/vsce/vsce'), 'package', '--allow-missing-repository', '--skip-license', '-o', vsix], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return vsix;
}

test('harness: installs a VSIX, runs a command, finds its webview', { timeout: 5 * 60_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-probe-'));
  const workspace = path.join(tmp, 'workspace');
  mkdirSync(workspace);
  writeFileSync(path.join(workspace, 'sample.jsonl'), '{}\n');
  const vscode = await launchVsCode({ workspace, vsix: packageProbe(path.join(tmp, 'probe')), name: 'harness' });
  try {
    await vscode.quickOpen('sample.jsonl');
    await vscode.page.locator('.tab.active', { hasText: 'sample.jsonl' }).waitFor();
    await vscode.runCommand('Probe: Open Panel');
    const [text] = await vscode.waitForWebviewTexts('[data-testid="probe"]', (t) => t.length > 0);
    assert.equal(text, 'ok');
    await vscode.screenshot('harness-probe');
    assert.ok(
      vscode.extensionHostLogs().some((f) => path.basename(f) === 'remoteexthost.log'),
      'the remote extension host log should be readable',
    );
  } finally {
    await vscode.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});
