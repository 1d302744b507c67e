/** The status-bar item: which model runs where, and scoring progress of the active review. */
import * as vscode from 'vscode';
import type { ReviewEditorProvider } from './editor/reviewEditorProvider';
import type { ReviewDocument } from './editor/reviewDocument';
import type { ReviewStatus } from './shared/reviewProtocol';
import { Disposable, DisposableSlot } from './disposable';

export class StatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('preferenceLens.status', vscode.StatusBarAlignment.Right, 100));
  private readonly documentSubscription = this.register(new DisposableSlot());

  constructor(reviews: ReviewEditorProvider) {
    super();
    this.item.name = 'Preference Lens';
    this.item.command = 'preferenceLens.statusActions';
    this.register(reviews.onDidChangeActive((document) => this.follow(document)));
    this.register(vscode.commands.registerCommand('preferenceLens.statusActions', () => this.actions(reviews.active)));
    this.follow(reviews.active);
  }

  private follow(document: ReviewDocument | undefined): void {
    this.documentSubscription.value = undefined;
    if (!document) {
      this.item.hide();
      return;
    }
    this.documentSubscription.value = document.onDidChangeStatus((status) => this.show(status));
    this.show(document.state.status());
  }

  private show(status: ReviewStatus): void {
    const { scoring, model } = status;
    const where = model ? `${model.name}${model.bundled ? ' (baseline)' : ''} · ${model.device}` : 'no model loaded';
    if (scoring.state === 'loading') this.item.text = '$(loading~spin) Loading reward model…';
    else if (scoring.state === 'scoring') this.item.text = `$(loading~spin) Scoring ${scoring.done}/${scoring.total}`;
    else this.item.text = `$(law) ${status.scored}/${status.pairs} scored · ${status.disagreements} disagree`;
    this.item.tooltip = `Preference Lens — ${where}${scoring.error ? `\nLast error: ${scoring.error}` : ''}\nClick for actions`;
    this.item.show();
  }

  private async actions(document: ReviewDocument | undefined): Promise<void> {
    const items: (vscode.QuickPickItem & { command: string })[] = [];
    if (document?.isScoring) items.push({ label: '$(debug-stop) Cancel scoring', command: 'preferenceLens.cancelScoring' });
    if (document) items.push({ label: '$(refresh) Score again', command: 'preferenceLens.rescore' });
    items.push(
      { label: '$(folder-opened) Choose reward model…', command: 'preferenceLens.chooseModel' },
      { label: '$(settings-gear) Settings', command: 'preferenceLens.openSettings' },
    );
    const picked = await vscode.window.showQuickPick(items, { title: 'Preference Lens' });
    if (picked) await vscode.commands.executeCommand(picked.command);
  }
}
