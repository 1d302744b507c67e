/**
 * Hugging Face checkpoints on this machine's CPU, side by side with PyTorch (transformers' own
 * classes, bench/torch_score.py) on the same weights, token ids and batches:
 *
 *   node --import tsx bench/hf-checkpoint.bench.ts [--pairs 200] [--arms fp32,fp32-fused,int8,int4] [--no-torch]
 *   node --import tsx bench/hf-checkpoint.bench.ts --llama13b [--pairs 5] [--keep-model]
 *
 * Default: a generated Qwen2-0.5B-shaped reward model (hidden 896, 24 layers, 14 heads, 2 KV heads,
 * MLP 4864, vocab 151936; random bf16 weights, kept in bench/work/ between runs) scoring the first
 * --pairs pairs of the HH-RLHF helpful-base test split (both responses, tulu format, Llama-2
 * tokenizer ids). Each arm runs in a process of its own, so load time and peak RSS are its own:
 * tokens/s over the same batches (the engine's length-bucketed plan at its CPU default of 1024 padded tokens per batch; BENCH_BATCH_TOKENS overrides), load time
 * (graph built from the bf16 checkpoint, no build cache), peak RSS, and rewards against fp32 and
 * PyTorch (max |Δ|, and for quantized arms the error relative to the reward spread and the share of
 * pairs whose preferred response flips).
 *
 * --llama13b: a generated Llama-2-13B-shaped bf16 checkpoint, sharded as the real one is (hidden
 * 5120, 40 layers, 40 heads, vocab 32000, ~26 GB), loaded in int4 and scoring --pairs pairs: load
 * time, peak RSS against the bf16 bytes, seconds per pair. The 26 GB are deleted afterwards unless
 * --keep-model.
 *
 * Needs ../shared/data; PyTorch needs the environment of scripts/hf-reference/README.md
 * (HFREF_TRANSFORMERS, HFREF_HUB), else --no-torch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/core/dataset';
import { planBatches } from '../src/engine/batching';
import { createEncoder } from '../src/engine/encoder';
import { WeightStore } from '../src/engine/hf/safetensors';
import { readModelFolder } from '../src/engine/modelFolder';
import { DEFAULT_BATCH_TOKENS, ScoringEngine } from '../src/engine/scoringEngine';
import type { ModelVariant } from '../src/engine/workerProtocol';
import { writeDecoderCheckpoint, type DecoderShape } from '../test/support/checkpoint';
import { median, previousRun, printTable, saveRun, type Row } from './engine-report';

const repoRoot = path.resolve(__dirname, '..');
const shared = path.resolve(repoRoot, '..', 'shared', 'data');
const workDir = path.join(__dirname, 'work');
/** The engine's CPU default, so both sides run the batches a user's run would. */
const BATCH_TOKENS = Number(process.env.BENCH_BATCH_TOKENS ?? DEFAULT_BATCH_TOKENS);

const QWEN2_05B: DecoderShape = { modelType: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, layers: 24, heads: 14, kvHeads: 2, maxPositions: 32768, padTokenId: 0, ropeTheta: 1e6 };
const LLAMA2_13B: DecoderShape = { modelType: 'llama', vocabSize: 32000, hiddenSize: 5120, intermediateSize: 13824, layers: 40, heads: 40, kvHeads: 40, maxPositions: 4096, padTokenId: null, rmsNormEps: 1e-5 };

interface ArmSpec {
  modelDir: string;
  variant: ModelVariant;
  fusedOps: boolean;
  inputs: string;
  out: string;
  threads: number;
}

interface ArmResult {
  loadSeconds: number;
  seconds: number;
  tokens: number;
  peakRssMb: number;
  rewards: number[];
  precision?: string;
  weights?: string;
}

const peakRssMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;

/** One arm, in this (child) process: load (building the graph, no cache), then score every sequence. */
async function runArm(spec: ArmSpec): Promise<void> {
  const { sequences } = JSON.parse(readFileSync(spec.inputs, 'utf8')) as { sequences: number[][] };
  const loadStarted = performance.now();
  const engine = await ScoringEngine.load({ modelDir: spec.modelDir, device: 'cpu', variant: spec.variant, fusedOps: spec.fusedOps, batchTokens: BATCH_TOKENS, threads: spec.threads });
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const started = performance.now();
  const rewards = await engine.scoreTokenIds(sequences);
  const seconds = (performance.now() - started) / 1000;
  const result: ArmResult = { loadSeconds, seconds, tokens: sequences.reduce((sum, ids) => sum + ids.length, 0), peakRssMb: peakRssMb(), rewards, precision: engine.info.precision, weights: engine.info.weights };
  await engine.dispose();
  writeFileSync(spec.out, JSON.stringify(result));
}

function spawnArm(spec: ArmSpec): ArmResult {
  const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', JSON.stringify(spec)], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.status !== 0) throw new Error(`arm ${spec.variant}${spec.fusedOps ? ' fused' : ''} failed (exit ${run.status})`);
  return JSON.parse(readFileSync(spec.out, 'utf8')) as ArmResult;
}

function runTorch(modelDir: string, inputs: string, out: string, threads: number): ArmResult {
  const run = spawnSync('/usr/bin/python3', [path.join(__dirname, 'torch_score.py'), '--model', modelDir, '--inputs', inputs, '--threads', String(threads), '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.status !== 0) throw new Error(`torch_score.py failed (exit ${run.status}); set HFREF_TRANSFORMERS / HFREF_HUB (scripts/hf-reference/README.md) or pass --no-torch`);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  return { loadSeconds: result.load_seconds, seconds: result.seconds, tokens: result.tokens, peakRssMb: result.peak_rss_mb, rewards: result.rewards };
}

/** Pair preferences: rewards are [a0, b0, a1, b1, …]. */
const preferences = (rewards: number[]) => Array.from({ length: rewards.length / 2 }, (_, i) => Math.sign(rewards[2 * i] - rewards[2 * i + 1]));

function fidelity(rewards: number[], reference: number[]) {
  const spread = Math.max(...reference) - Math.min(...reference);
  const errors = rewards.map((reward, i) => Math.abs(reward - reference[i]));
  const mine = preferences(rewards);
  const theirs = preferences(reference);
  const flips = mine.filter((p, i) => p !== theirs[i]).length;
  return { maxAbs: Math.max(...errors), maxRel: Math.max(...errors) / spread, medianRel: median(errors) / spread, flips, flipShare: flips / mine.length };
}

function checkpointBytes(dir: string): number {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.safetensors'))
    .reduce((sum, file) => sum + statSync(path.join(dir, file)).size, 0);
}

async function prepareInputs(modelDir: string, pairs: number, file: string): Promise<{ sequences: number[][]; batches: number[][] }> {
  const dataset = await loadDataset(path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl'));
  const encoder = await createEncoder(await readModelFolder(modelDir));
  const sequences = dataset.pairs.slice(0, pairs).flatMap((pair) => [pair.a, pair.b].map((response) => encoder.encode([...pair.prompt, ...response]).ids));
  const batches = planBatches(sequences.map((ids) => ids.length), BATCH_TOKENS);
  writeFileSync(file, JSON.stringify({ sequences, batches, pad_id: encoder.padId }));
  return { sequences, batches };
}

function generate(dir: string, shape: DecoderShape, shards: number): void {
  if (existsSync(path.join(dir, 'config.json'))) return;
  process.stderr.write(`generating ${dir} (random bf16 weights)…\n`);
  const started = performance.now();
  writeDecoderCheckpoint(dir, shape, { dtype: 'BF16', shards, seed: 42 });
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(shared, 'tokenizers', 'llama-2', file), path.join(dir, file));
  process.stderr.write(`generated in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      pairs: { type: 'string' },
      arms: { type: 'string', default: 'fp32,fp32-fused,int8,int4' },
      'no-torch': { type: 'boolean' },
      llama13b: { type: 'boolean' },
      'keep-model': { type: 'boolean' },
      threads: { type: 'string', default: String(os.availableParallelism()) },
    },
  });
  if (values.child) return runArm(JSON.parse(values.child) as ArmSpec);
  const threads = Number(values.threads);
  mkdirSync(workDir, { recursive: true });

  if (values.llama13b) {
    const pairs = Number(values.pairs ?? 5);
    const modelDir = path.join(workDir, 'llama2-13b-shape');
    generate(modelDir, LLAMA2_13B, 6);
    try {
      const inputs = path.join(workDir, 'inputs-13b.json');
      const { sequences } = await prepareInputs(modelDir, pairs, inputs);
      const bytes = checkpointBytes(modelDir);
      const int4 = spawnArm({ modelDir, variant: 'int4', fusedOps: false, inputs, out: path.join(workDir, 'out-13b-int4.json'), threads });
      const rows: Row[] = [
        { metric: '13B: checkpoint GB (bf16, 6 shards)', value: bytes / 1e9 },
        { metric: '13B int4: load s (graph built from bf16)', value: int4.loadSeconds },
        { metric: '13B int4: peak RSS GB', value: int4.peakRssMb / 1024 },
        { metric: '13B int4: peak RSS / bf16 bytes', value: (int4.peakRssMb * 1024 * 1024) / bytes, target: '≤ 0.4' },
        { metric: '13B int4: seconds per pair', value: int4.seconds / pairs },
        { metric: '13B int4: tokens/s', value: int4.tokens / int4.seconds },
        { metric: '13B int4: sequences / tokens', value: `${sequences.length} / ${int4.tokens}` },
      ];
      printTable(`Llama-2-13B shape, int4, ${pairs} HH-RLHF pairs, ${threads} threads`, rows, previousRun('hf-13b'), '');
      saveRun('hf-13b', { pairs, threads, shape: LLAMA2_13B }, rows);
    } finally {
      if (!values['keep-model']) rmSync(modelDir, { recursive: true, force: true });
    }
    return;
  }

  const pairs = Number(values.pairs ?? 200);
  const modelDir = path.join(workDir, 'qwen2-0.5b-shape');
  generate(modelDir, QWEN2_05B, 1);
  const inputs = path.join(workDir, `inputs-${pairs}.json`);
  const { sequences, batches } = await prepareInputs(modelDir, pairs, inputs);
  const parameters = WeightStore.open(modelDir, (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined)).parameterCount();
  const fp32Bytes = parameters * 4;
  process.stderr.write(`${pairs} pairs → ${sequences.length} sequences, ${sequences.reduce((s, ids) => s + ids.length, 0)} tokens, ${batches.length} batches; ${(parameters / 1e6).toFixed(0)}M parameters\n`);

  const torch = values['no-torch'] ? undefined : runTorch(modelDir, inputs, path.join(workDir, 'out-torch.json'), threads);
  const arms = new Map<string, ArmResult>();
  for (const arm of values.arms!.split(',')) {
    const [variant, fused] = arm.split('-');
    process.stderr.write(`arm ${arm}…\n`);
    arms.set(arm, spawnArm({ modelDir, variant: variant as ModelVariant, fusedOps: fused === 'fused', inputs, out: path.join(workDir, `out-${arm}.json`), threads }));
  }
  const fp32 = arms.get('fp32') ?? arms.get('fp32-fused');
  const rows: Row[] = [];
  if (torch) {
    rows.push(
      { metric: 'pytorch: tokens/s', value: torch.tokens / torch.seconds },
      { metric: 'pytorch: load s', value: torch.loadSeconds },
      { metric: 'pytorch: peak RSS GB', value: torch.peakRssMb / 1024 },
    );
  }
  for (const [arm, result] of arms) {
    const tokensPerSecond = result.tokens / result.seconds;
    rows.push(
      { metric: `${arm}: tokens/s`, value: tokensPerSecond, baseline: torch ? torch.tokens / torch.seconds : undefined },
      { metric: `${arm}: × PyTorch tokens/s`, value: torch ? tokensPerSecond / (torch.tokens / torch.seconds) : 'n/a', target: arm.startsWith('fp32') ? '≥ 1.5' : arm === 'int8' ? '≥ 3' : undefined },
      { metric: `${arm}: load s (build from bf16)`, value: result.loadSeconds, baseline: torch?.loadSeconds },
      { metric: `${arm}: peak RSS GB`, value: result.peakRssMb / 1024, baseline: torch ? torch.peakRssMb / 1024 : undefined },
      { metric: `${arm}: peak RSS / fp32 weight bytes`, value: (result.peakRssMb * 1024 * 1024) / fp32Bytes, target: arm.startsWith('fp32') ? '≤ 1.3' : arm === 'int8' ? '≤ 0.6' : undefined },
    );
    if (torch) rows.push({ metric: `${arm}: max |Δ| vs PyTorch`, value: fidelity(result.rewards, torch.rewards).maxAbs });
    if (fp32 && result !== fp32) {
      const f = fidelity(result.rewards, fp32.rewards);
      rows.push(
        { metric: `${arm}: max error / reward spread vs fp32`, value: f.maxRel },
        { metric: `${arm}: median error / reward spread vs fp32`, value: f.medianRel },
        { metric: `${arm}: preference flips vs fp32`, value: `${f.flips} of ${sequences.length / 2} (${(100 * f.flipShare).toFixed(2)}%)`, target: arm === 'int8' ? '< 1%' : undefined },
      );
    }
  }
  printTable(`Qwen2-0.5B shape, ${pairs} HH-RLHF pairs, ${threads} threads, ${os.cpus()[0]?.model}`, rows, previousRun('hf-checkpoint'), 'PyTorch');
  const file = saveRun('hf-checkpoint', { pairs, threads, shape: QWEN2_05B, parameters, batches: batches.length }, rows);
  process.stdout.write(`\nsaved ${path.relative(process.cwd(), file)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
