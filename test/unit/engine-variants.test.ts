// Which ONNX file a folder's variant setting picks, and which logit is the reward.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModelFolder } from '../../src/engine/modelFolder';
import { rewardsOf } from '../../src/engine/scoringEngine';
import { onnxFile } from '../support/modelFolder';

const tokenizerDir = path.resolve(__dirname, '..', '..', 'models', 'demo');
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'plens-variants-'));
  await mkdir(path.join(dir, 'onnx'));
  await copyFile(path.join(tokenizerDir, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  for (const file of ['model_quantized.onnx', 'model_fp16.onnx']) await writeFile(path.join(dir, 'onnx', file), 'not read here');
});
after(() => rm(dir, { recursive: true, force: true }));

describe('model variants (transformers.js layout)', () => {
  it('auto takes full precision when present, else quantized', async () => {
    assert.equal(path.relative(dir, onnxFile(await readModelFolder(dir))), path.join('onnx', 'model_quantized.onnx'));
    await writeFile(path.join(dir, 'onnx', 'model.onnx'), 'not read here');
    assert.equal(path.relative(dir, onnxFile(await readModelFolder(dir))), path.join('onnx', 'model.onnx'));
    await rm(path.join(dir, 'onnx', 'model.onnx'));
  });

  it('an explicit variant is used, or named when missing', async () => {
    assert.equal(path.relative(dir, onnxFile(await readModelFolder(dir, 'fp16'))), path.join('onnx', 'model_fp16.onnx'));
    await assert.rejects(readModelFolder(dir, 'fp32'), /No model\.safetensors, model\.safetensors\.index\.json or model\.onnx in .*onnx[\\/]model\.onnx/);
  });
});

describe('the reward logit', () => {
  const logits = (rows: number, labels: number, values: number[]) => new ort.Tensor('float32', Float32Array.from(values), [rows, labels]);

  it('a single-label model: the logit', () => {
    assert.deepEqual(rewardsOf(logits(2, 1, [0.5, -1]), 2, undefined, ''), [0.5, -1]);
  });

  it('several labels need a chosen index, and the message says how', () => {
    assert.throws(() => rewardsOf(logits(2, 2, [1, 2, 3, 4]), 2, undefined, '0: bad, 1: good'), /2 labels \(0: bad, 1: good\).*preferenceLens\.logitIndex.*--logit/);
    assert.deepEqual(rewardsOf(logits(2, 2, [1, 2, 3, 4]), 2, 1, ''), [2, 4]);
    assert.throws(() => rewardsOf(logits(2, 2, [1, 2, 3, 4]), 2, 2, ''), /Logit 2 was asked for, but the model has 2/);
  });
});
