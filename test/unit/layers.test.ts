// The layer check itself: silent on the house as it is, loud on an import that runs back up, on
// `vscode` outside the editor, and on Node code in the webview.
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import ts from 'typescript';
import { checkLayers, unexpected } from '../../scripts/check-layers';

const repoRoot = path.resolve(__dirname, '..', '..');
const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'plens-layers-'));
  dirs.push(root);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
  return root;
}

describe('the layer check', () => {
  it('passes on the repository as it is', () => {
    const { fresh, stale } = unexpected(checkLayers(repoRoot));
    assert.deepEqual(fresh, []);
    assert.deepEqual(stale, []);
  });

  it('fails on a deliberately added upward import, naming file and line', async () => {
    const root = await tree({
      'src/core/pair.ts': "import type { Scorer } from '../engine/scorer';\nexport type X = Scorer;\n",
      'src/engine/scorer.ts': "import type { Pair } from '../core/pair';\nexport interface Scorer { pair: Pair }\n",
    });
    assert.deepEqual(checkLayers(root), [{ file: path.join('src', 'core', 'pair.ts'), line: 1, message: 'core imports src/engine/scorer, which is engine: an import that runs back up' }]);
  });

  it('fails on vscode outside the editor, on the CLI reaching the editor API, and on Node modules in the webview', async () => {
    const root = await tree({
      'src/engine/a.ts': "\n\nimport * as vscode from 'vscode';\n",
      'src/cli/b.ts': "import { window } from 'vscode';\n",
      'src/editor/c.ts': "import * as vscode from 'vscode';\nimport { x } from '../core/d';\n",
      'src/core/d.ts': 'export const x = 1;\n',
      'webview-ui/e.ts': "import { readFile } from 'node:fs/promises';\nimport { y } from '../src/engine/a';\nimport type { X } from '../src/core/d';\n",
    });
    const messages = checkLayers(root).map((v) => `${v.file.split(path.sep).join('/')}:${v.line}: ${v.message}`).sort();
    assert.deepEqual(messages, [
      'src/cli/b.ts:1: host imports vscode; only the editor side of the host may',
      'src/engine/a.ts:3: engine imports vscode; only the editor side of the host may',
      'webview-ui/e.ts:1: the webview imports the Node module node:fs/promises; it runs in a browser sandbox',
      'webview-ui/e.ts:2: the webview imports src/engine/a (engine); it may use core and shared types only',
    ]);
  });

  it('reports a tolerated import that is gone, so the list of exceptions only shrinks', () => {
    const { stale } = unexpected([], ['src/core/x.ts: core imports src/engine/y, which is engine: an import that runs back up']);
    assert.equal(stale.length, 1);
  });
});

/**
 * Type-checks `text` as if it were a file at `where` in the repository, under the tsconfig that
 * governs that folder; returns the error messages. The probe lives only in memory.
 */
function typeErrors(configDir: string, where: string, text: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(repoRoot, configDir, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  assert.ok(config, `${configDir}/tsconfig.json reads`);
  const probe = path.join(repoRoot, where);
  const host = ts.createCompilerHost(config.options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (file) => (file === probe ? text : readFile(file));
  host.fileExists = (file) => file === probe || ts.sys.fileExists(file);
  host.getSourceFile = (file, language) => (file === probe ? ts.createSourceFile(file, text, language) : getSourceFile(file, language));
  const program = ts.createProgram([probe], { ...config.options, noEmit: true }, host);
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(probe)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('a tsconfig per target', () => {
  it('host code has Node types and no DOM', () => {
    assert.deepEqual(typeErrors('.', 'src/core/probe.ts', 'export const size = Buffer.byteLength(process.cwd());\n'), []);
    assert.match(typeErrors('.', 'src/core/probe.ts', 'export const title = document.title;\n').join('\n'), /Cannot find name 'document'/);
  });

  it('webview code has the DOM and no Node types', () => {
    assert.deepEqual(typeErrors('webview-ui', 'webview-ui/probe.ts', 'export const title = document.title;\n'), []);
    assert.match(typeErrors('webview-ui', 'webview-ui/probe.ts', 'export const size = Buffer.byteLength("x");\n').join('\n'), /Cannot find name 'Buffer'/);
    assert.match(typeErrors('webview-ui', 'webview-ui/probe.ts', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n").join('\n'), /Cannot find module 'node:fs'/);
  });
});
