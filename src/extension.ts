/** Activation: wiring only. Everything disposable goes to `context.subscriptions`. */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { exportFromEditor } from './editor/exportFromEditor';
import { registerGpuCommands } from './gpuCommand';
import { REVIEW_VIEW_TYPE, ReviewEditorProvider } from './editor/reviewEditorProvider';
import { QuickScore } from './quickScore';
import { ScorerService } from './scorerService';
import { StatusBar } from './statusBar';
import { readSettings, SECTION } from './settings';
import { isEndpoint } from './engine/createScorer';
import { isHubModelId } from './engine/hub';
import { parseHubDatasetPath, resolveHubDatasetFile } from './engine/hubDataset';
import { readModelFolder } from './engine/modelFolder';
import { DEFAULT_RECOMMENDATION, RECOMMENDED_MODELS } from './engine/recommendedModels';

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
    vscode.commands.registerCommand('preferenceLens.openHubDataset', openHubDataset),
    vscode.commands.registerCommand('preferenceLens.chooseModel', () => chooseModel('modelPath')),
    vscode.commands.registerCommand('preferenceLens.addModel', () => chooseModel('additionalModels')),
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
    vscode.commands.registerCommand('preferenceLens.setAnnotator', async () => {
      // Who labels from now on, in every open review: several people can share one machine.
      const name = await vscode.window.showInputBox({
        title: 'Annotator name',
        prompt: 'Labels you make are recorded under this name (your git user name when empty).',
        value: annotator(),
        validateInput: (value) => (value.trim().length > 100 ? 'At most 100 characters' : undefined),
      });
      if (name !== undefined) await vscode.workspace.getConfiguration(SECTION).update('annotator', name.trim(), vscode.ConfigurationTarget.Global);
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
    filters: { 'Preference data': ['jsonl', 'json', 'gz', 'parquet'], 'All files': ['*'] },
  });
  return picked?.[0];
}

/**
 * A Hugging Face dataset file by its hf:// path, as plens takes it: from the Hugging Face cache, else
 * downloaded into it (progress and Cancel in a notification), then opened in the review editor. The
 * annotations sidecar sits next to the file in the cache, as next to any dataset.
 */
async function openHubDataset(): Promise<void> {
  const spec = await vscode.window.showInputBox({
    title: 'Open a Hugging Face dataset file for review',
    prompt: 'hf://datasets/org/name/path/to/file (.parquet, .jsonl, .json, .jsonl.gz), or hf://datasets/org/name@revision/path',
    placeHolder: 'hf://datasets/org/name/data/test-00000-of-00001.parquet',
    ignoreFocusOut: true,
    validateInput: (value) => {
      try {
        parseHubDatasetPath(value.trim());
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    },
  });
  if (!spec) return;
  try {
    const local = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Preference Lens: ${spec.trim()}`, cancellable: true },
      (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        let shown = 0;
        return resolveHubDatasetFile(spec.trim(), {
          signal: controller.signal,
          onProgress: ({ loaded, total }) => {
            const percent = total > 0 ? (100 * loaded) / total : 0;
            progress.report({ message: `downloading, ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`, increment: percent - shown });
            shown = percent;
          },
        });
      },
    );
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(local), REVIEW_VIEW_TYPE);
  } catch (error) {
    if ((error as Error).name === 'AbortError') return;
    void vscode.window.showErrorMessage(`Preference Lens could not open ${spec.trim()}: ${(error as Error).message}`);
  }
}

/**
 * The model chooser. `modelPath`: the review's model. `additionalModels`: one more model that scores
 * every review besides it (several models, see Settings.additionalModels), added to that list.
 */
async function chooseModel(target: 'modelPath' | 'additionalModels'): Promise<void> {
  const adding = target === 'additionalModels';
  type Choice = vscode.QuickPickItem & { pick: () => Promise<string | undefined> };
  const recommended: Choice[] = RECOMMENDED_MODELS.map((model) => ({
    label: model.title,
    description: `${model.id} · ~${model.downloadGb} GB download`,
    detail: `Runs on ${model.runsOn}. ${model.note[0].toUpperCase()}${model.note.slice(1)}. Downloaded once from the Hugging Face Hub into its cache, with progress and cancel.`,
    pick: async () => model.id,
  }));
  const choices: Array<Choice | vscode.QuickPickItem> = [
    { label: 'Recommended reward models', kind: vscode.QuickPickItemKind.Separator },
    ...recommended,
    { label: 'Your own', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(folder) Choose a model folder…', detail: 'A Hugging Face folder (config.json + model.safetensors, as downloaded) or an ONNX export', pick: pickModelFolder } as Choice,
    { label: '$(cloud-download) Enter a Hugging Face model id…', detail: 'org/name of a reward model (a sequence classifier) on the Hub', pick: enterHubId } as Choice,
    { label: '$(server) Use a serving endpoint…', detail: 'vLLM …/classify, Text Embeddings Inference …/predict, or Triton / KServe …/v2/models/<name>', pick: enterEndpoint } as Choice,
    // The baseline is the fallback first model, not a second opinion worth adding.
    ...(adding
      ? []
      : [
          {
            label: 'Use the bundled baseline',
            detail: 'Offline fallback: a linear bag-of-tokens model, mostly a length model. Its disagreements are not evidence of label errors.',
            pick: async () => '',
          } as Choice,
        ]),
  ];
  const title = adding ? 'Reward model to add to every review (scored besides the first)' : 'Reward model for Preference Lens';
  const choice = (await vscode.window.showQuickPick(choices, { title, matchOnDescription: true, matchOnDetail: true })) as Choice | undefined;
  if (!choice) return;
  const modelPath = await choice.pick();
  if (modelPath === undefined) return;
  const config = vscode.workspace.getConfiguration(SECTION);
  if (!adding) return void (await config.update('modelPath', modelPath, vscode.ConfigurationTarget.Global));
  const models = readSettings().additionalModels;
  if (models.includes(modelPath) || modelPath === readSettings().modelPath) {
    void vscode.window.showInformationMessage(`Preference Lens: ${modelPath} already scores the reviews.`);
    return;
  }
  await config.update('additionalModels', [...models, modelPath], vscode.ConfigurationTarget.Global);
}

/** A folder the engine can read, or undefined after saying why not (the same reader the worker uses). */
async function pickModelFolder(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, title: 'Reward model folder' });
  const folder = picked?.[0]?.fsPath;
  if (!folder) return undefined;
  try {
    await readModelFolder(folder);
    return folder;
  } catch (error) {
    void vscode.window.showErrorMessage(`Preference Lens cannot use ${folder}: ${(error as Error).message}`);
    return undefined;
  }
}

async function enterHubId(): Promise<string | undefined> {
  const id = await vscode.window.showInputBox({
    title: 'Hugging Face model id',
    placeHolder: DEFAULT_RECOMMENDATION.id,
    prompt: 'A sequence-classification reward model (safetensors or ONNX). Downloaded once into the Hugging Face cache; HF_TOKEN for gated models.',
    validateInput: (value) => (isHubModelId(value.trim()) ? undefined : 'An id looks like org/name'),
  });
  return id?.trim() || undefined;
}

async function enterEndpoint(): Promise<string | undefined> {
  const url = await vscode.window.showInputBox({
    title: 'Reward model endpoint',
    placeHolder: 'http://gpu-box:8000/classify',
    prompt:
      'vLLM (…/classify), TEI (…/predict) or KServe v2 / Triton (…/v2/models/<name>); several endpoints of one model separated by commas share the work. Set its token with "Preference Lens: Set Remote Endpoint Token".',
    validateInput: (value) => {
      try {
        return isEndpoint(value.trim()) ? undefined : 'An endpoint starts with http:// or https://';
      } catch (error) {
        return (error as Error).message;
      }
    },
  });
  return url?.trim() || undefined;
}
