// One model on several endpoints: the work is shared by pulling from one queue, an endpoint that
// dies hands its requests to the others, a refused request is tried elsewhere once, and every item
// is reported exactly once — a reward or a failure, never both, never twice.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createScorer, endpointList } from '../../src/engine/createScorer';
import { renderTulu } from '../../src/engine/promptFormat';
import { createRemoteScorer } from '../../src/engine/remote/remoteScorer';
import type { ScoreFailure, ScoreItem, ScoreResult } from '../../src/engine/scorer';
import { json, lightReward, lightVllmFake, serve, type FakeServer } from '../support/servingFakes';

const started: FakeServer[] = [];
after(() => Promise.all(started.map((server) => server.close())));
async function keep<T extends FakeServer>(server: Promise<T>): Promise<T> {
  const s = await server;
  started.push(s);
  return s;
}

const items = (n: number): ScoreItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: i, prompt: [{ role: 'user', content: `Question ${i}` }], response: [{ role: 'assistant', content: `Answer ${i}` }] }));
const expected = (item: ScoreItem) => lightReward(renderTulu([...item.prompt, ...item.response], '</s>'));

async function run(urls: string[], list: ScoreItem[], extra: Record<string, unknown> = {}) {
  const scorer = createRemoteScorer({ baseUrls: urls, protocol: 'vllm', backoffMs: 5, retries: 1, timeoutMs: 5000, batchSize: 8, concurrency: 2, ...extra });
  const info = await scorer.load();
  const results: ScoreResult[] = [];
  const failures: ScoreFailure[] = [];
  const stats = await scorer.score(list, { onResults: (r) => results.push(...r), onFailures: (f) => failures.push(...f) });
  await scorer.dispose();
  return { info, results, failures, stats };
}

/** Every item reported once, with its right reward. */
function assertExactlyOnce(list: ScoreItem[], results: ScoreResult[], failures: ScoreFailure[]) {
  assert.deepEqual(failures, []);
  assert.equal(results.length, list.length, 'no item reported twice');
  const byId = new Map(results.map((r) => [r.id, r.reward]));
  assert.equal(byId.size, list.length);
  for (const item of list) assert.equal(byId.get(item.id), expected(item));
}

describe('several endpoints of one model', () => {
  it('shares the work by pulling: the faster endpoint takes more, every item once', async () => {
    const fast = await keep(lightVllmFake({ latencyMs: 5 }));
    const slow = await keep(lightVllmFake({ latencyMs: 60 }));
    const list = items(400);
    const { results, failures, stats, info } = await run([fast.url, slow.url], list);
    assertExactlyOnce(list, results, failures);
    assert.match(info.device, /remote vllm \(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\)/);
    const [a, b] = stats.endpoints!;
    assert.equal(a.items + b.items, 400);
    assert.ok(a.items > 2 * b.items, `fast ${a.items} vs slow ${b.items}`);
    assert.equal(fast.answered + slow.answered, 400, 'no input sent twice');
  });

  it('an endpoint that dies midway hands its requests to the others', async () => {
    const steady = await keep(lightVllmFake({ latencyMs: 10 }));
    const dying = await keep(lightVllmFake({ latencyMs: 10, dieAfter: 5 }));
    const list = items(600);
    const { results, failures, stats } = await run([steady.url, dying.url], list);
    assertExactlyOnce(list, results, failures);
    const dead = stats.endpoints!.find((e) => e.url === dying.url)!;
    assert.ok(dead.down, 'reported down');
    assert.ok(dead.items > 0 && dead.items <= 5 * 8, `it answered ${dead.items} before dying`);
  });

  it('an endpoint down from the start is left out, with a note', async () => {
    const up = await keep(lightVllmFake({ latencyMs: 1 }));
    const gone = await keep(lightVllmFake({ latencyMs: 1 }));
    await gone.close();
    const list = items(50);
    const { results, failures, info, stats } = await run([up.url, gone.url], list);
    assertExactlyOnce(list, results, failures);
    assert.ok(info.notes?.some((note) => note.startsWith(`${gone.url} is down and left out`)), JSON.stringify(info.notes));
    assert.equal(stats.endpoints!.find((e) => e.url === up.url)!.items, 50);
  });

  it('a request one endpoint refuses is tried on another before its items fail', async () => {
    const picky = await keep(
      serve((request, res) => {
        if (request.url === '/version') return json(res, 200, { version: '0.11.1' });
        if (request.url === '/v1/models') return json(res, 200, { data: [{ id: 'allenai/tulu-v2.5-13b-hh-rlhf-60k-rm', max_model_len: 4096 }] });
        json(res, 500, { object: 'error', message: 'CUDA out of memory' });
      }),
    );
    const good = await keep(lightVllmFake({ latencyMs: 20 }));
    const list = items(40);
    const { results, failures, stats } = await run([picky.url, good.url], list);
    assertExactlyOnce(list, results, failures);
    assert.ok(stats.endpoints!.find((e) => e.url === picky.url)!.errors > 0);
  });

  it('when every endpoint is gone, the items left fail with each endpoint’s reason', async () => {
    const dying = await keep(lightVllmFake({ latencyMs: 5, dieAfter: 2 }));
    const list = items(100);
    const { results, failures } = await run([dying.url], list, { concurrency: 1 });
    assert.equal(results.length, 16);
    assert.equal(failures.length, 84);
    assert.match(failures[0].error, /cannot reach|did not answer|socket/);
    assert.equal(new Set([...results.map((r) => r.id), ...failures.map((f) => f.id)]).size, 100, 'each item once');
  });

  it('refuses endpoints that serve different models', async () => {
    const a = await keep(lightVllmFake({ latencyMs: 1, modelId: 'org/rm-a' }));
    const b = await keep(lightVllmFake({ latencyMs: 1, modelId: 'org/rm-b' }));
    await assert.rejects(run([a.url, b.url], items(1)), /serve different models/);
  });

  it('reads several endpoints from --model: commas, or a file listing them', () => {
    assert.deepEqual(endpointList('http://a:8000, http://b:8000/'), ['http://a:8000', 'http://b:8000/']);
    const file = path.join(os.tmpdir(), `plens-endpoints-${process.pid}.txt`);
    writeFileSync(file, '# the RM on three nodes\nhttp://gpu1:8000\n\nhttp://gpu2:8000  # second\nhttp://gpu3:8000\n');
    assert.deepEqual(endpointList(file), ['http://gpu1:8000', 'http://gpu2:8000', 'http://gpu3:8000']);
    assert.equal(endpointList(os.tmpdir()), undefined, 'a folder is a model folder');
    assert.throws(() => endpointList('http://a:8000,gpu2:8000'), /not an http\(s\) endpoint/);
    assert.throws(() => createScorer({ model: 'http://a/classify,http://b/predict', workerPath: 'unused' }), /not endpoints of one model/);
  });
});

describe('endpoints that do not answer', () => {
  it('a server that accepts connections and never answers fails the load in seconds, after one retry', async () => {
    const silent = await keep(serve(() => new Promise(() => undefined)));
    const scorer = createRemoteScorer({ baseUrls: [silent.url], protocol: 'vllm', timeoutMs: 300, retries: 4, backoffMs: 5 });
    const started = performance.now();
    await assert.rejects(scorer.load(), /did not answer within 300 ms \(after 2 attempts\)/);
    assert.ok(performance.now() - started < 3000);
    assert.equal(silent.seen.length, 2, 'the questions asked at load are retried once, not four times');
  });

  it('a port where nothing listens is reported as such after one quick retry', async () => {
    const gone = await lightVllmFake({ latencyMs: 1 });
    await gone.close();
    const started = performance.now();
    await assert.rejects(createRemoteScorer({ baseUrls: [gone.url], protocol: 'vllm', backoffMs: 50 }).load(), /nothing is listening there \(connection refused\); is the server running\?/);
    assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
  });

  it('a port fetch refuses to use (9) is not retried, and says why', async () => {
    const started = performance.now();
    await assert.rejects(createRemoteScorer({ baseUrls: ['http://127.0.0.1:9'], protocol: 'vllm', backoffMs: 1000 }).load(), /bad port \(fetch does not connect to this port/);
    assert.ok(performance.now() - started < 900, 'no backoff wait');
  });

  it('says it is still waiting while a slow batch has not answered, and stops saying so once it has', async () => {
    const slow = await keep(lightVllmFake({ latencyMs: 450 }));
    const scorer = createRemoteScorer({ baseUrls: [slow.url], protocol: 'vllm', waitNoticeMs: 100, batchSize: 16 });
    const notices: string[] = [];
    const results: ScoreResult[] = [];
    await scorer.score(items(4), { onResults: (r) => results.push(...r), onNotice: (notice) => notice.kind === 'endpoint-waiting' && notices.push(notice.message) });
    assert.equal(results.length, 4);
    assert.ok(notices.length >= 2 && notices.length <= 5, `${notices.length} notices`);
    assert.match(notices[0], /^Waiting for 127\.0\.0\.1:\d+: no answer for 0\.[1-9] s \(each request may take up to 120 s/);
    await scorer.dispose();
  });
});
