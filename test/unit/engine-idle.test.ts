// Idle unload (WorkerScorerOptions.idleUnloadMs): the worker, and the model it holds, go away after
// a quiet spell and come back transparently on the next call; a busy worker is never unloaded.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildKnownScoreModel } from '../../scripts/modelkit/knownScoreModel';
import type { ScoreItem, ScoreResult, Scorer } from '../../src/engine/scorer';
import { createWorkerScorer, type WorkerScorerOptions } from '../../src/engine/workerScorer';
import { buildWorkerBundle } from '../support/workerBundle';

const repoRoot = path.resolve(__dirname, '..', '..');
const ITEMS: ScoreItem[] = [
  { id: 1, prompt: [{ role: 'user', content: 'What is 2+2?' }], response: [{ role: 'assistant', content: '4' }] },
  { id: 2, prompt: [{ role: 'user', content: 'What is 2+2?' }], response: [{ role: 'assistant', content: 'Five.' }] },
];

async function scoreAll(scorer: Scorer, items: ScoreItem[]): Promise<Map<number, number>> {
  const results: ScoreResult[] = [];
  await scorer.score(items, { onResults: (batch) => results.push(...batch) });
  return new Map(results.map((r) => [r.id, r.reward]));
}

describe('idle unload', () => {
  let scratch: string;
  let fakeWorker: string;
  const scorers: Scorer[] = [];
  const open = (options: WorkerScorerOptions) => {
    const scorer = createWorkerScorer(options);
    scorers.push(scorer);
    return scorer;
  };

  before(async () => {
    await fs.mkdir(path.join(repoRoot, 'out'), { recursive: true });
    scratch = await fs.mkdtemp(path.join(repoRoot, 'out', 'test-idle-'));
    // Names itself by thread id, so a test sees whether a call reached the same worker or a new one;
    // a score takes `delayMs` (from the item's prompt) before it is done.
    fakeWorker = path.join(scratch, 'fake-worker.js');
    await fs.writeFile(
      fakeWorker,
      `const { parentPort, threadId } = require('node:worker_threads');
parentPort.on('message', (message) => {
  if (message.type === 'load') parentPort.postMessage({ type: 'loaded', info: { model: 'thread ' + threadId, device: 'cpu', template: 'tulu' } });
  if (message.type === 'score') {
    const delayMs = Number(message.items[0]?.prompt[0]?.content ?? 0);
    setTimeout(() => {
      parentPort.postMessage({ type: 'results', jobId: message.jobId, results: message.items.map((item) => ({ id: item.id, reward: threadId })) });
      parentPort.postMessage({ type: 'done', jobId: message.jobId, stats: { items: message.items.length, tokens: 0, seconds: 0, tokenizeSeconds: 0, inferenceSeconds: 0 } });
    }, delayMs);
  }
});`,
    );
  });

  after(async () => {
    await Promise.all(scorers.map((scorer) => scorer.dispose()));
    await fs.rm(scratch, { recursive: true, force: true });
  });

  const slowItem = (delayMs: number): ScoreItem => ({ id: 1, prompt: [{ role: 'user', content: String(delayMs) }], response: [] });

  it('keeps the worker while calls come within the idle time, and replaces it after', async () => {
    const scorer = open({ modelDir: 'unused', workerPath: fakeWorker, idleUnloadMs: 150 });
    const first = (await scorer.load()).model;
    await sleep(50);
    assert.equal((await scorer.load()).model, first, 'a call within the idle time reaches the same worker');
    await sleep(50);
    await scoreAll(scorer, [slowItem(0)]);
    await sleep(100);
    assert.equal((await scorer.load()).model, first, 'every call restarts the clock');
    await sleep(300);
    const second = (await scorer.load()).model;
    assert.notEqual(second, first, 'after the idle time the next call starts a new worker');
    const rewards = await scoreAll(scorer, [slowItem(0)]);
    assert.equal(`thread ${rewards.get(1)}`, second, 'and scores on it');
  });

  it('never unloads a worker in the middle of a job', async () => {
    const scorer = open({ modelDir: 'unused', workerPath: fakeWorker, idleUnloadMs: 50 });
    const worker = (await scorer.load()).model;
    const rewards = await scoreAll(scorer, [slowItem(300)]);
    assert.equal(`thread ${rewards.get(1)}`, worker);
  });

  it('stays loaded without idleUnloadMs', async () => {
    const scorer = open({ modelDir: 'unused', workerPath: fakeWorker });
    const worker = (await scorer.load()).model;
    await sleep(200);
    assert.equal((await scorer.load()).model, worker);
  });

  it('reloads the real model transparently: same scores before and after an unload', async () => {
    const { workerPath } = await buildWorkerBundle('idle', scratch);
    const modelDir = path.join(scratch, 'model');
    await buildKnownScoreModel({ tokenizerDir: path.join(repoRoot, 'models', 'demo'), outDir: modelDir });
    const scorer = open({ modelDir, workerPath, device: 'cpu', idleUnloadMs: 100 });
    const before = await scoreAll(scorer, ITEMS);
    await sleep(400);
    assert.deepEqual(await scoreAll(scorer, ITEMS), before);
  });
});
