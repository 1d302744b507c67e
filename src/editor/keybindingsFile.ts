/**
 * Follows the user's keybindings.json for the review's key hints (see src/shared/userKeymap.ts).
 * The file of the default profile is `<user data>/User/keybindings.json`, two folders above the
 * extension's global storage; VS Code offers no API for keybindings.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { reviewKeymap } from '../shared/userKeymap';
import type { ReviewKeymap } from '../shared/reviewProtocol';

/** Reads the keymap now and whenever the file changes; `onChange` gets each new one. */
export function watchReviewKeymap(context: vscode.ExtensionContext, onChange: (keymap: ReviewKeymap) => void): { current(): ReviewKeymap } {
  const file = path.join(context.globalStorageUri.fsPath, '..', '..', 'keybindings.json');
  let current = reviewKeymap(undefined);
  const read = async () => {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    const next = reviewKeymap(text);
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    current = next;
    onChange(current);
  };
  const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), path.basename(file)));
  context.subscriptions.push(watcher, watcher.onDidChange(read), watcher.onDidCreate(read), watcher.onDidDelete(read));
  void read();
  return { current: () => current };
}
