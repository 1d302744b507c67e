// Hugging Face checkpoints scored by the engine equal what transformers' own classes computed for
// the same folders and token ids: the six reference models in ../shared/data/reference-rms (fp32
// and bf16 weights), and the project's fixtures in test/fixtures/hf-models (Qwen3, sliding windows,
// rope scaling, pad ids, sharded bf16, fp16…; made by scripts/hf-reference/make_fixtures.py). Each
// with the plain ONNX graph and with onnxruntime's fused operators. Then the quantized variants'
// fidelity against fp32, and the errors a broken folder gets.
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Precision } from '../../src/engine/hf/layers';
import { ScoringEngine } from '../../src/engine/scoringEngine';
import { writeDecoderCheckpoint } from '../support/checkpoint';

const repoRoot = path.resolve(__dirname, '..', '..');
const sharedReferences = path.resolve(repoRoot, '..', 'shared', 'data', 'reference-rms');
const projectFixtures = path.join(repoRoot, 'test', 'fixtures', 'hf-models');
const tokenizerDir = path.join(repoRoot, 'models', 'demo');

interface ReferenceRow {
  input_ids: number[];
  reward: number;
  mode: 'single' | 'batch';
}

let scratch: string;
before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-hf-ref-'));
});
after(() => fs.rm(scratch, { recursive: true, force: true }));

/**
 * A model folder as a user has it: the checkpoint's config and weights (linked, `weights` renamed to
 * model.safetensors when it is the bf16 copy) plus a tokenizer, which the engine needs to load
 * although these checks feed token ids.
 */
async function modelFolder(source: string, name: string, weights?: string): Promise<string> {
  const dir = path.join(scratch, name);
  await fs.mkdir(dir, { recursive: true });
  for (const file of readdirSync(source)) {
    if (file.endsWith('.safetensors') && weights !== undefined) continue;
    if (/^(config\.json|.*\.safetensors|model\.safetensors\.index\.json)$/.test(file)) await fs.symlink(path.join(source, file), path.join(dir, file));
  }
  if (weights !== undefined) await fs.symlink(path.join(source, weights), path.join(dir, 'model.safetensors'));
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerDir, file), path.join(dir, file));
  return dir;
}

/** Every single row alone, and the batch rows as one padded batch (batch budget large enough). */
async function scoreRows(dir: string, rows: ReferenceRow[], options: { fusedOps?: boolean; variant?: Precision } = {}) {
  const engine = await ScoringEngine.load({ modelDir: dir, device: 'cpu', batchTokens: 1_000_000, fusedOps: options.fusedOps, variant: options.variant ?? 'fp32', threads: 2 });
  try {
    const single = rows.filter((row) => row.mode === 'single');
    const batch = rows.filter((row) => row.mode === 'batch');
    const singleRewards: number[] = [];
    for (const row of single) singleRewards.push(...(await engine.scoreTokenIds([row.input_ids])));
    const batchRewards = batch.length > 0 ? await engine.scoreTokenIds(batch.map((row) => row.input_ids)) : [];
    return { engine: engine.info, single, singleRewards, batch, batchRewards };
  } finally {
    await engine.dispose();
  }
}

function assertMatches(label: string, rows: ReferenceRow[], rewards: number[], tolerance: number): void {
  rows.forEach((row, i) => {
    const difference = Math.abs(rewards[i] - row.reward);
    assert.ok(difference <= tolerance, `${label} row ${i} (${row.mode}, ${row.input_ids.length} ids): ${rewards[i]} vs transformers ${row.reward} (|Δ| ${difference.toExponential(2)} > ${tolerance})`);
  });
}

const readRows = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as ReferenceRow[];

describe('the shared reference models (transformers 4.49 outputs)', { skip: existsSync(sharedReferences) ? false : `${sharedReferences} is absent (only in this project's workspace and CI)` }, () => {
  const architectures = existsSync(sharedReferences) ? readdirSync(sharedReferences).filter((name) => existsSync(path.join(sharedReferences, name, 'config.json'))) : [];
  it('has the six architectures real reward models use', () => {
    assert.deepEqual(architectures.sort(), ['deberta-v2', 'gemma2', 'gpt-neox', 'llama', 'mistral', 'qwen2']);
  });
  for (const architecture of architectures) {
    const source = path.join(sharedReferences, architecture);
    for (const [weights, expected, tolerance] of [
      [undefined, 'expected.json', 1e-4],
      ['model.bf16.safetensors', 'expected.bf16.json', 1e-3],
    ] as const) {
      for (const fusedOps of [false, true]) {
        const label = `${architecture} ${weights ? 'bf16' : 'fp32'} weights, ${fusedOps ? 'fused' : 'plain'} operators`;
        it(`${label}: every row within ${tolerance}`, async () => {
          const dir = await modelFolder(source, `${architecture}-${weights ? 'bf16' : 'fp32'}-${fusedOps}`, weights);
          const result = await scoreRows(dir, readRows(path.join(source, expected)), { fusedOps });
          assert.equal(result.single.length, 18);
          assert.equal(result.batch.length, 12);
          assertMatches(label, result.single, result.singleRewards, tolerance);
          assertMatches(label, result.batch, result.batchRewards, tolerance);
        });
      }
    }
  }
});

describe("the project's own transformers fixtures", () => {
  const cases = readdirSync(projectFixtures).filter((name) => existsSync(path.join(projectFixtures, name, 'expected.json')));
  it('cover Qwen3, sliding windows, rope scaling, pad ids, shards and dtypes', () => {
    for (const name of ['qwen3', 'mistral-sliding', 'qwen2-sliding', 'gemma2-sliding', 'llama-rope-llama3', 'llama-pad-null', 'llama-pad-eos', 'llama-bf16-sharded', 'qwen2-fp16', 'deberta-v2-buckets', 'gpt-neox-sequential']) {
      assert.ok(cases.includes(name), `missing fixture ${name}`);
    }
  });
  for (const name of cases) {
    for (const fusedOps of [false, true]) {
      it(`${name}, ${fusedOps ? 'fused' : 'plain'} operators: every row within 1e-4`, async () => {
        const dir = await modelFolder(path.join(projectFixtures, name), `fixture-${name}-${fusedOps}`);
        const rows = readRows(path.join(projectFixtures, name, 'expected.json'));
        const result = await scoreRows(dir, rows, { fusedOps });
        assertMatches(name, result.single, result.singleRewards, 1e-4);
        assertMatches(name, result.batch, result.batchRewards, 1e-4);
        if (name === 'llama-pad-null') {
          // transformers refuses batches for this config; the engine batches them and must agree with each alone.
          const together = await (async () => {
            const engine = await ScoringEngine.load({ modelDir: dir, device: 'cpu', batchTokens: 1_000_000, variant: 'fp32', fusedOps });
            try {
              return await engine.scoreTokenIds(result.single.map((row) => row.input_ids));
            } finally {
              await engine.dispose();
            }
          })();
          assertMatches(`${name} batched`, result.single, together, 1e-4);
        }
      });
    }
  }
});

describe('quantized variants, against fp32 of the same checkpoint', () => {
  const sources = existsSync(sharedReferences) ? ['llama', 'qwen2', 'gemma2', 'gpt-neox', 'deberta-v2', 'mistral'].map((a) => path.join(sharedReferences, a)) : [path.join(projectFixtures, 'qwen3')];
  for (const precision of ['int8', 'int4'] as const) {
    it(`${precision}: rewards stay close (error relative to the reward spread), and a batch scores as each row alone`, async () => {
      const bound = precision === 'int8' ? 0.05 : 0.2;
      for (const source of sources) {
        const dir = await modelFolder(source, `quant-${precision}-${path.basename(source)}`);
        const rows = readRows(path.join(source, 'expected.json'));
        const exact = await scoreRows(dir, rows);
        const quantized = await scoreRows(dir, rows, { variant: precision });
        assert.equal(quantized.engine.precision, precision);
        const spread = Math.max(...exact.singleRewards) - Math.min(...exact.singleRewards);
        const errors = quantized.singleRewards.map((reward, i) => Math.abs(reward - exact.singleRewards[i]) / spread);
        assert.ok(Math.max(...errors) < bound, `${path.basename(source)} ${precision}: max error ${Math.max(...errors).toFixed(4)} of the spread`);
        // Activations are quantized per row (int8) or per block of a row (int4), never across the batch:
        // a batch changes a reward by float noise only. (int4's kernel takes another path for a single
        // row, which moves rewards by ~1e-4 — not the 1e-2 that per-tensor quantization moved them.)
        const batchTolerance = precision === 'int8' ? 1e-5 : 1e-3 * spread;
        const singleOfBatchRows = quantized.single.map((row, i) => ({ ids: row.input_ids.join(), reward: quantized.singleRewards[i] }));
        quantized.batch.forEach((row, i) => {
          const alone = singleOfBatchRows.find((single) => single.ids === row.input_ids.join());
          if (alone) assert.ok(Math.abs(alone.reward - quantized.batchRewards[i]) < batchTolerance, `${path.basename(source)} ${precision}: batch row ${i} ${quantized.batchRewards[i]} vs alone ${alone.reward}`);
        });
      }
    });
  }
});

describe('checkpoint folders that cannot be scored say why', () => {
  const load = (modelDir: string) => ScoringEngine.load({ modelDir, device: 'cpu', variant: 'fp32' });
  const tinyLlama = async (name: string) => {
    const dir = path.join(scratch, name);
    writeDecoderCheckpoint(dir, { modelType: 'llama', vocabSize: 32000, hiddenSize: 32, intermediateSize: 64, layers: 1, heads: 2, kvHeads: 2, maxPositions: 64, padTokenId: 0 });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(tokenizerDir, file), path.join(dir, file));
    return dir;
  };

  it('an unknown architecture names the supported ones', async () => {
    const dir = await tinyLlama('unknown-arch');
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['FalconForSequenceClassification'] }));
    await assert.rejects(load(dir), /"FalconForSequenceClassification"; Preference Lens runs LlamaForSequenceClassification, MistralForSequenceClassification, Qwen2ForSequenceClassification, Qwen3ForSequenceClassification, Gemma2ForSequenceClassification, GPTNeoXForSequenceClassification, DebertaV2ForSequenceClassification/);
  });

  it('a causal LM (not a classifier) is told what a reward model is', async () => {
    const dir = await tinyLlama('causal-lm');
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['LlamaForCausalLM'] }));
    await assert.rejects(load(dir), /A reward model is a sequence classifier/);
  });

  it('pytorch_model.bin is refused (unpickling runs code), with how to convert it', async () => {
    const dir = path.join(scratch, 'pickle');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForSequenceClassification'] }));
    await fs.writeFile(path.join(dir, 'pytorch_model.bin'), 'not read');
    await fs.copyFile(path.join(tokenizerDir, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    await assert.rejects(load(dir), (error: Error) => {
      assert.match(error.message, /pytorch_model\.bin is a PyTorch pickle, which Preference Lens does not load/);
      assert.match(error.message, /safe_serialization=True/);
      return true;
    });
  });

  it('a truncated safetensors file names the file', async () => {
    const dir = await tinyLlama('truncated');
    const file = path.join(dir, 'model.safetensors');
    const { size } = await fs.stat(file);
    await fs.truncate(file, size - 100);
    await assert.rejects(load(dir), (error: Error) => {
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, /truncated download/);
      return true;
    });
  });

  it('a config that does not fit the weights names the tensor and both shapes', async () => {
    const dir = await tinyLlama('wrong-shape');
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, intermediate_size: 96 }));
    await assert.rejects(load(dir), /Tensor model\.layers\.0\.mlp\.gate_proj\.weight in .* has shape \[64, 32\], but config\.json implies \[96, 32\]/);
  });
});
