/**
 * The editor side of GPU support: a command that, with the user's consent, downloads onnxruntime's
 * CUDA provider libraries for the bundled onnxruntime-node into the extension's global storage
 * (engine/gpu/cudaProviderInstall.ts does the work), so a Linux x64 user with an NVIDIA GPU gets
 * `cuda` without building anything. The VSIX cannot carry them: they are hundreds of MB, and only
 * useful on machines with an NVIDIA GPU.
 */
import * as vscode from 'vscode';
import {
  CUDA_PROVIDER_PACKAGE,
  cudaPlatformSupport,
  cudaRuntimeDir,
  DEFAULT_NUGET_FEED,
  findBundledOnnxRuntime,
  findInstalledCudaRuntime,
  installCudaProviders,
  readOnnxRuntimeVersion,
  resolveCudaProviderPackage,
  type CudaInstallProgress,
  type CudaProviderPackage,
} from './engine/gpu/cudaProviderInstall';
import { SECTION } from './settings';

export const INSTALL_GPU_SUPPORT_COMMAND = 'preferenceLens.installGpuSupport';
/**
 * Optional setting: another NuGet v3 index (a company mirror) for networks that cannot reach
 * nuget.org. Read even while package.json does not declare it, so it can be set in settings.json.
 */
const FEED_SETTING = 'cudaProviderFeed';
/** What the providers need on the machine; also the usual reason `cuda` still falls back after an install. */
const CUDA_REQUIREMENTS = 'an NVIDIA driver, CUDA 12 and cuDNN 9 (their libraries on the library path, e.g. LD_LIBRARY_PATH)';

export function registerGpuCommands(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand(INSTALL_GPU_SUPPORT_COMMAND, () => installGpuSupport(context)));
}

/** A VS Code cancellation token as the AbortSignal the installer takes. */
function signalOf(token: vscode.CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
const isCancel = (error: unknown) => error instanceof Error && error.name === 'AbortError';

async function installGpuSupport(context: vscode.ExtensionContext): Promise<void> {
  const support = cudaPlatformSupport();
  if (!support.supported) {
    void vscode.window.showInformationMessage(support.reason);
    return;
  }
  const storageDir = context.globalStorageUri.fsPath;
  let ortPackageDir: string;
  let version: string;
  try {
    ortPackageDir = await findBundledOnnxRuntime(context.extensionPath);
    version = await readOnnxRuntimeVersion(ortPackageDir);
  } catch (error) {
    void vscode.window.showErrorMessage(`Preference Lens cannot install GPU support: ${(error as Error).message}`);
    return;
  }
  const installed = await findInstalledCudaRuntime(storageDir, version);
  if (installed) {
    void announceReady(`GPU support for onnxruntime ${version} is already installed (${installed}).`);
    return;
  }

  const configuredFeed = vscode.workspace.getConfiguration(SECTION).get<string>(FEED_SETTING, '').trim();
  const feedIndexUrl = configuredFeed || DEFAULT_NUGET_FEED;
  let pkg: CudaProviderPackage;
  try {
    // Looked up before asking, so the question can say how much will be downloaded, from where.
    pkg = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Preference Lens: looking up ${CUDA_PROVIDER_PACKAGE} ${version}…`, cancellable: true },
      (_progress, token) => resolveCudaProviderPackage({ version, feedIndexUrl, signal: signalOf(token) }),
    );
  } catch (error) {
    if (!isCancel(error)) void vscode.window.showErrorMessage(`Preference Lens cannot install GPU support: ${(error as Error).message}`);
    return;
  }

  const install = 'Download and Install';
  const answer = await vscode.window.showInformationMessage(
    `Download GPU (CUDA) support for Preference Lens${pkg.size ? ` (${megabytes(pkg.size)})` : ''}?`,
    {
      modal: true,
      detail:
        `Downloads ${pkg.packageId} ${pkg.version}${pkg.size ? `, ${megabytes(pkg.size)},` : ''} from ${pkg.nupkgUrl}, checks it against the SHA-512 ` +
        `that ${pkg.feedIndexUrl} publishes, and installs its CUDA provider libraries with a copy of onnxruntime into ` +
        `${cudaRuntimeDir(storageDir, version)} (about twice the download on disk while installing). The GPU then also needs ${CUDA_REQUIREMENTS}.`,
    },
    install,
  );
  if (answer !== install) return;

  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Preference Lens: GPU support', cancellable: true },
      (progress, token) => {
        let reportedPercent = 0;
        const onProgress = ({ phase, loaded, total }: CudaInstallProgress) => {
          if (phase === 'install') {
            progress.report({ increment: 100 - reportedPercent, message: 'installing…' });
            reportedPercent = 100;
            return;
          }
          const percent = total > 0 ? Math.floor((100 * loaded) / total) : reportedPercent;
          progress.report({
            increment: percent - reportedPercent,
            message: total > 0 ? `downloading ${megabytes(loaded)} of ${megabytes(total)}` : `downloading ${megabytes(loaded)}`,
          });
          reportedPercent = percent;
        };
        return installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl, signal: signalOf(token), onProgress });
      },
    );
    void announceReady(`GPU support for onnxruntime ${result.version} is installed.`);
  } catch (error) {
    if (isCancel(error)) {
      void vscode.window.showInformationMessage('GPU support download cancelled; nothing was installed.');
      return;
    }
    void vscode.window.showErrorMessage(
      `Preference Lens could not install GPU support: ${(error as Error).message} Run "Preference Lens: Install GPU Support" to try again.`,
    );
  }
}

/**
 * Tells the user how to use it. A reload is needed when a model already ran in this window: the
 * process keeps the onnxruntime it loaded first (without the CUDA providers) until it restarts.
 */
async function announceReady(status: string): Promise<void> {
  const reload = 'Reload Window';
  const useCuda = 'Use CUDA';
  const choice = await vscode.window.showInformationMessage(
    `${status} Leave Preference Lens › Device on "auto" (or set it to "cuda") and reload the window if a model already ran in it. ` +
      `The GPU needs ${CUDA_REQUIREMENTS}; without them scoring falls back to the CPU and says why.`,
    useCuda,
    reload,
  );
  if (choice === useCuda) {
    await vscode.workspace.getConfiguration(SECTION).update('device', 'cuda', vscode.ConfigurationTarget.Global);
  } else if (choice === reload) {
    await vscode.commands.executeCommand('workbench.action.reloadWindow');
  }
}
