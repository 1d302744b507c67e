// End to end through the real worker bundle: the known-score model is scored through
// createWorkerScorer, and every reward is checked against a sum recomputed here from the token ids
// an independent tokenizer produces for the literal Tulu text.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Tokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import { buildKnownScoreModel, DEMO_MODEL_NAME, KNOWN_SCORE_BIAS, knownScoreWeight } from '../../scripts/modelkit/knownScoreModel';
import type { ScoreItem, ScoreResult, Scorer } from '../../src/engine/scorer';
import { ScoringEngine } from '../../src/engine/scoringEngine';
import { createWorkerScorer, type WorkerScorerOptions } from '../../src/engine/workerScorer';
import { buildWorkerBundle } from '../support/workerBundle';

const repoRoot = path.resolve(__dirname, '..', '..');
const demoTokenizerDir = path.join(repoRoot, 'models', 'demo');
const sharedLlama2 = path.join(path.resolve(repoRoot, '../shared'), 'data', 'tokenizers', 'llama-2');

const LONG_ANSWER =
  'Recursion is when a function calls itself on a smaller piece of the problem until it reaches a case ' +
  'simple enough to answer directly. Factorial is the classic example: n! = n × (n − 1)!, and 0! = 1.';

const BOS = 1;
const EOS = 2;
/**
 * What the engine must feed for one item, written out by hand: text pieces of the tulu format, each
 * encoded on its own without special tokens, and the BOS/EOS as literal ids. (Encoding the whole
 * text in one call would not do: this Llama-2 tokenizer.json does not find `</s>` after a non-space
 * character — see engine-units.test.ts.)
 */
type Piece = string | number;
const CASES: Array<{ item: ScoreItem; pieces: Piece[] }> = [
  {
    item: { id: 1, prompt: [{ role: 'user', content: 'What is 2+2?' }], response: [{ role: 'assistant', content: '4' }] },
    pieces: [BOS, '<|user|>\nWhat is 2+2?\n<|assistant|>\n4', EOS],
  },
  {
    item: {
      id: 2,
      prompt: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Name a colour.' },
        { role: 'assistant', content: 'Red.' },
        { role: 'user', content: 'Another?' },
      ],
      response: [{ role: 'assistant', content: 'Blue — or 青 🎨.' }],
    },
    pieces: [BOS, '<|system|>\nYou are terse.\n<|user|>\nName a colour.\n<|assistant|>\nRed.', EOS, '\n<|user|>\nAnother?\n<|assistant|>\nBlue — or 青 🎨.', EOS],
  },
  {
    item: { id: 3, prompt: [{ role: 'user', content: 'Explain recursion.' }], response: [{ role: 'assistant', content: LONG_ANSWER }] },
    pieces: [BOS, `<|user|>\nExplain recursion.\n<|assistant|>\n${LONG_ANSWER}`, EOS],
  },
];
const ITEMS = CASES.map((c) => c.item);

async function referenceTokenizer(dir: string): Promise<Tokenizer> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const read = async (file: string) => JSON.parse(await fs.readFile(path.join(dir, file), 'utf8'));
  return new Tokenizer(await read('tokenizer.json'), await read('tokenizer_config.json'));
}

function idsOf(tokenizer: Tokenizer, pieces: readonly Piece[]): number[] {
  return pieces.flatMap((piece) => (typeof piece === 'number' ? [piece] : tokenizer.encode(piece, { add_special_tokens: false }).ids));
}

function expectedReward(ids: readonly number[]): number {
  return ids.reduce((sum, id) => sum + knownScoreWeight(id), KNOWN_SCORE_BIAS);
}

async function scoreAll(scorer: Scorer, items: ScoreItem[]) {
  const batches: ScoreResult[][] = [];
  const stats = await scorer.score(items, { onResults: (results) => batches.push(results) });
  const rewards = new Map(batches.flat().map((r) => [r.id, r.reward]));
  return { rewards, batches, stats };
}

function assertClose(actual: number | undefined, expected: number, label: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= 1e-4, `${label}: got ${actual}, expected ${expected}`);
}

describe('worker scorer over the known-score model', () => {
  let scratch: string;
  let workerPath: string;
  let modelDir: string;
  let tokenizer: Tokenizer;
  const scorers: Scorer[] = [];
  const open = (options: Partial<WorkerScorerOptions> = {}) => {
    const scorer = createWorkerScorer({ modelDir, workerPath, device: 'cpu', ...options });
    scorers.push(scorer);
    return scorer;
  };

  before(async () => {
    ({ scratch: scratch, workerPath: workerPath } = await buildWorkerBundle('engine'));
    modelDir = path.join(scratch, 'model');
    await buildKnownScoreModel({ tokenizerDir: demoTokenizerDir, outDir: modelDir });
    tokenizer = await referenceTokenizer(demoTokenizerDir);
  });

  after(async () => {
    await Promise.all(scorers.map((scorer) => scorer.dispose()));
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('returns the closed-form reward of exactly the tokens of the tulu format', async () => {
    const scorer = open();
    const info = await scorer.load();
    assert.deepEqual(info, { model: DEMO_MODEL_NAME, device: 'cpu', template: 'tulu' });
    const { rewards, stats } = await scoreAll(scorer, ITEMS);
    let tokens = 0;
    for (const { item, pieces } of CASES) {
      const ids = idsOf(tokenizer, pieces);
      assertClose(rewards.get(item.id), expectedReward(ids), `item ${item.id}`);
      tokens += ids.length;
    }
    assert.equal(stats.items, ITEMS.length);
    assert.equal(stats.tokens, tokens);
    assert.equal(stats.truncated, 0);
  });

  it('gives a padded batch of mixed lengths the same rewards as one-by-one scoring', async () => {
    const scorer = open({ batchTokens: 1_000_000 });
    const together = await scoreAll(scorer, ITEMS);
    assert.equal(together.batches.length, 1, 'all items shared one padded batch');
    for (const item of ITEMS) {
      const alone = await scoreAll(scorer, [item]);
      assert.equal(alone.rewards.get(item.id), together.rewards.get(item.id), `item ${item.id}`);
    }
  });

  it('keeps BOS and the end of a conversation longer than maxLength, as Hugging Face tokenizers truncate', async () => {
    const maxLength = 12;
    const scorer = open({ maxLength });
    const { item, pieces } = CASES[2];
    const { rewards, stats } = await scoreAll(scorer, [item]);
    const ids = idsOf(tokenizer, pieces);
    assert.ok(ids.length > maxLength);
    assert.equal(ids[0], 1, 'the tokenizer adds BOS');
    assertClose(rewards.get(item.id), expectedReward([1, ...ids.slice(-(maxLength - 1))]), 'truncated item');
    assert.equal(stats.truncated, 1);
    assert.equal(stats.tokens, maxLength);
  });

  it('answers from the cache folder it is given: a second worker makes no model calls', async () => {
    const cacheDir = path.join(scratch, 'cache');
    const first = await scoreAll(open({ cacheDir }), ITEMS);
    assert.equal(first.stats.cached, 0);
    assert.ok((first.stats.modelCalls ?? 0) > 0);
    const second = await scoreAll(open({ cacheDir }), ITEMS);
    assert.equal(second.stats.modelCalls, 0);
    assert.equal(second.stats.cached, ITEMS.length);
    assert.deepEqual(second.rewards, first.rewards);
  });

  it('renders a chat template instead when the model ships one, without doubling its BOS', async () => {
    const templated = path.join(scratch, 'templated');
    await fs.cp(modelDir, templated, { recursive: true });
    await fs.writeFile(
      path.join(templated, 'chat_template.jinja'),
      '{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}',
    );
    const scorer = open({ modelDir: templated });
    assert.equal((await scorer.load()).template, 'chat_template');
    const { rewards } = await scoreAll(scorer, [CASES[0].item]);
    // The template writes `<s>` itself: no second BOS from the tokenizer.
    const ids = idsOf(tokenizer, [BOS, '[user] What is 2+2?', EOS, '[assistant] 4', EOS]);
    assertClose(rewards.get(1), expectedReward(ids), 'templated item');
  });

  it('names the missing tokenizer.json and how to get one', async () => {
    const broken = path.join(scratch, 'no-tokenizer');
    await fs.mkdir(broken);
    await fs.copyFile(path.join(modelDir, 'model.onnx'), path.join(broken, 'model.onnx'));
    const scorer = open({ modelDir: broken });
    await assert.rejects(scorer.load(), (error: Error) => {
      assert.ok(error.message.includes(path.join(broken, 'tokenizer.json')), error.message);
      assert.match(error.message, /save_pretrained|optimum/);
      return true;
    });
    // A failed load is not cached: the next call tries again (and fails the same way here).
    await assert.rejects(scorer.score(ITEMS, { onResults: () => undefined }), /tokenizer\.json/);
  });

  // Decision: an unavailable device, forced or auto, falls back to CPU and says why, rather than
  // failing: the user still gets scores, and ScorerInfo.device / fallbackReason show what runs.
  for (const device of ['cuda', 'auto']) {
    it(`falls back to CPU with a reason when device '${device}' is unavailable`, async (t) => {
      const info = await open({ device }).load();
      if (info.device === 'cuda') return t.skip('CUDA works on this machine; nothing to fall back from');
      if (device === 'auto' && !(process.platform === 'linux' && process.arch === 'x64')) {
        return t.skip('auto only tries CUDA on linux x64');
      }
      assert.equal(info.device, 'cpu');
      if (device === 'cuda') assert.match(info.fallbackReason ?? '', /^cuda unavailable: .+/);
      // Chosen automatically, a machine without CUDA libraries gets a short note, not CUDA's error text.
      else assert.match(info.fallbackReason ?? '', /^(cuda unavailable: .+|no CUDA libraries on this machine \(choose the device "cuda" to see why, or install GPU support\))$/);
    });
  }

  it('rejects with AbortError when cancelled, and the worker keeps serving', async () => {
    const scorer = open({ batchTokens: 1 }); // one item per batch: many batches to stop between
    const many = Array.from({ length: 300 }, (_, i) => ({ ...CASES[i % 3].item, id: i }));

    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(scorer.score(many, { signal: aborted.signal, onResults: () => undefined }), { name: 'AbortError' });

    const controller = new AbortController();
    let delivered = 0;
    const job = scorer.score(many, {
      signal: controller.signal,
      onResults: (results) => {
        delivered += results.length;
        controller.abort();
      },
    });
    await assert.rejects(job, { name: 'AbortError' });
    assert.equal(delivered, 1, 'no results after the abort');

    const { rewards } = await scoreAll(scorer, [CASES[0].item]);
    assert.equal(rewards.size, 1);
  });

  it('tokenizes on a thread of its own with the same ids as inline: rewards, tokens and truncation equal across windows', async () => {
    // 700 items span three tokenizing windows; a 40-token limit truncates the long ones.
    const many = Array.from({ length: 700 }, (_, i) => ({ ...CASES[i % CASES.length].item, id: i }));
    const options = { modelDir, device: 'cpu' as const, batchTokens: 256, maxLength: 40 };
    const threaded = await ScoringEngine.load({ ...options, tokenizerScript: workerPath });
    const inline = await ScoringEngine.load(options);
    const broken = await ScoringEngine.load({ ...options, tokenizerScript: path.join(scratch, 'no-such-bundle.js') });
    try {
      assert.equal(threaded.tokenizesOnThread, true);
      assert.equal(inline.tokenizesOnThread, false);
      assert.equal(broken.tokenizesOnThread, false, 'a thread that cannot start leaves tokenizing on the engine thread');
      const run = async (engine: ScoringEngine) => {
        const rewards = new Map<number, number>();
        const stats = await engine.score(many, { isCancelled: () => false, onResults: (results) => results.forEach((r) => rewards.set(r.id, r.reward)), onProgress: () => undefined });
        return { rewards, tokens: stats.tokens, truncated: stats.truncated };
      };
      const [a, b, c] = [await run(threaded), await run(inline), await run(broken)];
      assert.equal(a.rewards.size, many.length);
      assert.ok((a.truncated ?? 0) > 0, 'the limit truncated some items');
      assert.deepEqual(a, b);
      assert.deepEqual(c, b);
    } finally {
      await Promise.all([threaded.dispose(), inline.dispose(), broken.dispose()]);
    }
  });

  it('stops between batches once cancelled', async () => {
    const engine = await ScoringEngine.load({ modelDir, device: 'cpu', batchTokens: 1 });
    try {
      let batches = 0;
      await assert.rejects(
        engine.score(ITEMS, { isCancelled: () => batches > 0, onResults: () => batches++, onProgress: () => undefined }),
        { name: 'AbortError' },
      );
      assert.equal(batches, 1);
    } finally {
      await engine.dispose();
    }
  });

  it('scores nothing quickly', async () => {
    const { stats, batches } = await scoreAll(open(), []);
    assert.equal(stats.items, 0);
    assert.equal(batches.length, 0);
  });

  describe('worker crashes', () => {
    async function fakeWorker(name: string, onScore: string): Promise<string> {
      const file = path.join(scratch, `${name}.js`);
      await fs.writeFile(
        file,
        `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (message) => {
  if (message.type === 'load') parentPort.postMessage({ type: 'loaded', info: { model: 'fake', device: 'cpu', template: 'tulu' } });
  if (message.type === 'score') { ${onScore} }
});`,
      );
      return file;
    }

    // Restarts and resuming are worker-recovery.test.ts's; here a scorer that gives up at once.
    it('rejects a pending score when the worker exits, and starts a fresh worker next time', async () => {
      const scorer = open({ workerPath: await fakeWorker('exits', 'process.exit(7);'), maxRestarts: 0 });
      await assert.rejects(scorer.score(ITEMS, { onResults: () => undefined }), /crashed once \(last: it exited unexpectedly \(exit code 7\)\)/);
      assert.equal((await scorer.load()).model, 'fake');
    });

    it('rejects a pending score when the worker throws', async () => {
      const scorer = open({ workerPath: await fakeWorker('throws', "throw new Error('native boom');"), maxRestarts: 0 });
      await assert.rejects(scorer.score(ITEMS, { onResults: () => undefined }), /crashed: native boom/);
    });

    it('rejects load when the worker script cannot start', async () => {
      const scorer = open({ workerPath: path.join(scratch, 'does-not-exist.js'), maxRestarts: 0 });
      await assert.rejects(scorer.load(), /scoring worker/);
    });
  });

  it('matches the shared llama-2 tokenizer too', async (t) => {
    if (!existsSync(path.join(sharedLlama2, 'tokenizer.json'))) {
      return t.skip(`shared tokenizers are absent (${sharedLlama2}); this test needs /work/shared`);
    }
    const sharedModel = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-shared-llama2-'));
    try {
      await buildKnownScoreModel({ tokenizerDir: sharedLlama2, outDir: sharedModel });
      const reference = await referenceTokenizer(sharedLlama2);
      const { rewards } = await scoreAll(open({ modelDir: sharedModel }), ITEMS);
      for (const { item, pieces } of CASES) assertClose(rewards.get(item.id), expectedReward(idsOf(reference, pieces)), `item ${item.id}`);
    } finally {
      await fs.rm(sharedModel, { recursive: true, force: true });
    }
  });
});
