/**
 * Corrupt or truncated model folders (issue 6 item 5): the known-score demo model is built into a
 * temp dir, and copies of it get a damaged model.onnx, tokenizer.json, tokenizer_config.json or
 * config.json (missing, empty, cut short, garbage, flipped bytes, the wrong JSON shape, nested
 * 100k deep). Each copy is loaded and scored through the real worker scorer (createScorer, as the
 * extension and `plens` do). For every case:
 *
 * - this process survives (a native abort in onnxruntime would end it, and the run with it);
 * - load + score settle within a time bound — no hang;
 * - a required file that is damaged is an error, and every error names the file it is about
 *   (its path or its name), so a user knows what to fix.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createScorer } from '../../src/engine/createScorer';
import { buildKnownScoreModel } from '../../scripts/modelkit/knownScoreModel';
import type { ScoreItem } from '../../src/engine/scorer';
import { buildWorkerBundle } from '../support/workerBundle';

const repoRoot = path.resolve(__dirname, '..', '..');
const SETTLE_MS = 60_000;
const ITEM: ScoreItem = { id: 1, prompt: [{ role: 'user', content: 'What is 2+2?' }], response: [{ role: 'assistant', content: '4' }] };

let scratch: string;
let workerPath: string;
let goodModel: string;

before(async () => {
  ({ scratch: scratch, workerPath: workerPath } = await buildWorkerBundle('fuzz-model'));
  goodModel = path.join(scratch, 'good');
  await buildKnownScoreModel({ tokenizerDir: path.join(repoRoot, 'models', 'demo'), outDir: goodModel });
});

after(() => fs.rm(scratch, { recursive: true, force: true }));

type Damage = (bytes: Buffer) => Buffer | undefined;

/** Deterministic pseudo-random bytes, so a failure reproduces. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function flip(count: number, seed: number): Damage {
  return (bytes) => {
    const copy = Buffer.from(bytes);
    const positions = noise(count * 4, seed);
    for (let i = 0; i < count; i++) copy[positions.readUInt32LE(i * 4) % copy.length] ^= 0xff;
    return copy;
  };
}

/** `undefined` deletes the file. */
const DAMAGE: Record<string, Damage> = {
  missing: () => undefined,
  empty: () => Buffer.alloc(0),
  'one byte': (b) => b.subarray(0, 1),
  'cut in half': (b) => b.subarray(0, Math.floor(b.length / 2)),
  'last byte cut': (b) => b.subarray(0, b.length - 1),
  garbage: (b) => noise(Math.max(64, Math.min(b.length, 4096)), 7),
  'flipped bytes': flip(16, 11),
  'flipped bytes (more)': flip(256, 13),
};

const JSON_DAMAGE: Record<string, Damage> = {
  'JSON null': () => Buffer.from('null'),
  'JSON array': () => Buffer.from('[]'),
  'JSON string': () => Buffer.from('"tokenizer"'),
  'empty object': () => Buffer.from('{}'),
  'wrong types': () => Buffer.from(JSON.stringify({ model: 5, added_tokens: 'x', normalizer: [], pre_tokenizer: 1, max_position_embeddings: 'many', pad_token_id: -1, chat_template: 7, bos_token: { content: 3 } })),
  'nested 100k deep': () => Buffer.from(`{"model":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
  'UTF-16 with BOM': (b) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(b.toString('utf8'), 'utf16le')]),
};

/** Files that a working model folder must have intact; the others are optional extras. */
const REQUIRED = new Set(['model.onnx', 'tokenizer.json']);

interface Outcome {
  file: string;
  damage: string;
  result: 'scored' | 'error';
  message?: string;
  reward?: number;
  ms: number;
}

async function runCase(file: string, damageName: string, damage: Damage, index: number): Promise<Outcome> {
  const dir = path.join(scratch, `case-${index}`);
  await fs.cp(goodModel, dir, { recursive: true });
  const target = path.join(dir, file);
  const damaged = damage(await fs.readFile(target));
  if (damaged === undefined) await fs.rm(target);
  else await fs.writeFile(target, damaged);

  const started = Date.now();
  const scorer = createScorer({ model: dir, workerPath, device: 'cpu', maxRestarts: 1, restartBackoffMs: 50 });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${file} ${damageName}: load + score did not settle in ${SETTLE_MS} ms`)), SETTLE_MS);
  });
  try {
    const run = (async () => {
      await scorer.load();
      let reward: number | undefined;
      await scorer.score([ITEM], { onResults: (results) => (reward = results[0]?.reward) });
      return reward;
    })();
    const reward = await Promise.race([run, timeout]);
    return { file, damage: damageName, result: 'scored', reward, ms: Date.now() - started };
  } catch (error) {
    if ((error as Error).message.includes('did not settle')) throw error;
    assert.ok(error instanceof Error, `${file} ${damageName}: rejected with a non-Error: ${String(error)}`);
    return { file, damage: damageName, result: 'error', message: error.message, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
    await scorer.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const CASES: [string, Record<string, Damage>][] = [
  ['model.onnx', DAMAGE],
  ['tokenizer.json', { ...DAMAGE, ...JSON_DAMAGE }],
  ['tokenizer_config.json', { ...DAMAGE, ...JSON_DAMAGE }],
  ['config.json', { ...DAMAGE, ...JSON_DAMAGE }],
];

test('a damaged model folder is a clear error naming the file, never a crash or a hang', { timeout: 20 * 60_000 }, async () => {
  const outcomes: Outcome[] = [];
  let index = 0;
  for (const [file, damages] of CASES) {
    for (const [name, damage] of Object.entries(damages)) outcomes.push(await runCase(file, name, damage, index++));
  }
  console.log(
    outcomes
      .map((o) => `  ${o.file} / ${o.damage}: ${o.result === 'scored' ? `scored ${o.reward}` : `error: ${o.message!.slice(0, 160).replace(/\n/g, ' ')}`} (${o.ms} ms)`)
      .join('\n'),
  );
  const problems: string[] = [];
  for (const o of outcomes) {
    // Flipped bytes may land in weights or unused fields and still give a model that loads; a
    // missing optional file is fine. Everything else about a required file must fail loudly.
    const mayLoad = !REQUIRED.has(o.file) || o.damage.startsWith('flipped');
    if (o.result === 'scored' && !mayLoad) problems.push(`${o.file} / ${o.damage}: loaded and scored (${o.reward}) instead of failing`);
    if (o.result === 'scored' && o.reward !== undefined && !Number.isFinite(o.reward) && REQUIRED.has(o.file)) {
      problems.push(`${o.file} / ${o.damage}: scored ${o.reward}, which is not a number`);
    }
    if (o.result === 'error' && !o.message!.includes(o.file)) problems.push(`${o.file} / ${o.damage}: the error does not name the file: ${o.message!.slice(0, 300)}`);
  }
  assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
});
