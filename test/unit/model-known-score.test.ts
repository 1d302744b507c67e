// The known-score model: its weights, its folder layout (optimum's), and that onnxruntime computes
// exactly the closed-form reward the tests elsewhere rely on.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  buildKnownScoreModel,
  DEMO_MODEL_NAME,
  KNOWN_SCORE_BIAS,
  knownScoreReward,
  knownScoreWeight,
  type KnownScoreModelInfo,
} from '../../scripts/modelkit/knownScoreModel';

const demoTokenizerDir = path.resolve(__dirname, '..', '..', 'models', 'demo');

describe('knownScoreWeight', () => {
  it('is deterministic, an odd multiple of 1/128 within ±33/128, and mildly positive on average', () => {
    let sum = 0;
    for (let id = 0; id < 32000; id++) {
      const weight = knownScoreWeight(id);
      assert.equal(weight, knownScoreWeight(id));
      const scaled = weight * 128;
      assert.ok(Number.isInteger(scaled) && Math.abs(scaled) % 2 === 1 && Math.abs(scaled) <= 33, `weight(${id}) = ${weight}`);
      sum += weight;
    }
    const mean = sum / 32000;
    assert.ok(mean > 0 && mean < 0.05, `mean weight ${mean}`);
    const firstHundred = new Set(Array.from({ length: 100 }, (_, id) => knownScoreWeight(id)));
    assert.ok(firstHundred.size >= 25, `neighbouring ids should spread over the buckets, got ${firstHundred.size} distinct weights`);
  });
});

describe('buildKnownScoreModel', () => {
  let dir: string;
  let info: KnownScoreModelInfo;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-known-'));
    info = await buildKnownScoreModel({ tokenizerDir: demoTokenizerDir, outDir: dir });
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes an optimum-shaped folder whose config says it is a demo model', async () => {
    assert.deepEqual((await fs.readdir(dir)).sort(), ['config.json', 'model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['KnownScoreRewardModel']);
    assert.deepEqual(config.id2label, { '0': 'LABEL_0' });
    assert.equal(config.pad_token_id, 0);
    assert.equal(config.max_position_embeddings, 4096);
    assert.equal(config._name_or_path, DEMO_MODEL_NAME);
    assert.match(DEMO_MODEL_NAME, /not a real reward model/);
    assert.equal(info.vocabSize, 32000);
    assert.equal(
      await fs.readFile(path.join(dir, 'tokenizer.json'), 'utf8'),
      await fs.readFile(path.join(demoTokenizerDir, 'tokenizer.json'), 'utf8'),
    );
  });

  it('rebuilds over an existing folder', async () => {
    await buildKnownScoreModel({ tokenizerDir: demoTokenizerDir, outDir: dir });
  });

  it('computes the closed-form reward in onnxruntime, ignoring masked padding', async () => {
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
    try {
      assert.deepEqual(session.inputNames, ['input_ids', 'attention_mask']);
      assert.deepEqual(session.outputNames, ['logits']);
      const rows = [
        [1, 529, 29989, 1792, 29989, 29958, 13, 31999, 2],
        [1, 15043, 2],
      ];
      const width = 9;
      const ids = new BigInt64Array(rows.length * width).fill(123n); // 123: padding that must not count
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
      assert.deepEqual(output.logits.dims, [2, 1]);
      const expected = rows.map((row) => row.reduce((sum, id) => sum + knownScoreWeight(id), KNOWN_SCORE_BIAS));
      assert.deepEqual([...(output.logits.data as Float32Array)], expected, 'float32 sums of 1/128 multiples are exact');
      assert.deepEqual(expected, rows.map(knownScoreReward));
    } finally {
      await session.release();
    }
  });
});
