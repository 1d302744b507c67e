/** Activation: wiring only. Everything disposable goes to `context.subscriptions`. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { REVIEW_VIEW_TYPE, ReviewEditorProvider } from './editor/reviewEditorProvider';
import { ScorerService } from './scoring/scorerService';
import { SECTION } from './settings';

export function activate(context: vscode.ExtensionContext): void {
  const scorers = new ScorerService(context.extensionPath);
  context.subscriptions.push(scorers);
  const reviews = ReviewEditorProvider.register(context, scorers);

  context.subscriptions.push(
    vscode.commands.registerCommand('preferenceLens.openReview', async (target?: vscode.Uri) => {
      const uri = target instanceof vscode.Uri ? target : (activeFileUri() ?? (await pickDataset()));
      if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, REVIEW_VIEW_TYPE);
    }),
    vscode.commands.registerCommand('preferenceLens.chooseModel', chooseModel),
    vscode.commands.registerCommand('preferenceLens.cancelScoring', () => reviews.active?.cancelScoring()),
    vscode.commands.registerCommand('preferenceLens.rescore', () => reviews.active?.rescore()),
  );
}

export function deactivate(): void {}

/** The file behind the active editor tab, whether a text editor or another custom editor. */
function activeFileUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) return input.uri;
  return undefined;
}

async function pickDataset(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Open a preference dataset for review',
    canSelectMany: false,
    filters: { 'Preference data': ['jsonl', 'json'], 'All files': ['*'] },
  });
  return picked?.[0];
}

async function chooseModel(): Promise<void> {
  const demo = 'Use the bundled demo model';
  const browse = 'Choose a model folder…';
  const choice = await vscode.window.showQuickPick([browse, demo], {
    title: 'Reward model for Preference Lens',
    placeHolder: 'A folder with model.onnx and tokenizer.json (an optimum ONNX export)',
  });
  if (!choice) return;
  let modelPath = '';
  if (choice === browse) {
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, title: 'Model folder' });
    if (!picked?.[0]) return;
    modelPath = picked[0].fsPath;
    try {
      await vscode.workspace.fs.stat(vscode.Uri.file(path.join(modelPath, 'model.onnx')));
    } catch {
      void vscode.window.showErrorMessage(
        `${modelPath} has no model.onnx. Export the model with ` +
          '`optimum-cli export onnx -m <model id> --task text-classification <folder>` and choose that folder.',
      );
      return;
    }
  }
  await vscode.workspace.getConfiguration(SECTION).update('modelPath', modelPath, vscode.ConfigurationTarget.Global);
}
