/**
 * A Hugging Face model folder as the reward model, in a real VS Code (issue 10): the folder a user
 * downloads — config.json, bf16 safetensors in two shards with their index, the tokenizer — set as
 * `preferenceLens.modelPath`, no export step. The review builds the model's graph, scores the 40-pair
 * fixture, shows what it built, and its margins equal `plens score` with the same folder. Choosing
 * the bundled baseline in *Choose Reward Model* then re-scores without a reload, and the review says
 * the baseline's disagreements are not findings and offers a recommended reward model.
 *
 * The checkpoint is generated (random weights, Llama architecture, Llama-2 tokenizer from
 * models/demo), so the test needs no shared data and no network.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { writeDecoderCheckpoint } from '../support/checkpoint';
import { runPlens } from '../support/plens';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode, reportFailure } from './harness';
import { waitForView } from './reviewView';

const FIXTURE = path.join(repoRoot, 'test/fixtures/hh-rlhf-sample.jsonl');
const PAIRS = 40;
const SCORING_TIMEOUT_MS = Number(process.env.PLENS_E2E_SCORING_TIMEOUT_MS ?? 8 * 60_000);

interface CliRow {
  line: number;
  margin: number;
}

test('review with a Hugging Face folder as the model: built, scored as plens scores it; the baseline chosen live is presented as no reward model', { timeout: SCORING_TIMEOUT_MS + 5 * 60_000 }, async () => {
  const vsix = findVsix();
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-hf-'));
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-hf-model-'));
  const dataset = path.join(workspace, 'sample.jsonl');
  copyFileSync(FIXTURE, dataset);
  const modelDir = path.join(scratch, 'tiny-llama-rm');
  writeDecoderCheckpoint(modelDir, { modelType: 'llama', vocabSize: 32000, hiddenSize: 64, intermediateSize: 128, layers: 2, heads: 4, kvHeads: 2, maxPositions: 4096, padTokenId: null }, { dtype: 'BF16', shards: 2, seed: 5 });
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(repoRoot, 'models/demo', file), path.join(modelDir, file));

  // What the CLI says for the same folder, before VS Code starts (the two would compete for the CPUs).
  const rowsFile = path.join(scratch, 'scores.jsonl');
  const cli = await runPlens(['score', dataset, '--model', modelDir, '--no-cache', '--out', rowsFile]);
  assert.equal(cli.code, 0, cli.stderr);
  const summary = JSON.parse(cli.stdout) as { disagreements: number; precision: string; scored: number };
  assert.equal(summary.scored, PAIRS);
  assert.equal(summary.precision, 'fp32');
  assert.match(cli.stderr, /tiny-llama-rm: LlamaForSequenceClassification checkpoint \(BF16\) run in fp32/);
  const cliRows = readFileSync(rowsFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as CliRow);

  const vscode = await launchVsCode({
    workspace,
    vsix,
    name: 'hf-model',
    settings: { 'preferenceLens.modelPath': modelDir, 'preferenceLens.scoreOnOpen': true, 'files.autoSave': 'off' },
  });
  try {
    await vscode.quickOpen('sample.jsonl');
    await vscode.runCommand('Preference Lens: Open Review');
    const scoring = { timeoutMs: SCORING_TIMEOUT_MS, failOn: '[role="alert"]' };
    await vscode.waitForWebviewTexts('[data-testid="scored-count"]', (t) => t[0] === String(PAIRS), scoring);
    const [model] = await vscode.waitForWebviewTexts('[data-testid="model"]', (t) => (t[0] ?? '').includes('tiny-llama-rm'));
    assert.match(model, /tiny-llama-rm · cpu · tulu · fp32/);
    const [weights] = await vscode.waitForWebviewTexts('[data-testid="model-weights"]', (t) => t.length === 1);
    assert.match(weights, /LlamaForSequenceClassification checkpoint \(BF16\) run in fp32, graph built in [\d.]+ s/);
    const [disagreements] = await vscode.waitForWebviewTexts('[data-testid="disagreement-count"]', (t) => /^\d+$/.test(t[0] ?? ''));
    assert.equal(Number(disagreements), summary.disagreements, 'review editor and `plens score` disagree on the disagreement count');

    // The margin of every row the list shows (3 decimals; the list renders the rows in view) against the CLI's.
    const view = await waitForView(vscode, 'the rows in view scored', (v) => v.total === PAIRS && v.rows.length >= 10 && v.rows.every((row) => row.margin !== null));
    for (const row of view.rows) {
      const expected = cliRows.find((r) => r.line === row.line);
      assert.ok(expected, `line ${row.line} has a CLI score`);
      assert.ok(Math.abs(row.margin! - expected.margin) <= 0.0015, `line ${row.line}: editor margin ${row.margin}, plens ${expected.margin}`);
    }
    await vscode.screenshot('hf-model-review');

    // Another model from Choose Reward Model applies without a reload: the bundled baseline, which the
    // review then presents as such (its disagreements are not findings) and offers a reward model instead.
    await vscode.runCommand('Preference Lens: Choose Reward Model', 'Use the bundled baseline');
    await vscode.pickQuickInput('bundled baseline', 'Use the bundled baseline');
    await vscode.waitForWebviewTexts('[data-testid="model"]', (t) => /Preference Lens baseline/.test(t[0] ?? ''), scoring);
    await vscode.waitForWebviewTexts('[data-testid="scored-count"]', (t) => t[0] === String(PAIRS), scoring);
    await waitForView(vscode, 'the rows re-scored by the baseline', (v) => v.rows.length >= 10 && v.rows.every((row) => row.margin !== null), SCORING_TIMEOUT_MS);
    const [note] = await vscode.waitForWebviewTexts('[data-testid="baseline-note"]', (t) => t.length === 1);
    assert.match(note, /Its disagreements with the labels are not findings/);
    const [offer] = await vscode.waitForWebviewTexts('[data-testid="use-recommended-model"]', (t) => t.length === 1);
    assert.match(offer, /Use Skywork Reward V2 \(Qwen3, 0\.6B\), ~1\.2 GB download/);
    const header = await vscode.evalInWebview<string>('[data-testid="disagreement-count"]', `document.querySelector('[data-testid="disagreement-count"]').parentElement.textContent`);
    assert.match(header, /^Baseline differs/);
    await vscode.screenshot('hf-model-baseline');
  } catch (error) {
    await reportFailure(vscode, 'hf-model');
    throw error;
  } finally {
    await vscode.stop();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
});
