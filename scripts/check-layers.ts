/**
 * The house rules, checked: every import points down a layer, `vscode` is imported only by the
 * editor layer, and the webview bundles no Node code. CI runs it (`npm run lint:layers`, part of
 * `npm test`); it prints each broken rule as `file:line` and exits 1.
 *
 *   core     src/core        the dataset model: formats, index, annotations, statistics
 *   shared   src/shared      message types between host, webview and worker
 *   engine   src/engine      tokenizers, models, scoring, remote endpoints
 *   host     src/cli, src/editor, src/*.ts   the two front ends
 *   webview  webview-ui      the review UI in the browser sandbox
 *
 * A layer imports its own and those below it: core ← shared ← engine ← host. The webview may
 * import types from core and shared only.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

export type Layer = 'core' | 'shared' | 'engine' | 'host' | 'webview';

const RANK: Record<Exclude<Layer, 'webview'>, number> = { core: 0, shared: 1, engine: 2, host: 3 };

/**
 * Imports that still run back up, each with why it is tolerated for now. The check fails on any
 * other, and on an entry here that no longer occurs (so the list only shrinks).
 */
export const KNOWN_UPWARD: readonly string[] = [];

export function layerOf(root: string, file: string): Layer | undefined {
  const relative = path.relative(root, file).split(path.sep).join('/');
  if (relative.startsWith('webview-ui/')) return 'webview';
  if (!relative.startsWith('src/')) return undefined;
  const [, folder] = relative.split('/');
  if (folder === 'core') return 'core';
  if (folder === 'shared') return 'shared';
  if (folder === 'engine') return 'engine';
  return 'host';
}

/** Where host code may use the `vscode` API: everything of the host layer except the CLI. */
const mayImportVscode = (root: string, file: string) => layerOf(root, file) === 'host' && !path.relative(root, file).split(path.sep).join('/').startsWith('src/cli/');

const IMPORT = /(?:^|\s|;)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\s|;)import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

export interface Violation {
  file: string;
  line: number;
  message: string;
}

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

export function checkLayers(root: string): Violation[] {
  const violations: Violation[] = [];
  const files = [...sourceFiles(path.join(root, 'src')), ...sourceFiles(path.join(root, 'webview-ui'))];
  for (const file of files) {
    const from = layerOf(root, file) as Layer;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? match[4];
      const line = text.slice(0, match.index).split('\n').length + (match[0].startsWith('\n') ? 1 : 0);
      const where = { file: path.relative(root, file), line };
      if (specifier === 'vscode') {
        if (!mayImportVscode(root, file)) violations.push({ ...where, message: `${from} imports vscode; only the editor side of the host may` });
        continue;
      }
      const bare = specifier.replace(/^node:/, '').split('/')[0];
      if (!specifier.startsWith('.')) {
        if (from === 'webview' && (specifier.startsWith('node:') || builtinModules.includes(bare))) {
          violations.push({ ...where, message: `the webview imports the Node module ${specifier}; it runs in a browser sandbox` });
        }
        continue;
      }
      const target = path.resolve(path.dirname(file), specifier);
      const to = layerOf(root, target);
      if (to === undefined) continue;
      const relativeTarget = path.relative(root, target).split(path.sep).join('/');
      if (from === 'webview') {
        if (to !== 'webview' && to !== 'core' && to !== 'shared') violations.push({ ...where, message: `the webview imports ${relativeTarget} (${to}); it may use core and shared types only` });
        continue;
      }
      if (to === 'webview') {
        violations.push({ ...where, message: `${from} imports the webview's ${relativeTarget}` });
        continue;
      }
      if (RANK[to] > RANK[from]) violations.push({ ...where, message: `${from} imports ${relativeTarget}, which is ${to}: an import that runs back up` });
    }
  }
  return violations;
}

/** Violations not in the known list, and known entries that no longer occur. */
export function unexpected(violations: readonly Violation[], known: readonly string[] = KNOWN_UPWARD): { fresh: Violation[]; stale: string[] } {
  const keyOf = (violation: Violation) => `${violation.file.split(path.sep).join('/')}: ${violation.message}`;
  const seen = new Set(violations.map(keyOf));
  return { fresh: violations.filter((violation) => !known.includes(keyOf(violation))), stale: known.filter((entry) => !seen.has(entry)) };
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const { fresh, stale } = unexpected(checkLayers(root));
  for (const violation of fresh) process.stderr.write(`${violation.file}:${violation.line}: ${violation.message}\n`);
  for (const entry of stale) process.stderr.write(`scripts/check-layers.ts: KNOWN_UPWARD lists "${entry}", which no longer occurs: remove it\n`);
  if (fresh.length || stale.length) process.exitCode = 1;
  else process.stdout.write(`layers: every import points down${KNOWN_UPWARD.length ? `, but the ${KNOWN_UPWARD.length} listed in KNOWN_UPWARD` : ''}\n`);
}
