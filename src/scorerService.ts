/**
 * Owns the one scoring worker of the window: created lazily on first use, kept warm between
 * documents (unloaded after `unloadAfterMinutes` idle, reloaded on the next use), re-created when a
 * model setting changes (no reload needed). A Hugging Face id downloads with a cancellable
 * notification the first time.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Disposable } from './disposable';
import type { Scorer, ScorerInfo } from './engine/scorer';
import { createScorer, isEndpoint, isHubModel } from './engine/createScorer';
import type { HubProgress } from './engine/hub';
import { MODEL_SETTINGS, readSettings } from './settings';
import type { LoadProgress } from './engine/workerProtocol';
import { cudaPlatformSupport, findBundledOnnxRuntime, findInstalledCudaRuntime, readOnnxRuntimeVersion } from './engine/gpu/cudaProviderInstall';

export interface LoadedScorer {
  scorer: Scorer;
  info: ScorerInfo;
  /** Set when the bundled baseline runs: what it is and how good (from its config.json). */
  bundledNote?: string;
}

export class ScorerService extends Disposable {
  private current?: Promise<LoadedScorer>;
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  /** Fires after a model setting changed; open documents re-score with the new model. */
  readonly onDidChangeModel = this.changed.event;
  private readonly loadProgress = this.register(new vscode.EventEmitter<LoadProgress>());
  /** Fires while a Hugging Face checkpoint's graph is being built (its first load; minutes for a 13B model). */
  readonly onDidLoadProgress = this.loadProgress.event;

  /** Scores and built model graphs are cached here. */
  private readonly cacheDir: string;

  /**
   * @param storageDir the extension's global storage: score and graph caches, the installed CUDA runtime
   * @param remoteToken the endpoint token from VS Code's secret storage, never from settings
   */
  constructor(
    private readonly extensionPath: string,
    private readonly storageDir: string,
    private readonly remoteToken: () => Thenable<string | undefined>,
  ) {
    super();
    this.cacheDir = path.join(storageDir, 'score-cache');
    this.register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (MODEL_SETTINGS.some((key) => event.affectsConfiguration(key))) this.reset();
      }),
    );
  }

  /** Forgets the loaded model, e.g. after the endpoint token changed; the next use loads it again. */
  reset(): void {
    void this.unload();
    this.changed.fire();
  }

  get(): Promise<LoadedScorer> {
    if (!this.current) {
      const attempt = this.create();
      // A failed load is not cached: the user fixes the setting or the folder and tries again.
      attempt.catch(() => {
        if (this.current === attempt) this.current = undefined;
      });
      this.current = attempt;
    }
    return this.current;
  }

  /**
   * A scorer of its own for one of the further models (`preferenceLens.additionalModels`), with the
   * same settings as the first: the caller scores with it and disposes of it, so besides the first
   * model only the one being scored is loaded. Scores are cached per model as the first model's are.
   */
  load(model: string): Promise<LoadedScorer> {
    return this.create(model);
  }

  private async create(modelSpec?: string): Promise<LoadedScorer> {
    const settings = readSettings();
    const bundled = !(modelSpec ?? settings.modelPath);
    const model = bundled ? path.join(this.extensionPath, 'dist', 'models', 'baseline') : (modelSpec ?? settings.modelPath);
    const cancelDownload = new AbortController();
    let loaded!: () => void;
    const loading = new Promise<void>((resolve) => (loaded = resolve));
    const scorer = createScorer({
      model,
      workerPath: path.join(this.extensionPath, 'dist', 'worker.js'),
      device: settings.device,
      maxLength: settings.maxLength,
      batchTokens: settings.batchTokens,
      template: settings.template,
      variant: settings.variant,
      logitIndex: settings.logitIndex,
      idleUnloadMs: settings.unloadAfterMinutes * 60_000,
      onLoadProgress: (progress) => this.loadProgress.fire(progress),
      cacheDir: this.cacheDir,
      onnxRuntimeDir: await installedCudaRuntime(this.extensionPath, this.storageDir),
      remote: isEndpoint(model) ? { token: await this.remoteToken(), concurrency: settings.remoteConcurrency, batchSize: settings.remoteBatchSize } : undefined,
      hub: isHubModel(model) ? { signal: cancelDownload.signal, onProgress: downloadNotification(model, loading, () => cancelDownload.abort()) } : undefined,
    });
    try {
      const info = await scorer.load();
      return { scorer, info, bundledNote: bundled ? await readBundledNote(model) : undefined };
    } catch (error) {
      await scorer.dispose();
      throw error;
    } finally {
      loaded();
    }
  }

  private async unload(): Promise<void> {
    const previous = this.current;
    this.current = undefined;
    if (previous) await previous.then((loaded) => loaded.scorer.dispose(), () => undefined);
  }

  override dispose(): void {
    super.dispose();
    void this.unload();
  }
}

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * Progress of a Hub download as a cancellable notification, opened at the first bytes (a cache hit
 * shows none) and closed when `done` settles. Reported per whole percent: a multi-GB download
 * arrives in hundreds of thousands of chunks.
 */
function downloadNotification(model: string, done: Promise<void>, cancel: () => void): (progress: HubProgress) => void {
  let opened = false;
  let ui: vscode.Progress<{ message?: string; increment?: number }> | undefined;
  let shownPercent = 0;
  return (progress) => {
    if (!opened) {
      opened = true;
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Downloading ${model}`, cancellable: true }, (target, token) => {
        token.onCancellationRequested(cancel);
        ui = target;
        return done;
      });
    }
    // Until VS Code hands over the progress object, updates are skipped; the next one catches up.
    if (!ui || progress.total === 0) return;
    const percent = Math.floor((100 * progress.loaded) / progress.total);
    if (percent === shownPercent) return;
    ui.report({ message: `${progress.file}: ${megabytes(progress.loaded)} of ${megabytes(progress.total)} MB`, increment: percent - shownPercent });
    shownPercent = percent;
  };
}

async function readBundledNote(dir: string): Promise<string> {
  try {
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as { preference_lens_note?: string };
    return config.preference_lens_note ?? 'a baseline, not a reward model';
  } catch {
    return 'a baseline, not a reward model';
  }
}

/**
 * The onnxruntime copy with CUDA providers that *Install GPU Support* put in the extension's
 * storage, when there is one for the bundled version. Used for every device: its library is the
 * bundled one, plus the providers, so CPU runs are unaffected.
 */
async function installedCudaRuntime(extensionPath: string, storageDir: string): Promise<string | undefined> {
  if (!cudaPlatformSupport().supported) return undefined;
  try {
    return await findInstalledCudaRuntime(storageDir, await readOnnxRuntimeVersion(await findBundledOnnxRuntime(extensionPath)));
  } catch {
    return undefined;
  }
}
