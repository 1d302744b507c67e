// Builds a VSIX for this platform only. The bundles in dist/ carry every JS dependency; the one
// thing left outside is onnxruntime-node (native), copied with only this platform's binaries, plus
// the onnxruntime-common it requires, into dist/node_modules: Node finds it there from the bundles,
// and vsce --no-dependencies leaves out only the top-level node_modules, which stays empty.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stage = path.join(root, 'out', 'vsix');
const target = `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`;
const out = path.resolve(root, process.argv[2] ?? 'preference-lens.vsix');

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
// dist/models/demo is the tests' known-score model; users get the baseline.
const testOnly = path.join(root, 'dist', 'models', 'demo');
for (const entry of ['dist', 'media', 'README.md', 'LICENSE', 'SECURITY.md', '.vscodeignore']) {
  try {
    cpSync(path.join(root, entry), path.join(stage, entry), { recursive: true, filter: (source) => !source.startsWith(testOnly) });
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
}

const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
// The VSIX installs nothing: its runtime dependencies are the copies below.
delete manifest.dependencies;
delete manifest.devDependencies;
delete manifest.scripts;
writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2));

const ortSource = path.join(root, 'node_modules', 'onnxruntime-node');
const runtimeModules = path.join(stage, 'dist', 'node_modules');
const ortStage = path.join(runtimeModules, 'onnxruntime-node');
cpSync(path.join(ortSource, 'package.json'), path.join(ortStage, 'package.json'));
cpSync(path.join(ortSource, 'dist'), path.join(ortStage, 'dist'), { recursive: true });
const binaries = path.join('bin', 'napi-v6', process.platform, process.arch);
cpSync(path.join(ortSource, binaries), path.join(ortStage, binaries), { recursive: true });
cpSync(path.join(root, 'node_modules', 'onnxruntime-common'), path.join(runtimeModules, 'onnxruntime-common'), {
  recursive: true,
});

execFileSync(
  process.execPath,
  [path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--no-rewrite-relative-links', '--target', target, '--out', out],
  { cwd: stage, stdio: 'inherit' },
);
console.log(`packaged ${out} for ${target}`);
