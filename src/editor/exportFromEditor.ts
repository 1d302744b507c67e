/**
 * "Export Cleaned Dataset" from the review editor: the same export as `plens export`, with the
 * annotations as they stand in the editor (saved or not) and the scores it has.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportDataset, suggestedOut, type DropRule, type ExportTarget } from '../core/export';
import { readSettings } from '../settings';
import type { ReviewDocument } from './reviewDocument';

const TARGETS: (vscode.QuickPickItem & { target: ExportTarget })[] = [
  { label: 'Same format', description: 'the original format, with corrected labels applied', target: 'same' },
  { label: 'TRL conversational', description: '{prompt, chosen, rejected} message lists', target: 'trl-conversational' },
  { label: 'TRL standard', description: '{prompt, chosen, rejected} strings (single-turn pairs only)', target: 'trl-standard' },
];

const DROPS: (vscode.QuickPickItem & { rule: DropRule })[] = [
  { label: 'Flagged pairs', rule: 'flagged', picked: true },
  { label: 'Pairs labelled both bad', rule: 'both-bad', picked: true },
  { label: 'Unreviewed disagreements', description: 'pairs the model disagrees with that nobody has reviewed', rule: 'unreviewed-disagreements' },
];

export async function exportFromEditor(document: ReviewDocument | undefined): Promise<void> {
  if (!document) {
    void vscode.window.showInformationMessage('Open a dataset in the Preference Lens review editor first, then export it.');
    return;
  }
  const { state } = document;
  if (!state.table.complete) {
    void vscode.window.showInformationMessage('The dataset is still being read; export once the pair count stops growing.');
    return;
  }
  const target = await vscode.window.showQuickPick(TARGETS, { title: 'Export cleaned dataset: format' });
  if (!target) return;
  const drops = await vscode.window.showQuickPick(DROPS, { title: 'Export cleaned dataset: leave out', canPickMany: true });
  if (!drops) return;
  const rules = drops.map((d) => d.rule);
  if (rules.includes('unreviewed-disagreements') && state.table.scored < state.table.count) {
    const go = await vscode.window.showWarningMessage(
      `Only ${state.table.scored} of ${state.table.count} pairs are scored; unscored pairs are kept.`,
      { modal: true },
      'Export anyway',
    );
    if (go !== 'Export anyway') return;
  }
  const source = document.uri.fsPath;
  const suggested = suggestedOut(source, target.target);
  const out = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(suggested), title: 'Export cleaned dataset to' });
  if (!out) return;

  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Exporting ${path.basename(out.fsPath)}`, cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        let reported = 0;
        return exportDataset(source, out.fsPath, {
          to: target.target,
          drop: rules,
          annotations: state.annotations,
          resolve: readSettings().exportResolve,
          // Export walks the file's pairs in the same order as the review table.
          scoreOf: (ordinal) => state.table.score(ordinal),
          signal: controller.signal,
          onProgress: ({ bytesIndexed, totalBytes }) => {
            const percent = totalBytes ? (100 * bytesIndexed) / totalBytes : 0;
            progress.report({ increment: percent - reported });
            reported = percent;
          },
        });
      },
    );
    const dropped = Object.entries(report.dropped)
      .map(([reason, count]) => `${count} ${reason}`)
      .join(', ');
    const resolution = report.resolution
      ? `; team labels by ${report.resolution.policy}: ${report.resolution.adjudicated} adjudicated, ${report.resolution.majority} by majority, ${report.resolution.ties} tied (file's label kept)`
      : '';
    const choice = await vscode.window.showInformationMessage(
      `Exported ${report.written} pairs to ${vscode.workspace.asRelativePath(out)} (${report.relabelled} relabelled${resolution}${dropped ? `; left out: ${dropped}` : ''}).`,
      'Open',
    );
    if (choice === 'Open') await vscode.commands.executeCommand('vscode.open', out);
  } catch (error) {
    if ((error as Error).name === 'AbortError') return;
    void vscode.window.showErrorMessage(`Preference Lens could not export: ${(error as Error).message}`);
  }
}

