// What package.json promises about untrusted workspaces (issue 6 item 4): VS Code enforces these
// declarations, so the test guards that they stay declared.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cpuThreads } from '../../src/engine/session';

const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));

test('in an untrusted workspace, settings that choose a model or an endpoint are ignored', () => {
  const { untrustedWorkspaces } = manifest.capabilities;
  assert.equal(untrustedWorkspaces.supported, 'limited');
  // Every setting that names something to load or to send data to.
  const pointing = Object.keys(manifest.contributes.configuration.properties).filter((key) => /modelPath|models$|endpoint|url/i.test(key));
  assert.deepEqual(pointing, ['preferenceLens.modelPath', 'preferenceLens.additionalModels']);
  for (const key of pointing) assert.ok(untrustedWorkspaces.restrictedConfigurations.includes(key), `${key} must be restricted`);
});

test('no setting holds a secret: the endpoint token lives in secret storage', () => {
  const secrets = Object.keys(manifest.contributes.configuration.properties).filter((key) => /(token|secret|password|apikey)$/i.test(key));
  assert.deepEqual(secrets, []);
});

test('CPU inference leaves a core for the editor', () => {
  assert.equal(cpuThreads(2), 1);
  assert.equal(cpuThreads(16), 15);
  assert.equal(cpuThreads(1), 1);
});
