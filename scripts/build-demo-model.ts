/**
 * Build-time tool (bundled to out/tools/build-demo-model.js by scripts/build.mjs):
 *   node out/tools/build-demo-model.js <outDir> [tokenizerDir]
 * writes the demo model shipped in the VSIX — a known-score graph, NOT a real reward model — over the
 * Llama-2 tokenizer vendored in models/demo, so the extension scores something out of the box.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildKnownScoreModel, DEMO_MODEL_NAME } from './modelkit/knownScoreModel';

/**
 * The repo root is found from this file, not the cwd: the bundle runs from out/tools/ and the source
 * under tsx from scripts/, so walk up to the folder that holds the vendored tokenizer.
 */
function vendoredTokenizerDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'models', 'demo');
    if (existsSync(path.join(candidate, 'tokenizer.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`models/demo/tokenizer.json not found above ${__dirname}; pass the tokenizer folder as the second argument`);
  }
}

async function main(): Promise<void> {
  const [outDir, tokenizerDir] = process.argv.slice(2);
  if (!outDir) throw new Error('usage: build-demo-model <outDir> [tokenizerDir]');
  const info = await buildKnownScoreModel({
    tokenizerDir: tokenizerDir ? path.resolve(tokenizerDir) : vendoredTokenizerDir(),
    outDir: path.resolve(outDir),
  });
  console.log(`demo model: ${info.dir} (vocab ${info.vocabSize}) — ${DEMO_MODEL_NAME}`);
}

main().catch((error: unknown) => {
  console.error(`build-demo-model: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
