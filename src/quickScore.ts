/**
 * "Score Selection": scores the selected text as a response (or a whole transcript), or compares two
 * selections, and shows the result beside the selection and in the status bar.
 */
import * as vscode from 'vscode';
import { readSelectedConversation } from './core/transcript';
import { Disposable } from './disposable';
import type { ScorerService } from './scorerService';

const RESULT_SECONDS = 15;

export class QuickScore extends Disposable {
  private readonly decoration = this.register(
    vscode.window.createTextEditorDecorationType({
      after: { margin: '0 0 0 1em', color: new vscode.ThemeColor('editorCodeLens.foreground'), fontStyle: 'italic' },
    }),
  );

  constructor(private readonly scorers: ScorerService) {
    super();
    this.register(vscode.commands.registerCommand('preferenceLens.scoreSelection', () => this.scoreSelection()));
    this.register(
      // A result describes the text as it was: any edit clears it.
      vscode.workspace.onDidChangeTextDocument((event) => {
        for (const editor of vscode.window.visibleTextEditors) if (editor.document === event.document) editor.setDecorations(this.decoration, []);
      }),
    );
  }

  private async scoreSelection(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const selections = editor?.selections.filter((s) => !s.isEmpty) ?? [];
    if (!editor || selections.length === 0) {
      void vscode.window.showInformationMessage('Select the text to score (or two responses to compare) first.');
      return;
    }
    if (selections.length > 2) {
      void vscode.window.showInformationMessage('Select one text to score, or two to compare; not more.');
      return;
    }
    const conversations = selections.map((s) => readSelectedConversation(editor.document.getText(s)));
    try {
      const rewards = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Preference Lens: scoring selection' },
        async () => {
          const { scorer, info, bundledNote } = await this.scorers.get();
          const found = new Map<number, number>();
          await scorer.score(
            conversations.map((c, id) => ({ id, prompt: c.prompt, response: c.response })),
            { onResults: (results) => results.forEach((r) => found.set(r.id, r.reward)) },
          );
          return { values: conversations.map((_, id) => found.get(id)!), info, bundledNote };
        },
      );
      const model = `${rewards.bundledNote ? 'bundled baseline (linear bag-of-tokens)' : rewards.info.model}, ${rewards.info.device}`;
      const decorations: vscode.DecorationOptions[] = selections.map((selection, i) => {
        const reward = rewards.values[i];
        const form = conversations[i].form === 'response' ? 'as a response' : `as a ${conversations[i].form} conversation`;
        let text = `reward ${reward.toFixed(3)}`;
        if (selections.length === 2) {
          const margin = reward - rewards.values[1 - i];
          text += margin > 0 ? ' ★ preferred' : margin === 0 ? ' (tie)' : '';
        }
        const hover = new vscode.MarkdownString(`**Preference Lens**: reward ${reward} (${form})  \nModel: ${model}`);
        return { range: new vscode.Range(selection.end, selection.end), hoverMessage: hover, renderOptions: { after: { contentText: text } } };
      });
      editor.setDecorations(this.decoration, decorations);
      const summary =
        selections.length === 2
          ? `A ${rewards.values[0].toFixed(3)} vs B ${rewards.values[1].toFixed(3)}: margin ${(rewards.values[0] - rewards.values[1]).toFixed(3)}, P(A≻B) ${(100 / (1 + Math.exp(rewards.values[1] - rewards.values[0]))).toFixed(0)}%`
          : `reward ${rewards.values[0].toFixed(3)}`;
      vscode.window.setStatusBarMessage(`$(law) ${summary} (${model})`, RESULT_SECONDS * 1000);
    } catch (error) {
      void vscode.window.showErrorMessage(`Preference Lens could not score the selection: ${(error as Error).message}`);
    }
  }
}
