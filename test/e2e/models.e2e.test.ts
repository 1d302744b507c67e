/**
 * Several reward models in a real VS Code (issue 12): the review is scored by the bundled baseline
 * (the first model) and a Hugging Face folder listed in `preferenceLens.additionalModels`; then a
 * third model, a (fake) vLLM endpoint, is added with *Preference Lens: Add Model to Review…* and
 * scores without a reload. The statistics view's several-model figures — each model's agreement, model-vs-model agreement, the
 * consensus, the pairs every model disagrees with — and its label-noise figures — the model-free
 * checks, the length-control paragraph, the noise score's suspects — equal what `plens review
 * --model <baseline> --model <folder> --model <endpoint>` prints for the same file. The "every model disagrees" queue
 * lists as many pairs as the CLI counts, and the pair view shows every model's scores.
 *
 * The second model is generated (random weights, Llama architecture, the Llama-2 tokenizer of
 * models/demo) and the third is an in-process vLLM stand-in (test/support/servingFakes.ts), so the
 * test needs no shared data and no network.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { writeDecoderCheckpoint } from '../support/checkpoint';
import { runPlens } from '../support/plens';
import { lightVllmFake } from '../support/servingFakes';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode, pollUntil, reportFailure } from './harness';
import { LENGTH_CONTROL_READ, lengthControlShown, pct, type CliLabelNoise } from './cliReview';

const FIXTURE = path.join(repoRoot, 'test/fixtures/hh-rlhf-sample.jsonl');
/** The fixture's 40 pairs and the two label-noise cases the test appends (see withNoise). */
const PAIRS = 42;
const SCORING_TIMEOUT_MS = Number(process.env.PLENS_E2E_SCORING_TIMEOUT_MS ?? 8 * 60_000);
const BASELINE = path.join(repoRoot, 'dist/models/baseline');
/** How the editor names its first model when `preferenceLens.modelPath` is empty (the bundled baseline). */
const FIRST_MODEL_NAME = 'bundled baseline';

interface CliReview extends CliLabelNoise {
  models: {
    models: string[];
    agreement: { model: string; scored: number; agreement: number | null; disagreements: number }[];
    pairwise: { a: string; b: string; pairs: number; agreement: number | null }[];
    consensus: { scored: number; agreement: number | null; disagreements: number };
    every_model_disagrees: { count: number; lines: number[] };
  };
}

/**
 * The fixture with two pairs the model-free checks flag appended, so their counts compared below are
 * not all zero: the first pair again with its label swapped (conflicting duplicates), and a pair
 * whose two responses are the same text (identical responses).
 */
function withNoise(text: string): string {
  const lines = text.trim().split('\n');
  const first = JSON.parse(lines[0]) as { chosen: string; rejected: string };
  const swapped = { chosen: first.rejected, rejected: first.chosen };
  const same = { chosen: first.chosen.replace('Do you know', 'Do you really know'), rejected: first.chosen.replace('Do you know', 'Do you really know') };
  return [...lines, JSON.stringify(swapped), JSON.stringify(same)].join('\n') + '\n';
}


/** The CLI's figures as the statistics view writes them; the first model named as the editor names it. */
function displayed(cli: CliReview) {
  const name = (model: string) => (model === BASELINE ? FIRST_MODEL_NAME : model);
  const lc = cli.length_control;
  return {
    agreement: cli.models.agreement.map((m) => [name(m.model), String(m.scored), pct(m.agreement), String(m.disagreements)]),
    pairwise: cli.models.pairwise.map((p) => [`${name(p.a)} · ${name(p.b)}`, String(p.pairs), pct(p.agreement)]),
    consensus: {
      agreement: pct(cli.models.consensus.agreement),
      scored: String(cli.models.consensus.scored),
      disagreements: String(cli.models.consensus.disagreements),
      everyModel: String(cli.models.every_model_disagrees.count),
    },
    checks: Object.fromEntries(Object.entries(cli.checks).map(([check, c]) => [check, String(c.count)])),
    suspects: String(cli.noise.suspects),
    lengthControl:
      lc.slope === null
        ? null
        : lengthControlShown(lc),
  };
}

/** The same figures read off the statistics view in one go (a string: see evalInWebview). */
const READ_SHOWN = `(() => {
  const all = (selector) => Array.from(document.querySelectorAll(selector));
  const one = (id) => {
    const found = all('[data-testid="' + id + '"]').map((e) => e.textContent.trim());
    return found.length === 1 ? found[0] : 'expected one [data-testid=' + id + '], found ' + found.length;
  };
  const rows = (id) => all('[data-testid="' + id + '"] tbody tr').map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()));
  return {
    agreement: rows('model-agreement-table'),
    pairwise: rows('model-pairwise-table'),
    consensus: {
      agreement: one('consensus-agreement'),
      scored: one('consensus-scored'),
      disagreements: one('consensus-disagreements'),
      everyModel: one('every-model-disagrees'),
    },
    checks: Object.fromEntries(all('[data-testid^="stats-check-"]').map((e) => [e.dataset.testid.slice('stats-check-'.length), e.textContent.trim()])),
    suspects: one('stats-noise-suspects'),
    lengthControl: document.querySelector('[data-testid="length-control"]') ? ${LENGTH_CONTROL_READ} : null,
  };
})()`;

test('a review scored by three models, the third added live, shows the figures plens review prints for them', { timeout: SCORING_TIMEOUT_MS + 5 * 60_000 }, async (context) => {
  const vsix = findVsix();
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-models-'));
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-models-hf-'));
  const dataset = path.join(workspace, 'sample.jsonl');
  writeFileSync(dataset, withNoise(readFileSync(FIXTURE, 'utf8')));
  const modelDir = path.join(scratch, 'tiny-llama-rm');
  writeDecoderCheckpoint(modelDir, { modelType: 'llama', vocabSize: 32000, hiddenSize: 64, intermediateSize: 128, layers: 2, heads: 4, kvHeads: 2, maxPositions: 4096, padTokenId: null }, { dtype: 'BF16', shards: 2, seed: 5 });
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(repoRoot, 'models/demo', file), path.join(modelDir, file));

  const endpoint = await lightVllmFake({ latencyMs: 2 });

  // Before VS Code starts, so the two do not compete for the CPUs.
  const cli = await runPlens(['review', dataset, '--model', BASELINE, '--model', modelDir, '--model', endpoint.url, '--no-cache']);
  assert.equal(cli.code, 0, cli.stderr.slice(-2000));
  const cliReview = JSON.parse(cli.stdout) as CliReview;
  assert.deepEqual(cliReview.models.models, [BASELINE, modelDir, endpoint.url]);
  assert.deepEqual(cliReview.models.agreement.map((m) => m.scored), [PAIRS, PAIRS, PAIRS], 'plens review scored every pair with every model');
  assert.ok(cliReview.checks.conflicting_duplicates.count >= 2 && cliReview.checks.identical_responses.count === 1, `the appended pairs are flagged: ${JSON.stringify(cliReview.checks)}`);
  const expected = displayed(cliReview);
  context.diagnostic(`as the stats view should show it: ${JSON.stringify(expected)}`);

  const vscode = await launchVsCode({
    workspace,
    vsix,
    name: 'models',
    settings: { 'preferenceLens.additionalModels': [modelDir], 'preferenceLens.scoreOnOpen': true, 'files.autoSave': 'off' },
  });
  try {
    await vscode.quickOpen('sample.jsonl');
    await vscode.runCommand('Preference Lens: Open Review');
    const scoring = { timeoutMs: SCORING_TIMEOUT_MS, failOn: '[role="alert"]' };
    await vscode.waitForWebviewTexts('[data-testid="scored-count"]', (t) => t[0] === String(PAIRS), scoring);
    // The second model scores after the first; the header says how far it is.
    const [other] = await vscode.waitForWebviewTexts('[data-testid="other-model"]', (t) => t[0] === `${modelDir} (${PAIRS}/${PAIRS})`, scoring);
    assert.equal(other, `${modelDir} (${PAIRS}/${PAIRS})`);

    // A third model through the command, which reuses the model chooser: the endpoint is entered,
    // appended to preferenceLens.additionalModels, and scored in the open review without a reload.
    const { page } = vscode;
    const quickInput = page.locator('.quick-input-widget');
    await vscode.runCommand('Preference Lens: Add Model to Review…', 'Skywork Reward V2 (Qwen3, 0.6B)');
    await quickInput.locator('input').fill('serving endpoint');
    await quickInput.locator('.monaco-list-row.focused', { hasText: 'Use a serving endpoint' }).waitFor({ state: 'visible', timeout: 30_000 });
    await page.keyboard.press('Enter');
    await quickInput.locator('.quick-input-title', { hasText: 'Reward model endpoint' }).waitFor({ state: 'visible', timeout: 30_000 });
    await quickInput.locator('input').fill(endpoint.url);
    await page.keyboard.press('Enter');
    await quickInput.waitFor({ state: 'hidden' });
    const others = await vscode.waitForWebviewTexts('[data-testid="other-model"]', (t) => t.length === 2 && t[1] === `${endpoint.url} (${PAIRS}/${PAIRS})`, scoring);
    assert.deepEqual(others, [`${modelDir} (${PAIRS}/${PAIRS})`, `${endpoint.url} (${PAIRS}/${PAIRS})`]);

    // The statistics view against plens review: the editor refetches when the run ends.
    const toggle = '[data-testid="toggle-stats"]';
    await (await vscode.webviewFrame(toggle)).locator(toggle).click();
    await vscode.waitForWebviewTexts('[data-testid="models"]', (t) => t.length === 1);
    const read = () => vscode.evalInWebview<ReturnType<typeof displayed>>('[data-testid="stats-panel"]', READ_SHOWN);
    const shown = await pollUntil(vscode, 'the statistics view with both models scored', read, (v) => JSON.stringify(v) === JSON.stringify(expected), { timeoutMs: 30_000 }).catch(read);
    context.diagnostic(`shown: ${JSON.stringify(shown)}`);
    assert.deepEqual(shown, expected, 'the statistics view and `plens review` show different several-model or label-noise figures');
    await vscode.evalInWebview('[data-testid="models"]', `document.querySelector('[data-testid="models"]').scrollIntoView({ block: 'start' })`);
    await vscode.page.waitForTimeout(300);
    await vscode.screenshot('models-stats');

    // The "every model disagrees" queue (Shift+E, a VS Code keybinding) lists the pairs the CLI
    // counts, and the pair view shows every model.
    await vscode.waitForWebviewTexts('[data-testid="every-model-queue"]', (t) => t[0] === 'Every model disagrees (Shift+E)');
    await vscode.focusWebview('.pair .pair-id');
    await vscode.page.keyboard.press('Shift+E');
    const count = cliReview.models.every_model_disagrees.count;
    if (count > 0) {
      await vscode.waitForWebviewTexts('[data-testid="position"]', (t) => t[0] === `1 of ${count} shown`);
      const lines = await vscode.evalInWebview<string>('.pair .pair-id', `document.querySelector('.pair .pair-id').textContent`);
      const line = Number(/line (\d+)/.exec(lines)?.[1]);
      assert.ok(cliReview.models.every_model_disagrees.lines.includes(line), `line ${line} is not one plens review lists: ${cliReview.models.every_model_disagrees.lines}`);
      const models = await vscode.waitForWebviewTexts('[data-testid="pair-model"]', (t) => t.length === 3);
      assert.match(models[0], new RegExp(`^${FIRST_MODEL_NAME}.*disagrees$`));
      assert.ok(models[1].startsWith(modelDir) && models[1].endsWith('disagrees'), models[1]);
      assert.ok(models[2].startsWith(endpoint.url) && models[2].endsWith('disagrees'), models[2]);
      await vscode.screenshot('models-queue');
    } else {
      await vscode.waitForWebviewTexts('.detail .empty', (t) => t[0] === 'No pairs match.');
    }
  } catch (error) {
    await reportFailure(vscode, 'models');
    throw error;
  } finally {
    await vscode.stop();
    await endpoint.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
});
