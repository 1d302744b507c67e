/**
 * Scoring under churn: 100k pairs scored through the real worker while the run is cancelled and
 * restarted every few seconds and the model is switched back and forth (known-score demo ⇄ bundled
 * baseline). Samples the process's RSS over time and checks, at the end, that every pair was
 * reported exactly once by the final model's run and carries exactly that model's reward.
 *
 *   npm run build && node --expose-gc --import tsx bench/load.bench.ts [--pairs 100000] [--cycle-ms 3000]
 *
 * Prints RSS at the start, per quarter of the run and at the end, and a verdict on flatness (the
 * last quarter's median within 25% of the first's), next to a baseline: the same pairs scored
 * once, uninterrupted, in the same run. Saves JSON to bench/results/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Pair } from '../src/core/pair';
import type { PairScore } from '../src/core/verdict';
import { scorePairs } from '../src/engine/scorePairs';
import { createScorer } from '../src/engine/createScorer';
import type { Scorer } from '../src/engine/scorer';

const root = path.resolve(__dirname, '..');
const { values } = parseArgs({ options: { pairs: { type: 'string', default: '100000' }, 'cycle-ms': { type: 'string', default: '3000' } } });
const PAIRS = Number(values.pairs);
const CYCLE_MS = Number(values['cycle-ms']);
const MODELS = [path.join(root, 'dist/models/demo'), path.join(root, 'dist/models/baseline')];
const WORDS = ['the', 'model', 'prefers', 'a', 'short', 'helpful', 'answer', 'because', 'it', 'is', 'clear', 'and', 'kind', 'not', 'rude'];

/** Short synthetic pairs: the point is churn, not tokenizer throughput. */
function makePairs(count: number): Pair[] {
  const text = (seed: number, length: number) => Array.from({ length }, (_, k) => WORDS[(seed * 7 + k * 3) % WORDS.length]).join(' ');
  return Array.from({ length: count }, (_, i) => ({
    line: i + 1,
    prompt: [{ role: 'user', content: `Question ${i}: ${text(i, 6)}?` }],
    a: [{ role: 'assistant', content: text(i + 1, 5 + (i % 7)) }],
    b: [{ role: 'assistant', content: text(i + 2, 5 + ((i * 3) % 7)) }],
    label: 'a',
  }));
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;
/** The main thread's live JS heap after a collection (with --expose-gc): what a leak in our code grows. */
const liveHeapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;

function scorerFor(model: string): Scorer {
  return createScorer({ model, workerPath: path.join(root, 'dist/worker.js'), device: 'cpu' });
}

/** Scores all pairs once, uninterrupted: the reference rewards and the baseline timing. */
async function reference(pairs: Pair[], model: string): Promise<{ scores: Map<number, PairScore>; seconds: number }> {
  const scorer = scorerFor(model);
  const started = performance.now();
  await scorer.load();
  const scores = new Map<number, PairScore>();
  await scorePairs(pairs, pairs.map((_, i) => i), scorer, { onPair: (i, s) => scores.set(i, s) });
  await scorer.dispose();
  return { scores, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const pairs = makePairs(PAIRS);
  const startRss = rssMb();
  const samples: { t: number; rss: number; heap: number }[] = [];
  const t0 = performance.now();
  const sampler = setInterval(() => samples.push({ t: (performance.now() - t0) / 1000, rss: rssMb(), heap: liveHeapMb() }), 1000);

  let cycles = 0;
  let switches = 0;
  let modelIndex = 0;
  let scorer = scorerFor(MODELS[0]);
  let scores = new Map<number, PairScore>();
  /** Reports per pair since the last model switch: must end at exactly 1 each. */
  let reports = new Uint8Array(PAIRS);
  for (;;) {
    const unscored = pairs.map((_, i) => i).filter((i) => !scores.has(i));
    if (unscored.length === 0) break;
    const controller = new AbortController();
    // Every third cycle switches the model: all scores start over with the other one.
    const switchNow = cycles > 0 && cycles % 3 === 0 && switches < 4;
    if (switchNow) {
      await scorer.dispose();
      modelIndex = 1 - modelIndex;
      scorer = scorerFor(MODELS[modelIndex]);
      scores = new Map();
      reports = new Uint8Array(PAIRS);
      switches++;
      cycles++;
      continue;
    }
    const timer = setTimeout(() => controller.abort(), cycles < 12 ? CYCLE_MS : 1e9);
    try {
      await scorePairs(pairs, unscored, scorer, {
        signal: controller.signal,
        onPair: (i, s) => {
          scores.set(i, s);
          reports[i]++;
        },
      });
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    } finally {
      clearTimeout(timer);
    }
    cycles++;
  }
  const churnSeconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  await scorer.dispose();
  const endRss = rssMb();

  // Every pair reported exactly once by the final model, with that model's reward.
  const twice = reports.reduce((n, r) => n + (r > 1 ? 1 : 0), 0);
  const never = reports.reduce((n, r) => n + (r === 0 ? 1 : 0), 0);
  const ref = await reference(pairs, MODELS[modelIndex]);
  let wrong = 0;
  ref.scores.forEach((s, i) => {
    const got = scores.get(i);
    if (!got || got.rewardA !== s.rewardA || got.rewardB !== s.rewardB) wrong++;
  });

  const quarter = (q: number, key: 'rss' | 'heap') =>
    median(samples.filter((s) => s.t >= (q * churnSeconds) / 4 && s.t < ((q + 1) * churnSeconds) / 4).map((s) => s[key]));
  const quarters = [0, 1, 2, 3].map((q) => quarter(q, 'rss'));
  const heapQuarters = [0, 1, 2, 3].map((q) => quarter(q, 'heap'));
  const flat = quarters[3] <= quarters[0] * 1.25;
  const heapFlat = heapQuarters[3] <= heapQuarters[0] * 1.25;
  const result = {
    pairs: PAIRS,
    cycles,
    modelSwitches: switches,
    churnSeconds: Number(churnSeconds.toFixed(1)),
    uninterruptedSeconds: Number(ref.seconds.toFixed(1)),
    rssMb: { start: Math.round(startRss), quarters: quarters.map(Math.round), max: Math.round(Math.max(...samples.map((s) => s.rss))), end: Math.round(endRss) },
    liveHeapMb: heapQuarters.map(Math.round),
    heapFlat,
    reportedTwice: twice,
    neverReported: never,
    wrongRewards: wrong,
    flat,
  };
  console.log(`\nScoring ${PAIRS} pairs with cancel every ${CYCLE_MS} ms and model switches (${MODELS.map((m) => path.basename(m)).join(' ⇄ ')})`);
  console.table({
    'under churn': { seconds: result.churnSeconds, cycles, switches, 'RSS start MB': result.rssMb.start, 'RSS q1..q4 MB': quarters.map(Math.round).join(' / '), 'RSS max MB': result.rssMb.max, 'live heap q1..q4 MB': heapQuarters.map(Math.round).join(' / ') },
    'baseline: one uninterrupted run': { seconds: result.uninterruptedSeconds, cycles: 1, switches: 0, 'RSS start MB': '', 'RSS q1..q4 MB': '', 'RSS max MB': '', 'live heap q1..q4 MB': '' },
  });
  console.log(`pairs reported twice: ${twice}; never: ${never}; rewards differing from an uninterrupted run: ${wrong}; RSS flat: ${flat}; live heap flat: ${heapFlat}`);
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  writeFileSync(path.join(root, 'bench/results', `load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2));
  assert.equal(twice + never + wrong, 0, 'every pair scored exactly once, with the final model');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
