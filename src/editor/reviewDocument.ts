/**
 * One dataset open in the review editor: loads the file, runs scoring with progress and cancel, and
 * tells its webviews when the status changes.
 */
import * as vscode from 'vscode';
import { loadDataset } from '../core/dataset';
import { ReviewState } from '../core/reviewState';
import { scorePairs } from '../core/verdict';
import type { ScorerService } from '../scoring/scorerService';
import type { ReviewStatus } from '../shared/reviewProtocol';

/** Webviews are told about progress at most this often, so streaming scores cannot flood them. */
const STATUS_INTERVAL_MS = 250;

export class ReviewDocument implements vscode.CustomDocument {
  static async open(uri: vscode.Uri, scorers: ScorerService): Promise<ReviewDocument> {
    const dataset = await loadDataset(uri.fsPath);
    return new ReviewDocument(uri, new ReviewState(dataset), scorers);
  }

  private readonly statusChanged = new vscode.EventEmitter<ReviewStatus>();
  readonly onDidChangeStatus = this.statusChanged.event;
  private run?: { controller: AbortController; done: Promise<void> };
  private statusTimer?: NodeJS.Timeout;
  private readonly modelSubscription: vscode.Disposable;

  private constructor(
    readonly uri: vscode.Uri,
    readonly state: ReviewState,
    private readonly scorers: ScorerService,
  ) {
    this.modelSubscription = scorers.onDidChangeModel(() => void this.rescore());
  }

  get isScoring(): boolean {
    return this.run !== undefined;
  }

  /** Scores every pair that has no score yet; a no-op while a run is going. */
  score(): Promise<void> {
    if (this.run) return this.run.done;
    const controller = new AbortController();
    const done = this.scoreUnscored(controller.signal).finally(() => {
      this.run = undefined;
      this.flushStatus();
    });
    this.run = { controller, done };
    return done;
  }

  cancelScoring(): void {
    this.run?.controller.abort();
  }

  /** Drops all scores and scores again, e.g. after the model changed. */
  async rescore(): Promise<void> {
    const previous = this.run;
    previous?.controller.abort();
    await previous?.done;
    this.state.scores.clear();
    this.state.model = undefined;
    await this.score();
  }

  private async scoreUnscored(signal: AbortSignal): Promise<void> {
    const { state } = this;
    const indices = state.unscored();
    state.scoring = { state: 'loading', done: 0, total: indices.length * 2 };
    this.flushStatus();
    const fileName = vscode.workspace.asRelativePath(this.uri);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Scoring ${fileName}`, cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => this.cancelScoring());
        try {
          const loaded = await this.scorers.get();
          if (signal.aborted) throw abortError();
          const { model, ...info } = loaded.info;
          state.model = { ...info, name: model, isDemo: loaded.isDemo };
          state.setScoring('scoring');
          this.flushStatus();
          let reported = 0;
          await scorePairs(state.dataset.pairs, indices, loaded.scorer, {
            signal,
            onPair: (index, score) => {
              state.scores.set(index, score);
              this.scheduleStatus();
            },
            onProgress: (done, total) => {
              state.scoring = { ...state.scoring, done, total };
              progress.report({ increment: (100 * (done - reported)) / total, message: `${done}/${total} responses` });
              reported = done;
              this.scheduleStatus();
            },
          });
          state.setScoring('done');
        } catch (error) {
          if ((error as Error).name === 'AbortError') {
            state.setScoring('cancelled');
            return;
          }
          const message = (error as Error).message;
          state.setScoring('error', message);
          void vscode.window
            .showErrorMessage(`Preference Lens could not score ${fileName}: ${message}`, 'Choose Model…', 'Open Settings')
            .then((choice) => {
              if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'preferenceLens');
              if (choice === 'Choose Model…') void vscode.commands.executeCommand('preferenceLens.chooseModel');
            });
        }
      },
    );
  }

  private scheduleStatus(): void {
    this.statusTimer ??= setTimeout(() => this.flushStatus(), STATUS_INTERVAL_MS);
  }

  private flushStatus(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    this.statusChanged.fire(this.state.status());
  }

  dispose(): void {
    this.cancelScoring();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.modelSubscription.dispose();
    this.statusChanged.dispose();
  }
}

function abortError(): Error {
  const error = new Error('cancelled');
  error.name = 'AbortError';
  return error;
}
