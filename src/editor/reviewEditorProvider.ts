/**
 * The review editor: a custom editor over preference files. The dataset itself is never written;
 * the reviewer's annotations are the document's edits (undo, redo, save, backup) and go to a sidecar.
 * The webview asks for windows of list rows and for whole pairs, never the whole file.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { DEFAULT_RECOMMENDATION } from '../engine/recommendedModels';
import { readSettings, SECTION } from '../settings';
import type { ScorerService } from '../scorerService';
import {
  REVIEW_ACTIONS,
  REVIEW_FOCUS_CONTEXT,
  type BulkAction,
  type HostToWebview,
  type ReviewRequests,
  type ReviewKeymap,
  type RowQuery,
  type WebviewToHost,
} from '../shared/reviewProtocol';
import { ReviewDocument } from './reviewDocument';
import { reviewKeymap } from '../shared/userKeymap';
import { answerRequests } from '../shared/requests';
import { watchReviewKeymap } from './keybindingsFile';
import { Disposable } from '../disposable';
import { reviewWebviewHtml } from './webviewHtml';

export const REVIEW_VIEW_TYPE = 'preferenceLens.review';

export class ReviewEditorProvider extends Disposable implements vscode.CustomEditorProvider<ReviewDocument> {
  private activeDocument?: ReviewDocument;
  /** The review webview that has keyboard focus, which the review key commands go to. */
  private focusedPanel?: vscode.WebviewPanel;
  /** The review panel last active, for a key command run from the palette while no webview has focus. */
  private activePanel?: vscode.WebviewPanel;
  private readonly panels = new Set<vscode.WebviewPanel>();
  private keymap?: { current(): ReviewKeymap };
  private readonly activeChanged = this.register(new vscode.EventEmitter<ReviewDocument | undefined>());
  /** Fires when the review the user works in changes (or none is left). */
  readonly onDidChangeActive = this.activeChanged.event;
  private readonly edits = this.register(new vscode.EventEmitter<vscode.CustomDocumentEditEvent<ReviewDocument>>());
  readonly onDidChangeCustomDocument = this.edits.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly scorers: ScorerService,
    private readonly annotator: () => string,
    /** The extension's storage: recovery journals of unsaved changes go under it. */
    private readonly storageDir: string,
  ) {
    super();
  }

  static register(context: vscode.ExtensionContext, scorers: ScorerService, annotator: () => string): ReviewEditorProvider {
    const provider = new ReviewEditorProvider(context.extensionUri, scorers, annotator, (context.storageUri ?? context.globalStorageUri).fsPath);
    // The hints in every open review follow the user's keybindings.json as it changes.
    provider.keymap = watchReviewKeymap(context, (keymap) => {
      for (const panel of provider.panels) void panel.webview.postMessage({ type: 'keymap', keymap } satisfies HostToWebview);
    });
    context.subscriptions.push(
      provider,
      vscode.window.registerCustomEditorProvider(REVIEW_VIEW_TYPE, provider, {
        // Off: a hidden review re-syncs from the host's snapshot instead of holding memory.
        webviewOptions: { retainContextWhenHidden: false },
        supportsMultipleEditorsPerDocument: true,
      }),
      ...REVIEW_ACTIONS.map((action) =>
        vscode.commands.registerCommand(`preferenceLens.review.${action}`, () => {
          const panel = provider.focusedPanel ?? provider.activePanel;
          void panel?.webview.postMessage({ type: 'command', action } satisfies HostToWebview);
        }),
      ),
    );
    return provider;
  }

  /** The review the user last focused, for commands run from the palette. */
  get active(): ReviewDocument | undefined {
    return this.activeDocument;
  }

  async openCustomDocument(uri: vscode.Uri, context: vscode.CustomDocumentOpenContext): Promise<ReviewDocument> {
    const document = await ReviewDocument.open(uri, context.backupId, {
      scorers: this.scorers,
      annotator: this.annotator,
      didEdit: (event) => this.edits.fire(event),
      recoveryDir: this.storageDir,
    });
    return document;
  }

  async resolveCustomEditor(document: ReviewDocument, panel: vscode.WebviewPanel): Promise<void> {
    const { webview } = panel;
    webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist')] };
    webview.html = this.html(webview);
    const post = (message: HostToWebview) => void webview.postMessage(message);

    // Pushes go out in the order their changes happened, though reading a changed pair is async.
    let pushed = Promise.resolve();
    const push = (message: () => Promise<HostToWebview> | HostToWebview) => {
      pushed = pushed.then(message).then(post, (error: Error) => this.readError(document, error));
    };
    const reading = <T>(read: Promise<T>) => read.catch((error: Error) => {
      this.readError(document, error);
      throw error;
    });
    const answer = answerRequests<ReviewRequests>(
      {
        rows: ({ offset, count, query }) => reading(document.state.rows(offset, count, query)),
        pairs: ({ indices }) => (Array.isArray(indices) ? reading(document.state.pairRows(indices)) : []),
        stats: () => document.state.stats(),
      },
      post,
    );

    const subscriptions = vscode.Disposable.from(
      document.onDidChangeStatus((status) => post({ type: 'status', status })),
      document.onDidScore((indices) => push(() => ({ type: 'scores', scores: indices.map((index) => ({ index, score: document.state.rowScore(index) })) }))),
      document.onDidChangeAnnotations((indices) => push(async () => ({ type: 'annotationsChanged', pairs: indices && (await document.state.pairRows(indices)) }))),
      webview.onDidReceiveMessage((message: WebviewToHost) => {
        switch (message.type) {
          case 'ready': {
            post({
              type: 'snapshot',
              snapshot: {
                fileName: vscode.workspace.asRelativePath(document.uri),
                format: document.format.name,
                formatTitle: document.format.title,
                malformed: [...document.state.table.malformed].sort((x, y) => x.line - y.line).slice(0, 100),
                keymap: this.keymap?.current() ?? reviewKeymap(undefined),
                status: document.state.status(),
              },
            });
            break;
          }
          case 'request':
            void answer(message);
            break;
          case 'focus':
            void this.setFocused(panel, message.focused === true).then(() => post({ type: 'keys', active: this.focusedPanel === panel }));
            break;
          case 'customizeKeys':
            void vscode.commands.executeCommand('workbench.action.openGlobalKeybindings', 'preferenceLens.review.');
            break;
          case 'annotate':
            if (!validIndex(document, message.index)) break;
            // Adjudicating, a label is the adjudicator's decision, not their own label.
            document.edit([message.index], message.values, `${Object.keys(message.values).join(' and ')} of pair ${message.index + 1}`, { adjudicating: document.state.adjudicating });
            break;
          case 'editNote':
            if (validIndex(document, message.index)) void this.editNote(document, message.index);
            break;
          case 'bulkAnnotate':
            void this.bulkAnnotate(document, message.query, message.action);
            break;
          case 'setBlind':
            document.setBlind(message.blind === true);
            break;
          case 'setAdjudicating':
            document.setAdjudicating(message.adjudicating === true);
            break;
          case 'cancelScoring':
            document.cancelScoring();
            break;
          case 'rescore':
            void document.rescore();
            break;
          case 'useRecommendedModel':
            // The setting change re-scores every open review with the new model (it downloads first, with progress).
            void vscode.workspace.getConfiguration(SECTION).update('modelPath', DEFAULT_RECOMMENDATION.id, vscode.ConfigurationTarget.Global);
            break;
          case 'chooseModel':
            void vscode.commands.executeCommand('preferenceLens.chooseModel');
            break;
        }
      }),
      panel.onDidChangeViewState(() => {
        if (panel.active) {
          this.setActive(document);
          this.activePanel = panel;
        }
      }),
    );
    this.setActive(document);
    this.activePanel = panel;
    this.panels.add(panel);
    document.restoreRecovered();
    panel.onDidDispose(() => {
      this.panels.delete(panel);
      subscriptions.dispose();
      if (this.activeDocument === document) this.setActive(undefined);
      if (this.activePanel === panel) this.activePanel = undefined;
      if (this.focusedPanel === panel) void this.setFocused(panel, false);
    });
    if (readSettings().scoreOnOpen) void document.score();
  }

  private readError(document: ReviewDocument, error: Error): void {
    void vscode.window.showErrorMessage(`Preference Lens could not read ${document.uri.fsPath}: ${error.message}`);
  }

  /** The review keybindings apply while some review webview has focus, and go to that one. */
  private async setFocused(panel: vscode.WebviewPanel, focused: boolean): Promise<void> {
    if (focused) this.focusedPanel = panel;
    else if (this.focusedPanel === panel) this.focusedPanel = undefined;
    else return; // A late blur from a panel that already lost focus to another.
    await vscode.commands.executeCommand('setContext', REVIEW_FOCUS_CONTEXT, this.focusedPanel !== undefined);
  }

  private setActive(document: ReviewDocument | undefined): void {
    if (this.activeDocument === document) return;
    this.activeDocument = document;
    this.activeChanged.fire(document);
  }

  saveCustomDocument(document: ReviewDocument): Thenable<void> {
    return document.save();
  }

  saveCustomDocumentAs(document: ReviewDocument, destination: vscode.Uri): Thenable<void> {
    return document.saveAs(destination);
  }

  revertCustomDocument(document: ReviewDocument): Thenable<void> {
    return document.revert();
  }

  backupCustomDocument(document: ReviewDocument, context: vscode.CustomDocumentBackupContext): Thenable<vscode.CustomDocumentBackup> {
    return document.backup(context.destination);
  }

  /** Applies one change to every pair the query selects, after the user confirms; one undo reverts it. */
  private async bulkAnnotate(document: ReviewDocument, query: RowQuery, action: BulkAction): Promise<void> {
    const indices = await document.state.select(query);
    if (indices.length === 0) return;
    const what =
      action.field === 'label'
        ? action.value === null
          ? 'clear your label on'
          : `label ${action.value === 'both-bad' ? 'both bad' : action.value === 'tie' ? 'tie' : `${action.value.toUpperCase()} better`} on`
        : `${action.value === null ? 'un' : ''}${action.field === 'flagged' ? 'flag' : 'mark reviewed'}`;
    const confirm = `Apply to ${indices.length} pairs`;
    const choice = await vscode.window.showWarningMessage(
      `${what[0].toUpperCase()}${what.slice(1)} all ${indices.length} pairs the list shows now? One undo reverts it.`,
      { modal: true },
      confirm,
    );
    if (choice !== confirm) return;
    document.edit(indices, { [action.field]: action.value }, `${what} ${indices.length} pairs`, { adjudicating: document.state.adjudicating });
  }

  /** Notes are typed in VS Code's own input box: native editing, undo and accessibility. */
  private async editNote(document: ReviewDocument, index: number): Promise<void> {
    const current = document.state.annotation(index)?.note ?? '';
    const note = await vscode.window.showInputBox({
      title: `Note on pair ${index + 1} (line ${document.state.table.line(index)})`,
      value: current,
      prompt: 'Leave empty to remove the note',
    });
    if (note === undefined) return;
    document.edit([index], { note: note.trim() || null }, `note of pair ${index + 1}`);
  }

  private html(webview: vscode.Webview): string {
    const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', name)).toString();
    return reviewWebviewHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(16).toString('base64'),
      scriptUri: asset('webview.js'),
      styleUri: asset('webview-style.css'),
    });
  }
}

/** Messages come from a webview showing untrusted text: never trust an index it sends. */
const validIndex = (document: ReviewDocument, index: unknown): index is number =>
  Number.isInteger(index) && (index as number) >= 0 && (index as number) < document.state.table.count;
