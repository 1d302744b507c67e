// plens across machines, run as a user runs it: shards that merge into the unsharded run byte for
// byte, several endpoints of one model with per-endpoint figures, and a stopped run resumed from
// the score cache.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath, runPlens } from '../support/plens';
import { lightVllmFake, type FakeServer } from '../support/servingFakes';

let dir: string;
let dataset: string;
const PAIRS = 61;
const servers: FakeServer[] = [];
before(async () => {
  assert.ok(existsSync(cliPath), `${cliPath} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'plens-remote-'));
  dataset = path.join(dir, 'pairs.jsonl');
  const lines = Array.from({ length: PAIRS }, (_, i) =>
    JSON.stringify({ prompt: `How do I fix problem ${i}?`, chosen: `Try step ${i} carefully${' and check'.repeat(i % 5)}.`, rejected: `No idea ${i}.` }),
  );
  await writeFile(dataset, lines.join('\n') + '\n');
});
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await rm(dir, { recursive: true, force: true });
});

const plens = (...args: string[]) => runPlens(args, { ...process.env, XDG_CACHE_HOME: path.join(dir, 'xdg') });
const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('plens score --shard and merge-scores', () => {
  it('three shards merged equal one unsharded run, byte for byte', async () => {
    const whole = path.join(dir, 'whole.jsonl');
    assert.equal((await plens('score', dataset, '--no-cache', '--out', whole)).code, 0);
    const parts: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const part = path.join(dir, `part${i}.jsonl`);
      const run = await plens('score', dataset, '--no-cache', '--shard', `${i}/3`, '--out', part);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(summaryOf(run.stdout).shard, `${i}/3`);
      assert.match(run.stderr, new RegExp(`shard ${i} of 3: ${[21, 20, 20][i - 1]} of ${PAIRS} pairs`));
      parts.push(part);
    }
    const merged = path.join(dir, 'merged.jsonl');
    // Given in any order.
    const run = await plens('merge-scores', dataset, parts[2], parts[0], parts[1], '--out', merged);
    assert.equal(run.code, 0, run.stderr);
    assert.ok((await readFile(merged)).equals(await readFile(whole)), 'merged shards differ from the unsharded run');
  });

  it('refuses a merge with a shard missing or given twice, naming what is wrong', async () => {
    const parts = [1, 2, 3].map((i) => path.join(dir, `part${i}.jsonl`));
    const missing = await plens('merge-scores', dataset, parts[0], parts[1], '--out', path.join(dir, 'm2.jsonl'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /20 of 61 pairs .* have no score in these files \(lines 3, 6, 9,.*run that shard again/);
    assert.equal(existsSync(path.join(dir, 'm2.jsonl')), false, 'nothing written');
    const twice = await plens('merge-scores', dataset, parts[0], parts[1], parts[2], parts[1]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /part2\.jsonl:1: the pair on line 2 was scored twice/);
    const bad = await plens('score', dataset, '--shard', '4/3');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--shard should be i\/n with 1 ≤ i ≤ n/);
  });
});

describe('plens score against several endpoints', () => {
  it('spreads the pairs over the endpoints, reports each one, and scores every pair once', async () => {
    const a = await lightVllmFake({ latencyMs: 5 });
    const b = await lightVllmFake({ latencyMs: 5 });
    servers.push(a, b);
    const list = path.join(dir, 'endpoints.txt');
    await writeFile(list, `# one RM, two nodes\n${a.url}\n${b.url}\n`);
    const run = await plens('score', dataset, '--model', list, '--no-cache', '--concurrency', '2', '--batch-size', '4');
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run.stdout);
    assert.equal(summary.scored, PAIRS);
    assert.equal(summary.server, 'vLLM 0.11.1');
    assert.deepEqual(summary.endpoints.map((e: { url: string }) => e.url), [a.url, b.url]);
    assert.equal(summary.endpoints[0].items + summary.endpoints[1].items, 2 * PAIRS);
    assert.ok(summary.endpoints.every((e: { items: number }) => e.items > 0), 'both endpoints worked');
    assert.equal(a.answered + b.answered, 2 * PAIRS, 'no response sent twice');
    assert.match(run.stderr, new RegExp(`${a.url}: \\d+ items in \\d+ requests`));
  });

  it('a run whose endpoint died resumes from the cache: only what was not scored is sent again', async () => {
    const cacheDir = path.join(dir, 'resume-cache');
    const dying = await lightVllmFake({ latencyMs: 2, dieAfter: 5 });
    servers.push(dying);
    const first = await plens('score', dataset, '--model', dying.url, '--cache-dir', cacheDir, '--concurrency', '1', '--batch-size', '4');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /responses could not be scored/);
    assert.equal(dying.answered, 20);
    const healthy = await lightVllmFake({ latencyMs: 2 });
    servers.push(healthy);
    const second = await plens('score', dataset, '--model', healthy.url, '--cache-dir', cacheDir, '--batch-size', '4');
    assert.equal(second.code, 0, second.stderr);
    const summary = summaryOf(second.stdout);
    assert.equal(summary.cached, 20);
    assert.equal(summary.scored, PAIRS);
    assert.equal(healthy.answered, 2 * PAIRS - 20);
  });
});
