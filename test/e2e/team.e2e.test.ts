/**
 * Two annotators on one dataset in a real VS Code (issue 15): a team file beside the dataset names
 * alice, bob and carol with two annotators per pair; Alice labels pairs 1–6 from the keyboard, the
 * annotator setting is switched to Bob without a reload, Bob labels pairs 3–8 (agreeing on some, not
 * on others) and his "My share" list holds exactly his assigned pairs not yet labelled. Carol then
 * adjudicates: the adjudication queue holds exactly the two conflicts, the pair view shows each
 * annotator's label, she decides both from the keyboard and the queue empties. The review is saved;
 * `plens export` writes the adjudicated labels (and, with --resolve majority, the file's label where
 * the two tie); the statistics view shows both annotators, their agreement — κ, α, percent agreement,
 * each one's agreement with the file — their progress against their assigned pairs, and the conflicts
 * adjudicated, equal to what `plens review` prints for the saved file.
 *
 * Uses only the 40-pair fixture in test/fixtures.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './codeServer';
import { findVsix, launchVsCode, pollUntil, reportFailure } from './harness';
import { pct } from './cliReview';
import { press, showsPair, waitForView } from './reviewView';
import { foldSidecar, saveReview } from './sidecar';
import { runPlens } from '../support/plens';
import { assignees } from '../../src/core/assignment';
import { teamPath } from '../../src/core/teamFile';
import { pairKeys } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';

const FIXTURE = path.join(repoRoot, 'test/fixtures/hh-rlhf-sample.jsonl');
const DATASET = 'sample.jsonl';
const TEAM = { annotators: ['alice', 'bob', 'carol'], overlap: 2 };
const SETTINGS = {
  'preferenceLens.annotator': 'alice',
  'preferenceLens.scoreOnOpen': false,
  'files.autoSave': 'off',
};

/** The team figures as plens review prints them, written the way the statistics view writes them. */
interface CliTeam {
  annotators: Array<{ name: string; labelled: number; agreement_with_file: number | null; agreement_with_model: number | null; assigned: number; done: number }>;
  adjudication: { conflicts: number; adjudicated: number };
  inter_annotator: { pairs_multiply_labelled: number; percent_agreement: number | null; krippendorff_alpha: number | null; pairwise: Array<{ a: string; b: string; pairs: number; percent_agreement: number | null; cohen_kappa: number | null }> };
}
const fixed = (x: number | null) => (x === null ? '—' : x.toFixed(3));
function displayed(cli: CliTeam) {
  return {
    annotators: cli.annotators.map((a) => [a.name, String(a.labelled), pct(a.agreement_with_file), pct(a.agreement_with_model), String(a.assigned), `${a.done} (${pct(a.assigned ? a.done / a.assigned : null)})`]),
    conflicts: String(cli.adjudication.conflicts),
    adjudicated: String(cli.adjudication.adjudicated),
    multiply: String(cli.inter_annotator.pairs_multiply_labelled),
    percent: pct(cli.inter_annotator.percent_agreement),
    alpha: fixed(cli.inter_annotator.krippendorff_alpha),
    kappa: cli.inter_annotator.pairwise.map((p) => [`${p.a} · ${p.b}`, String(p.pairs), pct(p.percent_agreement), fixed(p.cohen_kappa)]),
  };
}
const READ_TEAM = `(() => {
  const rows = (id) => Array.from(document.querySelectorAll('[data-testid="' + id + '"] tbody tr')).map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()));
  const one = (id) => (document.querySelector('[data-testid="' + id + '"]') || { textContent: 'missing ' + id }).textContent.trim();
  return { annotators: rows('annotators-table'), conflicts: one('team-conflicts'), adjudicated: one('team-adjudicated'), multiply: one('team-multiply-labelled'), percent: one('team-percent-agreement'), alpha: one('team-alpha'), kappa: rows('kappa-table') };
})()`;

test('two annotators label overlapping pairs, an adjudicator settles their conflicts; export and the statistics view agree with plens', { timeout: 10 * 60_000 }, async () => {
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'plens-e2e-team-'));
  const dataset = path.join(workspace, DATASET);
  copyFileSync(FIXTURE, dataset);
  // The team file the whole team shares through git (src/core/assignment.ts).
  writeFileSync(teamPath(dataset), JSON.stringify(TEAM, null, 2) + '\n');
  const { pairs } = await loadDataset(dataset);
  const keys = pairKeys(pairs);
  const assignedTo = (name: string) => keys.flatMap((key, i) => (assignees(key, TEAM).includes(name) ? [i] : []));
  const vscode = await launchVsCode({ workspace, vsix: findVsix(), name: 'team', settings: SETTINGS });
  try {
    await vscode.quickOpen(DATASET);
    await vscode.runCommand('Preference Lens: Open Review');
    await vscode.waitForWebviewTexts('[data-testid="pair-count"]', (t) => t[0] === '40');
    await vscode.waitForWebviewTexts('[data-testid="annotator"]', (t) => t[0] === 'Annotating as alice');
    await vscode.waitForWebviewTexts('[data-testid="team-file"]', (t) => t[0] === 'Team: alice, bob, carol · 2 per pair');

    // Alice: pairs 1–6 as A, B, A, tie, A, B (each label key moves to the next pair).
    await vscode.focusWebview('.pair[data-index="0"] .pair-id');
    await waitForView(vscode, 'pair 1 focused', (v) => v.focused === 0);
    const alice: Array<[string, 'a' | 'b' | 'tie']> = [['1', 'a'], ['2', 'b'], ['1', 'a'], ['3', 'tie'], ['1', 'a'], ['2', 'b']];
    for (const [i, [key, label]] of alice.entries()) {
      await press(vscode, key, `alice: pair ${i + 1} = ${label}`, (v) => showsPair(i, { label, flagged: false, reviewed: true })(v) && v.focused === i + 1);
    }

    // Bob takes over in the same window: the setting changes through its command, no reload.
    await vscode.runCommandWithInput('Preference Lens: Set Annotator Name…', 'Annotator name', 'bob');
    await vscode.waitForWebviewTexts('[data-testid="annotator"]', (t) => t[0] === 'Annotating as bob');
    // Bob: pairs 3–8 as A (agrees), B (tie before), A (agrees), A (B before), B, A.
    // Back to pair 3 from the keyboard: the focused pair is still Alice's next one, pair 7.
    await vscode.focusWebview('.pair[data-index="6"] .pair-id');
    for (let i = 5; i >= 2; i--) await press(vscode, 'k', `pair ${i + 1} focused`, (v) => v.focused === i);
    const bob: Array<[string, 'a' | 'b']> = [['1', 'a'], ['2', 'b'], ['1', 'a'], ['1', 'a'], ['2', 'b'], ['1', 'a']];
    for (const [k, [key, label]] of bob.entries()) {
      const i = k + 2;
      await press(vscode, key, `bob: pair ${i + 1} = ${label}`, (v) => showsPair(i, { label, flagged: false, reviewed: true })(v) && v.focused === i + 1);
    }

    // Bob's share: the pairs the team file assigns him, less the ones he labelled (2–7), in file order.
    const bobsShare = assignedTo('bob').filter((i) => i < 2 || i > 7);
    await press(vscode, 'Shift+M', 'bob’s share', (v) => v.filter === 'my-share' && v.total === bobsShare.length && v.rows.every((r, k) => r.index === bobsShare[k]));

    // Carol adjudicates. The conflicts: pair 4 (alice tie, bob B) and pair 6 (alice B, bob A).
    await vscode.runCommandWithInput('Preference Lens: Set Annotator Name…', 'Annotator name', 'carol');
    await vscode.waitForWebviewTexts('[data-testid="annotator"]', (t) => t[0] === 'Annotating as carol');
    await vscode.focusWebview('.row[data-index]');
    await press(vscode, 'Shift+Q', 'the adjudication queue', (v) => v.filter === 'annotators-disagree' && v.total === 2 && JSON.stringify(v.rows.map((r) => r.index)) === '[3,5]' && v.focused === 3);
    await press(vscode, 'Shift+A', 'adjudication on', () => true);
    await vscode.waitForWebviewTexts('[data-testid="adjudicate"]', (t) => t[0]?.startsWith('Adjudicate: on') === true);
    await vscode.waitForWebviewTexts('[data-testid="annotator-labels"]', (t) => t[0] === 'Annotators: alice: tie · bob: B');
    await vscode.focusWebview('.pair[data-index="3"] .pair-id');
    await press(vscode, '2', 'pair 4 adjudicated B', (v) => v.total === 1 && v.rows.length === 1 && v.rows[0].index === 5 && v.focused === 5);
    await vscode.waitForWebviewTexts('[data-testid="annotator-labels"]', (t) => t[0] === 'Annotators: alice: B · bob: A');
    await press(vscode, '1', 'pair 6 adjudicated A', (v) => v.total === 0);
    // The decisions are listed apart; the pair view names the adjudicator.
    const filter = '[data-testid="filter"]';
    await (await vscode.webviewFrame(filter)).locator(filter).selectOption('adjudicated');
    await waitForView(vscode, 'the adjudicated pairs', (v) => v.filter === 'adjudicated' && JSON.stringify(v.rows.map((r) => r.index)) === '[3,5]');
    await vscode.waitForWebviewTexts('[data-testid="adjudication"]', (t) => t[0] === 'Adjudicated: B by carol');

    const sidecar = `${dataset}.plens-annotations.jsonl`;
    await saveReview(vscode, DATASET, sidecar, 'the team review');
    const { events } = foldSidecar(sidecar);
    const labelsBy = (name: string) => events.filter((e) => e.field === 'label' && e.by === name && !('role' in e)).map((e) => [e.line, e.to]);
    assert.deepEqual(labelsBy('alice'), alice.map(([, label], i) => [i + 1, label]), 'alice’s labels under her name');
    // Bob's agreeing labels are recorded too: a colleague's label of a pair is not his.
    assert.deepEqual(labelsBy('bob'), bob.map(([, label], k) => [k + 3, label]), 'bob’s labels under his name');
    assert.deepEqual(labelsBy('carol'), [], 'carol labelled nothing of her own');
    const decisions = events.filter((e) => (e as { role?: string }).role === 'adjudicator').map((e) => [e.by, e.line, e.to]);
    assert.deepEqual(decisions, [['carol', 4, 'b'], ['carol', 6, 'a']], 'carol’s decisions, recorded as adjudications');

    // The export resolves adjudicated → majority → file: pair by pair, which response is chosen.
    const exported = async (resolve: string) => {
      const out = path.join(workspace, `out-${resolve}.jsonl`);
      const run = await runPlens(['export', dataset, '--out', out, '--to', 'trl-conversational', '--resolve', resolve]);
      assert.equal(run.code, 0, run.stderr);
      const rows = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { chosen: unknown });
      assert.equal(rows.length, 40);
      return rows.map((row, i) => (JSON.stringify(row.chosen) === JSON.stringify(pairs[i].a) ? 'a' : JSON.stringify(row.chosen) === JSON.stringify(pairs[i].b) ? 'b' : '?'));
    };
    // Pairs 1–8: alice A, B; both A; tie/B → carol B; both A; B/A → carol A; bob B, A. The rest: the file's A.
    const fileLabels = pairs.map((p) => p.label);
    assert.ok(fileLabels.every((l) => l === 'a'));
    assert.deepEqual(await exported('adjudicated'), ['a', 'b', 'a', 'b', 'a', 'a', 'b', 'a', ...fileLabels.slice(8)]);
    // By majority alone, the two conflicts tie and keep the file's label.
    assert.deepEqual(await exported('majority'), ['a', 'b', 'a', 'a', 'a', 'a', 'b', 'a', ...fileLabels.slice(8)]);

    const run = await runPlens(['review', dataset, '--model', path.join(repoRoot, 'dist/models/baseline'), '--no-cache']);
    assert.equal(run.code, 0, run.stderr);
    const cli = JSON.parse(run.stdout) as CliTeam;
    assert.deepEqual(cli.annotators.map((a) => [a.name, a.labelled]), [['alice', 6], ['bob', 6], ['carol', 0]]);
    assert.deepEqual(cli.annotators.map((a) => a.assigned), ['alice', 'bob', 'carol'].map((name) => assignedTo(name).length));
    assert.deepEqual(cli.adjudication, { conflicts: 2, adjudicated: 2 });
    assert.equal(cli.inter_annotator.pairs_multiply_labelled, 4);
    assert.equal(cli.inter_annotator.pairwise[0].pairs, 4);
    const expected = displayed(cli);

    // The editor scores with the same bundled model, so agreement with the model matches too.
    await vscode.runCommand('Preference Lens: Score Again');
    await vscode.waitForWebviewTexts('[data-testid="scored-count"]', (t) => t[0] === '40', { timeoutMs: 120_000, failOn: '[role="alert"]' });
    const toggle = '[data-testid="toggle-stats"]';
    await (await vscode.webviewFrame(toggle)).locator(toggle).click();
    await vscode.waitForWebviewTexts('[data-testid="team"]', (t) => t.length === 1);
    const shown = await pollUntil(vscode, 'the team figures', () => vscode.evalInWebview<ReturnType<typeof displayed>>('[data-testid="team"]', READ_TEAM), (v) => JSON.stringify(v) === JSON.stringify(expected), { timeoutMs: 20_000 }).catch(() =>
      vscode.evalInWebview<ReturnType<typeof displayed>>('[data-testid="team"]', READ_TEAM),
    );
    await vscode.evalInWebview('[data-testid="team"]', `document.querySelector('[data-testid="team"]').scrollIntoView({ block: 'start' })`);
    await vscode.screenshot('team-stats');
    assert.deepEqual(shown, expected, 'the statistics view and plens review show different team figures');
  } catch (error) {
    await reportFailure(vscode, 'team');
    throw error;
  } finally {
    await vscode.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
});
