/**
 * Owns the one scoring worker of the window: created lazily on first use, kept warm between
 * documents, re-created when a model setting changes (no reload needed).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Scorer, ScorerInfo } from '../engine/scorer';
import { createWorkerScorer } from '../engine/workerScorer';
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

  constructor(private readonly extensionPath: string) {
    this.subscription = vscode.workspace.onDidChangeConfiguration((event) => {
      if (MODEL_SETTINGS.some((key) => event.affectsConfiguration(key))) {
        void this.unload();
        this.changed.fire();
      }
    });
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
    const modelDir = isDemo ? path.join(this.extensionPath, 'dist', 'models', 'demo') : settings.modelPath;
    const scorer = createWorkerScorer({
      modelDir,
      workerPath: path.join(this.extensionPath, 'dist', 'worker.js'),
      device: settings.device,
      maxLength: settings.maxLength,
      batchTokens: settings.batchTokens,
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
