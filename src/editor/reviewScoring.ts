/**
 * Scoring of one open review: a run scores every pair that has none yet, in file order and a chunk
 * at a time, following the table while the file is still read, then each further model in turn; it
 * shows progress with cancel in a notification and in the review's header, and is stopped when the
 * document reloads, the model changes or the review closes. Kept apart from the document, which
 * holds only its data, its edits and its files.
 */
import * as vscode from 'vscode';
import { ModelScores } from '../core/modelConsensus';
import type { PairTable } from '../core/pairTable';
import type { ReviewState } from '../core/reviewState';
import { DEFAULT_RECOMMENDATION } from '../engine/recommendedModels';
import { scorePairs } from '../engine/scorePairs';
import type { LoadedScorer, ScorerService } from '../scorerService';

/** Pairs read from the file and sent to the scorer at a time: bounds memory on huge files. */
const SCORING_CHUNK = 1024;

/** What a run needs of its document. */
export interface ScoringHost {
  /** The review state as it is now (a reload replaces it). */
  readonly state: ReviewState;
  readonly fileName: string;
  readonly scorers: ScorerService;
  /** Resolves once more pairs have been read. */
  tableGrew(): Promise<void>;
  /** A pair got the first model's score: the document pushes it to its webviews with the next status. */
  scored(index: number): void;
  flushStatus(): void;
  scheduleStatus(): void;
}

export class ReviewScoring {
  private run?: { controller: AbortController; done: Promise<void> };

  constructor(private readonly host: ScoringHost) {}

  get isScoring(): boolean {
    return this.run !== undefined;
  }

  /** Scores every pair that has no score yet; a no-op while a run is going. */
  score(): Promise<void> {
    if (this.run) return this.run.done;
    const controller = new AbortController();
    const done = this.scoreUnscored(controller.signal).finally(() => {
      this.run = undefined;
      this.host.flushStatus();
    });
    this.run = { controller, done };
    return done;
  }

  cancel(): void {
    this.run?.controller.abort();
  }

  /** Cancels the run, if any, and waits for it to end; says whether there was one. */
  async stop(): Promise<boolean> {
    const previous = this.run;
    previous?.controller.abort();
    await previous?.done;
    return previous !== undefined;
  }

  private async scoreUnscored(signal: AbortSignal): Promise<void> {
    const state = this.host.state;
    const { table } = state;
    const scoredBefore = table.scored;
    const progressOf = (inFlight: number) => ({ done: 2 * (table.scored - scoredBefore) + inFlight, total: 2 * (table.count - scoredBefore) });
    state.scoring = { state: 'loading', ...progressOf(0) };
    this.host.flushStatus();
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Scoring ${this.host.fileName}`, cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => this.cancel());
        let reportedPercent = 0;
        const report = (inFlight: number) => {
          state.scoring = { ...state.scoring, ...progressOf(inFlight) };
          const percent = (100 * state.scoring.done) / Math.max(1, state.scoring.total);
          progress.report({ increment: percent - reportedPercent, message: `${state.scoring.done}/${state.scoring.total} responses` });
          reportedPercent = percent;
          this.host.scheduleStatus();
        };
        // A checkpoint's first load builds its graph: say so, or the notification looks stuck.
        const building = this.host.scorers.onDidLoadProgress(({ done, total }) => {
          const detail = `Building the model's graph (step ${done} of ${total})…`;
          state.scoring = { ...state.scoring, detail };
          progress.report({ message: detail });
          this.host.scheduleStatus();
        });
        try {
          // Only further models to score (one was added): the first model need not load.
          if (table.complete && state.unscored(0, 1).length === 0 && state.model) {
            building.dispose();
            state.setScoring('scoring');
            await this.scoreOtherModels(signal, (message) => progress.report({ message }));
            state.setScoring('done');
            return;
          }
          let loaded: LoadedScorer;
          try {
            loaded = await this.host.scorers.get();
          } finally {
            building.dispose();
            state.scoring = { ...state.scoring, detail: undefined };
          }
          if (signal.aborted) throw abortError();
          const { model, ...info } = loaded.info;
          state.model = {
            ...info,
            name: model,
            bundled: loaded.bundledNote,
            recommendation: loaded.bundledNote === undefined ? undefined : `${DEFAULT_RECOMMENDATION.title}, ~${DEFAULT_RECOMMENDATION.downloadGb} GB download`,
          };
          state.setScoring('scoring');
          this.host.flushStatus();
          // One pass in file order, a chunk at a time, following the table while it still grows.
          for (let cursor = 0; ; ) {
            const chunk = state.unscored(cursor, SCORING_CHUNK);
            if (chunk.length === 0) {
              if (table.complete) break;
              await this.host.tableGrew();
              continue;
            }
            cursor = chunk[chunk.length - 1] + 1;
            const pairs = await table.pairs(chunk);
            const stats = await scorePairs(pairs, pairs.map((_, k) => k), loaded.scorer, {
              signal,
              onPair: (k, score) => {
                table.setScore(chunk[k], score);
                this.host.scored(chunk[k]);
              },
              onNotice: (notice) => {
                // A slow endpoint is a state of the run, shown with its progress; a crash deserves a message.
                if (notice.kind === 'endpoint-waiting') {
                  state.scoring = { ...state.scoring, detail: notice.message };
                  this.host.flushStatus();
                } else void vscode.window.showWarningMessage(`Preference Lens: ${notice.message}`);
              },
              onProgress: (done) => {
                if (state.scoring.detail) state.scoring = { ...state.scoring, detail: undefined };
                report(done - 2 * countScored(table, chunk));
              },
            });
            if (stats.truncated) state.scoring = { ...state.scoring, truncated: (state.scoring.truncated ?? 0) + stats.truncated };
            report(0);
          }
          await this.scoreOtherModels(signal, (message) => progress.report({ message }));
          state.setScoring('done');
        } catch (error) {
          if ((error as Error).name === 'AbortError') {
            state.setScoring('cancelled');
            return;
          }
          const message = (error as Error).message;
          state.setScoring('error', message);
          void vscode.window
            .showErrorMessage(`Preference Lens could not score ${this.host.fileName}: ${message}`, 'Choose Model…', 'Open Settings')
            .then((choice) => {
              if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'preferenceLens');
              if (choice === 'Choose Model…') void vscode.commands.executeCommand('preferenceLens.chooseModel');
            });
        }
      },
    );
  }

  /**
   * Scores every pair with each further model in turn (`preferenceLens.additionalModels`), once the
   * file is read and the first model is done: one scorer at a time, disposed after its run, so at
   * most the first model and one further model are in memory. A model that fails is reported by
   * name and the next one scores; cancelling stops them all.
   */
  private async scoreOtherModels(signal: AbortSignal, message: (text: string) => void): Promise<void> {
    const state = this.host.state;
    const { table } = state;
    const models = state.otherModels.filter((m): m is ModelScores => m instanceof ModelScores);
    for (const [k, column] of models.entries()) {
      const unscored = () => {
        const indices: number[] = [];
        for (let i = 0; i < table.count; i++) if (!column.score(i)) indices.push(i);
        return indices;
      };
      let todo = unscored();
      if (todo.length === 0) continue;
      const which = `model ${k + 2} of ${models.length + 1}: ${column.name}`;
      const progressOf = (inFlight: number) => ({ done: 2 * column.scored + inFlight, total: 2 * table.count });
      state.scoring = { ...state.scoring, state: 'loading', model: which, detail: `Loading ${which}…`, ...progressOf(0) };
      message(`Loading ${which}…`);
      this.host.flushStatus();
      let loaded: LoadedScorer | undefined;
      try {
        loaded = await this.host.scorers.load(column.name);
        if (signal.aborted) throw abortError();
        state.scoring = { ...state.scoring, state: 'scoring', detail: undefined };
        this.host.flushStatus();
        while (todo.length) {
          const chunk = todo.slice(0, SCORING_CHUNK);
          todo = todo.slice(SCORING_CHUNK);
          const pairs = await table.pairs(chunk);
          await scorePairs(pairs, pairs.map((_, i) => i), loaded.scorer, {
            signal,
            onPair: (i, score) => column.set(chunk[i], score),
            onNotice: (notice) => {
              if (notice.kind !== 'endpoint-waiting') void vscode.window.showWarningMessage(`Preference Lens (${column.name}): ${notice.message}`);
            },
            onProgress: (done) => {
              let before = 0;
              for (const index of chunk) if (column.score(index)) before++;
              state.scoring = { ...state.scoring, ...progressOf(done - 2 * before) };
              this.host.scheduleStatus();
            },
          });
          // Consensus, queues and noise score follow each chunk, not each score.
          state.modelsChanged();
          state.scoring = { ...state.scoring, ...progressOf(0) };
          message(`${which}: ${state.scoring.done}/${state.scoring.total} responses`);
          this.host.flushStatus();
        }
      } catch (error) {
        if ((error as Error).name === 'AbortError') throw error;
        void vscode.window.showErrorMessage(`Preference Lens could not score ${this.host.fileName} with ${column.name}: ${(error as Error).message}`);
      } finally {
        await loaded?.scorer.dispose();
        state.scoring = { ...state.scoring, model: undefined, detail: undefined };
        state.modelsChanged();
      }
    }
  }
}

/** Pairs of `chunk` already scored: the in-flight progress a chunk's callback reports includes them. */
function countScored(table: PairTable, chunk: readonly number[]): number {
  let scored = 0;
  for (const index of chunk) if (table.score(index)) scored++;
  return scored;
}

function abortError(): Error {
  const error = new Error('cancelled');
  error.name = 'AbortError';
  return error;
}
