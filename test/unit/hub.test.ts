// Hub ids: the Hugging Face cache (Python's layout) first, else a download through @huggingface/hub
// from a local server that answers the endpoints it calls as the Hub does (model info, tree,
// paths-info, resolve with a Range probe), with progress, cancel, and clear errors.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createScorer } from '../../src/engine/createScorer';
import { findCachedModel, hubCacheDir, isHubModelId, resolveHubModel, type HubProgress } from '../../src/engine/hub';
import { buildKnownScoreModel } from '../../scripts/modelkit/knownScoreModel';
import { readModelFolder } from '../../src/engine/modelFolder';
import { buildWorkerBundle } from '../support/workerBundle';
import { onnxFile } from '../support/modelFolder';
import { writeDecoderCheckpoint } from '../support/checkpoint';

const repoRoot = path.resolve(__dirname, '..', '..');
const SHA = 'a'.repeat(40);
/** Big enough to arrive in several chunks, so a download can be cancelled halfway. */
const BIG_FILE_BYTES = 4 * 1024 * 1024;

interface RepoFile {
  path: string;
  body: Buffer;
}

/** An imitation of the Hub for the calls @huggingface/hub makes; `slow` files trickle out. */
class FakeHub {
  readonly repos = new Map<string, RepoFile[]>();
  readonly requests: string[] = [];
  slow = new Set<string>();
  private server = http.createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }

  private entry(file: RepoFile) {
    const oid = createHash('sha1').update(file.body).digest('hex');
    return { type: 'file', path: file.path, size: file.body.length, oid, lastCommit: { id: SHA, title: 'export', date: '2025-01-01T00:00:00Z' } };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    this.requests.push(`${req.method} ${url.pathname}`);
    let match = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree|paths-info)\/([^/]+)/.exec(url.pathname);
    if (match) {
      const files = this.repos.get(match[1]);
      if (!files) return this.json(res, 404, { error: 'Repository not found' });
      if (match[2] === 'revision') return this.json(res, 200, { _id: 'x', id: match[1], sha: SHA, private: false, lastModified: '2025-01-01T00:00:00Z' });
      if (match[2] === 'tree') return this.json(res, 200, files.map((file) => this.entry(file)));
      let body = '';
      for await (const chunk of req) body += chunk;
      const wanted = (JSON.parse(body) as { paths: string[] }).paths;
      return this.json(res, 200, files.filter((file) => wanted.includes(file.path)).map((file) => this.entry(file)));
    }
    match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const file = match ? this.repos.get(match[1])?.find((candidate) => candidate.path === decodeURIComponent(match![3])) : undefined;
    if (!file) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
      return;
    }
    const etag = `"${this.entry(file).oid}"`;
    if (req.headers.range === 'bytes=0-0') {
      res.writeHead(206, { 'Content-Range': `bytes 0-0/${file.body.length}`, ETag: etag, 'Content-Length': '1' }).end(file.body.subarray(0, 1));
      return;
    }
    res.writeHead(200, { ETag: etag, 'Content-Length': String(file.body.length) });
    if (!this.slow.has(file.path)) {
      res.end(file.body);
      return;
    }
    for (let offset = 0; offset < file.body.length && !res.destroyed; offset += 64 * 1024) {
      res.write(file.body.subarray(offset, offset + 64 * 1024));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    res.end();
  }
}

describe('Hugging Face hub ids', () => {
  let scratch: string;
  let hub: FakeHub;
  let hubUrl: string;
  let exportDir: string;
  let checkpointDir: string;

  before(async () => {
    await fs.mkdir(path.join(repoRoot, 'out'), { recursive: true });
    scratch = await fs.mkdtemp(path.join(repoRoot, 'out', 'test-hub-'));
    exportDir = path.join(scratch, 'export');
    await buildKnownScoreModel({ tokenizerDir: path.join(repoRoot, 'models', 'demo'), outDir: exportDir });
    const files: RepoFile[] = [];
    for (const name of await fs.readdir(exportDir)) files.push({ path: name, body: await fs.readFile(path.join(exportDir, name)) });
    hub = new FakeHub();
    hub.repos.set('org/rm-onnx', [...files, { path: 'README.md', body: Buffer.from('# not needed') }]);
    // transformers.js layout, with external data beside the graph, and a file the scorer does not need.
    hub.repos.set('org/rm-tfjs', [
      ...files.filter((file) => file.path !== 'model.onnx').map((file) => ({ ...file })),
      { path: 'onnx/model.onnx', body: files.find((file) => file.path === 'model.onnx')!.body },
      { path: 'onnx/model.onnx_data', body: Buffer.alloc(BIG_FILE_BYTES, 7) },
      { path: 'onnx/model_fp16.onnx', body: Buffer.from('unused') },
    ]);
    hub.repos.set('org/pytorch-only', [{ path: 'pytorch_model.bin', body: Buffer.from('pickle') }, ...files.filter((file) => file.path !== 'model.onnx')]);
    // A transformers checkpoint as reward models ship: bf16 shards, an index, a SentencePiece-free tokenizer.
    checkpointDir = path.join(scratch, 'checkpoint');
    writeDecoderCheckpoint(checkpointDir, { modelType: 'qwen2', vocabSize: 32000, hiddenSize: 32, intermediateSize: 64, layers: 2, heads: 2, kvHeads: 1, maxPositions: 256, padTokenId: 0 }, { dtype: 'BF16', shards: 2 });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) await fs.copyFile(path.join(repoRoot, 'models', 'demo', file), path.join(checkpointDir, file));
    const checkpointFiles: RepoFile[] = [];
    for (const name of await fs.readdir(checkpointDir)) checkpointFiles.push({ path: name, body: await fs.readFile(path.join(checkpointDir, name)) });
    hub.repos.set('org/rm-checkpoint', [...checkpointFiles, { path: 'pytorch_model.bin', body: Buffer.from('the same weights as a pickle') }, { path: 'onnx/model.onnx', body: Buffer.from('unused') }]);
    hubUrl = await hub.start();
  });

  after(async () => {
    await hub.stop();
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('recognizes ids and the cache folder the Python library uses', () => {
    assert.ok(isHubModelId('allenai/tulu-v2.5-13b-hh-rlhf-60k-rm'));
    for (const notId of ['./models/demo', '/abs/path', 'a/b/c', 'just-a-name', 'a--b/c', 'https://x/y']) assert.ok(!isHubModelId(notId), notId);
    assert.equal(hubCacheDir({ HF_HUB_CACHE: '/c' }, '/home/u'), '/c');
    assert.equal(hubCacheDir({ HF_HOME: '/h' }, '/home/u'), path.join('/h', 'hub'));
    assert.equal(hubCacheDir({}, '/home/u'), path.join('/home/u', '.cache', 'huggingface', 'hub'));
  });

  it('uses a model already in the cache without any network', async () => {
    const cacheDir = path.join(scratch, 'python-cache');
    const snapshot = path.join(cacheDir, 'models--org--cached', 'snapshots', SHA);
    await fs.cp(exportDir, snapshot, { recursive: true });
    await fs.mkdir(path.join(cacheDir, 'models--org--cached', 'refs'));
    await fs.writeFile(path.join(cacheDir, 'models--org--cached', 'refs', 'main'), `${SHA}\n`);
    const before = hub.requests.length;
    // An unreachable Hub URL: any request would fail.
    assert.equal(await resolveHubModel('org/cached', { cacheDir, hubUrl: 'http://127.0.0.1:1' }), snapshot);
    assert.equal(hub.requests.length, before);
  });

  it('downloads what the scorer needs into the Python layout, reporting progress, then finds it cached', async () => {
    const cacheDir = path.join(scratch, 'cache-download');
    const progress: HubProgress[] = [];
    const dir = await resolveHubModel('org/rm-tfjs', { cacheDir, hubUrl, onProgress: (p) => progress.push(p) });
    const repo = path.join(cacheDir, 'models--org--rm-tfjs');
    assert.equal(dir, path.join(repo, 'snapshots', SHA));
    assert.equal((await fs.readFile(path.join(repo, 'refs', 'main'), 'utf8')).trim(), SHA);
    const folder = await readModelFolder(dir);
    assert.equal(onnxFile(folder), path.join(dir, 'onnx', 'model.onnx'));
    assert.equal((await fs.stat(path.join(dir, 'onnx', 'model.onnx_data'))).size, BIG_FILE_BYTES);
    await assert.rejects(fs.stat(path.join(dir, 'onnx', 'model_fp16.onnx')), 'files the scorer does not read are not downloaded');
    const total = progress[0].total;
    assert.ok(total > BIG_FILE_BYTES);
    assert.equal(progress.at(-1)?.loaded, total, 'progress ends at the total');
    assert.ok(progress.every((p, i) => i === 0 || p.loaded >= progress[i - 1].loaded));
    assert.ok(progress.some((p) => p.file === 'onnx/model.onnx_data'));

    const requests = hub.requests.length;
    assert.equal(await resolveHubModel('org/rm-tfjs', { cacheDir, hubUrl }), dir);
    assert.equal(hub.requests.length, requests, 'the second time it is a cache hit');
  });

  it('cancels a download without leaving anything that counts as complete, and resumes later', async () => {
    const cacheDir = path.join(scratch, 'cache-cancel');
    hub.slow.add('onnx/model.onnx_data');
    try {
      const controller = new AbortController();
      const cancelled = resolveHubModel('org/rm-tfjs', {
        cacheDir,
        hubUrl,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.file === 'onnx/model.onnx_data' && p.loaded > 0) controller.abort();
        },
      });
      await assert.rejects(cancelled, { name: 'AbortError' });
      assert.equal(await findCachedModel('org/rm-tfjs', { cacheDir }), undefined);
      const repo = path.join(cacheDir, 'models--org--rm-tfjs');
      await assert.rejects(fs.stat(path.join(repo, 'refs', 'main')), 'no ref: the model is not complete');
      await assert.rejects(fs.stat(path.join(repo, 'snapshots', SHA, 'onnx', 'model.onnx_data')), 'no link to a half file');
      const blobs = await fs.readdir(path.join(repo, 'blobs'));
      const dataOid = createHash('sha1').update(Buffer.alloc(BIG_FILE_BYTES, 7)).digest('hex');
      assert.ok(!blobs.includes(dataOid), 'the half file keeps its .incomplete name');
    } finally {
      hub.slow.clear();
    }
    const dir = await resolveHubModel('org/rm-tfjs', { cacheDir, hubUrl });
    assert.equal((await fs.stat(path.join(dir, 'onnx', 'model.onnx_data'))).size, BIG_FILE_BYTES);
  });

  it('says a model is not found, or has only pickle weights', async () => {
    const cacheDir = path.join(scratch, 'cache-errors');
    await assert.rejects(resolveHubModel('org/missing', { cacheDir, hubUrl }), /Model org\/missing not found on http:\/\/127\.0\.0\.1:\d+: check the id/);
    await assert.rejects(resolveHubModel('org/pytorch-only', { cacheDir, hubUrl }), /org\/pytorch-only on the Hugging Face Hub has neither safetensors weights .* only pytorch_model\.bin, a pickle Preference Lens does not load/s);
    // No network: fetch's bare "fetch failed" becomes what could not be reached, and what needs no network.
    const closed = await new Promise<string>((resolve) => {
      const server = http.createServer().listen(0, '127.0.0.1', () => {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        server.close(() => resolve(url));
      });
    });
    await assert.rejects(
      resolveHubModel('org/anything', { cacheDir, hubUrl: closed }),
      new RegExp(`Downloading org/anything: cannot reach ${closed.replace(/\./g, '\\.')} \\(.*ECONNREFUSED.*\\)\\. A model already in the Hugging Face cache \\(${cacheDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\) needs no network`),
    );
  });

  it('downloads a sharded safetensors checkpoint (not its pickle or ONNX copies), finds it cached, and scores it as the local folder', async () => {
    const cacheDir = path.join(scratch, 'cache-checkpoint');
    const dir = await resolveHubModel('org/rm-checkpoint', { cacheDir, hubUrl });
    assert.deepEqual((await fs.readdir(dir)).sort(), [
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    assert.equal(await findCachedModel('org/rm-checkpoint', { cacheDir }), dir);
    assert.equal((await readModelFolder(dir)).kind, 'checkpoint');
    const { workerPath } = await buildWorkerBundle('hub-checkpoint', path.join(scratch, 'bundle-checkpoint'));
    const rewardOf = async (model: string) => {
      const scorer = createScorer({ model, workerPath, device: 'cpu', hub: { cacheDir, hubUrl: 'http://127.0.0.1:1' } });
      try {
        const rewards: number[] = [];
        await scorer.score([{ id: 1, prompt: [{ role: 'user', content: 'Hi' }], response: [{ role: 'assistant', content: 'Hello.' }] }], { onResults: (batch) => rewards.push(...batch.map((r) => r.reward)) });
        return rewards[0];
      } finally {
        await scorer.dispose();
      }
    };
    assert.equal(await rewardOf('org/rm-checkpoint'), await rewardOf(checkpointDir));
  });

  it('scores a hub id through createScorer: resolved first, then run by the worker', async () => {
    const { workerPath } = await buildWorkerBundle('hub', scratch);
    const progress: HubProgress[] = [];
    const scorer = createScorer({ model: 'org/rm-onnx', workerPath, device: 'cpu', hub: { cacheDir: path.join(scratch, 'cache-scorer'), hubUrl, onProgress: (p) => progress.push(p) } });
    try {
      const results: number[] = [];
      await scorer.score([{ id: 1, prompt: [{ role: 'user', content: 'Hi' }], response: [{ role: 'assistant', content: 'Hello.' }] }], {
        onResults: (batch) => results.push(...batch.map((r) => r.reward)),
      });
      assert.equal(results.length, 1);
      assert.ok(Number.isFinite(results[0]));
      assert.ok(progress.length > 0);
      assert.ok(!hub.requests.some((request) => request.includes('README.md')), 'only the files the scorer needs');
    } finally {
      await scorer.dispose();
    }
  });
});
