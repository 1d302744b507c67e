// Remote scorers against in-process HTTP servers that speak vLLM's /classify, TEI's /predict and
// KServe v2's /infer as documented: results, batching, auth, retries, timeouts and failures.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createEncoder } from '../../src/engine/encoder';
import { knownScoreReward } from '../../scripts/modelkit/knownScoreModel';
import { readTokenizerFolder } from '../../src/engine/modelFolder';
import { renderTulu } from '../../src/engine/promptFormat';
import { createScorer, parseEndpoint, REMOTE_TOKEN_ENV } from '../../src/engine/createScorer';
import { createRemoteScorer, type RemoteScorerOptions } from '../../src/engine/remote/remoteScorer';
import type { ScoreFailure, ScoreItem, ScoreResult, Scorer } from '../../src/engine/scorer';

const demoTokenizerDir = path.resolve(__dirname, '..', '..', 'models', 'demo');
const TOKEN = 'sk-test-7f3a9c';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  body: any;
}
type Handler = (request: Seen, response: ServerResponse) => void | Promise<void>;

const servers: Array<{ close(): void; closeAllConnections(): void }> = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(handler: Handler): Promise<{ url: string; seen: Seen[]; inFlight: { now: number; max: number } }> {
  const seen: Seen[] = [];
  const inFlight = { now: 0, max: 0 };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request: Seen = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body: text ? JSON.parse(text) : undefined };
    seen.push(request);
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    res.on('close', () => inFlight.now--);
    await handler(request, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, inFlight };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ITEMS: ScoreItem[] = Array.from({ length: 7 }, (_, i) => ({
  id: 100 + i,
  prompt: [{ role: 'user', content: `Question ${i}?` }],
  response: [{ role: 'assistant', content: i === 3 ? 'FAIL please' : `Answer ${'x'.repeat(i)}` }],
}));
/** What the fake vLLM returns for a text: deterministic, different per item. */
const fakeReward = (text: string) => text.length / 10 - 3;

async function scoreAll(scorer: Scorer, items: ScoreItem[] = ITEMS) {
  const results: ScoreResult[] = [];
  const failures: ScoreFailure[] = [];
  const stats = await scorer.score(items, { onResults: (r) => results.push(...r), onFailures: (f) => failures.push(...f) });
  return { rewards: new Map(results.map((r) => [r.id, r.reward])), failures, stats };
}

/** A vLLM server; `classify` can misbehave per request. */
function vllm(classify: (request: Seen, res: ServerResponse) => boolean | Promise<boolean> = () => false) {
  return serve(async (request, res) => {
    if (request.method === 'GET' && request.url === '/version') return json(res, 200, { version: '0.11.1' });
    if (request.method === 'GET' && request.url === '/v1/models') {
      return json(res, 200, { object: 'list', data: [{ id: 'allenai/tulu-v2.5-13b-uf-rm', object: 'model', owned_by: 'vllm' }] });
    }
    if (request.method === 'POST' && request.url === '/classify') {
      if (await classify(request, res)) return;
      const inputs: string[] = request.body.input;
      // Reversed on purpose: clients must place results by "index", not by position.
      const data = inputs.map((text, index) => ({ index, label: 'LABEL_0', probs: [fakeReward(text)], num_classes: 1 })).reverse();
      return json(res, 200, { id: 'classify-1', object: 'list', created: 1, model: request.body.model, data, usage: { prompt_tokens: 1, total_tokens: 1 } });
    }
    json(res, 404, { detail: 'Not Found' });
  });
}

const remote = (url: string, extra: Partial<RemoteScorerOptions> = {}) =>
  createRemoteScorer({ baseUrls: [url], protocol: 'vllm', token: TOKEN, backoffMs: 5, timeoutMs: 5000, ...extra });

describe('vLLM /classify', () => {
  it('sends the tulu text with use_activation false and the bearer token, within the concurrency limit', async () => {
    const server = await vllm(async () => {
      await delay(30); // long enough for requests to overlap
      return false;
    });
    const scorer = remote(server.url, { batchSize: 2, concurrency: 2 });
    const info = await scorer.load();
    assert.equal(info.model, 'allenai/tulu-v2.5-13b-uf-rm');
    assert.equal(info.template, 'tulu');
    const { rewards, failures, stats } = await scoreAll(scorer);
    assert.deepEqual(failures, []);
    for (const item of ITEMS) assert.equal(rewards.get(item.id), fakeReward(renderTulu([...item.prompt, ...item.response], '</s>')));
    const posts = server.seen.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 4);
    assert.equal(stats.modelCalls, 4);
    for (const post of posts) {
      assert.equal(post.body.model, 'allenai/tulu-v2.5-13b-uf-rm');
      assert.equal(post.body.use_activation, false);
      assert.ok(post.body.input.length <= 2);
    }
    assert.ok(server.seen.every((r) => r.authorization === `Bearer ${TOKEN}`), 'every request carries the token');
    assert.equal(server.inFlight.max, 2, 'two requests at a time, no more');
  });

  it('waits as long as Retry-After says after a 429, then succeeds', async () => {
    let refused = false;
    const server = await vllm((_, res) => {
      if (refused) return false;
      refused = true;
      json(res, 429, { error: 'rate limited' }, { 'retry-after': '1' });
      return true;
    });
    const started = performance.now();
    const { rewards, failures } = await scoreAll(remote(server.url, { batchSize: 100 }));
    const waited = performance.now() - started;
    assert.deepEqual(failures, []);
    assert.equal(rewards.size, ITEMS.length);
    assert.ok(waited >= 950, `honoured Retry-After: 1 (backoff alone is 5 ms), waited ${waited} ms`);
    assert.equal(server.seen.filter((r) => r.method === 'POST').length, 2);
  });

  it('reports the items of a request that keeps failing with 500, without the token, and scores the rest', async () => {
    const server = await vllm((request, res) => {
      if (!request.body.input.some((text: string) => text.includes('FAIL'))) return false;
      // A careless server echoing the request headers: the token must not reach the user.
      json(res, 500, { error: `boom (auth was ${request.authorization})` });
      return true;
    });
    const { rewards, failures, stats } = await scoreAll(remote(server.url, { batchSize: 2, retries: 2 }));
    const failedIds = failures.map((f) => f.id).sort();
    assert.deepEqual(failedIds, [102, 103], 'the batch holding item 103');
    for (const failure of failures) {
      assert.match(failure.error, /500.*after 3 attempts/);
      assert.ok(!failure.error.includes(TOKEN), failure.error);
    }
    assert.equal(rewards.size, ITEMS.length - 2);
    for (const id of failedIds) assert.equal(rewards.has(id), false, 'a failure is never a score');
    assert.equal(stats.failed, 2);
    assert.equal(stats.items, ITEMS.length - 2);
    const failingPosts = server.seen.filter((r) => r.method === 'POST' && r.body.input.some((t: string) => t.includes('FAIL')));
    assert.equal(failingPosts.length, 3, 'first try + 2 retries');
  });

  it('gives up on a server that does not answer in time', async () => {
    const server = await vllm(async (request) => {
      if (request.body.input.some((text: string) => text.includes('FAIL'))) {
        await delay(2000);
        return false;
      }
      return false;
    });
    const { failures, rewards } = await scoreAll(remote(server.url, { batchSize: 1, retries: 1, timeoutMs: 150 }));
    assert.deepEqual(failures.map((f) => f.id), [103]);
    assert.match(failures[0].error, /did not answer within 150 ms.*after 2 attempts/);
    assert.equal(rewards.size, ITEMS.length - 1);
  });

  it('ends the job on 401 with a hint about the token, never the token itself', async () => {
    const server = await vllm((request, res) => {
      json(res, 401, { error: `invalid token ${request.authorization}` });
      return true;
    });
    await assert.rejects(scoreAll(remote(server.url)), (error: Error) => {
      assert.match(error.message, /401.*access token/);
      assert.ok(!error.message.includes(TOKEN), error.message);
      return true;
    });
    assert.equal(server.seen.filter((r) => r.method === 'POST').length, 1, '401 is not retried');
  });

  it('rejects with AbortError when cancelled mid-request', async () => {
    const server = await vllm(async () => {
      await delay(5000);
      return false;
    });
    const controller = new AbortController();
    const scorer = remote(server.url);
    await scorer.load();
    const job = scorer.score(ITEMS, { signal: controller.signal, onResults: () => assert.fail('no results after cancel') });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(job, { name: 'AbortError' });
  });

  it('takes the token from PLENS_REMOTE_TOKEN through createScorer', async () => {
    const server = await vllm();
    process.env[REMOTE_TOKEN_ENV] = 'from-env';
    try {
      const scorer = createScorer({ model: `${server.url}/classify`, workerPath: 'unused' });
      await scoreAll(scorer, ITEMS.slice(0, 1));
      assert.ok(server.seen.every((r) => r.authorization === 'Bearer from-env'));
    } finally {
      delete process.env[REMOTE_TOKEN_ENV];
    }
  });
});

describe('TEI /predict', () => {
  it('sends (prompt, response) pairs with raw_scores, in batches of the server’s max_client_batch_size', async () => {
    const server = await serve((request, res) => {
      if (request.method === 'GET' && request.url === '/info') {
        return json(res, 200, {
          model_id: 'OpenAssistant/reward-model-deberta-v3-large-v2',
          model_dtype: 'float16',
          model_type: { classifier: { id2label: { '0': 'LABEL_0' } } },
          max_concurrent_requests: 512,
          max_input_length: 512,
          max_batch_tokens: 16384,
          max_client_batch_size: 3,
          version: '1.5.0',
        });
      }
      if (request.method === 'POST' && request.url === '/predict') {
        assert.equal(request.body.raw_scores, true);
        return json(res, 200, request.body.inputs.map(([prompt, response]: [string, string]) => [{ score: prompt.length - response.length, label: 'LABEL_0' }]));
      }
      json(res, 404, {});
    });
    const scorer = createRemoteScorer({ baseUrls: [server.url], protocol: 'tei', batchSize: 16 });
    const info = await scorer.load();
    assert.equal(info.model, 'OpenAssistant/reward-model-deberta-v3-large-v2');
    assert.equal(info.template, 'text-pair');
    const { rewards, failures } = await scoreAll(scorer);
    assert.deepEqual(failures, []);
    for (const item of ITEMS) assert.equal(rewards.get(item.id), item.prompt[0].content.length - item.response[0].content.length);
    const posts = server.seen.filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((p) => p.body.inputs.length), [3, 3, 1]);
    assert.deepEqual(posts[0].body.inputs[0], ['Question 0?', 'Answer ']);
    assert.equal(server.seen[0].authorization, undefined, 'no token, no header');
  });
});

describe('KServe v2 /infer', () => {
  it('tokenizes here and sends INT64 input_ids and attention_mask; reads the logits output', async () => {
    const server = await serve((request, res) => {
      if (request.method === 'GET' && request.url === '/v2/models/rm') {
        return json(res, 200, {
          name: 'rm',
          versions: ['1'],
          platform: 'onnxruntime_onnx',
          inputs: [
            { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
            { name: 'attention_mask', datatype: 'INT64', shape: [-1, -1] },
          ],
          outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 1] }],
        });
      }
      if (request.method === 'POST' && request.url === '/v2/models/rm/infer') {
        const [ids, mask] = request.body.inputs;
        assert.deepEqual([ids.name, ids.datatype, mask.name, mask.datatype], ['input_ids', 'INT64', 'attention_mask', 'INT64']);
        assert.deepEqual(request.body.outputs, [{ name: 'logits' }]);
        const [rows, width] = ids.shape;
        const data = Array.from({ length: rows }, (_, r) => {
          const row = ids.data.slice(r * width, (r + 1) * width).filter((_: number, c: number) => mask.data[r * width + c] === 1);
          return knownScoreReward(row);
        });
        return json(res, 200, { model_name: 'rm', model_version: '1', outputs: [{ name: 'logits', datatype: 'FP32', shape: [rows, 1], data }] });
      }
      json(res, 404, { error: 'no such model' });
    });
    // The tokenizer folder has no model.onnx: the model lives on the server.
    const scorer = createScorer({ model: `${server.url}/v2/models/rm/infer`, workerPath: 'unused', remote: { tokenizerDir: demoTokenizerDir, batchTokens: 64 } });
    assert.equal((await scorer.load()).model, 'rm');
    const { rewards, failures, stats } = await scoreAll(scorer);
    assert.deepEqual(failures, []);
    const encoder = await createEncoder(await readTokenizerFolder(demoTokenizerDir));
    for (const item of ITEMS) assert.equal(rewards.get(item.id), knownScoreReward(encoder.encode([...item.prompt, ...item.response]).ids));
    assert.ok((stats.modelCalls ?? 0) > 1, 'the token budget split the items over several requests');
  });

  it('fails the load with what to check when the model is not there', async () => {
    const server = await serve((_, res) => json(res, 404, { error: 'Request for unknown model: missing' }));
    const scorer = createScorer({ model: `${server.url}/v2/models/missing`, workerPath: 'unused', remote: { tokenizerDir: demoTokenizerDir } });
    await assert.rejects(scorer.load(), /404.*unknown model/);
  });
});

describe('parseEndpoint', () => {
  it('reads the protocol and model from the API path, else uses the fallback', () => {
    assert.deepEqual(parseEndpoint('http://h:8000/classify'), { baseUrl: 'http://h:8000', protocol: 'vllm' });
    assert.deepEqual(parseEndpoint('https://h/tei/predict'), { baseUrl: 'https://h/tei', protocol: 'tei' });
    assert.deepEqual(parseEndpoint('http://h:8000/v2/models/my%20rm/infer'), { baseUrl: 'http://h:8000', protocol: 'kserve', model: 'my rm' });
    assert.deepEqual(parseEndpoint('http://h:8000/'), { baseUrl: 'http://h:8000', protocol: 'vllm' });
    assert.deepEqual(parseEndpoint('http://h:8000', 'tei'), { baseUrl: 'http://h:8000', protocol: 'tei' });
  });

  it('refuses a protocol that contradicts the URL', () => {
    assert.throws(() => createScorer({ model: 'http://h/predict', workerPath: 'unused', remote: { protocol: 'vllm' } }), /looks like a tei endpoint/);
  });
});
