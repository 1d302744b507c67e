/**
 * Entry point VS Code's extension host calls after loading the extension under development. It
 * must export `run(): Promise<void>` and reject on failure. A tiny runner instead of mocha: one
 * smoke test does not justify another dependency.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'preference-lens.preference-lens';

const tests: Record<string, () => Promise<void>> = {
  async 'extension activates and registers preferenceLens.openReview'() {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded`);
    await extension.activate();
    assert.ok(extension.isActive);
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('preferenceLens.openReview'), 'preferenceLens.openReview is not registered');
  },
};

export async function run(): Promise<void> {
  const failures: string[] = [];
  for (const [name, body] of Object.entries(tests)) {
    try {
      await body();
      console.log(`ok - ${name}`);
    } catch (error) {
      console.error(`not ok - ${name}\n${error instanceof Error ? error.stack : String(error)}`);
      failures.push(name);
    }
  }
  if (failures.length > 0) throw new Error(`${failures.length} integration test(s) failed: ${failures.join(', ')}`);
}
