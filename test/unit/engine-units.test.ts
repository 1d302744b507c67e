// Pure parts of the scoring engine: batching, padding, prompt format, provider order, model folder
// and encoder settings. No onnxruntime session here; see engine-worker.test.ts for end to end.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { padBatch, planBatches } from '../../src/engine/batching';
import { createEncoder, DEFAULT_MAX_LENGTH } from '../../src/engine/encoder';
import { ModelFolderError, readModelFolder } from '../../src/engine/modelFolder';
import { renderTulu } from '../../src/engine/promptFormat';
import { providerOrder } from '../../src/engine/session';
import { onnxFile } from '../support/modelFolder';

const demoTokenizerDir = path.resolve(__dirname, '..', '..', 'models', 'demo');

describe('planBatches', () => {
  const lengths = [50, 3, 20, 7, 7, 100, 1, 64, 12, 30];

  it('covers every item once, shortest first, within the padded-token budget', () => {
    const budget = 64;
    const batches = planBatches(lengths, budget);
    assert.deepEqual(
      batches.flat().sort((a, b) => a - b),
      lengths.map((_, i) => i),
    );
    const order = batches.flat().map((i) => lengths[i]);
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    for (const batch of batches) {
      const cost = batch.length * Math.max(...batch.map((i) => lengths[i]));
      assert.ok(cost <= budget || batch.length === 1, `batch ${batch} costs ${cost} > ${budget}`);
    }
  });

  it('runs a sequence longer than the budget alone rather than dropping it', () => {
    const batches = planBatches([10, 500, 10], 64);
    assert.deepEqual(batches, [[0, 2], [1]]);
  });

  it('caps rows per batch', () => {
    const batches = planBatches(new Array(10).fill(1), 1_000_000, 4);
    assert.deepEqual(
      batches.map((b) => b.length),
      [4, 4, 2],
    );
  });
});

describe('padBatch', () => {
  it('right-pads with the pad id and masks the padding', () => {
    const batch = padBatch([[5, 6, 7], [8]], 0);
    assert.equal(batch.rows, 2);
    assert.equal(batch.width, 3);
    assert.deepEqual([...batch.inputIds], [5n, 6n, 7n, 8n, 0n, 0n]);
    assert.deepEqual([...batch.attentionMask], [1n, 1n, 1n, 1n, 0n, 0n]);
  });
});

describe('renderTulu', () => {
  it('matches the open-instruct tulu template: EOS after each assistant turn, newline between turns', () => {
    const text = renderTulu(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Bye' },
        { role: 'assistant', content: 'Goodbye.' },
      ],
      '</s>',
    );
    assert.equal(text, '<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello.</s>\n<|user|>\nBye\n<|assistant|>\nGoodbye.</s>');
  });

  it('refuses roles the template cannot express instead of dropping the turn', () => {
    assert.throws(() => renderTulu([{ role: 'tool', content: '{}' }], '</s>'), /role "tool"/);
  });
});

describe('providerOrder', () => {
  it('tries the platform accelerator first and CPU last', () => {
    assert.deepEqual(providerOrder('auto', 'linux', 'x64'), ['cuda', 'cpu']);
    assert.deepEqual(providerOrder('auto', 'linux', 'arm64'), ['cpu']);
    assert.deepEqual(providerOrder('auto', 'win32', 'x64'), ['dml', 'cpu']);
    assert.deepEqual(providerOrder('auto', 'darwin', 'arm64'), ['coreml', 'cpu']);
    assert.deepEqual(providerOrder('cpu', 'linux', 'x64'), ['cpu']);
    assert.deepEqual(providerOrder('webgpu', 'linux', 'x64'), ['webgpu', 'cpu']);
  });
});

describe('readModelFolder and createEncoder', () => {
  let root: string;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-folder-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  async function folder(name: string, files: Record<string, string>): Promise<string> {
    const dir = path.join(root, name);
    for (const [file, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await fs.writeFile(path.join(dir, file), content);
    }
    return dir;
  }
  const tokenizerJson = () => fs.readFile(path.join(demoTokenizerDir, 'tokenizer.json'), 'utf8');
  const tokenizerConfig = () => fs.readFile(path.join(demoTokenizerDir, 'tokenizer_config.json'), 'utf8');

  it('names the missing folder', async () => {
    const missing = path.join(root, 'nope');
    await assert.rejects(readModelFolder(missing), (error: Error) => error instanceof ModelFolderError && error.message.includes(missing));
  });

  it('names model.onnx and how to export one when it is missing', async () => {
    const dir = await folder('no-model', { 'tokenizer.json': '{}' });
    await assert.rejects(readModelFolder(dir), /No model\.safetensors, model\.safetensors\.index\.json or model\.onnx in .*optimum-cli export onnx/);
  });

  it('names a file that is not JSON', async () => {
    const dir = await folder('bad-json', { 'model.onnx': 'x', 'tokenizer.json': '{', 'config.json': '{}' });
    await assert.rejects(readModelFolder(dir), (error: Error) => error instanceof ModelFolderError && /tokenizer\.json is not a valid JSON object/.test(error.message));
  });

  it('accepts the transformers.js layout and prefers chat_template.jinja over tokenizer_config', async () => {
    const dir = await folder('tfjs', {
      'onnx/model.onnx': 'x',
      'tokenizer.json': '{}',
      'tokenizer_config.json': JSON.stringify({ chat_template: 'from config' }),
      'chat_template.jinja': 'from file',
      'config.json': JSON.stringify({ _name_or_path: 'org/some-rm' }),
    });
    const read = await readModelFolder(dir);
    assert.equal(onnxFile(read), path.join(dir, 'onnx', 'model.onnx'));
    assert.equal(read.chatTemplate, 'from file');
    assert.equal(read.name, 'org/some-rm');
  });

  it('pads with config pad_token_id, else EOS; truncates to the smallest limit', async () => {
    const withPad = await folder('with-pad', {
      'model.onnx': 'x',
      'tokenizer.json': await tokenizerJson(),
      'tokenizer_config.json': await tokenizerConfig(),
      'config.json': JSON.stringify({ pad_token_id: 32000, max_position_embeddings: 2048 }),
    });
    const encoder = await createEncoder(await readModelFolder(withPad), { maxLength: 8192 });
    assert.equal(encoder.padId, 32000);
    assert.equal(encoder.maxLength, 2048);
    assert.equal(encoder.format, 'tulu');

    const noConfig = await folder('no-config', { 'model.onnx': 'x', 'tokenizer.json': await tokenizerJson(), 'tokenizer_config.json': await tokenizerConfig() });
    const fallback = await createEncoder(await readModelFolder(noConfig), { maxLength: 100 });
    assert.equal(fallback.padId, 2, 'Llama-2 has no pad token: EOS (</s> = 2) is the fallback');
    assert.equal(fallback.maxLength, 100);
    assert.equal((await createEncoder(await readModelFolder(noConfig))).maxLength, DEFAULT_MAX_LENGTH);
  });

  it('feeds </s> as the EOS id even where the Llama-2 tokenizer would not find it in the text', async () => {
    const dir = await folder('eos', { 'model.onnx': 'x', 'tokenizer.json': await tokenizerJson(), 'tokenizer_config.json': await tokenizerConfig() });
    const encoder = await createEncoder(await readModelFolder(dir));
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const plain = new Tokenizer(JSON.parse(await tokenizerJson()), JSON.parse(await tokenizerConfig())).encode('4</s>').ids;
    assert.notEqual(plain.at(-1), 2, 'the quirk this works around: `</s>` after "4" is tokenized as text');
    const { ids } = encoder.encode([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '4' },
    ]);
    assert.equal(ids[0], 1);
    assert.notEqual(ids[1], 1, 'a single BOS');
    assert.equal(ids.at(-1), 2, 'the scored last token is EOS');
  });

  it('asks for an EOS token or chat template when the tulu format cannot be rendered', async () => {
    const dir = await folder('no-eos', { 'model.onnx': 'x', 'tokenizer.json': await tokenizerJson() });
    await assert.rejects(createEncoder(await readModelFolder(dir)), /no chat template and no EOS token/);
  });
});
