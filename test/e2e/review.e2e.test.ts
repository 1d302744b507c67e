/**
 * The main user journey in a real VS Code: open the HH-RLHF test split, open the review editor,
 * watch the local reward model score it, and check the editor agrees with the CLI.
 *
 * Builds nothing: it installs the VSIX from PLENS_VSIX or the single *.vsix in the repo root
 * (`npm run package`). Needs the HH data from the shared folder next to the repo, and skips
 * without it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode } from './harness';

const shared = path.resolve(repoRoot, '../shared');
const source = path.join(shared, 'data/hh-rlhf-helpful-base-test/test.jsonl');
const PAIRS = '2354';
/** Scoring 2354 pairs with the demo model on a 2-core CI machine; generous on purpose. */
const SCORING_TIMEOUT_MS = Number(process.env.PLENS_E2E_SCORING_TIMEOUT_MS ?? 8 * 60_000);

/** The CLI prints one JSON row per pair and then its summary as the last line. */
async function cliDisagreements(dataset: string): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(repoRoot, 'dist/cli.js'), 'score', dataset, '--model', path.join(repoRoot, 'dist/models/baseline'), '--no-cache'],
    { cwd: repoRoot, maxBuffer: 256 * 1024 * 1024 },
  );
  const summary = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as { disagreements?: unknown };
  assert.equal(typeof summary.disagreements, 'number', `CLI summary has no numeric "disagreements": ${JSON.stringify(summary)}`);
  return summary.disagreements as number;
}

const isNumber = (text: string) => text !== '' && Number.isFinite(Number(text));

test(
  'review editor scores the HH-RLHF test split and agrees with the CLI',
  {
    skip: existsSync(shared) ? false : `SKIPPED: ${shared} is absent, so there is no HH-RLHF test split to review`,
    timeout: SCORING_TIMEOUT_MS + 5 * 60_000,
  },
  async () => {
    const vsix = findVsix();
    const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-ws-'));
    const dataset = path.join(workspace, 'test.jsonl');
    copyFileSync(source, dataset);
    // Before VS Code starts, so the two scorers do not compete for the CPUs.
    const expectedDisagreements = await cliDisagreements(dataset);

    const vscode = await launchVsCode({ workspace, vsix, name: 'review' });
    try {
      await vscode.quickOpen('test.jsonl');
      await vscode.runCommand('Preference Lens: Open Review');

      const [pairCount] = await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t.length > 0);
      assert.equal(pairCount, PAIRS);

      // The webview renders a scoring failure as role="alert" ("Scoring failed: …").
      const scoring = { timeoutMs: SCORING_TIMEOUT_MS, failOn: '[role="alert"]' };
      await vscode.waitForWebviewTexts('[data-testid="reward-a"]', (t) => t.some(isNumber), scoring);
      await vscode.waitForWebviewTexts('[data-testid="scored-count"]', (t) => t[0] === PAIRS, scoring);
      const [disagreements] = await vscode.waitForWebviewTexts('[data-testid="disagreement-count"]', (t) => isNumber(t[0] ?? ''));
      assert.equal(Number(disagreements), expectedDisagreements, 'review editor and `plens score` disagree on the disagreement count');

      await vscode.screenshot('review-editor');
    } catch (error) {
      await vscode.screenshot('review-editor-failure');
      // CI shows stdout/stderr first; the full logs land in test-results/review-logs/.
      for (const log of vscode.extensionHostLogs().filter((f) => /remoteexthost|preference/i.test(f))) {
        console.error(`--- ${path.basename(log)} (last 40 lines)\n${readFileSync(log, 'utf8').split('\n').slice(-40).join('\n')}`);
      }
      throw error;
    } finally {
      await vscode.stop();
      rmSync(workspace, { recursive: true, force: true });
    }
  },
);
