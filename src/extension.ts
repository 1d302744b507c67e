/** Activation: wiring only. Everything disposable goes to `context.subscriptions`. */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportFromEditor } from './editor/exportFromEditor';
import { registerGpuCommands } from './gpuCommand';
import { REVIEW_VIEW_TYPE, ReviewEditorProvider } from './editor/reviewEditorProvider';
import { QuickScore } from './quickScore';
import { ScorerService } from './scoring/scorerService';
import { StatusBar } from './statusBar';
import { readSettings, SECTION } from './settings';

const REMOTE_TOKEN_SECRET = 'preferenceLens.remoteToken';

export function activate(context: vscode.ExtensionContext): void {
  const scorers = new ScorerService(context.extensionPath, context.globalStorageUri.fsPath, () => context.secrets.get(REMOTE_TOKEN_SECRET));
  context.subscriptions.push(scorers);
  let gitUser: string | undefined;
  void gitUserName().then((name) => (gitUser = name));
  // Read on every change so a new name in the settings applies at once.
  const annotator = () => readSettings().annotator || gitUser || os.userInfo().username;
  const reviews = ReviewEditorProvider.register(context, scorers, annotator);
  registerGpuCommands(context);

  context.subscriptions.push(
    new StatusBar(reviews),
    new QuickScore(scorers),
    vscode.commands.registerCommand('preferenceLens.openSettings', () =>
      vscode.commands.executeCommand('workbench.action.openSettings', `@ext:${context.extension.id}`),
    ),
    vscode.commands.registerCommand('preferenceLens.openReview', async (target?: vscode.Uri) => {
      const uri = target instanceof vscode.Uri ? target : (activeFileUri() ?? (await pickDataset()));
      if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, REVIEW_VIEW_TYPE);
    }),
    vscode.commands.registerCommand('preferenceLens.chooseModel', chooseModel),
    vscode.commands.registerCommand('preferenceLens.setRemoteToken', async () => {
      const token = await vscode.window.showInputBox({
        title: 'Token for the remote scoring endpoint',
        prompt: 'Kept in VS Code’s secret storage, never in settings. Leave empty to remove it.',
        password: true,
        ignoreFocusOut: true,
      });
      if (token === undefined) return;
      if (token) await context.secrets.store(REMOTE_TOKEN_SECRET, token);
      else await context.secrets.delete(REMOTE_TOKEN_SECRET);
      scorers.reset();
    }),
    vscode.commands.registerCommand('preferenceLens.cancelScoring', () => reviews.active?.cancelScoring()),
    vscode.commands.registerCommand('preferenceLens.rescore', () => reviews.active?.rescore()),
    vscode.commands.registerCommand('preferenceLens.exportDataset', () => exportFromEditor(reviews.active)),
  );
}

export function deactivate(): void {}

/** The git user name, the default annotator: what a reviewer's commits are already signed with. */
function gitUserName(): Promise<string | undefined> {
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
  return new Promise((resolve) =>
    execFile('git', ['config', 'user.name'], { cwd, timeout: 5000 }, (error, stdout) => resolve(error ? undefined : stdout.trim() || undefined)),
  );
}

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
  const bundled = 'Use the bundled baseline model';
  const browse = 'Choose a model folder…';
  const choice = await vscode.window.showQuickPick([browse, bundled], {
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
