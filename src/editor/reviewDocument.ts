/**
 * One dataset open in the review editor: loads the file and its annotations sidecar, applies the
 * reviewer's edits (src/core/reviewEdits.ts) as VS Code undo steps, saves and backs them up with a
 * recovery journal, and follows the files when they change on disk. Scoring runs are
 * ./reviewScoring.ts's; the document tells its webviews what they change.
 */
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Disposable } from '../disposable';
import { AnnotationLog, sidecarPath, type AnnotationEvent, type ReviewLabel } from '../core/annotations';
import { readTeam, teamPath } from '../core/teamFile';
import { writeFileAtomic } from '../core/atomicWrite';
import { openDatasetIndex, type DatasetIndex } from '../core/dataset';
import type { PreferenceFormat } from '../core/formats';
import { PairTable } from '../core/pairTable';
import { ModelScores } from '../core/modelConsensus';
import { RecoveryJournal } from '../core/recoveryJournal';
import { ReviewScoring } from './reviewScoring';
import type { FieldValues } from '../core/annotationTypes';
import { applyEdit, invertEdit, makeEdit, type ReviewEdit } from '../core/reviewEdits';
import { ReviewState } from '../core/reviewState';
import type { PairScore } from '../core/verdict';
import type { ScorerService } from '../scorerService';
import { ADDITIONAL_MODELS_SETTING, readSettings } from '../settings';
import type { ReviewStatus } from '../shared/reviewProtocol';

/** Webviews are told about progress at most this often, so streaming scores cannot flood them. */
const STATUS_INTERVAL_MS = 250;

export interface ReviewDocumentDelegate {
  scorers: ScorerService;
  annotator(): string;
  /** Tells VS Code about an undoable edit (marks the document dirty). */
  didEdit(event: vscode.CustomDocumentEditEvent<ReviewDocument>): void;
  /** Where the recovery journals of unsaved changes live (the extension's storage). */
  recoveryDir: string;
}

/** Beyond this many pairs, a change is announced as "any may have changed" (bulk edits). */
const MAX_CHANGED_INDICES = 100;

export class ReviewDocument extends Disposable implements vscode.CustomDocument {
  static async open(uri: vscode.Uri, backupId: string | undefined, delegate: ReviewDocumentDelegate): Promise<ReviewDocument> {
    const sidecar = sidecarPath(uri.fsPath);
    // A Hub cache file's labels live in the user data folder (companionFiles.ts): the folder must
    // exist for the watcher to see another process (plens annotate) write them.
    if (path.dirname(sidecar) !== path.dirname(uri.fsPath)) await mkdir(path.dirname(sidecar), { recursive: true });
    const annotations = await AnnotationLog.load(sidecar);
    const journal = RecoveryJournal.for(delegate.recoveryDir, uri.fsPath);
    // VS Code's backup when it has one (a window restored after a crash); else what the journal kept
    // of a session that ended without closing the review (see recoveryJournal.ts).
    const recovered = backupId ? undefined : await journal.read();
    if (backupId) annotations.restorePending(await readBackup(vscode.Uri.parse(backupId)));
    const document = new ReviewDocument(uri, annotations, delegate, journal);
    await document.load();
    if (recovered) document.recovery = recovered;
    else void journal.write(annotations.pendingChanges);
    return document;
  }

  /** Unsaved changes from the journal, applied once an editor shows the document (see restoreRecovered). */
  private recovery?: readonly AnnotationEvent[];

  /** The format of the file, as detected (or forced). */
  format!: PreferenceFormat;
  state!: ReviewState;
  private index?: DatasetIndex;
  private readonly tableGrew = this.register(new vscode.EventEmitter<void>());
  private readonly statusChanged = this.register(new vscode.EventEmitter<ReviewStatus>());
  readonly onDidChangeStatus = this.statusChanged.event;
  /** The pairs whose annotations changed; undefined when any may have (revert, reload, merge, blind). */
  private readonly annotationsChanged = this.register(new vscode.EventEmitter<readonly number[] | undefined>());
  /** Fires when annotations or the pairs themselves changed: webviews fetch their rows again. */
  readonly onDidChangeAnnotations = this.annotationsChanged.event;
  /** The pairs scored since the last status, told with it: webviews update the rows they hold. */
  private readonly scored = this.register(new vscode.EventEmitter<readonly number[]>());
  readonly onDidScore = this.scored.event;
  private newlyScored: number[] = [];
  /** The scoring runs of this document (./reviewScoring.ts); what they need of it is read when they run. */
  private readonly scoring: ReviewScoring = (() => {
    const document = this;
    return new ReviewScoring({
      get state() {
        return document.state;
      },
      get fileName() {
        return document.fileName;
      },
      get scorers() {
        return document.delegate.scorers;
      },
      tableGrew: () => new Promise<void>((resolve) => {
        const subscription = document.tableGrew.event(() => {
          subscription.dispose();
          resolve();
        });
      }),
      scored: (index) => document.newlyScored.push(index),
      flushStatus: () => document.flushStatus(),
      scheduleStatus: () => document.scheduleStatus(),
    });
  })();
  private statusTimer?: NodeJS.Timeout;

  private constructor(
    readonly uri: vscode.Uri,
    private readonly initialAnnotations: AnnotationLog,
    private readonly delegate: ReviewDocumentDelegate,
    private readonly journal: RecoveryJournal,
  ) {
    super();
    this.register(delegate.scorers.onDidChangeModel(() => void this.rescore()));
    this.register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('preferenceLens.blindMode')) this.setBlind(readSettings().blindMode);
        if (event.affectsConfiguration('preferenceLens.annotator')) {
          this.state.annotator = delegate.annotator();
          this.changed();
        }
        if (event.affectsConfiguration(ADDITIONAL_MODELS_SETTING) || event.affectsConfiguration('preferenceLens.modelPath')) void this.updateModels();
      }),
    );
    this.watchFiles();
  }

  /**
   * Opens the file's index and starts reading pairs in the background: the first rows are ready as
   * soon as the first records are, whatever the file's size. Scores carry over by content key from
   * `previous` (a reload after the file changed on disk).
   */
  private async load(previous?: ReviewState): Promise<void> {
    const index = await openDatasetIndex(this.uri.fsPath);
    const scoresByKey = new Map<string, PairScore>();
    if (previous) for (let i = 0; i < previous.table.count; i++) {
      const score = previous.table.score(i);
      if (score) scoresByKey.set(previous.table.keys[i], score);
    }
    // The further models' scores carry over the same way, model by model.
    const others = this.modelColumns(previous);
    let carried = 0;
    const { table, done } = PairTable.fromIndex(index, {
      onGrow: () => {
        for (; carried < table.count; carried++) {
          const score = scoresByKey.get(table.keys[carried]);
          if (score) table.setScore(carried, score);
          for (const { column, byKey } of others) {
            const other = byKey.get(table.keys[carried]);
            if (other) column.set(carried, other);
          }
        }
        if (others.length) this.state?.modelsChanged();
        this.tableGrew.fire();
        this.scheduleStatus();
      },
    });
    const oldIndex = this.index;
    this.index = index;
    this.format = index.format;
    this.state = new ReviewState(table, previous?.annotations ?? this.initialAnnotations);
    this.state.otherModels = others.map(({ column }) => column);
    this.state.firstModelName = firstModelName();
    this.state.model = previous?.model;
    this.state.blind = previous?.blind ?? readSettings().blindMode;
    this.state.annotator = this.delegate.annotator();
    this.state.team = previous?.team;
    this.state.teamError = previous?.teamError;
    this.state.adjudicating = previous?.adjudicating ?? false;
    if (!previous) await this.loadTeam();
    void done.then(
      () => this.reportMalformed(),
      (error: Error) => void vscode.window.showErrorMessage(`Preference Lens stopped reading ${this.fileName}: ${error.message}`),
    );
    await oldIndex?.close();
    // The first rows are there before the editor shows, unless the file has fewer pairs.
    await Promise.race([done.catch(() => undefined), new Promise<void>((resolve) => this.tableGrew.event(() => resolve()))]);
  }

  /**
   * A column for each of `preferenceLens.additionalModels` (the first model aside), with the scores
   * `previous` had of it by content key, so a reload or a change of the list scores only what is new.
   */
  private modelColumns(previous?: ReviewState): { column: ModelScores; byKey: Map<string, PairScore> }[] {
    const { additionalModels, modelPath } = readSettings();
    return additionalModels
      .filter((name) => name !== modelPath)
      .map((name) => {
        const byKey = new Map<string, PairScore>();
        const before = previous?.otherModels.find((m) => m.name === name);
        if (previous && before) for (let i = 0; i < previous.table.count; i++) {
          const score = before.score(i);
          if (score) byKey.set(previous.table.keys[i], score);
        }
        return { column: new ModelScores(name), byKey };
      });
  }

  /**
   * The list of further models changed: columns of models still listed keep their scores, new
   * ones are scored (the first model's scores are kept; a change of it re-scores through rescore).
   */
  private async updateModels(): Promise<void> {
    const wasScoring = await this.scoring.stop();
    const old = this.state;
    const columns = this.modelColumns(old);
    for (const { column, byKey } of columns) {
      for (let i = 0; i < old.table.count; i++) {
        const score = byKey.get(old.table.keys[i]);
        if (score) column.set(i, score);
      }
    }
    old.otherModels = columns.map(({ column }) => column);
    old.firstModelName = firstModelName();
    old.modelsChanged();
    this.changed();
    if (readSettings().scoreOnOpen || wasScoring) void this.score();
  }

  private get fileName(): string {
    return vscode.workspace.asRelativePath(this.uri);
  }

  private reportMalformed(): void {
    const { malformed } = this.state.table;
    if (!malformed.length) return;
    const first = [...malformed].sort((x, y) => x.line - y.line)[0];
    void vscode.window.showWarningMessage(
      `${this.fileName}: ${malformed.length} record(s) could not be read and are skipped (first: line ${first.line}: ${first.error}).`,
    );
  }

  // ------------------------------------------------------------------ annotations

  /**
   * Sets `values` on the pairs `indices` as one undoable edit (a label key's label and "reviewed"
   * together; a bulk action's every pair): one undo reverts all of it. Returns how many fields changed.
   */
  edit(indices: readonly number[], values: FieldValues, label: string, options: { adjudicating?: boolean } = {}): number {
    return this.perform(makeEdit(this.state.annotations, this.delegate.annotator(), this.targets(indices), values, label, options));
  }

  /**
   * Records the adjudicator's decision on pair `index` (null withdraws it), as an undoable edit: a
   * label event marked `role: "adjudicator"`, so the annotators' own labels stay as they were.
   */
  adjudicate(index: number, value: ReviewLabel | null): void {
    this.edit([index], { label: value }, `adjudicate pair ${index + 1}`, { adjudicating: true });
  }

  private targets(indices: readonly number[]) {
    const { table } = this.state;
    return indices.map((index) => ({ index, key: table.keys[index], line: table.line(index) }));
  }

  /** Applies `edit` and hands VS Code its undo and redo; returns how many fields it changed. */
  private perform(edit: ReviewEdit | undefined): number {
    if (!edit) return 0;
    const apply = (step: ReviewEdit) => {
      const touched = applyEdit(this.state.annotations, step);
      this.changed(touched.length <= MAX_CHANGED_INDICES ? touched : undefined);
    };
    apply(edit);
    const inverse = invertEdit(edit);
    this.delegate.didEdit({ document: this, label: edit.label, undo: () => apply(inverse), redo: () => apply(edit) });
    return edit.changes.length;
  }

  /** Adjudication on or off: the label keys record decisions, and the pair view shows everyone's label. */
  setAdjudicating(adjudicating: boolean): void {
    this.state.adjudicating = adjudicating;
    this.changed();
  }

  /** Reads the team file beside the dataset (./assignment); a bad one is reported and ignored until fixed. */
  private async loadTeam(): Promise<void> {
    const file = teamPath(this.uri.fsPath);
    try {
      this.state.team = await readTeam(file);
      this.state.teamError = undefined;
    } catch (error) {
      this.state.team = undefined;
      this.state.teamError = (error as Error).message;
      void vscode.window.showWarningMessage(`Preference Lens: the team file is not used: ${this.state.teamError}`);
    }
  }

  /** Turns blind review on or off for this document (the setting gives the default). */
  setBlind(blind: boolean): void {
    this.state.blind = blind;
    this.changed();
  }

  /**
   * Re-applies unsaved changes a previous session left in the journal, as one edit: the tab turns
   * dirty, Save keeps them, Undo drops them. Called when the first editor is resolved: VS Code drops
   * an edit event of a document it has not finished opening.
   */
  restoreRecovered(): void {
    const events = this.recovery;
    this.recovery = undefined;
    if (events?.length) this.recover(events);
  }

  private recover(events: readonly AnnotationEvent[]): void {
    const apply = (direction: 'do' | 'undo') => {
      const at = new Date().toISOString();
      const steps = direction === 'do' ? events : [...events].reverse().map((e) => ({ ...e, from: e.to, to: e.from, at, by: this.delegate.annotator() }));
      for (const event of steps) this.state.annotations.record(event);
      this.changed();
    };
    try {
      apply('do');
    } catch (error) {
      void vscode.window.showWarningMessage(`Preference Lens could not restore the unsaved changes kept for ${this.fileName}: ${(error as Error).message}`);
      return;
    }
    this.delegate.didEdit({ document: this, label: `restore ${events.length} unsaved changes`, undo: () => apply('undo'), redo: () => apply('do') });
    void vscode.window.showInformationMessage(
      `Preference Lens restored ${events.length} unsaved annotation change(s) to ${this.fileName} from a session that ended without saving. Save to keep them, or Undo to drop them.`,
    );
  }

  private changed(indices?: readonly number[]): void {
    this.annotationsChanged.fire(indices);
    this.flushStatus();
    void this.journal.write(this.state.annotations.pendingChanges);
  }

  async save(): Promise<void> {
    const foreign = await this.state.annotations.save(sidecarPath(this.uri.fsPath));
    void this.journal.write(this.state.annotations.pendingChanges);
    if (foreign) {
      void vscode.window.showInformationMessage(
        `${foreign} annotation change(s) made elsewhere were merged into ${vscode.workspace.asRelativePath(sidecarPath(this.uri.fsPath))}.`,
      );
      this.changed();
    }
  }

  /** Writes a copy of the dataset, unchanged, and the annotations beside it. */
  async saveAs(target: vscode.Uri): Promise<void> {
    await vscode.workspace.fs.copy(this.uri, target, { overwrite: true });
    await this.state.annotations.save(sidecarPath(target.fsPath));
    void this.journal.write(this.state.annotations.pendingChanges);
  }

  /** Drops unsaved changes: the annotations become what the sidecar on disk says. */
  async revert(): Promise<void> {
    this.state.annotations = await AnnotationLog.load(sidecarPath(this.uri.fsPath));
    this.changed();
  }

  /** Backs up only the unsaved changes; the dataset and the saved sidecar are already on disk. */
  async backup(destination: vscode.Uri): Promise<vscode.CustomDocumentBackup> {
    await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(destination, '..'));
    await writeFileAtomic(destination.fsPath, JSON.stringify(this.state.annotations.pendingChanges));
    return {
      id: destination.toString(),
      delete: () => void vscode.workspace.fs.delete(destination).then(undefined, () => undefined),
    };
  }

  // ------------------------------------------------------------------ files changing on disk

  private watchFiles(): void {
    const watch = (file: string, onChange: () => Promise<void>, { deleted = false } = {}) => {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), path.basename(file)));
      const handler = () => void onChange().catch((error: Error) => void vscode.window.showErrorMessage(error.message));
      watcher.onDidChange(handler);
      watcher.onDidCreate(handler);
      if (deleted) watcher.onDidDelete(handler);
      this.register(watcher);
    };
    watch(this.uri.fsPath, () => this.reloadDataset());
    watch(sidecarPath(this.uri.fsPath), () => this.reloadAnnotations());
    // A team file edited, pulled or deleted takes effect at once: shares, progress and "My share".
    const team = async () => {
      await this.loadTeam();
      this.changed();
    };
    watch(teamPath(this.uri.fsPath), team, { deleted: true });
  }

  /**
   * The dataset changed on disk. Annotations are keyed by content, so they stay attached; scores
   * carry over for pairs whose content is unchanged, and the rest is scored again.
   */
  private async reloadDataset(): Promise<void> {
    await this.scoring.stop();
    await this.load(this.state);
    this.changed();
    void vscode.window.showInformationMessage(`${this.fileName} changed on disk and was reloaded; annotations are kept.`);
    void this.score();
  }

  /** The sidecar changed on disk: adopt it unless there are unsaved changes, which merge on save. */
  private async reloadAnnotations(): Promise<void> {
    if (this.state.annotations.hasPendingChanges) return;
    this.state.annotations = await AnnotationLog.load(sidecarPath(this.uri.fsPath));
    this.changed();
  }

  // ------------------------------------------------------------------ scoring (./reviewScoring.ts)

  get isScoring(): boolean {
    return this.scoring.isScoring;
  }

  /** Scores every pair that has no score yet; a no-op while a run is going. */
  score(): Promise<void> {
    return this.scoring.score();
  }

  cancelScoring(): void {
    this.scoring.cancel();
  }

  /** Drops all scores and scores again, e.g. after the model changed. */
  async rescore(): Promise<void> {
    await this.scoring.stop();
    this.state.table.clearScores();
    this.newlyScored = [];
    this.state.model = undefined;
    await this.scoring.score();
  }

  private scheduleStatus(): void {
    this.statusTimer ??= setTimeout(() => this.flushStatus(), STATUS_INTERVAL_MS);
  }

  private flushStatus(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    if (this.newlyScored.length) {
      const indices = this.newlyScored;
      this.newlyScored = [];
      this.scored.fire(indices);
    }
    this.statusChanged.fire(this.state.status());
  }

  override dispose(): void {
    // Closed, saved or not ("Don't Save" included): nothing to recover. A crash never gets here.
    void this.journal.delete();
    this.cancelScoring();
    void this.index?.close();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    super.dispose();
  }
}

async function readBackup(uri: vscode.Uri): Promise<AnnotationEvent[]> {
  return JSON.parse(await readFile(uri.fsPath, 'utf8')) as AnnotationEvent[];
}

/** The first model's name in the several-model figures: its setting, as each further model is named by its own. */
function firstModelName(): string {
  return readSettings().modelPath || 'bundled baseline';
}
