/**
 * Builds the scoring worker bundle for a test, the way scripts/build.mjs does, into a scratch folder
 * of its own. The folder is under the repo's out/ (git-ignored) so the bundle resolves
 * onnxruntime-node from node_modules.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const repoRoot = path.resolve(__dirname, '..', '..');

/** Into `into` when given (a scratch folder the test already cleans up), else a new one named after `name`. */
export async function buildWorkerBundle(name: string, into?: string): Promise<{ scratch: string; workerPath: string }> {
  await fs.mkdir(path.join(repoRoot, 'out'), { recursive: true });
  const scratch = into ?? (await fs.mkdtemp(path.join(repoRoot, 'out', `test-${name}-`)));
  const workerPath = path.join(scratch, 'worker.js');
  await build({
    entryPoints: [path.join(repoRoot, 'src', 'engine', 'worker.ts')],
    outfile: workerPath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['onnxruntime-node'],
    logLevel: 'error',
  });
  return { scratch, workerPath };
}
