// One esbuild script for every bundle: extension host, scoring worker, CLI (node/cjs) and the
// webview (browser). onnxruntime-node stays external: bundling its .node binaries breaks loading.
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'onnxruntime-node'],
  // ES module builds first: a UMD main (jsonc-parser's) loads its parts by a runtime require that a
  // bundle cannot resolve ("Cannot find module './impl/format'").
  mainFields: ['module', 'main'],
  logLevel: 'info',
  absWorkingDir: root,
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { worker: 'src/engine/worker.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'src/cli/plens.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: !production,
    minify: production,
    entryPoints: { webview: 'webview-ui/main.ts', 'webview-style': 'webview-ui/style.css' },
    outdir: 'dist',
    logLevel: 'info',
    absWorkingDir: root,
  },
  // Build-time tool: writes the known-score demo model the tests use (dist/models/demo).
  { ...node, entryPoints: { 'build-demo-model': 'scripts/build-demo-model.ts' }, outdir: 'out/tools', external: [] },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
  execFileSync(process.execPath, [path.join(root, 'out/tools/build-demo-model.js'), path.join(root, 'dist/models/demo')], {
    stdio: 'inherit',
  });
  // The default model: trained and committed by scripts/train-baseline.ts (see models/baseline/REPORT.md).
  cpSync(path.join(root, 'models/baseline'), path.join(root, 'dist/models/baseline'), { recursive: true });
}
