// The review keys are VS Code keybindings (rebindable in Keyboard Shortcuts). The webview's hints
// and the host's command list come from REVIEW_KEYS; package.json must declare the same, or a hint
// would name a key that does nothing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { reviewKeymap } from '../../src/shared/userKeymap';
import { REVIEW_ACTIONS, REVIEW_FOCUS_CONTEXT, REVIEW_KEYS } from '../../src/shared/reviewProtocol';

const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
type Binding = { command: string; key: string; when?: string };
const bindings: Binding[] = manifest.contributes.keybindings.filter((b: Binding) => b.command.startsWith('preferenceLens.review.'));

test('every review action is a command with the default keys the hints show', () => {
  const commands = new Set(manifest.contributes.commands.map((c: { command: string }) => c.command));
  for (const action of REVIEW_ACTIONS) {
    const command = `preferenceLens.review.${action}`;
    assert.ok(commands.has(command), `${command} is not declared`);
    assert.deepEqual(
      bindings.filter((b) => b.command === command).map((b) => b.key),
      [...REVIEW_KEYS[action].keys],
      `${command} keybindings`,
    );
  }
  assert.equal(bindings.length, REVIEW_ACTIONS.reduce((n, action) => n + REVIEW_KEYS[action].keys.length, 0), 'no keybinding for an unknown action');
});

test('review keys apply only while a review webview has focus, never while typing elsewhere', () => {
  for (const binding of bindings) {
    assert.ok(binding.when?.includes(REVIEW_FOCUS_CONTEXT), `${binding.command} (${binding.key}) needs ${REVIEW_FOCUS_CONTEXT} in its when clause`);
  }
  const keys = bindings.map((b) => b.key);
  assert.equal(new Set(keys).size, keys.length, `a key is bound twice: ${keys.join(' ')}`);
});

test("the hints follow the user's keybindings.json: added keys first, removed defaults gone", () => {
  const keymap = reviewKeymap(`// comments and trailing commas, as VS Code writes and allows them
  [
    { "key": "x", "command": "preferenceLens.review.acceptModel", "when": "preferenceLens.reviewFocus" },
    { "key": "a", "command": "-preferenceLens.review.acceptModel" },
    { "command": "-preferenceLens.review.next" },
    { "key": "Shift+Ctrl+N", "command": "preferenceLens.review.next" },
    { "key": "ctrl+shift+n", "command": "preferenceLens.review.next" },
    { "key": "DOWN", "command": "-preferenceLens.review.previous" },
    { "key": "z", "command": "workbench.action.other" },
    { "key": "y", "command": "preferenceLens.review.noSuchAction" },
  ]`);
  assert.deepEqual(keymap.acceptModel, ['x']);
  assert.deepEqual(keymap.next, ['ctrl+shift+n'], 'all defaults removed, one key added (the same key twice counts once)');
  assert.deepEqual(keymap.previous, ['k', 'up'], 'removing a key the action does not have changes nothing');
  assert.deepEqual(keymap.flag, ['f']);
  assert.equal(Object.keys(keymap).length, REVIEW_ACTIONS.length);
});

test('an unreadable keybindings.json leaves the default keys', () => {
  const defaults = Object.fromEntries(REVIEW_ACTIONS.map((action) => [action, [...REVIEW_KEYS[action].keys]]));
  assert.deepEqual(reviewKeymap(undefined), defaults);
  assert.deepEqual(reviewKeymap('{ not json'), defaults);
  assert.deepEqual(reviewKeymap('{"key": "x"}'), defaults);
});
