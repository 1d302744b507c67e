/**
 * One model served on several machines, on loopback only: how throughput scales with 1, 2 and 4
 * endpoints, and a load test in which one of four endpoints dies midway.
 *
 * Each fake endpoint is vLLM ≥ 0.11.1 as test/support/servingFakes.ts describes it, computing
 * `--capacity` batches at a time in `--latency` ms each (a GPU's fixed time per batch), so an
 * endpoint's best throughput is capacity × batch / latency, and only more endpoints go beyond it.
 *
 * - **Scaling**: `--pairs` pairs (both responses) through the remote scorer. The baseline is the
 *   client as it was before several endpoints existed — one URL, 4 requests of 16 in flight,
 *   which is what the current client does with one URL and its defaults; then 1, 2 and 4
 *   endpoints with the same settings per endpoint. Efficiency = throughput / (n × one endpoint's).
 * - **Load test**: `--load-pairs` pairs over 4 endpoints, one of which stops answering after an
 *   eighth of its share; checks that every item is reported exactly once, with its right reward.
 *
 *     node --import tsx bench/remote-endpoints.bench.ts [--pairs 20000] [--load-pairs 100000] [--latency 20] [--capacity 2]
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { renderTulu } from '../src/engine/promptFormat';
import { createRemoteScorer } from '../src/engine/remote/remoteScorer';
import type { ScoreItem } from '../src/engine/scorer';
import { lightReward, lightVllmFake, type FakeServer } from '../test/support/servingFakes';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '20000' },
    'load-pairs': { type: 'string', default: '100000' },
    latency: { type: 'string', default: '20' },
    capacity: { type: 'string', default: '2' },
  },
});
const pairs = Number(values.pairs);
const loadPairs = Number(values['load-pairs']);
const latencyMs = Number(values.latency);
const capacity = Number(values.capacity);

/** HH-like items: a short question and two answers of varied length. */
function items(pairCount: number): ScoreItem[] {
  const list: ScoreItem[] = [];
  for (let i = 0; i < pairCount; i++) {
    const prompt = [{ role: 'user' as const, content: `Human question number ${i}: how should I go about it?` }];
    list.push({ id: 2 * i, prompt, response: [{ role: 'assistant', content: `A helpful answer ${i}. ${'More detail. '.repeat(i % 9)}` }] });
    list.push({ id: 2 * i + 1, prompt, response: [{ role: 'assistant', content: `A worse answer ${i}.` }] });
  }
  return list;
}

interface Run {
  seconds: number;
  itemsPerSecond: number;
  perEndpoint: number[];
  failures: number;
  reported: number;
  wrong: number;
}

async function score(servers: FakeServer[], list: ScoreItem[]): Promise<Run> {
  const scorer = createRemoteScorer({ baseUrls: servers.map((server) => server.url), protocol: 'vllm', backoffMs: 20, retries: 1, timeoutMs: 30_000 });
  await scorer.load();
  const expected = new Map(list.map((item) => [item.id, lightReward(renderTulu([...item.prompt, ...item.response], '</s>'))]));
  const seen = new Set<number>();
  let reported = 0;
  let wrong = 0;
  let failures = 0;
  const started = performance.now();
  const stats = await scorer.score(list, {
    onResults: (results) => {
      for (const { id, reward } of results) {
        reported++;
        if (seen.has(id) || expected.get(id) !== reward) wrong++;
        seen.add(id);
      }
    },
    onFailures: (failed) => {
      failures += failed.length;
      reported += failed.length;
    },
  });
  const seconds = (performance.now() - started) / 1000;
  await scorer.dispose();
  return { seconds, itemsPerSecond: list.length / seconds, perEndpoint: (stats.endpoints ?? []).map((e) => e.items), failures, reported, wrong };
}

async function main() {
  const table: Array<Record<string, string | number>> = [];
  const list = items(pairs);
  let single = 0;
  for (const [label, count] of [
    ['single URL (the client before several endpoints)', 1],
    ['1 endpoint', 1],
    ['2 endpoints', 2],
    ['4 endpoints', 4],
  ] as const) {
    const servers = await Promise.all(Array.from({ length: count }, () => lightVllmFake({ latencyMs, capacity })));
    const run = await score(servers, list);
    await Promise.all(servers.map((server) => server.close()));
    if (label === '1 endpoint') single = run.itemsPerSecond;
    table.push({
      arm: label,
      'items/s': Math.round(run.itemsPerSecond),
      seconds: Number(run.seconds.toFixed(2)),
      efficiency: single ? Number((run.itemsPerSecond / (count * single)).toFixed(2)) : '—',
      'items per endpoint': run.perEndpoint.join(' / '),
      'wrong or twice': run.wrong,
    });
    process.stderr.write(`${label}: ${Math.round(run.itemsPerSecond)} items/s\n`);
  }
  const ceiling = Math.round((capacity * 16 * 1000) / latencyMs);
  console.log(`\nScaling: ${pairs} pairs (${2 * pairs} items), ${latencyMs} ms per batch of 16, ${capacity} batches at once per endpoint (ceiling ${ceiling} items/s per endpoint)`);
  console.table(table);

  // Load test: four endpoints, one dies after an eighth of its share of requests.
  const loadList = items(loadPairs);
  const share = Math.ceil(loadList.length / 16 / 4);
  const servers = await Promise.all([0, 1, 2, 3].map((i) => lightVllmFake({ latencyMs, capacity, ...(i === 2 ? { dieAfter: Math.ceil(share / 8) } : {}) })));
  const load = await score(servers, loadList);
  await Promise.all(servers.map((server) => server.close()));
  const exactlyOnce = load.reported === loadList.length && load.wrong === 0 && load.failures === 0;
  console.log(`\nLoad test: ${loadPairs} pairs (${loadList.length} items) over 4 endpoints, the third dying after ${Math.ceil(share / 8)} requests`);
  console.table([
    {
      seconds: Number(load.seconds.toFixed(1)),
      'items/s': Math.round(load.itemsPerSecond),
      'items per endpoint': load.perEndpoint.join(' / '),
      failures: load.failures,
      'wrong or twice': load.wrong,
      'every item exactly once': exactlyOnce,
    },
  ]);

  const resultsDir = path.join(__dirname, 'results');
  const file = path.join(resultsDir, 'remote-endpoints.json');
  if (existsSync(file)) {
    const previous = JSON.parse(readFileSync(file, 'utf8'));
    console.log('\nPrevious run:');
    console.table(previous.scaling);
  }
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), pairs, latencyMs, capacity, scaling: table, load }, null, 2));
  if (!exactlyOnce) process.exitCode = 1;
}

void main();
