/** Reading the annotations sidecar and the review tab's dirty marker, as the e2e tests check them. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { VsCode } from './harness';

export interface StoredEvent {
  key: string;
  line: number;
  field: string;
  from: unknown;
  to: unknown;
  by: string;
  at: string;
}

/**
 * Parses the sidecar and folds its events in order into the annotations of each pair, keyed by the
 * record's line (the fixtures have one record per line). Checks the header, that every line is
 * JSON, and that content keys and lines correspond one to one.
 */
export function foldSidecar(file: string): { annotations: Map<number, Record<string, unknown>>; events: StoredEvent[] } {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(JSON.parse(lines[0]!), { plens: 'annotations', version: 1 }, 'sidecar header');
  const events = lines.slice(1).map((l) => JSON.parse(l) as StoredEvent);
  const lineOfKey = new Map<string, number>();
  const byKey = new Map<string, Record<string, unknown>>();
  for (const event of events) {
    assert.equal(lineOfKey.get(event.key) ?? event.line, event.line, `key ${event.key} names two lines`);
    lineOfKey.set(event.key, event.line);
    const annotation = byKey.get(event.key) ?? {};
    if (event.to === null) delete annotation[event.field];
    else annotation[event.field] = event.to;
    byKey.set(event.key, annotation);
  }
  assert.equal(new Set(lineOfKey.values()).size, lineOfKey.size, 'two keys name the same line');
  const annotations = new Map<number, Record<string, unknown>>();
  for (const [key, annotation] of byKey) if (Object.keys(annotation).length) annotations.set(lineOfKey.get(key)!, annotation);
  return { annotations, events };
}

/** Polls a tab's dirty marker: VS Code learns of an edit by a message of its own, after the webview's. */
export async function waitForDirty(vscode: VsCode, tab: string, dirty: boolean, why: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await vscode.tabIsDirty(tab)) !== dirty) {
    assert.ok(Date.now() < deadline, `${why}: the review tab never became ${dirty ? 'dirty' : 'clean'} in ${timeoutMs} ms`);
    await vscode.page.waitForTimeout(150);
  }
}

/** Presses Ctrl+S in the review and waits until the tab is clean and `sidecar` exists. */
export async function saveReview(vscode: VsCode, tab: string, sidecar: string, why: string): Promise<void> {
  await vscode.page.keyboard.press('Control+s');
  const deadline = Date.now() + 20_000;
  while ((await vscode.tabIsDirty(tab)) || !existsSync(sidecar)) {
    assert.ok(Date.now() < deadline, `Ctrl+S did not save ${why} (tab still dirty or no sidecar)`);
    await vscode.page.waitForTimeout(200);
  }
}
