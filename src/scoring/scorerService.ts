/**
 * Owns the one scoring worker of the window: created lazily on first use, kept warm between
 * documents, re-created when a model setting changes (no reload needed).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Scorer, ScorerInfo } from '../engine/scorer';
import { createScorer, isEndpoint } from '../engine/createScorer';
import { MODEL_SETTINGS, readSettings } from '../settings';

export interface LoadedScorer {
  scorer: Scorer;
  info: ScorerInfo;
  isDemo: boolean;
}

export class ScorerService implements vscode.Disposable {
  private current?: Promise<LoadedScorer>;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires after a model setting changed; open documents re-score with the new model. */
  readonly onDidChangeModel = this.changed.event;
  private readonly subscription: vscode.Disposable;

  /**
   * @param cacheDir where scores are cached (the extension's global storage)
   * @param remoteToken the endpoint token from VS Code's secret storage, never from settings
   */
  constructor(
    private readonly extensionPath: string,
    private readonly cacheDir: string,
    private readonly remoteToken: () => Thenable<string | undefined>,
  ) {
    this.subscription = vscode.workspace.onDidChangeConfiguration((event) => {
      if (MODEL_SETTINGS.some((key) => event.affectsConfiguration(key))) this.reset();
    });
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

  private async create(): Promise<LoadedScorer> {
    const settings = readSettings();
    const isDemo = !settings.modelPath;
    const model = isDemo ? path.join(this.extensionPath, 'dist', 'models', 'demo') : settings.modelPath;
    const scorer = createScorer({
      model,
      workerPath: path.join(this.extensionPath, 'dist', 'worker.js'),
      device: settings.device,
      maxLength: settings.maxLength,
      batchTokens: settings.batchTokens,
      cacheDir: this.cacheDir,
      remote: isEndpoint(model) ? { token: await this.remoteToken() } : undefined,
    });
    try {
      return { scorer, info: await scorer.load(), isDemo };
    } catch (error) {
      await scorer.dispose();
      throw error;
    }
  }

  private async unload(): Promise<void> {
    const previous = this.current;
    this.current = undefined;
    if (previous) await previous.then((loaded) => loaded.scorer.dispose(), () => undefined);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
    void this.unload();
  }
}
