/**
 * Tokenizing beside inference: the scoring worker as the CLI runs it (every core for inference) on a
 * generated Llama-shaped checkpoint (hidden 384, 4 layers, Llama-2's 32k vocabulary; random
 * weights), scoring the first --pairs pairs of the HH-RLHF helpful-base test split with the Llama-2
 * tokenizer, no score cache. Two arms, taking turns run by run so a machine that gets busier or
 * quieter weighs on both alike:
 *
 *   thread    the engine's tokenizer thread tokenizes the next window while this one's batches run
 *   inline    the baseline: tokenize a window, then run its batches, on one thread
 *
 *   node --import tsx bench/tokenizer-overlap.bench.ts [--pairs 300] [--runs 3] [--threads N] [--hidden 384]
 *
 * Prints median wall seconds, pairs/s and the seconds the engine spent waiting for tokens, next to
 * the previous saved run; checks the two arms' rewards are identical.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/core/dataset';
import type { PairScore } from '../src/core/verdict';
import { scorePairs } from '../src/engine/scorePairs';
import { createWorkerScorer } from '../src/engine/workerScorer';
import { writeDecoderCheckpoint } from '../test/support/checkpoint';
import { buildWorkerBundle } from '../test/support/workerBundle';
import { previousRun, printTable, saveRun, type Row } from './engine-report';

const shared = path.resolve(__dirname, '..', '..', 'shared', 'data');
const BENCH = 'tokenizer-overlap';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string', default: '300' },
      runs: { type: 'string', default: '3' },
      threads: { type: 'string', default: String(os.availableParallelism()) },
      hidden: { type: 'string', default: '384' },
      data: { type: 'string', default: path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl') },
      tokenizer: { type: 'string', default: path.join(shared, 'tokenizers', 'llama-2') },
    },
  });
  const hidden = Number(values.hidden);
  const shape = { modelType: 'llama' as const, vocabSize: 32000, hiddenSize: hidden, layers: 4, heads: hidden / 64, kvHeads: hidden / 64, intermediateSize: Math.round((hidden * 8) / 3 / 64) * 64, maxPositions: 4096, padTokenId: 0 };
  const threads = Number(values.threads);
  const pairs = (await loadDataset(values.data)).pairs.slice(0, Number(values.pairs));
  const indices = pairs.map((_, i) => i);
  const { scratch, workerPath } = await buildWorkerBundle('bench-tokenizer-overlap');
  try {
    const modelDir = path.join(scratch, 'model');
    writeDecoderCheckpoint(modelDir, shape, { dtype: 'BF16' });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(values.tokenizer, file), path.join(modelDir, file));

    const runArm = async (tokenizerThread: boolean) => {
      // No cache dir: no score cache (every run runs the model), the graph built afresh at each load (not timed).
      const scorer = createWorkerScorer({ modelDir, workerPath, device: 'cpu', threads, tokenizerThread });
      try {
        await scorer.load();
        const scores = new Map<number, PairScore>();
        const started = performance.now();
        const stats = await scorePairs(pairs, indices, scorer, { onPair: (index, score) => scores.set(index, score) });
        return { wall: (performance.now() - started) / 1000, waitForTokens: stats.tokenizeSeconds, inference: stats.inferenceSeconds, scores };
      } finally {
        await scorer.dispose();
      }
    };
    const arms = { thread: [] as Awaited<ReturnType<typeof runArm>>[], inline: [] as Awaited<ReturnType<typeof runArm>>[] };
    for (let run = 0; run < Number(values.runs); run++) {
      const order: Array<keyof typeof arms> = run % 2 === 0 ? ['inline', 'thread'] : ['thread', 'inline'];
      for (const arm of order) {
        process.stderr.write(`run ${run + 1}: ${arm}…\n`);
        arms[arm].push(await runArm(arm === 'thread'));
      }
    }
    const reference = arms.inline[0].scores;
    for (const result of [...arms.thread, ...arms.inline]) {
      for (const [index, score] of reference) {
        const other = result.scores.get(index);
        if (other?.rewardA !== score.rewardA || other?.rewardB !== score.rewardB) throw new Error(`pair ${index}: the rewards differ between runs`);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const figure = (arm: keyof typeof arms, pick: (r: Awaited<ReturnType<typeof runArm>>) => number) => median(arms[arm].map(pick));
    const rows: Row[] = [
      { metric: 'wall seconds (median)', value: figure('thread', (r) => r.wall), baseline: figure('inline', (r) => r.wall) },
      { metric: 'pairs per second', value: pairs.length / figure('thread', (r) => r.wall), baseline: pairs.length / figure('inline', (r) => r.wall), target: 'above the baseline' },
      { metric: 'seconds waiting for tokens', value: figure('thread', (r) => r.waitForTokens), baseline: figure('inline', (r) => r.waitForTokens) },
      { metric: 'seconds in inference', value: figure('thread', (r) => r.inference), baseline: figure('inline', (r) => r.inference) },
      { metric: 'speed-up (inline wall / thread wall)', value: figure('inline', (r) => r.wall) / figure('thread', (r) => r.wall) },
    ];
    printTable(`Tokenizer thread vs inline: ${pairs.length} pairs, ${values.runs} runs per arm, ${threads} inference threads, ${os.availableParallelism()} CPUs (load ${os.loadavg()[0].toFixed(1)})`, rows, previousRun(BENCH), 'inline (baseline)');
    process.stdout.write(`rewards identical in all ${2 * Number(values.runs)} runs\nsaved ${saveRun(BENCH, { pairs: pairs.length, runs: Number(values.runs), threads, shape }, rows)}\n`);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

void main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
