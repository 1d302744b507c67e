/**
 * The one way the extension's parts own what they must let go — listeners, watchers, emitters,
 * status items: each is registered where it is made, and all are disposed once, with their owner, in
 * reverse order (the pattern of VS Code's own `Disposable` base class). Nothing registered after the
 * owner is gone outlives it.
 */
import type * as vscode from 'vscode';

export abstract class Disposable implements vscode.Disposable {
  private readonly owned: vscode.Disposable[] = [];
  private disposed = false;

  protected register<T extends vscode.Disposable>(owned: T): T {
    if (this.disposed) owned.dispose();
    else this.owned.push(owned);
    return owned;
  }

  protected get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const owned of this.owned.splice(0).reverse()) owned.dispose();
  }
}

/** One disposable at a time in a slot (a subscription to whichever document is active): setting a new one disposes the old. */
export class DisposableSlot implements vscode.Disposable {
  private current?: vscode.Disposable;

  set value(next: vscode.Disposable | undefined) {
    this.current?.dispose();
    this.current = next;
  }

  dispose(): void {
    this.value = undefined;
  }
}
