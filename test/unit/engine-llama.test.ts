// The tiny Llama reference fixture: the ONNX graph the builder writes agrees with the float64
// reference forward pass, and the engine, through the real worker bundle, scores what the reference
// says for single inputs, mixed-length padded batches and left-truncated inputs.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { createEncoder } from '../../src/engine/encoder';
import { buildLlamaModel, type LlamaWeights } from '../../src/engine/modelkit/llamaModel';
import { llamaReferenceReward } from '../../src/engine/modelkit/llamaReference';
import { readModelFolder } from '../../src/engine/modelFolder';
import type { ScoreItem, ScoreResult, Scorer } from '../../src/engine/scorer';
import { createWorkerScorer, type WorkerScorerOptions } from '../../src/engine/workerScorer';
import { buildWorkerBundle } from '../support/workerBundle';

const repoRoot = path.resolve(__dirname, '..', '..');
const demoTokenizerDir = path.join(repoRoot, 'models', 'demo');
const TOLERANCE = 1e-4;

const item = (id: number, user: string, answer: string): ScoreItem => ({
  id,
  prompt: [{ role: 'user', content: user }],
  response: [{ role: 'assistant', content: answer }],
});
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
  item(
    4,
    'Explain recursion.',
    'Recursion is when a function calls itself on a smaller piece of the problem until it reaches a case simple ' +
      'enough to answer directly. Factorial is the classic example: n! = n × (n − 1)!, and 0! = 1.',
  ),
];

async function scoreAll(scorer: Scorer, items: ScoreItem[]) {
  const batches: ScoreResult[][] = [];
  const stats = await scorer.score(items, { onResults: (results) => batches.push(results) });
  return { rewards: new Map(batches.flat().map((r) => [r.id, r.reward])), batches, stats };
}

function assertClose(actual: number | undefined, expected: number, label: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= TOLERANCE, `${label}: got ${actual}, expected ${expected} (±${TOLERANCE})`);
}

describe('tiny Llama fixture', () => {
  let scratch: string;
  let workerPath: string;
  let modelDir: string;
  let weights: LlamaWeights;
  /** Token ids per item as the engine's encoder makes them (tokenization is checked in engine-worker.test.ts). */
  const idsOf = new Map<number, number[]>();
  const scorers: Scorer[] = [];
  const open = (options: Partial<WorkerScorerOptions> = {}) => {
    const scorer = createWorkerScorer({ modelDir, workerPath, device: 'cpu', ...options });
    scorers.push(scorer);
    return scorer;
  };

  before(async () => {
    ({ scratch: scratch, workerPath: workerPath } = await buildWorkerBundle('llama'));
    modelDir = path.join(scratch, 'model');
    weights = await buildLlamaModel({ tokenizerDir: demoTokenizerDir, outDir: modelDir, seed: 7 });
    const encoder = await createEncoder(await readModelFolder(modelDir));
    for (const { id, prompt, response } of ITEMS) idsOf.set(id, encoder.encode([...prompt, ...response]).ids);
  });

  after(async () => {
    await Promise.all(scorers.map((scorer) => scorer.dispose()));
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('writes an optimum-shaped LlamaForSequenceClassification folder', async () => {
    assert.deepEqual((await fs.readdir(modelDir)).sort(), ['config.json', 'model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(await fs.readFile(path.join(modelDir, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['LlamaForSequenceClassification']);
    assert.deepEqual(config.id2label, { '0': 'LABEL_0' });
    assert.equal(config.pad_token_id, 0);
    const size = (await fs.stat(path.join(modelDir, 'model.onnx'))).size;
    assert.ok(size < 12_000_000, `model.onnx is ${size} bytes`);
  });

  it('discriminates: the items, and each item against its own prefix, differ far beyond the tolerance', () => {
    // Otherwise a pooling off-by-one or a wrong batch row could pass the 1e-4 checks below.
    const rewards = ITEMS.map(({ id }) => llamaReferenceReward(weights, idsOf.get(id)!));
    for (let a = 0; a < rewards.length; a++) {
      for (let b = a + 1; b < rewards.length; b++) assert.ok(Math.abs(rewards[a] - rewards[b]) > 1e-2, `items ${a}, ${b}: ${rewards}`);
      const ids = idsOf.get(ITEMS[a].id)!;
      assert.ok(Math.abs(llamaReferenceReward(weights, ids.slice(0, -1)) - rewards[a]) > 1e-2, `item ${a} vs its prefix`);
    }
  });

  it('onnxruntime runs the graph as the reference computes it, on a right-padded batch', async () => {
    const session = await ort.InferenceSession.create(path.join(modelDir, 'model.onnx'));
    try {
      const rows = ITEMS.map(({ id }) => idsOf.get(id)!);
      const width = Math.max(...rows.map((row) => row.length));
      const ids = new BigInt64Array(rows.length * width); // pad id 0
      const mask = new BigInt64Array(rows.length * width);
      rows.forEach((row, r) =>
        row.forEach((id, c) => {
          ids[r * width + c] = BigInt(id);
          mask[r * width + c] = 1n;
        }),
      );
      const output = await session.run({
        input_ids: new ort.Tensor('int64', ids, [rows.length, width]),
        attention_mask: new ort.Tensor('int64', mask, [rows.length, width]),
      });
      assert.deepEqual(output.logits.dims, [rows.length, 1]);
      const logits = output.logits.data as Float32Array;
      rows.forEach((row, r) => assertClose(logits[r], llamaReferenceReward(weights, row), `row ${r}`));
    } finally {
      await session.release();
    }
  });

  it('scores single inputs through the worker as the reference does', async () => {
    const scorer = open();
    assert.equal((await scorer.load()).template, 'tulu');
    for (const one of ITEMS) {
      const { rewards } = await scoreAll(scorer, [one]);
      assertClose(rewards.get(one.id), llamaReferenceReward(weights, idsOf.get(one.id)!), `item ${one.id}`);
    }
  });

  it('scores a padded batch of mixed lengths as the reference does', async () => {
    const { rewards, batches, stats } = await scoreAll(open({ batchTokens: 1_000_000 }), ITEMS);
    assert.equal(batches.length, 1, 'all items shared one padded batch');
    const lengths = new Set(ITEMS.map(({ id }) => idsOf.get(id)!.length));
    assert.equal(lengths.size, ITEMS.length, 'every row has a different length, so every row but one is padded');
    for (const { id } of ITEMS) assertClose(rewards.get(id), llamaReferenceReward(weights, idsOf.get(id)!), `item ${id}`);
    assert.equal(stats.items, ITEMS.length);
  });

  it('scores left-truncated inputs on their last maxLength tokens, also in a padded batch', async () => {
    const maxLength = 40;
    const { rewards, stats } = await scoreAll(open({ maxLength, batchTokens: 1_000_000 }), ITEMS);
    let truncated = 0;
    for (const { id } of ITEMS) {
      const ids = idsOf.get(id)!;
      if (ids.length > maxLength) truncated++;
      assertClose(rewards.get(id), llamaReferenceReward(weights, ids.slice(-maxLength)), `item ${id}`);
    }
    assert.ok(truncated >= 2 && truncated < ITEMS.length, `a mix of truncated and whole items (${truncated})`);
    assert.equal(stats.truncated, truncated);
  });

  it('skips a trailing EOS when the export pads with the EOS id, as transformers does', async () => {
    const eosPadded = path.join(scratch, 'pad-eos');
    const eosWeights = await buildLlamaModel({ tokenizerDir: demoTokenizerDir, outDir: eosPadded, seed: 7, shape: { padTokenId: 2 } });
    const { rewards } = await scoreAll(open({ modelDir: eosPadded, batchTokens: 1_000_000 }), ITEMS);
    for (const { id } of ITEMS) {
      const ids = idsOf.get(id)!;
      assert.equal(ids.at(-1), 2, 'the tulu format ends with </s>');
      const expected = llamaReferenceReward(eosWeights, ids);
      assertClose(rewards.get(id), expected, `item ${id}`);
      // The pooled token is the one before the EOS: the same logit as scoring the text without it.
      assert.equal(expected, llamaReferenceReward(eosWeights, ids.slice(0, -1)));
    }
  });
});
