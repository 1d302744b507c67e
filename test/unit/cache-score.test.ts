// The score cache: its file format and model identity, and the engine answering from it — a
// re-score makes no model calls and returns identical rewards; an edit re-scores only what changed.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildKnownScoreModel } from '../../scripts/modelkit/knownScoreModel';
import { readModelFolder } from '../../src/engine/modelFolder';
import { defaultCacheDir, modelIdentity, ScoreCache } from '../../src/engine/scoreCache';
import type { ScoreItem, ScoreResult } from '../../src/engine/scorer';
import { ScoringEngine } from '../../src/engine/scoringEngine';

const demoTokenizerDir = path.resolve(__dirname, '..', '..', 'models', 'demo');

let scratch: string;
before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-cache-'));
});
after(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

describe('defaultCacheDir', () => {
  it('follows each platform’s convention', () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x' }, 'linux', '/home/u'), path.join('/x', 'preference-lens'));
    assert.equal(defaultCacheDir({}, 'linux', '/home/u'), path.join('/home/u', '.cache', 'preference-lens'));
    assert.equal(defaultCacheDir({}, 'darwin', '/Users/u'), path.join('/Users/u', 'Library', 'Caches', 'preference-lens'));
    assert.equal(defaultCacheDir({ LOCALAPPDATA: 'C:\\L' }, 'win32', 'C:\\U'), path.join('C:\\L', 'preference-lens', 'Cache'));
  });
});

describe('ScoreCache', () => {
  it('keeps scores across opens, skips torn lines and non-finite rewards', async () => {
    const dir = path.join(scratch, 'store');
    const cache = await ScoreCache.open(dir, 'abc', { model: 'm' });
    const a = cache.keyOf('text a');
    const b = cache.keyOf('text b');
    assert.notEqual(a, b);
    assert.equal(a, cache.keyOf('text a'));
    await cache.add([
      { key: a, reward: 0.1 + 0.2, truncated: false },
      { key: b, reward: -3.25, truncated: true },
      { key: cache.keyOf('broken'), reward: NaN, truncated: false },
    ]);
    // A crash mid-append leaves a partial line; the next append starts after it.
    await fs.appendFile(cache.file, '{"k":"torn","r":1.');
    await fs.appendFile(cache.file, '\n');

    const reopened = await ScoreCache.open(dir, 'abc', { model: 'm' });
    assert.equal(reopened.size, 2);
    assert.deepEqual(reopened.get(a), { reward: 0.1 + 0.2, truncated: false }, 'float64 rewards round-trip exactly');
    assert.deepEqual(reopened.get(b), { reward: -3.25, truncated: true });
    assert.equal((await ScoreCache.open(dir, 'other-model', {})).size, 0, 'another identity, another file');
  });
});

describe('modelIdentity', () => {
  const settings = { template: 'tulu', maxLength: 4096 };

  it('survives a copy of the folder but not a change of weights, tokenizer config or settings', async () => {
    const original = path.join(scratch, 'id-original');
    await buildKnownScoreModel({ tokenizerDir: demoTokenizerDir, outDir: original });
    const id = await modelIdentity(await readModelFolder(original), settings);

    const copy = path.join(scratch, 'id-copy');
    await fs.cp(original, copy, { recursive: true });
    assert.equal(await modelIdentity(await readModelFolder(copy), settings), id, 'a copied model keeps its cache');

    assert.notEqual(await modelIdentity(await readModelFolder(original), { ...settings, maxLength: 512 }), id);
    assert.notEqual(await modelIdentity(await readModelFolder(original), { ...settings, template: 'chat_template' }), id);

    // One weight flipped in the middle of the file, where a size-and-ends check would not look.
    const weights = path.join(copy, 'model.onnx');
    const bytes = await fs.readFile(weights);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] ^= 0x01;
    await fs.writeFile(weights, bytes);
    assert.notEqual(await modelIdentity(await readModelFolder(copy), settings), id, 'changed weights');
    bytes[middle] ^= 0x01;
    await fs.writeFile(weights, bytes);

    await fs.writeFile(path.join(copy, 'model.onnx_data'), 'external weights');
    assert.notEqual(await modelIdentity(await readModelFolder(copy), settings), id, 'external data counts');
    await fs.rm(path.join(copy, 'model.onnx_data'));

    const config = JSON.parse(await fs.readFile(path.join(copy, 'config.json'), 'utf8'));
    await fs.writeFile(path.join(copy, 'config.json'), JSON.stringify({ ...config, pad_token_id: 2 }));
    assert.notEqual(await modelIdentity(await readModelFolder(copy), settings), id, 'another pad id');
  });
});

describe('ScoringEngine with a cache folder', () => {
  let modelDir: string;
  const items: ScoreItem[] = Array.from({ length: 12 }, (_, i) => ({
    id: i,
    prompt: [{ role: 'user', content: `Question ${i}?` }],
    response: [{ role: 'assistant', content: `Answer number ${i}, ${'with more words '.repeat(i)}` }],
  }));

  before(async () => {
    modelDir = path.join(scratch, 'engine-model');
    await buildKnownScoreModel({ tokenizerDir: demoTokenizerDir, outDir: modelDir });
  });

  async function run(engine: ScoringEngine, batch: ScoreItem[]) {
    const results: ScoreResult[] = [];
    const stats = await engine.score(batch, { isCancelled: () => false, onResults: (r) => results.push(...r), onProgress: () => undefined });
    return { stats, rewards: new Map(results.map((r) => [r.id, r.reward])) };
  }

  it('re-scores nothing on a second run, in this engine and the next, and only the edited item after an edit', async () => {
    const cacheDir = path.join(scratch, 'engine-cache');
    const engine = await ScoringEngine.load({ modelDir, device: 'cpu', batchTokens: 64, cacheDir });
    try {
      assert.ok(engine.info.cache?.startsWith(path.join(cacheDir, 'scores')), engine.info.cache);
      const first = await run(engine, items);
      assert.equal(first.stats.cached, 0);
      assert.ok((first.stats.modelCalls ?? 0) > 1, `several batches (${first.stats.modelCalls})`);
      assert.equal(first.rewards.size, items.length);

      const second = await run(engine, items);
      assert.equal(second.stats.modelCalls, 0);
      assert.equal(second.stats.cached, items.length);
      assert.equal(second.stats.items, items.length);
      assert.deepEqual(second.rewards, first.rewards);

      const edited = items.map((item) => (item.id === 5 ? { ...item, response: [{ role: 'assistant', content: 'A new answer.' }] } : item));
      const third = await run(engine, edited);
      assert.equal(third.stats.modelCalls, 1);
      assert.equal(third.stats.cached, items.length - 1);
      assert.notEqual(third.rewards.get(5), first.rewards.get(5));
    } finally {
      await engine.dispose();
    }

    const fresh = await ScoringEngine.load({ modelDir, device: 'cpu', batchTokens: 64, cacheDir });
    const uncached = await ScoringEngine.load({ modelDir, device: 'cpu', batchTokens: 64 });
    try {
      const again = await run(fresh, items);
      assert.equal(again.stats.modelCalls, 0, 'scores persisted on disk');
      const truth = await run(uncached, items);
      assert.deepEqual(again.rewards, truth.rewards, 'cached rewards are what the model gives');
      assert.equal(uncached.info.cache, undefined);
    } finally {
      await fresh.dispose();
      await uncached.dispose();
    }
  });

  it('scores on without a cache when the cache folder cannot be used, and says why', async () => {
    const blocked = path.join(scratch, 'a-file-not-a-folder');
    await fs.writeFile(blocked, '');
    const engine = await ScoringEngine.load({ modelDir, device: 'cpu', cacheDir: blocked });
    try {
      assert.match(engine.info.cacheError ?? '', /^Scores are not cached: .*(EEXIST|ENOTDIR)/);
      const { rewards, stats } = await run(engine, items.slice(0, 2));
      assert.equal(rewards.size, 2);
      assert.equal(stats.cached, 0);
    } finally {
      await engine.dispose();
    }
  });
});
