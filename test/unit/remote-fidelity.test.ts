// The remote clients against fakes that answer as each serving engine's source says, version by
// version (test/support/servingFakes.ts names the files mirrored): the rewards must be the model's
// logits, or a clear refusal, and over-long inputs must reach the server cut as the local engine
// cuts them.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createEncoder, createPairEncoder } from '../../src/engine/encoder';
import { knownScoreReward } from '../../scripts/modelkit/knownScoreModel';
import { readTokenizerFolder } from '../../src/engine/modelFolder';
import { renderTextPair, renderTulu } from '../../src/engine/promptFormat';
import { logitOf } from '../../src/engine/remote/protocols';
import { createRemoteScorer, type RemoteScorerOptions } from '../../src/engine/remote/remoteScorer';
import type { ScoreFailure, ScoreItem, ScoreResult, Scorer } from '../../src/engine/scorer';
import { demoTokenizerDir, serverEncode, serverTokenizer, teiFake, tritonFake, vllmFake, type FakeServer, type VllmVersion } from '../support/servingFakes';

const started: FakeServer[] = [];
after(() => Promise.all(started.map((server) => server.close())));
const keep = (server: FakeServer) => (started.push(server), server);

const words = (n: number, seed: string) => Array.from({ length: n }, (_, i) => `${seed}${i % 7 === 0 ? '.' : ''} word${i}`).join(' ');

const ITEMS: ScoreItem[] = Array.from({ length: 6 }, (_, i) => ({
  id: i,
  prompt: [{ role: 'user', content: `Question ${i}: how do I ${'bake '.repeat(i)}bread?` }],
  response: [{ role: 'assistant', content: `Answer ${i}: ${'knead and wait, '.repeat(i + 1)}then bake.` }],
}));
/** Far longer than the fakes' 64-token limit; its end ("THE END") is what must be judged. */
const LONG: ScoreItem = {
  id: 99,
  prompt: [{ role: 'user', content: words(80, 'Prompt') }],
  response: [{ role: 'assistant', content: `${words(60, 'Reply')} THE END` }],
};

async function scoreAll(scorer: Scorer, items: ScoreItem[]) {
  const results: ScoreResult[] = [];
  const failures: ScoreFailure[] = [];
  const stats = await scorer.score(items, { onResults: (r) => results.push(...r), onFailures: (f) => failures.push(...f) });
  return { rewards: new Map(results.map((r) => [r.id, r.reward])), failures, stats };
}

const remote = (options: Partial<RemoteScorerOptions> & Pick<RemoteScorerOptions, 'baseUrls' | 'protocol'>) => createRemoteScorer({ backoffMs: 5, timeoutMs: 5000, retries: 1, ...options });

/** The reward the fake model gives a text its server tokenizes whole. */
async function trueTuluReward(item: ScoreItem): Promise<number> {
  return Math.fround(knownScoreReward(await serverEncode(renderTulu([...item.prompt, ...item.response], '</s>'))));
}

describe('vLLM, version by version', () => {
  const versions: VllmVersion[] = ['0.9.2', '0.10.2', '0.11.0', '0.11.1'];
  for (const version of versions) {
    it(`${version}: the rewards are the model's logits, not probabilities`, async () => {
      const server = keep(await vllmFake({ version, maxModelLen: 4096 }));
      const scorer = remote({ baseUrls: [server.url], protocol: 'vllm' });
      const info = await scorer.load();
      assert.equal(info.server, `vLLM ${version}`);
      const recovered = version !== '0.11.1';
      assert.equal(info.notes?.some((note) => /sigmoid.*logit\(p\)/.test(note)) ?? false, recovered, 'the recovery is said where it happens');
      const { rewards, failures } = await scoreAll(scorer, ITEMS);
      assert.deepEqual(failures, []);
      for (const item of ITEMS) {
        const expected = await trueTuluReward(item);
        // Exact when vLLM returns the logit; float32 probability → logit otherwise.
        const tolerance = recovered ? 1e-5 * Math.max(1, Math.abs(expected)) : 0;
        assert.ok(Math.abs(rewards.get(item.id)! - expected) <= tolerance, `${version} item ${item.id}: ${rewards.get(item.id)} vs ${expected}`);
      }
      await scorer.dispose();
    });
  }

  it('refuses a server that does not say its version: a probability cannot be told from a reward', async () => {
    const server = keep(await vllmFake({ version: null, maxModelLen: 4096 }));
    await assert.rejects(remote({ baseUrls: [server.url], protocol: 'vllm' }).load(), /does not say which vLLM it is.*probability/);
  });

  it('recovers logit(p) to the precision of a float32 probability, and refuses a saturated one instead of guessing', () => {
    for (const x of [-12.5, -3.25, 0, 0.001, 2.75, 9.5]) {
      const p = Math.fround(1 / (1 + Math.exp(-x)));
      const y = logitOf(p) as number;
      // Half a float32 ulp of p, through d logit / dp = 1 / (p (1 − p)).
      assert.ok(Math.abs(y - x) <= 3e-8 * (2 + Math.exp(Math.abs(x))), `${x} → ${y}`);
    }
    assert.match((logitOf(1) as { error: string }).error, /no reward can be recovered.*0\.11\.1/);
    assert.match((logitOf(0) as { error: string }).error, /no reward can be recovered/);
  });

  it('an over-long input no longer fails its batch: without a tokenizer, vLLM is asked to keep the end', async () => {
    const server = keep(await vllmFake({ version: '0.11.1', maxModelLen: 64 }));
    const scorer = remote({ baseUrls: [server.url], protocol: 'vllm', batchSize: 16 });
    const info = await scorer.load();
    assert.ok(info.notes?.some((note) => /cut by vLLM to their last 64 tokens/.test(note)), JSON.stringify(info.notes));
    const { rewards, failures } = await scoreAll(scorer, [...ITEMS, LONG]);
    assert.deepEqual(failures, []);
    assert.equal(rewards.size, ITEMS.length + 1);
    const posts = server.seen.filter((r) => r.method === 'POST');
    assert.ok(posts.every((post) => post.body.truncate_prompt_tokens === 64));
  });

  it('with the tokenizer, an over-long input is cut here as the local engine cuts it, BOS kept, and vLLM reads those tokens', async () => {
    const server = keep(await vllmFake({ version: '0.11.1', maxModelLen: 64 }));
    const scorer = remote({ baseUrls: [server.url], protocol: 'vllm', tokenizerDir: demoTokenizerDir, maxLength: 64 });
    const { rewards, failures, stats } = await scoreAll(scorer, [LONG]);
    assert.deepEqual(failures, []);
    assert.equal(stats.truncated, 1);
    const encoder = await createEncoder(await readTokenizerFolder(demoTokenizerDir), { maxLength: 64 });
    const local = encoder.encodeText(renderTulu([...LONG.prompt, ...LONG.response], '</s>'));
    assert.equal(local.truncated, true);
    const [seen] = server.scoredIds;
    assert.deepEqual(seen, local.ids, 'the server tokenized exactly what the local engine keeps');
    assert.equal(rewards.get(LONG.id), Math.fround(knownScoreReward(local.ids)));
  });
});

describe('vLLM with a chat template that writes the BOS', () => {
  it('asks vLLM not to add a second BOS, so it reads the ids the local engine reads', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'plens-chat-'));
    after(() => rm(folder, { recursive: true, force: true }));
    await cp(demoTokenizerDir, folder, { recursive: true });
    const config = JSON.parse(await readFile(path.join(folder, 'tokenizer_config.json'), 'utf8'));
    config.chat_template = "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}";
    await writeFile(path.join(folder, 'tokenizer_config.json'), JSON.stringify(config));
    const server = keep(await vllmFake({ version: '0.11.1', maxModelLen: 4096 }));
    const { rewards, failures } = await scoreAll(remote({ baseUrls: [server.url], protocol: 'vllm', tokenizerDir: folder }), ITEMS.slice(0, 2));
    assert.deepEqual(failures, []);
    const encoder = await createEncoder(await readTokenizerFolder(folder));
    for (const [i, item] of ITEMS.slice(0, 2).entries()) {
      const local = encoder.encode([...item.prompt, ...item.response]).ids;
      assert.equal(local.filter((id) => id === 1).length, 1, 'one BOS locally');
      assert.deepEqual(server.scoredIds[i], local);
      assert.equal(rewards.get(item.id), Math.fround(knownScoreReward(local)));
    }
    assert.ok(server.seen.filter((r) => r.method === 'POST').every((post) => post.body.add_special_tokens === false));
  });
});

describe('Text Embeddings Inference', () => {
  const PAIR_ITEMS = [...ITEMS, LONG];

  it('accepts a one-label model, which TEI reports as a reranker (since 1.0)', async () => {
    const server = keep(await teiFake({ version: '1.9.2', maxInputLength: 512 }));
    const info = await remote({ baseUrls: [server.url], protocol: 'tei' }).load();
    assert.equal(info.model, 'OpenAssistant/reward-model-deberta-v3-large-v2');
    assert.equal(info.server, 'TEI 1.9.2');
  });

  it('refuses a model TEI serves as an embedding model, saying to use vLLM for decoder reward models', async () => {
    const server = keep(await teiFake({ version: '1.9.2', maxInputLength: 512, modelType: 'embedding' }));
    await assert.rejects(remote({ baseUrls: [server.url], protocol: 'tei' }).load(), /as an embedding model.*not as a classifier.*vLLM/);
  });

  for (const version of ['1.8.3', '1.9.2'] as const) {
    it(`${version}: an over-long pair is scored on its end (truncation asked for, from the left), not refused or cut at the response's end`, async () => {
      const server = keep(await teiFake({ version, maxInputLength: 64, maxClientBatchSize: 4 }));
      const { rewards, failures } = await scoreAll(remote({ baseUrls: [server.url], protocol: 'tei' }), PAIR_ITEMS);
      assert.deepEqual(failures, []);
      assert.equal(rewards.size, PAIR_ITEMS.length);
      const posts = server.seen.filter((r) => r.method === 'POST');
      assert.ok(posts.every((post) => post.body.inputs.length <= 4), 'batches within max_client_batch_size');
      const tokenizer = await serverTokenizer();
      const end = tokenizer.encode('THE END', { add_special_tokens: false }).ids;
      const longIds = server.scoredIds.find((ids) => ids.length === 64)!;
      const tail = longIds.slice(0, longIds.length).join(',');
      assert.ok(tail.includes(end.join(',')), 'the end of the response reached the model');
    });
  }

  it('with the tokenizer, the pair is cut here as the local engine cuts it, and TEI reads those tokens', async () => {
    const server = keep(await teiFake({ version: '1.9.2', maxInputLength: 64 }));
    const scorer = remote({ baseUrls: [server.url], protocol: 'tei', tokenizerDir: demoTokenizerDir, maxLength: 64 });
    const { rewards, failures, stats } = await scoreAll(scorer, [LONG]);
    assert.deepEqual(failures, []);
    assert.equal(stats.truncated, 1);
    const encoder = await createPairEncoder(await readTokenizerFolder(demoTokenizerDir), { maxLength: 64 });
    const local = encoder.encodePair(...renderTextPair(LONG.prompt, LONG.response));
    assert.deepEqual(server.scoredIds[0], local.ids);
    assert.equal(rewards.get(LONG.id), Math.fround(knownScoreReward(local.ids)));
  });
});

describe('Triton (KServe v2)', () => {
  it("keeps every request within the model's max_batch_size (4 from onnxruntime's auto-config)", async () => {
    const server = keep(await tritonFake({ maxBatchSize: 4 }));
    const scorer = remote({ baseUrls: [server.url], protocol: 'kserve', model: 'rm', tokenizerDir: demoTokenizerDir, batchSize: 64 });
    const info = await scorer.load();
    assert.equal(info.server, 'triton 2.59.0');
    const items = Array.from({ length: 3 }, (_, round) => ITEMS.map((item) => ({ ...item, id: item.id + 10 * round }))).flat();
    const { rewards, failures } = await scoreAll(scorer, items);
    assert.deepEqual(failures, []);
    const posts = server.seen.filter((r) => r.method === 'POST');
    assert.ok(posts.every((post) => post.body.inputs[0].shape[0] <= 4), JSON.stringify(posts.map((post) => post.body.inputs[0].shape)));
    const encoder = await createEncoder(await readTokenizerFolder(demoTokenizerDir));
    for (const item of items) assert.equal(rewards.get(item.id), Math.fround(knownScoreReward(encoder.encode([...item.prompt, ...item.response]).ids)));
  });
});
