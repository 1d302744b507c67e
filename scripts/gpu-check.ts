/**
 * Maintainer check, on a Linux x64 machine with an NVIDIA GPU, that "Install GPU Support" really
 * gives `cuda`: installs the CUDA providers from the real NuGet feed through the same module the
 * editor command uses, loads onnxruntime from the installed runtime folder, scores a generated
 * known-score model on `cuda` and on `cpu`, and compares both with the exact rewards. CI has no GPU,
 * so this is run by hand (scripts/gpu-check.sh), and it fails loudly unless CUDA did the work: the
 * provider library must be loaded from the runtime folder, and onnxruntime's profile must show the
 * model's nodes running on CUDAExecutionProvider.
 *
 * `--cpu-only` skips the install and the GPU and runs the rest with the bundled onnxruntime-node,
 * so the script itself can be checked on any machine.
 *
 *   node --import tsx scripts/gpu-check.ts [--cpu-only] [--storage-dir DIR] [--feed URL] [--batch N] [--length N] [--runs N]
 */
import { promises as fs, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as Ort from 'onnxruntime-node';
import { cudaPlatformSupport, DEFAULT_NUGET_FEED, installCudaProviders, readOnnxRuntimeVersion } from '../src/engine/gpu/cudaProviderInstall';
import { knownScoreModelBytes, knownScoreReward } from './modelkit/knownScoreModel';

const repoRoot = path.resolve(__dirname, '..');
const bundledOrt = path.join(repoRoot, 'node_modules', 'onnxruntime-node');
/** Llama-2's vocabulary size: a realistic embedding-table gather. */
const VOCAB_SIZE = 32000;
/** The known-score model is exact in float32 on any provider (see knownScoreModel.ts); this only absorbs a broken kernel's noise. */
const TOLERANCE = 1e-4;

const { values: flags } = parseArgs({
  options: {
    'cpu-only': { type: 'boolean', default: false },
    'storage-dir': { type: 'string', default: path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'preference-lens', 'gpu-check') },
    feed: { type: 'string', default: DEFAULT_NUGET_FEED },
    batch: { type: 'string', default: '32' },
    length: { type: 'string', default: '512' },
    runs: { type: 'string', default: '20' },
  },
});

class CheckFailed extends Error {}
const fail = (message: string): never => {
  throw new CheckFailed(message);
};

/** Shared libraries mapped into this process whose path contains `fragment`; Linux only, where this check runs. */
function loadedLibraries(fragment: string): string[] {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
  return [...new Set(maps.map((line) => line.trim().split(/\s+/).slice(5).join(' ')).filter((file) => file.includes(fragment)))];
}

interface Inputs {
  feeds: (ort: typeof Ort) => Record<string, Ort.Tensor>;
  expected: number[];
}

/** A padded batch of random ids: rows of different lengths, as the engine sends them. */
function makeInputs(batch: number, length: number): Inputs {
  const ids = new BigInt64Array(batch * length);
  const mask = new BigInt64Array(batch * length);
  const expected: number[] = [];
  let seed = 12345;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let row = 0; row < batch; row++) {
    const used = Math.max(1, Math.round(length * (0.3 + 0.7 * random())));
    const rowIds: number[] = [];
    for (let t = 0; t < length; t++) {
      const id = t < used ? Math.floor(random() * VOCAB_SIZE) : 0;
      ids[row * length + t] = BigInt(id);
      mask[row * length + t] = t < used ? 1n : 0n;
      if (t < used) rowIds.push(id);
    }
    expected.push(knownScoreReward(rowIds));
  }
  return {
    feeds: (ort) => ({ input_ids: new ort.Tensor('int64', ids, [batch, length]), attention_mask: new ort.Tensor('int64', mask, [batch, length]) }),
    expected,
  };
}

interface DeviceRun {
  device: string;
  rewards: number[];
  createMs: number;
  firstRunMs: number;
  meanRunMs: number;
  /** Node executions per provider, from onnxruntime's profile. */
  providers: Record<string, number>;
}

async function scoreOn(ort: typeof Ort, device: string, modelPath: string, inputs: Inputs, runs: number, profileDir: string): Promise<DeviceRun> {
  let started = performance.now();
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      executionProviders: [device],
      enableProfiling: true,
      profileFilePrefix: path.join(profileDir, device),
    });
  } catch (error) {
    return fail(`onnxruntime could not create a ${device} session: ${(error as Error).message}`);
  }
  const createMs = performance.now() - started;
  const feeds = inputs.feeds(ort);
  started = performance.now();
  const first = await session.run(feeds);
  const firstRunMs = performance.now() - started;
  started = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  const meanRunMs = (performance.now() - started) / runs;
  session.endProfiling();
  await session.release();

  const providers: Record<string, number> = {};
  for (const file of await fs.readdir(profileDir)) {
    if (!file.startsWith(`${device}_`)) continue;
    const events = JSON.parse(await fs.readFile(path.join(profileDir, file), 'utf8')) as Array<{ cat?: string; args?: { provider?: string } }>;
    for (const event of events) if (event.cat === 'Node' && event.args?.provider) providers[event.args.provider] = (providers[event.args.provider] ?? 0) + 1;
  }
  return { device, rewards: Array.from(first.logits.data as Float32Array), createMs, firstRunMs, meanRunMs, providers };
}

async function installRuntime(): Promise<string> {
  const support = cudaPlatformSupport();
  if (!support.supported) fail(support.reason);
  console.log(`Installing the CUDA providers from ${flags.feed} into ${flags['storage-dir']}`);
  let lastTenth = -1;
  const started = performance.now();
  const installed = await installCudaProviders({
    storageDir: flags['storage-dir']!,
    ortPackageDir: bundledOrt,
    feedIndexUrl: flags.feed,
    onProgress: ({ phase, loaded, total }) => {
      const tenth = phase === 'install' ? 10 : total > 0 ? Math.floor((10 * loaded) / total) : 0;
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      console.log(phase === 'install' ? '  verified; installing' : `  ${(loaded / 1e6).toFixed(0)} / ${(total / 1e6).toFixed(0)} MB`);
    },
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${installed.reused ? 'Already installed' : `Installed in ${seconds} s`}: ${installed.runtimeDir}`);
  for (const file of installed.files) console.log(`  ${path.basename(file)}  ${((await fs.stat(file)).size / 1e6).toFixed(1)} MB`);
  return installed.runtimeDir;
}

async function main(): Promise<void> {
  const cpuOnly = flags['cpu-only']!;
  const [batch, length, runs] = [flags.batch, flags.length, flags.runs].map(Number);
  const version = await readOnnxRuntimeVersion(bundledOrt);
  console.log(`onnxruntime-node ${version}, Node ${process.version}, ${process.platform}/${process.arch}${cpuOnly ? ', CPU only' : ''}`);
  if (!cpuOnly) console.log(`LD_LIBRARY_PATH=${process.env.LD_LIBRARY_PATH ?? ''}`);

  const runtimeDir = cpuOnly ? bundledOrt : await installRuntime();
  // The one onnxruntime this process loads: a second copy would bind to the first's library.
  const ort = createRequire(__filename)(runtimeDir) as typeof Ort;
  ort.env.logLevel = 'error';
  const core = loadedLibraries('libonnxruntime.so');
  console.log(`onnxruntime library loaded: ${core.join(', ')}`);
  if (!core.every((file) => file.startsWith(runtimeDir + path.sep))) fail(`onnxruntime was loaded from outside ${runtimeDir}`);

  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-gpu-check-'));
  try {
    const modelPath = path.join(scratch, 'known-score.onnx');
    await fs.writeFile(modelPath, knownScoreModelBytes(VOCAB_SIZE));
    const inputs = makeInputs(batch, length);
    console.log(`Model: known-score reward graph, vocabulary ${VOCAB_SIZE}; batch ${batch} × ${length} tokens, ${runs} timed runs`);

    const results: DeviceRun[] = [];
    if (!cpuOnly) {
      const cuda = await scoreOn(ort, 'cuda', modelPath, inputs, runs, scratch);
      const providerLibraries = loadedLibraries('libonnxruntime_providers_cuda.so');
      console.log(`CUDA provider loaded: ${providerLibraries.join(', ') || 'no'}`);
      for (const library of ['libcudart', 'libcublas.', 'libcudnn.']) console.log(`  ${library.replace(/\.$/, '')}: ${loadedLibraries(library)[0] ?? 'not loaded'}`);
      if (!providerLibraries.some((file) => file.startsWith(runtimeDir + path.sep))) fail('the cuda session was created without loading the CUDA provider library from the runtime folder');
      if (!cuda.providers.CUDAExecutionProvider) fail(`no node ran on CUDAExecutionProvider (profile: ${JSON.stringify(cuda.providers)})`);
      results.push(cuda);
    }
    const cpu = await scoreOn(ort, 'cpu', modelPath, inputs, runs, scratch);
    results.push(cpu);

    console.log('\ndevice  create ms  first run ms  mean run ms  nodes by provider (profile)');
    for (const run of results) {
      console.log(`${run.device.padEnd(6)}  ${run.createMs.toFixed(1).padStart(9)}  ${run.firstRunMs.toFixed(2).padStart(12)}  ${run.meanRunMs.toFixed(3).padStart(11)}  ${JSON.stringify(run.providers)}`);
    }
    console.log('\nrow  expected      ' + results.map((run) => run.device.padEnd(12)).join('  '));
    for (let row = 0; row < Math.min(batch, 8); row++) {
      console.log(`${String(row).padStart(3)}  ${inputs.expected[row].toFixed(6).padStart(12)}  ${results.map((run) => run.rewards[row].toFixed(6).padStart(12)).join('  ')}`);
    }
    let failed = false;
    for (const run of results) {
      const vsExpected = Math.max(...run.rewards.map((reward, row) => Math.abs(reward - inputs.expected[row])));
      console.log(`max |${run.device} − expected| = ${vsExpected}`);
      failed ||= !(vsExpected <= TOLERANCE);
    }
    if (results.length === 2) {
      const [cuda] = results;
      const difference = Math.max(...cuda.rewards.map((reward, row) => Math.abs(reward - cpu.rewards[row])));
      console.log(`max |cuda − cpu| = ${difference}`);
      failed ||= !(difference <= TOLERANCE);
    }
    if (failed) fail(`rewards differ by more than ${TOLERANCE}`);
    console.log(`\nPASS: ${results.map((run) => run.device).join(' and ')} ${results.length === 1 ? 'gives' : 'give'} the expected rewards${cpuOnly ? '' : '; CUDA did the work'}`);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`\nFAIL: ${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof CheckFailed) && error instanceof Error && error.stack) console.error(error.stack);
  if (!flags['cpu-only']) console.error(`The GPU needs an NVIDIA driver, CUDA 12 and cuDNN 9 libraries on the library path (LD_LIBRARY_PATH); see the lines above for which were loaded.`);
  process.exit(1);
});
