// `npm start`: show Preference Lens on a sample dataset, after `npm run build && npm run package`.
//
// With a desktop `code` CLI on PATH it opens an Extension Development Host on the repo (live
// dist/, no VSIX needed). Without one (CI boxes, this kind of container) it installs the VSIX into
// code-server, serves it on 127.0.0.1 and prints the URL; the page opens the sample in the review
// editor. Runs until Ctrl+C, then stops code-server by process id.
//
//   npm start               desktop VS Code if available, else code-server
//   npm start -- --web      always code-server
//   PLENS_PORT=8080         fixed port for code-server (default: a free one)
//   PLENS_VSIX=path.vsix    VSIX to install (default: the single *.vsix in the repo root)
//
// Run with `node --import tsx` (the package script does) because it shares the code-server
// plumbing with the e2e tests in test/e2e/codeServer.ts.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// require, not import: tsx hands an ESM-imported CommonJS .ts file `__dirname === "data:text"`,
// which would put repoRoot in the wrong place.
const { ensureHost, repoRoot, startCodeServer } = createRequire(import.meta.url)('../test/e2e/codeServer.ts');

const SAMPLE_SETTINGS = {
  // Opens *.jsonl in the review editor (our custom editor's view type).
  'workbench.editorAssociations': { '*.jsonl': 'preferenceLens.review' },
  // The workspace sits inside this repo; without this Git offers to open the parent repo.
  'git.openRepositoryInParentFolders': 'never',
};
const SAMPLE_SOURCES = [
  path.join(repoRoot, 'test/fixtures/hh-rlhf-sample.jsonl'),
  path.resolve(repoRoot, '../shared/data/hh-rlhf-helpful-base-test/test.jsonl'),
];

function fail(message) {
  console.error(`start: ${message}`);
  process.exit(1);
}

/** A workspace under the ignored .cache/ whose .jsonl files open in the review editor. Reused
 * between runs, so whatever the user did to the sample survives a restart. */
function prepareWorkspace() {
  const source = SAMPLE_SOURCES.find((file) => existsSync(file));
  if (!source) fail(`no sample dataset; looked for:\n  ${SAMPLE_SOURCES.join('\n  ')}`);
  const workspace = path.join(repoRoot, '.cache/sample-workspace');
  const sample = path.join(workspace, path.basename(source));
  mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
  if (!existsSync(sample)) copyFileSync(source, sample);
  writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify(SAMPLE_SETTINGS, null, 2) + '\n');
  return { workspace, sample };
}

function hasDesktopCode() {
  return spawnSync('code', ['--version'], { stdio: 'ignore' }).status === 0;
}

function findVsix() {
  if (process.env.PLENS_VSIX) return path.resolve(process.env.PLENS_VSIX);
  const found = readdirSync(repoRoot).filter((file) => file.endsWith('.vsix'));
  if (found.length !== 1) {
    fail(`expected exactly one *.vsix in ${repoRoot} (run \`npm run package\` or set PLENS_VSIX), found: ${found.join(', ') || 'none'}`);
  }
  return path.join(repoRoot, found[0]);
}

const { workspace, sample } = prepareWorkspace();

if (!process.argv.includes('--web') && hasDesktopCode()) {
  // The desktop CLI hands off to the VS Code app and returns at once; the window is the user's.
  const result = spawnSync('code', ['--new-window', `--extensionDevelopmentPath=${repoRoot}`, workspace, sample], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

const vsix = findVsix();
const host = ensureHost();
const port = Number(process.env.PLENS_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PLENS_PORT should be a port number, got "${process.env.PLENS_PORT}"`);
// Also as user settings: code-server opens the URL's file before it applies the workspace's
// editorAssociations, so from .vscode/settings.json alone the sample opens as plain text.
const server = await startCodeServer({ host, workspace, vsix, port, settings: SAMPLE_SETTINGS });
console.log(`\nPreference Lens is running in code-server (VS Code in the browser), with ${path.basename(vsix)}:\n`);
console.log(`  ${server.url(sample)}\n`);
console.log(`Logs: ${server.serverLog}\nPress Ctrl+C to stop.`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping code-server…');
  await server.stop();
  rmSync(server.baseDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
void server.exited.then((code) => {
  if (!stopping) fail(`code-server exited on its own (code ${code}); see ${server.serverLog}`);
});
