/**
 * Annotations survive, end to end, in a real VS Code (issue 3's "done when"):
 *
 * 1. label pairs from the keyboard, undo and redo with VS Code's own Ctrl+Z / Ctrl+Shift+Z while the
 *    webview has focus, save with Ctrl+S, reload the window, and find exactly those annotations in
 *    the sidecar — with the dataset byte-identical;
 * 2. make unsaved edits, let hot exit back them up, SIGKILL the extension host, reload, and find
 *    the edits restored (dirty, shown, and saved correctly when saved).
 *
 * Installs the VSIX from PLENS_VSIX or the single *.vsix in the repo root (`npm run package`).
 * Uses only the 40-pair fixture in test/fixtures, so it needs no shared data.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode, reportFailure, type VsCode } from './harness';
import { press, showsPair, waitForView } from './reviewView';
import { foldSidecar, saveReview, waitForDirty } from './sidecar';

const FIXTURE = path.join(repoRoot, 'test/fixtures/hh-rlhf-sample.jsonl');
const DATASET = 'sample.jsonl';
const SIDECAR = `${DATASET}.plens-annotations.jsonl`;
const ANNOTATOR = 'e2e-reviewer';
const SETTINGS = {
  'preferenceLens.annotator': ANNOTATOR,
  // Scoring is not under test here; off, it cannot compete with the keys for the 2 CPUs.
  'preferenceLens.scoreOnOpen': false,
  // VS Code for the web (code-server) defaults to auto save after 1 s, which would save every edit
  // before undo, Ctrl+S or a hot-exit backup could be tested. Desktop VS Code defaults to off.
  'files.autoSave': 'off',
};

const CLEAN = { label: null, flagged: false, reviewed: false } as const;

async function openReview(vscode: VsCode): Promise<void> {
  await vscode.quickOpen(DATASET);
  await vscode.runCommand('Preference Lens: Open Review');
  const [pairs] = await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t.length > 0);
  assert.equal(pairs, '40');
}

// ---------------------------------------------------------------------------- the sidecar on disk

/** Every file under `dir`, recursively; unreadable entries (being replaced right now) are skipped. */
function filesUnder(dir: string): { file: string; mtimeMs: number }[] {
  const found: { file: string; mtimeMs: number }[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const entry of entries) {
      const file = path.join(d, entry);
      try {
        const stat = statSync(file);
        if (stat.isDirectory()) walk(file);
        else found.push({ file, mtimeMs: stat.mtimeMs });
      } catch {
        // Gone between readdir and stat.
      }
    }
  };
  walk(dir);
  return found;
}

/**
 * A complete hot-exit backup of `events` unsaved changes: the extension's file (written where VS
 * Code tells it, under workspaceStorage) holding all of them, and VS Code's own record of it (under
 * User/Backups/<workspace>/vscode-custom-editor/) written no earlier. Both are needed after a crash:
 * the record is what makes VS Code reopen the editor with the backup. They are written a few ms
 * apart when the machine is idle, much later when it is not, so wait for the pair rather than a time.
 */
function completeBackup(userDataDir: string, events: number): string | undefined {
  const files = filesUnder(userDataDir);
  const ours = files.filter((f) => f.file.includes(`${path.sep}preference-lens.preference-lens${path.sep}`)).find((f) => {
    try {
      const parsed = JSON.parse(readFileSync(f.file, 'utf8')) as unknown;
      return Array.isArray(parsed) && parsed.length === events;
    } catch {
      return false;
    }
  });
  if (!ours) return undefined;
  const record = files.find((f) => f.file.includes(`${path.sep}Backups${path.sep}`) && f.file.includes('vscode-custom-editor') && f.mtimeMs >= ours.mtimeMs);
  return record ? `${ours.file} + ${record.file}` : undefined;
}

async function withVsCode(
  name: string,
  body: (vscode: VsCode, workspace: string) => Promise<void>,
  { keybindings, settings }: { keybindings?: unknown[]; settings?: Record<string, unknown> } = {},
): Promise<void> {
  const workspace = mkdtempSync(path.join(os.tmpdir(), `plens-e2e-${name}-`));
  copyFileSync(FIXTURE, path.join(workspace, DATASET));
  const vscode = await launchVsCode({ workspace, vsix: findVsix(), name, settings: { ...SETTINGS, ...settings }, keybindings });
  try {
    await body(vscode, workspace);
  } catch (error) {
    await reportFailure(vscode, name);
    throw error;
  } finally {
    await vscode.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------- tests

test('keyboard labels, undo/redo, save and reload: exactly the expected annotations on disk', { timeout: 8 * 60_000 }, async () => {
  await withVsCode('annotations-save', async (vscode, workspace) => {
    const dataset = path.join(workspace, DATASET);
    const datasetBefore = readFileSync(dataset);
    await openReview(vscode);

    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    await waitForView(vscode, 'pair 1 focused', (v) => v.focused === 0);
    // Each label key marks the pair reviewed and moves on; f flags in place; j moves.
    await press(vscode, '1', 'pair 1 = A', (v) => showsPair(0, { label: 'a', flagged: false, reviewed: true })(v) && v.focused === 1);
    await press(vscode, '2', 'pair 2 = B', (v) => showsPair(1, { label: 'b', flagged: false, reviewed: true })(v) && v.focused === 2);
    await press(vscode, 'f', 'pair 3 flagged', (v) => showsPair(2, { label: null, flagged: true, reviewed: false })(v) && v.focused === 2);
    await press(vscode, 'j', 'pair 4 focused', (v) => v.focused === 3);
    await press(vscode, '3', 'pair 4 = tie', (v) => showsPair(3, { label: 'tie', flagged: false, reviewed: true })(v) && v.focused === 4);
    await press(vscode, '4', 'pair 5 = both bad', (v) => showsPair(4, { label: 'both-bad', flagged: false, reviewed: true })(v) && v.focused === 5);
    await waitForDirty(vscode, DATASET, true, 'after edits');
    assert.equal(existsSync(path.join(workspace, SIDECAR)), false, 'nothing is written before a save');

    // "4" set the label and marked the pair reviewed: one action, one edit, so one Ctrl+Z undoes
    // both. Ctrl+Z here is VS Code's undo, forwarded from the focused webview to the workbench and
    // run on the custom editor's edit stack.
    await press(vscode, 'Control+z', 'pair 5 label and reviewed undone', showsPair(4, CLEAN));
    await press(vscode, 'Control+Shift+z', 'pair 5 label and reviewed redone', showsPair(4, { label: 'both-bad', flagged: false, reviewed: true }));
    await press(vscode, 'Control+z', 'pair 5 undone again', showsPair(4, CLEAN));
    await press(vscode, 'Control+z', 'pair 4 (the edit before) undone', showsPair(3, CLEAN));
    await press(vscode, 'Control+Shift+z', 'pair 4 redone', showsPair(3, { label: 'tie', flagged: false, reviewed: true }));
    // The other pairs are untouched by all that.
    await waitForView(vscode, 'pairs 1-4 unchanged', (v) =>
      showsPair(0, { label: 'a', flagged: false, reviewed: true })(v) &&
      showsPair(1, { label: 'b', flagged: false, reviewed: true })(v) &&
      showsPair(2, { label: null, flagged: true, reviewed: false })(v) &&
      showsPair(3, { label: 'tie', flagged: false, reviewed: true })(v),
    );

    const sidecar = path.join(workspace, SIDECAR);
    await saveReview(vscode, DATASET, sidecar, 'the review');

    await vscode.reloadWindow();
    assert.deepEqual(vscode.dialogs, [], 'a saved review must not hold up the reload');

    const { annotations, events } = foldSidecar(sidecar);
    assert.deepEqual(
      Object.fromEntries([...annotations].sort(([a], [b]) => a - b)),
      {
        1: { label: 'a', reviewed: true },
        2: { label: 'b', reviewed: true },
        3: { flagged: true },
        4: { label: 'tie', reviewed: true },
      },
      `folded sidecar; events: ${JSON.stringify(events)}`,
    );
    // The log says what happened, undo and redo included, a field per event: 9 changes (each label
    // key sets two fields: label and reviewed) + 3 undos and 2 redos of two fields each.
    assert.equal(events.length, 19, `events: ${JSON.stringify(events)}`);
    assert.ok(events.every((e) => e.by === ANNOTATOR && !Number.isNaN(Date.parse(e.at))), 'every event names the annotator and a time');
    assert.ok(readFileSync(dataset).equals(datasetBefore), 'the dataset must stay byte-identical');

    // After the reload the review editor comes back and shows what was saved.
    await waitForView(vscode, 'saved annotations after reload', (v) =>
      showsPair(0, { label: 'a', flagged: false, reviewed: true })(v) && showsPair(2, { label: null, flagged: true, reviewed: false })(v) && showsPair(4, CLEAN)(v),
      60_000,
    );
    // Give VS Code time to (wrongly) mark it dirty, then check it did not.
    await vscode.page.waitForTimeout(2000);
    assert.equal(await vscode.tabIsDirty(DATASET), false, 'a saved review is clean after the reload');
  });
});

test('rebound keys, typed without a pause, land on the pairs on screen while labelled pairs leave the list', { timeout: 6 * 60_000 }, async () => {
  // The user has rebound "left is better" from 1 to x in Keyboard Shortcuts (keybindings.json).
  const keybindings = [
    { key: 'x', command: 'preferenceLens.review.labelLeft', when: 'preferenceLens.reviewFocus' },
    { key: '1', command: '-preferenceLens.review.labelLeft' },
  ];
  await withVsCode('annotations-fast-keys', async (vscode, workspace) => {
    await openReview(vscode);
    // The hints show the user's key.
    await vscode.waitForWebviewTexts('[data-testid="label-a"]', (t) => t[0] === 'A is better (x)');
    const [help] = await vscode.waitForWebviewTexts('[data-testid="key-help"]', (t) => t.length === 1);
    assert.match(help!, /x left \(A\) better/);
    // "Not reviewed": every label marks its pair reviewed, so each pair leaves the list as it is
    // labelled and the rows under the focus shift while the next keys are already coming.
    const frame = await vscode.webviewFrame('select[data-testid="filter"]');
    await frame.locator('select[data-testid="filter"]').selectOption('unreviewed');
    await waitForView(vscode, 'the unreviewed list', (v) => v.total === 40 && v.shown === 0);
    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    // 1 no longer labels (VS Code dispatches nothing for it); x does. Each key once at a reviewer's
    // pace first: VS Code runs a command's first call in a session only after a round trip to the
    // extension host (its activation event), which a second key a few ms behind can overtake.
    await vscode.page.keyboard.press('1');
    const paced = ['x', '2', '3', '4'];
    for (const [i, key] of paced.entries()) {
      await vscode.page.keyboard.press(key);
      await vscode.waitForWebviewTexts('[data-testid="reviewed-count"]', (t) => t[0] === String(i + 1));
    }
    // Then six keys without a pause, faster than the list and the pairs arrive.
    const fast = ['x', '2', 'x', '3', '2', '4'];
    for (const key of fast) await vscode.page.keyboard.press(key);
    const done = paced.length + fast.length;
    await vscode.waitForWebviewTexts('[data-testid="reviewed-count"]', (t) => t[0] === String(done), { timeoutMs: 30_000 });
    const view = await waitForView(vscode, `${done} pairs gone from the list, the next focused`, (v) => v.total === 40 - done && v.focused === done && v.shown === done);
    assert.equal(view.rows[0]?.index, done);
    const sidecar = path.join(workspace, SIDECAR);
    await saveReview(vscode, DATASET, sidecar, 'the review');
    const { annotations } = foldSidecar(sidecar);
    const labels = ['a', 'b', 'tie', 'both-bad', 'a', 'b', 'a', 'tie', 'b', 'both-bad'];
    assert.deepEqual(
      Object.fromEntries([...annotations].sort(([a], [b]) => a - b)),
      Object.fromEntries(labels.map((label, i) => [i + 1, { label, reviewed: true }])),
      'each key labelled the pair that was on screen when it was pressed, in order',
    );
  }, { keybindings });
});

test("changes discarded with Don't Save stay discarded: the review reopens clean", { timeout: 6 * 60_000 }, async () => {
  await withVsCode('annotations-dont-save', async (vscode, workspace) => {
    await openReview(vscode);
    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    await press(vscode, '1', 'pair 1 = A', showsPair(0, { label: 'a', flagged: false, reviewed: true }));
    await waitForDirty(vscode, DATASET, true, 'after the edit');
    await vscode.page.keyboard.press('Control+w');
    await vscode.clickDialogButton("Don't Save");
    await vscode.page.locator('.tabs-container .tab', { hasText: 'Preference Lens Review' }).waitFor({ state: 'detached' }).catch(() => undefined);
    await openReview(vscode);
    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    await waitForView(vscode, 'pair 1 as the file has it', showsPair(0, CLEAN));
    // Long enough for a (wrong) restore to show.
    await vscode.page.waitForTimeout(2000);
    await waitForView(vscode, 'pair 1 still as the file has it', showsPair(0, CLEAN));
    assert.equal(await vscode.tabIsDirty(DATASET), false, 'nothing to save after Don\'t Save');
    assert.equal(existsSync(path.join(workspace, SIDECAR)), false, 'nothing was written');
    assert.deepEqual(filesUnder(vscode.server.userDataDir).filter((f) => f.file.includes(`${path.sep}recovery${path.sep}`)), [], 'no recovery journal is left');
  });
});

/** The recovery journal (src/core/recoveryJournal.ts) of the review, once it holds `events` changes. */
function journalWith(userDataDir: string, events: number): string | undefined {
  return filesUnder(userDataDir)
    .map((f) => f.file)
    .find((file) => {
      if (!file.includes(`${path.sep}recovery${path.sep}`)) return false;
      try {
        return readFileSync(file, 'utf8').trim().split('\n').length === events + 1; // the header, then the events
      } catch {
        return false;
      }
    });
}

/**
 * Unsaved edits, then a crash: `extension-host` SIGKILLs only the extension host and reloads the
 * window; `server` SIGKILLs code-server's whole process group (the extension host too) and starts it
 * again on the same user data, as after a machine crash. Both wait for VS Code's hot-exit backup
 * first. `no-backup` is the server crash with hot exit off: only the extension's own recovery
 * journal has the edits.
 */
async function hotExitScenario(crash: 'extension-host' | 'server' | 'no-backup'): Promise<void> {
  const settings = crash === 'no-backup' ? { 'files.hotExit': 'off' } : {};
  await withVsCode(`annotations-hot-exit-${crash}`, async (vscode, workspace) => {
    const dataset = path.join(workspace, DATASET);
    const datasetBefore = readFileSync(dataset);
    await openReview(vscode);

    const editedAt = Date.now();
    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    await press(vscode, '1', 'pair 1 = A', (v) => showsPair(0, { label: 'a', flagged: false, reviewed: true })(v) && v.focused === 1);
    await press(vscode, 'f', 'pair 2 flagged', showsPair(1, { label: null, flagged: true, reviewed: false }));
    await waitForDirty(vscode, DATASET, true, 'after edits');

    // Three unsaved events: label and reviewed of pair 1, flagged of pair 2. VS Code backs dirty
    // custom editors up on a timer after the last edit (1 s by default); the journal is written at
    // once.
    const deadline = Date.now() + 30_000;
    if (crash === 'no-backup') {
      let journal: string | undefined;
      while ((journal = journalWith(vscode.server.userDataDir, 3)) === undefined) {
        assert.ok(Date.now() < deadline, 'the recovery journal never held the three changes');
        await vscode.page.waitForTimeout(100);
      }
      console.log(`journal holds the edits ${Date.now() - editedAt} ms after the first: ${journal.replaceAll(vscode.server.baseDir + path.sep, '')}`);
    } else {
      let backup: string | undefined;
      while ((backup = completeBackup(vscode.server.userDataDir, 3)) === undefined) {
        assert.ok(Date.now() < deadline, 'no complete hot-exit backup was written within 30 s of the edits');
        await vscode.page.waitForTimeout(250);
      }
      console.log(`backup complete ${Date.now() - editedAt} ms after the first edit: ${backup.replaceAll(vscode.server.baseDir + path.sep, '')}`);
    }

    const extensionHosts = vscode.server.processes().filter((p) => p.args.includes('--type=extensionHost'));
    assert.equal(extensionHosts.length, 1, `expected one extension host among ${JSON.stringify(vscode.server.processes())}`);
    if (crash === 'extension-host') {
      process.kill(extensionHosts[0]!.pid, 'SIGKILL');
      const killedAt = Date.now();
      while (vscode.server.processes().some((p) => p.pid === extensionHosts[0]!.pid)) {
        assert.ok(Date.now() - killedAt < 10_000, 'the extension host did not die');
        await vscode.page.waitForTimeout(100);
      }
      assert.equal(existsSync(path.join(workspace, SIDECAR)), false, 'unsaved edits must not have been written to the sidecar');
      await vscode.reloadWindow();
    } else {
      await vscode.restartServer();
      assert.equal(existsSync(path.join(workspace, SIDECAR)), false, 'unsaved edits must not have been written to the sidecar');
      if (crash === 'no-backup') assert.equal(completeBackup(vscode.server.userDataDir, 3), undefined, 'hot exit is off: VS Code kept no backup');
    }
    const restored = { first: showsPair(0, { label: 'a', flagged: false, reviewed: true }), second: showsPair(1, { label: null, flagged: true, reviewed: false }) };
    await waitForView(vscode, 'the unsaved edits restored', (v) => restored.first(v) && restored.second(v), 90_000);
    // Restored edits are still unsaved: the tab must be dirty.
    await waitForDirty(vscode, DATASET, true, 'after restore');

    // The restored edits are real edits, not just pixels: saving writes them. (The view comes back
    // where it was: the second pair in the pair view.)
    await vscode.focusWebview('.pair .pair-id');
    const sidecar = path.join(workspace, SIDECAR);
    await saveReview(vscode, DATASET, sidecar, 'the restored review');
    const { annotations } = foldSidecar(sidecar);
    assert.deepEqual(Object.fromEntries(annotations), { 1: { label: 'a', reviewed: true }, 2: { flagged: true } });
    assert.ok(readFileSync(dataset).equals(datasetBefore), 'the dataset must stay byte-identical');
    // Saved: nothing is left to recover.
    const journalDeadline = Date.now() + 10_000;
    let left: string[];
    while ((left = filesUnder(vscode.server.userDataDir).map((f) => f.file).filter((f) => f.includes(`${path.sep}recovery${path.sep}`))).length) {
      assert.ok(Date.now() < journalDeadline, `the recovery journal outlived the save: ${left.map((f) => path.basename(f)).join(', ')}`);
      await vscode.page.waitForTimeout(100);
    }
  }, { settings });
}

test('unsaved edits survive a killed extension host: hot-exit backup restored after reload', { timeout: 8 * 60_000 }, () =>
  hotExitScenario('extension-host'),
);

// Intermittent until the recovery journal: when the page reconnected to the restarted server before
// it reloaded, VS Code opened the review afresh (no backup) in the new extension host and then backed
// up that empty document over the good backup, so the tab came back dirty without the edits.
test('unsaved edits survive a crash of the whole VS Code server: restored after restart', { timeout: 8 * 60_000 }, () => hotExitScenario('server'));

test('unsaved edits survive a server crash with hot exit off: the recovery journal restores them', { timeout: 8 * 60_000 }, () =>
  hotExitScenario('no-backup'),
);
