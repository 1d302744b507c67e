// A Hugging Face checkpoint through the real worker, on text: a random Llama reward model in
// transformers' layout with the real Llama-2 tokenizer, scored as a float64 second implementation
// (test/support/llamaReference.ts) computes it — single inputs, padded batches, truncation that
// keeps BOS, and the pad-id cases that used to pool the wrong token (config pad_token_id EOS or null),
// for checkpoints and for ONNX exports of them.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEncoder } from '../../src/engine/encoder';
import { buildHfModel } from '../../src/engine/hf/hfModel';
import { readModelFolder } from '../../src/engine/modelFolder';
import type { ScoreItem, ScoreResult, Scorer } from '../../src/engine/scorer';
import { createWorkerScorer, type WorkerScorerOptions } from '../../src/engine/workerScorer';
import { writeDecoderCheckpoint, type DecoderShape } from '../support/checkpoint';
import { loadLlamaReference, type LlamaReference } from '../support/llamaReference';
import { buildWorkerBundle } from '../support/workerBundle';

const repoRoot = path.resolve(__dirname, '..', '..');
const tokenizerDir = path.join(repoRoot, 'models', 'demo');
const sharedTokenizerModel = path.resolve(repoRoot, '..', 'shared', 'data', 'tokenizers', 'llama-2', 'tokenizer.model');
const TOLERANCE = 1e-4;

const SHAPE: DecoderShape = { modelType: 'llama', vocabSize: 32000, hiddenSize: 64, intermediateSize: 128, layers: 2, heads: 4, kvHeads: 2, maxPositions: 512, padTokenId: 0 };

const item = (id: number, user: string, answer: string): ScoreItem => ({ id, prompt: [{ role: 'user', content: user }], response: [{ role: 'assistant', content: answer }] });
const ITEMS: ScoreItem[] = [
  item(1, 'What is 2+2?', '4'),
  item(2, 'What is 2+2?', 'Five, unless you count in a base where it is not.'),
  {
    id: 3,
    prompt: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Name a colour.' },
      { role: 'assistant', content: 'Red.' },
      { role: 'user', content: 'Another?' },
    ],
    response: [{ role: 'assistant', content: 'Blue — or 青 🎨.' }],
  },
  item(4, 'Explain recursion.', 'Recursion is when a function calls itself on a smaller piece of the problem until it reaches a case simple enough to answer directly. Factorial is the classic example: n! = n × (n − 1)!, and 0! = 1.'),
];

async function scoreAll(scorer: Scorer, items: ScoreItem[]) {
  const batches: ScoreResult[][] = [];
  const stats = await scorer.score(items, { onResults: (results) => batches.push(results) });
  return { rewards: new Map(batches.flat().map((r) => [r.id, r.reward])), batches, stats };
}

function assertClose(actual: number | undefined, expected: number, label: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= TOLERANCE, `${label}: got ${actual}, expected ${expected} (±${TOLERANCE})`);
}

describe('a Hugging Face checkpoint through the worker', () => {
  let scratch: string;
  let workerPath: string;
  const scorers: Scorer[] = [];
  const open = (modelDir: string, options: Partial<WorkerScorerOptions> = {}) => {
    const scorer = createWorkerScorer({ modelDir, workerPath, device: 'cpu', ...options });
    scorers.push(scorer);
    return scorer;
  };
  /** A checkpoint folder with the Llama-2 tokenizer; the shape's pad id as given. */
  const checkpoint = async (name: string, shape: Partial<DecoderShape> = {}) => {
    const dir = path.join(scratch, name);
    writeDecoderCheckpoint(dir, { ...SHAPE, ...shape }, { seed: 3, dtype: 'BF16' });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerDir, file), path.join(dir, file));
    return dir;
  };
  let modelDir: string;
  let reference: LlamaReference;
  const idsOf = new Map<number, number[]>();

  before(async () => {
    ({ scratch, workerPath } = await buildWorkerBundle('checkpoint'));
    modelDir = await checkpoint('llama');
    reference = loadLlamaReference(modelDir);
    const encoder = await createEncoder(await readModelFolder(modelDir));
    for (const { id, prompt, response } of ITEMS) idsOf.set(id, encoder.encode([...prompt, ...response]).ids);
  });

  after(async () => {
    await Promise.all(scorers.map((scorer) => scorer.dispose()));
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('the reference discriminates: items, and each item against its own prefix, differ far beyond the tolerance', () => {
    const rewards = ITEMS.map(({ id }) => reference.reward(idsOf.get(id)!));
    for (let a = 0; a < rewards.length; a++) {
      for (let b = a + 1; b < rewards.length; b++) assert.ok(Math.abs(rewards[a] - rewards[b]) > 1e-2, `items ${a}, ${b}: ${rewards}`);
      assert.ok(Math.abs(reference.reward(idsOf.get(ITEMS[a].id)!.slice(0, -1)) - rewards[a]) > 1e-2, `item ${a} vs its prefix`);
    }
  });

  it('loads the folder as it is, says what it built, and scores single inputs as the reference does', async () => {
    const scorer = open(modelDir);
    const info = await scorer.load();
    assert.equal(info.template, 'tulu');
    assert.equal(info.precision, 'fp32');
    assert.match(info.weights ?? '', /LlamaForSequenceClassification checkpoint \(BF16\) run in fp32/);
    assert.equal(info.padding, undefined, 'the built graph pools by a known rule, so batches are padded');
    for (const one of ITEMS) assertClose((await scoreAll(scorer, [one])).rewards.get(one.id), reference.reward(idsOf.get(one.id)!), `item ${one.id}`);
  });

  it('scores a padded batch of mixed lengths as the reference does', async () => {
    const { rewards, batches } = await scoreAll(open(modelDir, { batchTokens: 1_000_000 }), ITEMS);
    assert.equal(batches.length, 1, 'all items shared one padded batch');
    for (const { id } of ITEMS) assertClose(rewards.get(id), reference.reward(idsOf.get(id)!), `item ${id}`);
  });

  it('truncates on the left keeping BOS, as Hugging Face tokenizers do, and counts the cut inputs', async () => {
    const maxLength = 40;
    const { rewards, stats } = await scoreAll(open(modelDir, { maxLength, batchTokens: 1_000_000 }), ITEMS);
    let truncated = 0;
    for (const { id } of ITEMS) {
      const ids = idsOf.get(id)!;
      assert.equal(ids[0], 1, 'inputs start with BOS');
      if (ids.length > maxLength) truncated++;
      const kept = ids.length > maxLength ? [1, ...ids.slice(ids.length - (maxLength - 1))] : ids;
      assertClose(rewards.get(id), reference.reward(kept), `item ${id}`);
      if (ids.length > maxLength) assert.ok(Math.abs(reference.reward(ids.slice(-maxLength)) - reference.reward(kept)) > 1e-3, 'dropping BOS would score differently');
    }
    assert.ok(truncated >= 2 && truncated < ITEMS.length, `a mix of truncated and whole items (${truncated})`);
    assert.equal(stats.truncated, truncated);
  });

  it('pad_token_id = EOS: a trailing </s> is skipped, as transformers does, alone and in a batch', async () => {
    const dir = await checkpoint('pad-eos', { padTokenId: 2 });
    const eosReference = loadLlamaReference(dir);
    const { rewards } = await scoreAll(open(dir, { batchTokens: 1_000_000 }), ITEMS);
    for (const { id } of ITEMS) {
      const ids = idsOf.get(id)!;
      assert.equal(ids.at(-1), 2, 'the tulu format ends with </s>');
      assertClose(rewards.get(id), eosReference.reward(ids), `item ${id}`);
      assert.equal(eosReference.reward(ids), eosReference.reward(ids.slice(0, -1)), 'the pooled token is the one before </s>');
    }
  });

  it('pad_token_id null (the Tulu 2.5 RMs): a batch scores each input as it scores alone, on its last token', async () => {
    const dir = await checkpoint('pad-null', { padTokenId: null });
    const nullReference = loadLlamaReference(dir);
    const scorer = open(dir, { batchTokens: 1_000_000 });
    const { rewards, batches } = await scoreAll(scorer, ITEMS);
    assert.equal(batches.length, 1, 'still batched: the built graph pools by the attention mask');
    for (const { id } of ITEMS) assertClose(rewards.get(id), nullReference.reward(idsOf.get(id)!), `item ${id}`);
  });

  it('a folder with only a SentencePiece tokenizer.model (as the Tulu 2.5 RMs ship) scores as with tokenizer.json', { skip: existsSync(sharedTokenizerModel) ? false : `${sharedTokenizerModel} is absent` }, async () => {
    const dir = path.join(scratch, 'sentencepiece-only');
    await fs.mkdir(dir);
    for (const file of await fs.readdir(modelDir)) if (file !== 'tokenizer.json') await fs.symlink(path.join(modelDir, file), path.join(dir, file));
    await fs.copyFile(sharedTokenizerModel, path.join(dir, 'tokenizer.model'));
    const encoder = await createEncoder(await readModelFolder(dir));
    for (const { id, prompt, response } of ITEMS) assert.deepEqual(encoder.encode([...prompt, ...response]).ids, idsOf.get(id), `item ${id} tokenizes alike`);
    const { rewards } = await scoreAll(open(dir, { batchTokens: 1_000_000 }), ITEMS);
    for (const { id } of ITEMS) assertClose(rewards.get(id), reference.reward(idsOf.get(id)!), `item ${id}`);
  });

  describe('ONNX exports, whose pooling is inside a graph the engine did not build', () => {
    /** An export folder: the graph built from `source` with pad id 0, and a config.json that says `padTokenId`. */
    const exportOf = async (name: string, padTokenId: number | null) => {
      const built = buildHfModel(modelDir, { precision: 'fp32' });
      const dir = path.join(scratch, name);
      await fs.mkdir(dir);
      for (const file of ['model.onnx', 'weights.bin']) await fs.rename(path.join(built.dir, file), path.join(dir, file));
      await fs.rm(built.dir, { recursive: true, force: true });
      for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerDir, file), path.join(dir, file));
      const config = JSON.parse(await fs.readFile(path.join(modelDir, 'config.json'), 'utf8'));
      await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, pad_token_id: padTokenId }));
      return dir;
    };

    it('config.json without a pad id: no padding at all (exact-length batches), and the user is told', async () => {
      // Padding with EOS here made the graph (which skips id 0) pool a pad token: 54 of 60 rewards wrong.
      const scorer = open(await exportOf('export-pad-null', null), { batchTokens: 1_000_000 });
      assert.match((await scorer.load()).padding ?? '', /without padding.*no pad_token_id/);
      const { rewards } = await scoreAll(scorer, ITEMS);
      for (const { id } of ITEMS) assertClose(rewards.get(id), reference.reward(idsOf.get(id)!), `item ${id}`);
    });

    it('a config pad id the graph does not skip is caught by the probe', async () => {
      const scorer = open(await exportOf('export-pad-mismatch', 2), { batchTokens: 1_000_000 });
      assert.match((await scorer.load()).padding ?? '', /padding with pad_token_id 2 changes this export's reward/);
      const { rewards } = await scoreAll(scorer, ITEMS);
      for (const { id } of ITEMS) assertClose(rewards.get(id), reference.reward(idsOf.get(id)!), `item ${id}`);
    });

    it('the pad id the graph was built with: padded batches, right rewards', async () => {
      const scorer = open(await exportOf('export-pad-0', 0), { batchTokens: 1_000_000 });
      assert.equal((await scorer.load()).padding, undefined);
      const { rewards, batches } = await scoreAll(scorer, ITEMS);
      assert.equal(batches.length, 1);
      for (const { id } of ITEMS) assertClose(rewards.get(id), reference.reward(idsOf.get(id)!), `item ${id}`);
    });
  });
});
