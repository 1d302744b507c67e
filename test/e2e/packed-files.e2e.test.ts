/**
 * Parquet and gzip-compressed datasets in the review editor: opened by *Open Review* like a JSONL
 * file, with the pairs of their JSONL source, labelled from the keyboard, saved to the sidecar next to
 * them, and never written to themselves. And a Hugging Face dataset file by its hf:// path, found in
 * the Hugging Face cache without the network, labelled, and saved to the user data folder, not the cache.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode, reportFailure } from './harness';
import { press, showsPair, waitForView } from './reviewView';
import { foldSidecar, saveReview } from './sidecar';

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'formats', name);
const FILES = [
  { name: 'prefs.parquet', from: fixture('trl-conversational.snappy.parquet'), pairs: '5' },
  { name: 'hh.jsonl.gz', from: fixture('hh-rlhf.jsonl.gz'), pairs: '4' },
];

const SHA = '0123456789abcdef0123456789abcdef01234567';

test('Parquet and .jsonl.gz files open in the review editor, read-only, with annotations in the sidecar; an hf:// file from the cache', { timeout: 8 * 60_000 }, async () => {
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-packed-'));
  for (const file of FILES) copyFileSync(file.from, path.join(workspace, file.name));
  // A Hugging Face cache (Python's layout) holding a dataset file, and no Hub to reach: the code-server
  // started below, and its extension host, inherit these variables.
  const cache = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-hf-cache-'));
  const repo = path.join(cache, 'datasets--org--prefs');
  mkdirSync(path.join(repo, 'snapshots', SHA, 'data'), { recursive: true });
  mkdirSync(path.join(repo, 'refs'));
  writeFileSync(path.join(repo, 'refs', 'main'), SHA);
  copyFileSync(FILES[0].from, path.join(repo, 'snapshots', SHA, 'data', 'test.parquet'));
  process.env.HF_HUB_CACHE = cache;
  process.env.HF_ENDPOINT = 'http://127.0.0.1:1';
  // Where the labels of a cached Hub file go (src/core/companionFiles.ts): the user data folder.
  const dataHome = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-data-'));
  process.env.XDG_DATA_HOME = dataHome;
  const settings = { 'preferenceLens.annotator': 'e2e-reviewer', 'preferenceLens.scoreOnOpen': false, 'files.autoSave': 'off' };
  const vscode = await launchVsCode({ workspace, vsix: findVsix(), name: 'packed-files', settings });
  try {
    for (const file of FILES) {
      const dataset = path.join(workspace, file.name);
      const before = readFileSync(dataset);
      await vscode.quickOpen(file.name);
      await vscode.runCommand('Preference Lens: Open Review');
      const [pairs] = await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t[0] === file.pairs);
      assert.equal(pairs, file.pairs, file.name);
      await vscode.screenshot(`packed-${file.name}`);
      await vscode.focusWebview('.pair[data-index="0"] .pair-id');
      await press(vscode, '2', `${file.name}: pair 1 = B`, (v) => showsPair(0, { label: 'b', flagged: false, reviewed: true })(v));
      const sidecar = `${dataset}.plens-annotations.jsonl`;
      await saveReview(vscode, file.name, sidecar, `${file.name}: Ctrl+S`);
      const { events } = foldSidecar(sidecar);
      assert.ok(events.some((e) => e.field === 'label' && e.line === 1 && e.to === 'b'), `${file.name}: the label is in the sidecar`);
      assert.ok(readFileSync(dataset).equals(before), `${file.name} itself is unchanged`);
    }

    await vscode.runCommandWithInput('Preference Lens: Open Hugging Face Dataset File…', 'Open a Hugging Face dataset file for review', 'hf://datasets/org/prefs/data/test.parquet');
    await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t[0] === '5');
    await vscode.page.locator('.tab.active', { hasText: 'test.parquet' }).waitFor();
    await vscode.screenshot('packed-hf-cache');
    // plens labels the same hf:// file from a terminal, before the editor ever saved: the open review
    // sees the label there (the labels' folder in the user data folder exists from the open on).
    const hubSidecar = path.join(dataHome, 'preference-lens', 'hf', 'datasets', 'org', 'prefs', 'data', 'test.parquet.plens-annotations.jsonl');
    const labels = path.join(workspace, 'labels.jsonl');
    writeFileSync(labels, '{"line":2,"label":"a"}\n');
    execFileSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'annotate', 'hf://datasets/org/prefs/data/test.parquet', '--annotator', 'e2e-reviewer', '--import', labels]);
    await waitForView(vscode, 'the label plens wrote', (v) => v.rows.some((row) => row.index === 1 && row.label === 'a'));
    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    await press(vscode, '2', 'hf:// file: pair 1 = B', (v) => showsPair(0, { label: 'b', flagged: false, reviewed: true })(v));
    await saveReview(vscode, 'test.parquet', hubSidecar, 'the hf:// file: Ctrl+S');
    const saved = foldSidecar(hubSidecar).annotations;
    assert.equal(saved.get(1)?.label, 'b', 'the label made in the editor is in the user data folder');
    assert.equal(saved.get(2)?.label, 'a', "plens's label is kept");
    assert.deepEqual(readdirSync(path.join(repo, 'snapshots', SHA, 'data')), ['test.parquet'], 'nothing is written into the Hugging Face cache');
  } catch (error) {
    await reportFailure(vscode, 'packed-files');
    throw error;
  } finally {
    await vscode.stop();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
    rmSync(dataHome, { recursive: true, force: true });
  }
});
