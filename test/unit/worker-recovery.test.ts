// Worker crash recovery, with the real worker bundle and the known-score model: the worker is made
// to die in the middle of a job (process.exit, an uncaught exception, running out of its heap), and
// the scorer must restart it with backoff and finish the job with every item reported exactly once,
// with the reward a clean run gives; or give up with a clear message after too many crashes.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildKnownScoreModel } from '../../scripts/modelkit/knownScoreModel';
import type { ScoreItem, WorkerRestartNotice as ScoreNotice, ScoreOptions, Scorer } from '../../src/engine/scorer';
import { createWorkerScorer, type WorkerScorerOptions } from '../../src/engine/workerScorer';
import { buildWorkerBundle } from '../support/workerBundle';

const repoRoot = path.resolve(__dirname, '..', '..');
const demoTokenizerDir = path.join(repoRoot, 'models', 'demo');
const BACKOFF_MS = 20;

/** How one worker start ends: after its n-th results message (0: before loading), and how. */
type Crash = { afterResults: number; how: 'exit' | 'throw' | 'oom' } | null;

const ITEMS: ScoreItem[] = Array.from({ length: 30 }, (_, i) => ({
  id: 100 + i,
  prompt: [{ role: 'user', content: `Question ${i}: ${'why '.repeat(i % 7)}?` }],
  response: [{ role: 'assistant', content: `Answer ${i}, ${'and more '.repeat(i % 5)}` }],
}));

describe('worker crash recovery', () => {
  let scratch: string;
  let workerPath: string;
  let modelDir: string;
  /** Rewards of a run without crashes: what every recovered run must report. */
  const reference = new Map<number, number>();
  const scorers: Scorer[] = [];
  const open = (options: Partial<WorkerScorerOptions>) => {
    // batchTokens 1: one item per batch, so a crash always falls between many finished batches.
    const scorer = createWorkerScorer({ modelDir, workerPath, device: 'cpu', batchTokens: 1, restartBackoffMs: BACKOFF_MS, ...options });
    scorers.push(scorer);
    return scorer;
  };

  /**
   * A worker script that runs the real worker, but dies as the next entry of `plan` says. Each start
   * takes one entry from the plan file, so consecutive restarts can crash differently.
   */
  async function crashingWorker(name: string, plan: Crash[]): Promise<{ path: string; planFile: string }> {
    const planFile = path.join(scratch, `${name}.plan.json`);
    await fs.writeFile(planFile, JSON.stringify(plan));
    const file = path.join(scratch, `${name}.js`);
    await fs.writeFile(
      file,
      `const fs = require('node:fs');
const { parentPort } = require('node:worker_threads');
const planFile = ${JSON.stringify(planFile)};
const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));
const crash = plan.length > 0 ? plan.shift() : null;
fs.writeFileSync(planFile, JSON.stringify(plan));
function die(how) {
  if (how === 'exit') process.exit(3);
  if (how === 'throw') setImmediate(() => { throw new Error('simulated native failure'); });
  if (how === 'oom') { const hog = []; for (;;) hog.push(new Array(1 << 20).fill(Math.random())); }
}
if (crash && crash.afterResults === 0) die(crash.how);
if (crash && crash.afterResults > 0) {
  let seen = 0;
  const post = parentPort.postMessage.bind(parentPort);
  parentPort.postMessage = (message) => {
    post(message);
    if (message.type === 'results' && ++seen === crash.afterResults) die(crash.how);
  };
}
require(${JSON.stringify(workerPath)});
`,
    );
    return { path: file, planFile };
  }

  /** Scores `items`, counting how often each id is reported and what was delivered when each notice came. */
  async function run(scorer: Scorer, items: ScoreItem[], extra: Partial<ScoreOptions> = {}) {
    const counts = new Map<number, number>();
    const rewards = new Map<number, number>();
    const notices: Array<ScoreNotice & { deliveredBefore: number }> = [];
    const progress: Array<[number, number]> = [];
    const stats = await scorer.score(items, {
      onResults: (results) => {
        for (const { id, reward } of results) {
          counts.set(id, (counts.get(id) ?? 0) + 1);
          rewards.set(id, reward);
        }
      },
      onNotice: (notice) => notice.kind === 'worker-restart' && notices.push({ ...notice, deliveredBefore: rewards.size }),
      onProgress: (done, total) => progress.push([done, total]),
      ...extra,
    });
    return { stats, counts, rewards, notices, progress };
  }

  function assertEveryItemOnce(counts: Map<number, number>, rewards: Map<number, number>, items: ScoreItem[]): void {
    assert.equal(counts.size, items.length, 'no item lost');
    for (const { id } of items) {
      assert.equal(counts.get(id), 1, `item ${id} reported once`);
      assert.equal(rewards.get(id), reference.get(id), `item ${id}: the reward of a clean run`);
    }
  }

  before(async () => {
    ({ scratch: scratch, workerPath: workerPath } = await buildWorkerBundle('recovery'));
    modelDir = path.join(scratch, 'model');
    await buildKnownScoreModel({ tokenizerDir: demoTokenizerDir, outDir: modelDir });
    const clean = await run(open({}), ITEMS);
    for (const [id, reward] of clean.rewards) reference.set(id, reward);
    assert.equal(reference.size, ITEMS.length);
    assert.equal(new Set(reference.values()).size > ITEMS.length / 2, true, 'rewards differ between items, so a mix-up would show');
  });

  after(async () => {
    await Promise.all(scorers.map((scorer) => scorer.dispose()));
    await fs.rm(scratch, { recursive: true, force: true });
  });

  const deaths = [
    { how: 'exit', reason: /exited unexpectedly \(exit code 3\)/ },
    { how: 'throw', reason: /crashed: simulated native failure/ },
    { how: 'oom', reason: /crashed: .*out of memory/i },
  ] as const;
  for (const { how, reason } of deaths) {
    it(`restarts a worker that dies mid-job (${how}) and reports every item exactly once`, async () => {
      const worker = await crashingWorker(`mid-${how}`, [{ afterResults: 7, how }]);
      // Room for the model and tokenizer, little more: the hog runs out quickly.
      const scorer = open({ workerPath: worker.path, resourceLimits: how === 'oom' ? { maxOldGenerationSizeMb: 256 } : undefined });
      const { stats, counts, rewards, notices, progress } = await run(scorer, ITEMS);
      assertEveryItemOnce(counts, rewards, ITEMS);
      assert.equal(notices.length, 1);
      assert.equal(notices[0].kind, 'worker-restart');
      assert.match(notices[0].message, reason);
      assert.equal(notices[0].attempt, 1);
      assert.equal(notices[0].delayMs, BACKOFF_MS);
      assert.ok(notices[0].deliveredBefore >= 7 && notices[0].deliveredBefore < ITEMS.length, `died mid-job (${notices[0].deliveredBefore} delivered)`);
      assert.equal(stats.restarts, 1);
      assert.equal(stats.items, ITEMS.length);
      assert.deepEqual(progress.at(-1), [ITEMS.length, ITEMS.length], 'progress counts the whole job across the restart');
      assert.ok(progress.every(([done], i) => i === 0 || done >= progress[i - 1][0]), 'progress never goes back');
    });
  }

  it('backs off longer for crashes in a row, resets after progress, and resumes queued jobs', async () => {
    const worker = await crashingWorker('in-a-row', [
      { afterResults: 3, how: 'exit' },
      { afterResults: 0, how: 'exit' }, // dies before loading: a second crash in a row
      { afterResults: 2, how: 'throw' }, // made progress first: counted from one again
    ]);
    const scorer = open({ workerPath: worker.path });
    const first = ITEMS.slice(0, 20);
    const queued = ITEMS.slice(20);
    const [a, b] = await Promise.all([run(scorer, first), run(scorer, queued)]);
    assertEveryItemOnce(a.counts, a.rewards, first);
    assertEveryItemOnce(b.counts, b.rewards, queued);
    assert.deepEqual(
      a.notices.map((notice) => [notice.attempt, notice.delayMs]),
      [
        [1, BACKOFF_MS],
        [2, 2 * BACKOFF_MS],
        [1, BACKOFF_MS],
      ],
    );
    assert.equal(b.notices.length, 3, 'the queued job is told too');
    assert.equal(b.stats.items, queued.length);
  });

  it('gives up after maxRestarts crashes in a row with a clear message, and starts afresh when asked again', async () => {
    const worker = await crashingWorker('gives-up', [
      { afterResults: 4, how: 'exit' },
      { afterResults: 0, how: 'exit' },
      { afterResults: 0, how: 'exit' },
    ]);
    const scorer = open({ workerPath: worker.path, maxRestarts: 2 });
    const counts = new Map<number, number>();
    const notices: ScoreNotice[] = [];
    await assert.rejects(
      scorer.score(ITEMS, {
        onResults: (results) => results.forEach(({ id }) => counts.set(id, (counts.get(id) ?? 0) + 1)),
        onNotice: (notice) => notice.kind === 'worker-restart' && notices.push(notice),
      }),
      /^Error: Scoring stopped: the scoring worker crashed 3 times in a row \(last: it exited unexpectedly \(exit code 3\)\)/,
    );
    assert.deepEqual(
      notices.map((notice) => notice.delayMs),
      [BACKOFF_MS, 2 * BACKOFF_MS],
    );
    assert.equal(counts.size, 4, 'the results of finished batches stand');
    assert.ok([...counts.values()].every((count) => count === 1));

    // The plan is used up: a new request starts a new worker, which now works.
    const again = await run(scorer, ITEMS);
    assertEveryItemOnce(again.counts, again.rewards, ITEMS);
    assert.equal(again.notices.length, 0);
  });

  it('does not restart for a job cancelled while the restart waits', async () => {
    const worker = await crashingWorker('cancelled', [{ afterResults: 2, how: 'exit' }, null]);
    const scorer = open({ workerPath: worker.path, restartBackoffMs: 200 });
    const controller = new AbortController();
    await assert.rejects(
      scorer.score(ITEMS, { signal: controller.signal, onResults: () => undefined, onNotice: () => controller.abort() }),
      { name: 'AbortError' },
    );
    await sleep(400);
    assert.deepEqual(JSON.parse(await fs.readFile(worker.planFile, 'utf8')), [null], 'no worker was started after the cancel');
    const { counts, rewards } = await run(scorer, ITEMS.slice(0, 3));
    assertEveryItemOnce(counts, rewards, ITEMS.slice(0, 3));
  });
});
