/**
 * The main user journey in a real VS Code: open the HH-RLHF test split, open the review editor,
 * watch the local reward model score it, and check the editor agrees with the CLI: the header's
 * disagreements with `plens score`, and every figure of the statistics view with `plens review`
 * (issue 5: "`plens review` prints the same agreement figures the stats view shows, for the same
 * file and model").
 *
 * Builds nothing: it installs the VSIX from PLENS_VSIX or the single *.vsix in the repo root
 * (`npm run package`). Needs the HH data from the shared folder next to the repo, and skips
 * without it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runPlens } from '../support/plens';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode, pollUntil, reportFailure } from './harness';
import { waitForDirty } from './sidecar';
import { LENGTH_CONTROL_READ, lengthControlShown, pct, type CliLabelNoise } from './cliReview';

const shared = path.resolve(repoRoot, '../shared');
const source = path.join(shared, 'data/hh-rlhf-helpful-base-test/test.jsonl');
const PAIRS = '2354';
/** Scoring 2354 pairs with the demo model on a 2-core CI machine; generous on purpose. */
const SCORING_TIMEOUT_MS = Number(process.env.PLENS_E2E_SCORING_TIMEOUT_MS ?? 8 * 60_000);

const MODEL = path.join(repoRoot, 'dist/models/baseline');

/** Runs the built CLI with the bundled baseline model, uncached, and returns its stdout. */
async function plens(...args: string[]): Promise<string> {
  const run = await runPlens([...args, '--model', MODEL, '--no-cache']);
  assert.equal(run.code, 0, `plens ${args.join(' ')} failed (${run.code}): ${run.stderr.slice(-2000)}`);
  return run.stdout;
}

/** `plens score --out`: the rows go to a file, so stdout is the summary line alone. */
async function cliScoreSummary(dataset: string, rowsFile: string): Promise<{ disagreements: number }> {
  const summary = JSON.parse(await plens('score', dataset, '--out', rowsFile)) as { disagreements?: unknown };
  assert.equal(typeof summary.disagreements, 'number', `CLI summary has no numeric "disagreements": ${JSON.stringify(summary)}`);
  return summary as { disagreements: number };
}

/** What `plens review` prints (one JSON line; see src/cli/plens.ts). */
interface CliReview extends CliLabelNoise {
  pairs: number;
  scored: number;
  agreement: number | null;
  disagreements: number;
  calibration: { low: number; high: number; pairs: number; confidence: number | null; agreement: number | null }[];
  margin_histogram: { low: number; high: number; count: number }[];
  length: { human_prefers_longer: number | null; model_prefers_longer: number | null };
  review: { reviewed: number; relabelled: number; both_bad: number; flagged: number; notes: number };
}

/** A share as the review editor shows it: one decimal, or a dash when there is nothing to share. */

/** The CLI's figures written the way the header and the statistics view write them. */
function displayed(cli: CliReview) {
  const counts = cli.margin_histogram.map((b) => b.count);
  return {
    header: { agreement: pct(cli.agreement), disagreements: String(cli.disagreements) },
    summary: {
      agreement: pct(cli.agreement),
      labelled: String(cli.calibration.reduce((n, b) => n + b.pairs, 0)),
      disagreements: String(cli.disagreements),
    },
    length: { humanPrefersLonger: pct(cli.length.human_prefers_longer), modelPrefersLonger: pct(cli.length.model_prefers_longer) },
    review: {
      reviewed: String(cli.review.reviewed),
      pairs: String(cli.pairs),
      relabelled: String(cli.review.relabelled),
      bothBad: String(cli.review.both_bad),
      flagged: String(cli.review.flagged),
      notes: String(cli.review.notes),
    },
    lengthControl: lengthControlShown(cli.length_control),
    noise: {
      checks: Object.fromEntries(Object.entries(cli.checks).map(([name, c]) => [name, String(c.count)])),
      suspects: String(cli.noise.suspects),
    },
    calibration: cli.calibration.map((b) => [`${Math.round(b.low * 100)}–${Math.round(b.high * 100)}%`, String(b.pairs), pct(b.confidence), pct(b.agreement)]),
    histogram: {
      min: cli.margin_histogram[0]?.low.toFixed(2),
      max: cli.margin_histogram.at(-1)?.high.toFixed(2),
      peak: String(Math.max(1, ...counts)),
      counts,
    },
  };
}

/**
 * Reads the same figures off the webview in one go (one render, no re-render between reads). A
 * string, not a function: see evalInWebview. Bar counts are read back from the bars' heights, which
 * are proportional to the counts, scaled by the peak count the axis shows.
 */
const READ_SHOWN = `(() => {
  const all = (selector) => Array.from(document.querySelectorAll(selector));
  const one = (id) => {
    const found = all('[data-testid="' + id + '"]').map((e) => e.textContent.trim());
    return found.length === 1 ? found[0] : 'expected one [data-testid=' + id + '], found ' + found.length;
  };
  const peak = Number(one('histogram-peak'));
  const heights = all('[data-testid="histogram-bar"]').map((bar) => Number(bar.getAttribute('height')));
  const tallest = Math.max(...heights);
  return {
    header: { agreement: one('agreement-rate'), disagreements: one('disagreement-count') },
    summary: { agreement: one('stats-agreement'), labelled: one('stats-labelled'), disagreements: one('stats-disagreements') },
    length: { humanPrefersLonger: one('human-prefers-longer'), modelPrefersLonger: one('model-prefers-longer') },
    review: {
      reviewed: one('review-reviewed'),
      pairs: one('review-pairs'),
      relabelled: one('review-relabelled'),
      bothBad: one('review-both-bad'),
      flagged: one('review-flagged'),
      notes: one('review-notes'),
    },
    lengthControl: ${LENGTH_CONTROL_READ},
    noise: {
      checks: Object.fromEntries(all('[data-testid^="stats-check-"]').map((e) => [e.dataset.testid.slice('stats-check-'.length), e.textContent.trim()])),
      suspects: one('stats-noise-suspects'),
    },
    calibration: all('[data-testid="calibration-table"] tbody tr').map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim())),
    histogram: {
      min: one('histogram-min'),
      max: one('histogram-max'),
      peak: one('histogram-peak'),
      counts: heights.map((h) => (tallest > 0 ? Math.round((h / tallest) * peak) : 0)),
    },
  };
})()`;

const isNumber = (text: string) => text !== '' && Number.isFinite(Number(text));

test(
  'review editor scores the HH-RLHF test split and agrees with the CLI',
  {
    skip: existsSync(shared) ? false : `SKIPPED: ${shared} is absent, so there is no HH-RLHF test split to review`,
    timeout: SCORING_TIMEOUT_MS + 5 * 60_000,
  },
  async (context) => {
    const vsix = findVsix();
    const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-ws-'));
    const dataset = path.join(workspace, 'test.jsonl');
    copyFileSync(source, dataset);
    // Before VS Code starts, so the CLI and the editor do not compete for the CPUs. The rows of
    // `plens score` go outside the workspace, so the editor sees the same folder as before.
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-cli-'));
    const cliStarted = Date.now();
    const scores = path.join(scratch, 'scores.jsonl');
    const { disagreements: expectedDisagreements } = await cliScoreSummary(dataset, scores);
    const cliReview = JSON.parse(await plens('review', dataset)) as CliReview;
    assert.equal(cliReview.pairs, Number(PAIRS));
    assert.equal(cliReview.scored, Number(PAIRS), '`plens review` scored every pair');
    assert.equal(cliReview.disagreements, expectedDisagreements, '`plens review` and `plens score` disagree on the disagreement count');
    const expected = displayed(cliReview);
    context.diagnostic(`plens score + review: ${Math.round((Date.now() - cliStarted) / 1000)} s; as the view should show it: ${JSON.stringify(expected)}`);

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

      // The statistics view, opened by its button, against `plens review` on the same file and model.
      const toggle = '[data-testid="toggle-stats"]';
      await (await vscode.webviewFrame(toggle)).locator(toggle).click();
      await vscode.waitForWebviewTexts('[data-testid="stats-panel"]', (texts) => texts.length === 1 && texts[0]!.length > 0);
      const shown = await vscode.evalInWebview<ReturnType<typeof displayed>>('[data-testid="stats-panel"]', READ_SHOWN);
      // Header and panel in one picture: the header's agreement above the panel's.
      await vscode.evalInWebview(toggle, `document.querySelector('${toggle}').scrollIntoView({ block: 'start' })`);
      await vscode.page.waitForTimeout(300);
      await vscode.screenshot('stats-view');
      context.diagnostic(`shown: ${JSON.stringify(shown)}`);
      assert.deepEqual(shown, expected, 'the review editor (header and statistics view) and `plens review` show different figures');

      // The reviewer's corrections count the same in both: review part of the queue from the
      // keyboard (two labels to the model's side, one "both bad", one kept label, one flag), save,
      // and compare again with `plens review`, which reads the saved sidecar (scores from the
      // `plens score` run above, so nothing is scored twice).
      await vscode.focusWebview('.pair .pair-id');
      await vscode.page.keyboard.press('q');
      await vscode.waitForWebviewTexts('[data-testid="position"]', (t) => t[0] === `1 of ${expectedDisagreements} shown`);
      const steps: [string, string][] = [['a', '1'], ['a', '2'], ['4', '3'], ['h', '4'], ['f', '4']];
      for (const [key, reviewed] of steps) {
        await vscode.page.keyboard.press(key);
        await vscode.waitForWebviewTexts('[data-testid="reviewed-count"]', (t) => t[0] === reviewed);
      }
      await vscode.waitForWebviewTexts('[data-testid="review-flagged"]', (t) => t[0] === '1');
      await vscode.page.keyboard.press('Control+s');
      await waitForDirty(vscode, 'test.jsonl', false, 'after Ctrl+S');
      const reviewed = JSON.parse(await plens('review', dataset, '--scores', scores)) as CliReview;
      assert.deepEqual(reviewed.review, { reviewed: 4, relabelled: 2, both_bad: 1, flagged: 1, notes: 0 }, 'the sidecar `plens review` read holds the keyboard review');
      assert.equal(reviewed.disagreements, expectedDisagreements - 3, 'two relabels to the model and one "both bad" leave the disagreements');
      const expectedAfter = displayed(reviewed);
      const shownAfter = await pollUntil(vscode, 'the statistics view after the review', () => vscode.evalInWebview<ReturnType<typeof displayed>>('[data-testid="stats-panel"]', READ_SHOWN), (v) => JSON.stringify(v) === JSON.stringify(expectedAfter), { timeoutMs: 20_000 }).catch(async () => vscode.evalInWebview<ReturnType<typeof displayed>>('[data-testid="stats-panel"]', READ_SHOWN));
      assert.deepEqual(shownAfter, expectedAfter, 'after a review, the editor and `plens review` show different figures');
    } catch (error) {
      await reportFailure(vscode, 'review-editor', 40);
      throw error;
    } finally {
      await vscode.stop();
      rmSync(workspace, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    }
  },
);
