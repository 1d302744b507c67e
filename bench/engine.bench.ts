/**
 * The local scoring engine on a Llama-architecture checkpoint of a realistic shape (a generated
 * transformers folder at hidden 384, 4 layers, 6 heads of 64, MLP 1024, Llama-2's 32k vocabulary;
 * random weights) scoring the first --pairs pairs of the HH-RLHF helpful-base test split (both responses,
 * tulu format, Llama-2 tokenizer), on the CPU:
 *
 *   node --import tsx bench/engine.bench.ts [--pairs 400 | --pairs all] [--hidden 384] [--layers 4] [--batch-tokens 4096]
 *
 * (a) Pipeline overhead: through the real worker (bundled as the extension bundles it) and
 *     scorePairs (what the CLI and the editor call), (wall − time inside session.run) / wall; next to
 *     it the same figure for a bare in-process loop (tokenize, pad, run) with the same batches.
 * (b) Length-bucketed batching (the engine's planBatches per window) against arrival order, same
 *     token budget, same model, same windows: seconds inside session.run, and wall time.
 * (d) Re-scoring the same pairs with a fresh worker over the score cache the first run filled:
 *     seconds and model calls (target 0), rewards identical.
 * Tokenization throughput (c) is bench/tokenization.bench.ts.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildWorkerBundle } from '../test/support/workerBundle';
import * as ort from 'onnxruntime-node';
import { loadDataset } from '../src/core/dataset';
import type { PairScore } from '../src/core/verdict';
import { scorePairs } from '../src/engine/scorePairs';
import { MAX_BATCH_SIZE, padBatch, planBatches } from '../src/engine/batching';
import { createEncoder } from '../src/engine/encoder';
import { buildHfModel } from '../src/engine/hf/hfModel';
import { writeDecoderCheckpoint } from '../test/support/checkpoint';
import { readModelFolder } from '../src/engine/modelFolder';
import type { ScoreStats } from '../src/engine/scorer';
import { DEFAULT_BATCH_TOKENS, WINDOW_ITEMS } from '../src/engine/scoringEngine';
import { createWorkerScorer } from '../src/engine/workerScorer';
import { previousRun, printTable, saveRun, type Row } from './engine-report';

const BENCH = 'engine';
const repoRoot = path.resolve(__dirname, '..');
const shared = path.resolve(repoRoot, '..', 'shared', 'data');

/** Arrival order under the same budget and row cap as planBatches: what bucketing is measured against. */
function arrivalBatches(lengths: readonly number[], batchTokens: number): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let width = 0;
  lengths.forEach((length, index) => {
    const newWidth = Math.max(width, length, 1);
    if (current.length > 0 && ((current.length + 1) * newWidth > batchTokens || current.length >= MAX_BATCH_SIZE)) {
      batches.push(current);
      current = [];
      width = 0;
    }
    current.push(index);
    width = Math.max(width, length, 1);
  });
  if (current.length > 0) batches.push(current);
  return batches;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string', default: '400' },
      hidden: { type: 'string', default: '384' },
      layers: { type: 'string', default: '4' },
      'batch-tokens': { type: 'string', default: String(DEFAULT_BATCH_TOKENS) },
      data: { type: 'string', default: path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl') },
      tokenizer: { type: 'string', default: path.join(shared, 'tokenizers', 'llama-2') },
    },
  });
  const hidden = Number(values.hidden);
  const heads = hidden / 64;
  const shape = {
    modelType: 'llama' as const,
    vocabSize: 32000,
    hiddenSize: hidden,
    layers: Number(values.layers),
    heads,
    kvHeads: heads,
    intermediateSize: Math.round((hidden * 8) / 3 / 64) * 64,
    maxPositions: 4096,
    padTokenId: 0,
  };
  const batchTokens = Number(values['batch-tokens']);
  const dataset = await loadDataset(values.data);
  const pairs = values.pairs === 'all' ? dataset.pairs : dataset.pairs.slice(0, Number(values.pairs));
  const indices = pairs.map((_, i) => i);

  const { scratch, workerPath } = await buildWorkerBundle('bench-engine');
  try {
    const modelDir = path.join(scratch, 'model');
    writeDecoderCheckpoint(modelDir, shape, { dtype: 'BF16' });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(values.tokenizer, file), path.join(modelDir, file));
    const cacheDir = path.join(scratch, 'cache');
    process.stderr.write(`model ${JSON.stringify(shape)}; ${pairs.length} pairs (${2 * pairs.length} conversations)\n`);

    // (a) and (d): the pipeline as the CLI runs it, then again over the cache it filled.
    const throughWorker = async () => {
      const scorer = createWorkerScorer({ modelDir, workerPath, device: 'cpu', batchTokens, cacheDir });
      try {
        const loadStarted = performance.now();
        await scorer.load();
        const loadSeconds = (performance.now() - loadStarted) / 1000;
        const scores = new Map<number, PairScore>();
        const started = performance.now();
        const stats: ScoreStats = await scorePairs(pairs, indices, scorer, { onPair: (index, score) => scores.set(index, score) });
        return { wall: (performance.now() - started) / 1000, loadSeconds, stats, scores };
      } finally {
        await scorer.dispose();
      }
    };
    process.stderr.write('(a) scoring through the worker…\n');
    const cold = await throughWorker();
    process.stderr.write('(d) re-scoring over the cache…\n');
    const warm = await throughWorker();
    for (const [index, score] of cold.scores) {
      const again = warm.scores.get(index);
      if (again?.rewardA !== score.rewardA || again.rewardB !== score.rewardB) throw new Error(`pair ${index}: the cached reward differs`);
    }

    // (b): the same items, tokenized as the engine does, run on one in-process session per order.
    const encoder = await createEncoder(await readModelFolder(modelDir));
    const items = pairs.flatMap((pair) => [pair.a, pair.b].map((response) => ({ prompt: pair.prompt, response })));
    process.stderr.write('(b) length-bucketed and arrival order, bare loop, window by window…\n');
    const built = buildHfModel(modelDir, { precision: 'fp32', cacheDir });
    const session = await ort.InferenceSession.create(built.modelPath, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
    type Plan = (lengths: readonly number[], budget: number) => number[][];
    const plans: Record<'bucketed' | 'arrival', Plan> = { bucketed: planBatches, arrival: arrivalBatches };
    const totals = {
      bucketed: { wall: 0, runSeconds: 0, calls: 0, paddedTokens: 0, rewards: [] as number[] },
      arrival: { wall: 0, runSeconds: 0, calls: 0, paddedTokens: 0, rewards: [] as number[] },
    };
    // The two orders take turns window by window (and swap who goes first), so a machine that gets
    // busier or quieter during the run weighs on both alike. Tokenization is shared and counted in
    // both walls, as each would pay it alone.
    for (let start = 0, turn = 0; start < items.length; start += WINDOW_ITEMS, turn++) {
      const tokenizeStarted = performance.now();
      const window = items.slice(start, start + WINDOW_ITEMS).map(({ prompt, response }) => {
        const text = encoder.render([...prompt, ...response]);
        return encoder.encodeText(text, encoder.promptPrefix(prompt, response)).ids;
      });
      const tokenizeSeconds = (performance.now() - tokenizeStarted) / 1000;
      const order = turn % 2 === 0 ? (['bucketed', 'arrival'] as const) : (['arrival', 'bucketed'] as const);
      for (const name of order) {
        const total = totals[name];
        const started = performance.now();
        for (const batch of plans[name](window.map((ids) => ids.length), batchTokens)) {
          const padded = padBatch(batch.map((i) => window[i]), encoder.padId);
          const dims = [padded.rows, padded.width];
          const runStarted = performance.now();
          const output = await session.run({ input_ids: new ort.Tensor('int64', padded.inputIds, dims), attention_mask: new ort.Tensor('int64', padded.attentionMask, dims) });
          total.runSeconds += (performance.now() - runStarted) / 1000;
          total.calls++;
          total.paddedTokens += padded.rows * padded.width;
          const logits = output.logits.data as Float32Array;
          batch.forEach((i, row) => (total.rewards[start + i] = logits[row]));
        }
        total.wall += tokenizeSeconds + (performance.now() - started) / 1000;
      }
    }
    const { bucketed, arrival } = totals;
    await session.release();
    const worst = Math.max(...bucketed.rewards.map((reward, i) => Math.abs(reward - arrival.rewards[i])));
    if (!(worst <= 1e-4)) throw new Error(`bucketed and arrival-order rewards differ by ${worst}`);

    const overhead = (wall: number, inference: number) => (wall - inference) / wall;
    const previous = previousRun(BENCH);
    const tableA: Row[] = [
      { metric: 'a: wall s', value: cold.wall, baseline: bucketed.wall },
      { metric: 'a: inside session.run s', value: cold.stats.inferenceSeconds, baseline: bucketed.runSeconds },
      { metric: 'a: tokenization s', value: cold.stats.tokenizeSeconds },
      { metric: 'a: overhead (wall − run) / wall', value: overhead(cold.wall, cold.stats.inferenceSeconds), baseline: overhead(bucketed.wall, bucketed.runSeconds), target: '< 0.10' },
      { metric: 'a: tokens/s', value: Math.round(cold.stats.tokens / cold.wall) },
      { metric: 'a: model load s', value: cold.loadSeconds },
    ];
    const tableB: Row[] = [
      { metric: 'b: inside session.run s', value: bucketed.runSeconds, baseline: arrival.runSeconds },
      { metric: 'b: wall s', value: bucketed.wall, baseline: arrival.wall },
      { metric: 'b: padded tokens', value: bucketed.paddedTokens, baseline: arrival.paddedTokens },
      { metric: 'b: model calls', value: bucketed.calls, baseline: arrival.calls },
      { metric: 'b: speed-up (session.run)', value: arrival.runSeconds / bucketed.runSeconds },
      { metric: 'b: speed-up (wall)', value: arrival.wall / bucketed.wall },
    ];
    const tableD: Row[] = [
      { metric: 'd: re-score wall s', value: warm.wall, baseline: cold.wall },
      { metric: 'd: re-score load + wall s', value: warm.loadSeconds + warm.wall, baseline: cold.loadSeconds + cold.wall },
      { metric: 'd: model calls', value: warm.stats.modelCalls ?? -1, baseline: cold.stats.modelCalls ?? -1, target: '0' },
      { metric: 'd: answered from cache', value: warm.stats.cached ?? 0, baseline: cold.stats.cached ?? 0 },
    ];
    const setting = `${pairs.length} HH-RLHF test pairs, Llama h${shape.hiddenSize}×${shape.layers}, ${batchTokens} tokens/batch`;
    printTable(`(a) Pipeline overhead, ${setting}: worker + scorePairs vs bare in-process loop`, tableA, previous, 'bare loop');
    printTable(`(b) Batching, ${setting}: length-bucketed vs arrival order`, tableB, previous, 'arrival order');
    printTable(`(d) Re-scoring over the score cache, ${setting}: second run vs first`, tableD, previous, 'first run');
    const file = saveRun(BENCH, { pairs: pairs.length, conversations: items.length, shape, batchTokens, data: values.data, tokens: cold.stats.tokens }, [...tableA, ...tableB, ...tableD]);
    process.stdout.write(`\nsaved ${path.relative(process.cwd(), file)}\n`);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
