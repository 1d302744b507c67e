// `hf://datasets/org/name/path` as a plens <file>: found in the Hugging Face cache (Python's layout)
// without the network, or downloaded into it from the Hub's resolve endpoint (here a fake Hub on
// 127.0.0.1, reached through HF_ENDPOINT as huggingface_hub reaches a mirror).
import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { companionPath, hubCachedFile, userDataDir } from '../../src/core/companionFiles';
import { parseHubDatasetPath } from '../../src/engine/hubDataset';
import { cliPath as cli, runPlens } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const parquet = path.join(repoRoot, 'test', 'fixtures', 'formats', 'trl-conversational.snappy.parquet');
const SHA = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';
const ETAG = 'c0ffee' + '1'.repeat(58);

let dir: string;
let expected: unknown;
before(async () => {
  assert.ok(existsSync(cli), `${cli} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'plens-hf-'));
  const run = await runPlens(['inspect', parquet]);
  assert.equal(run.code, 0, run.stderr);
  const { file: _file, ...counts } = JSON.parse(run.stdout);
  expected = counts;
});
after(() => rm(dir, { recursive: true, force: true }));

/** Nothing listens on port 1: a request that gets out fails at once. */
const NO_NETWORK = 'http://127.0.0.1:1';

function plens(args: string[], env: Record<string, string>) {
  const clean = { ...process.env };
  for (const name of ['HF_HOME', 'HF_HUB_CACHE', 'HF_ENDPOINT', 'HF_TOKEN']) delete clean[name];
  return runPlens(args, { ...clean, XDG_CACHE_HOME: path.join(dir, 'xdg'), ...env });
}

const counts = (stdout: string) => {
  const { file: _file, ...rest } = JSON.parse(stdout);
  return rest;
};

/** A fake Hub: the resolve endpoint redirects to storage with the commit and etag in its headers, as the Hub answers for an LFS file. */
class FakeHub {
  requests: string[] = [];
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  constructor(private readonly body: Buffer) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests.push(req.url!);
    if (req.url === '/datasets/org/prefs/resolve/main/data/train-00000-of-00001.parquet') {
      res.writeHead(302, { Location: '/storage/blob', 'X-Repo-Commit': SHA, 'X-Linked-Etag': `"${ETAG}"`, 'X-Linked-Size': String(this.body.length) });
      res.end();
    } else if (req.url === '/storage/blob') {
      res.writeHead(200, { 'Content-Length': String(this.body.length), 'Content-Type': 'application/octet-stream' });
      // In pieces, as a network delivers it: progress is reported on the way.
      const half = Math.floor(this.body.length / 2);
      res.write(this.body.subarray(0, half));
      setTimeout(() => res.end(this.body.subarray(half)), 20);
    } else if (req.url?.startsWith('/datasets/org/prefs/resolve/main/')) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'Content-Type': 'application/json' });
      res.end('{"error":"Entry not found"}');
    } else {
      res.writeHead(404, { 'X-Error-Code': 'RepoNotFound', 'Content-Type': 'application/json' });
      res.end('{"error":"Repository not found"}');
    }
  }
}

describe('hf://datasets/… files', () => {
  it('parses the repo, the revision (URL-encoded, as huggingface_hub writes it) and the path', () => {
    assert.deepEqual(parseHubDatasetPath('hf://datasets/org/name/data/train.parquet'), { repo: 'org/name', revision: 'main', path: 'data/train.parquet' });
    assert.deepEqual(parseHubDatasetPath('hf://datasets/org/name@refs%2Fconvert%2Fparquet/default/test/0000.parquet'), {
      repo: 'org/name',
      revision: 'refs/convert/parquet',
      path: 'default/test/0000.parquet',
    });
    assert.throws(() => parseHubDatasetPath('hf://datasets/justaname'), /is not a Hugging Face dataset file: write hf:\/\/datasets\/org\/name\/path/);
    assert.throws(() => parseHubDatasetPath('hf://datasets/org/name/../../etc/passwd'), /is not a Hugging Face dataset file/);
  });

  it('reads a file from the Hugging Face cache with no network, by branch and by commit', async () => {
    const cache = path.join(dir, 'hub-cache');
    const repo = path.join(cache, 'datasets--org--prefs');
    await mkdir(path.join(repo, 'snapshots', SHA, 'data'), { recursive: true });
    await mkdir(path.join(repo, 'refs'), { recursive: true });
    await writeFile(path.join(repo, 'refs', 'main'), SHA);
    await copyFile(parquet, path.join(repo, 'snapshots', SHA, 'data', 'train.parquet'));
    for (const spec of ['hf://datasets/org/prefs/data/train.parquet', `hf://datasets/org/prefs@${SHA}/data/train.parquet`]) {
      const run = await plens(['inspect', spec], { HF_HUB_CACHE: cache, HF_ENDPOINT: NO_NETWORK });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(counts(run.stdout), expected, spec);
      assert.equal(JSON.parse(run.stdout).file, path.join(repo, 'snapshots', SHA, 'data', 'train.parquet'));
    }
    // $HF_HOME/hub is the cache when $HF_HUB_CACHE is not set.
    const home = path.join(dir, 'hf-home');
    await mkdir(home);
    await copyDir(cache, path.join(home, 'hub'));
    const run = await plens(['inspect', 'hf://datasets/org/prefs/data/train.parquet'], { HF_HOME: home, HF_ENDPOINT: NO_NETWORK });
    assert.equal(run.code, 0, run.stderr);
  });

  it('downloads a file missing from the cache, with progress, in the layout huggingface_hub reads; then needs no network', async () => {
    const body = await readFile(parquet);
    const hub = new FakeHub(body);
    const endpoint = await hub.start();
    const home = path.join(dir, 'download-home');
    const spec = 'hf://datasets/org/prefs/data/train-00000-of-00001.parquet';
    try {
      const run = await plens(['score', spec], { HF_HOME: home, HF_ENDPOINT: endpoint });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`downloading ${spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: 100% of 0\\.0 MB`));
      assert.deepEqual(hub.requests, ['/datasets/org/prefs/resolve/main/data/train-00000-of-00001.parquet', '/storage/blob']);
    } finally {
      await hub.stop();
    }
    const repo = path.join(home, 'hub', 'datasets--org--prefs');
    assert.equal(await readFile(path.join(repo, 'refs', 'main'), 'utf8'), SHA);
    const link = path.join(repo, 'snapshots', SHA, 'data', 'train-00000-of-00001.parquet');
    assert.equal(path.resolve(path.dirname(link), readlinkSync(link)), path.join(repo, 'blobs', ETAG));
    assert.ok((await readFile(link)).equals(body));
    const again = await plens(['inspect', spec], { HF_HOME: home, HF_ENDPOINT: NO_NETWORK });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(counts(again.stdout), expected);
  });

  it('a file or dataset the Hub does not have gets a clear error, and nothing is cached', async () => {
    const hub = new FakeHub(Buffer.alloc(0));
    const endpoint = await hub.start();
    const home = path.join(dir, 'missing-home');
    try {
      const missingFile = await plens(['inspect', 'hf://datasets/org/prefs/data/nope.parquet'], { HF_HOME: home, HF_ENDPOINT: endpoint });
      assert.equal(missingFile.code, 1);
      assert.match(missingFile.stderr, /hf:\/\/datasets\/org\/prefs\/data\/nope\.parquet: not found on http:\/\/127\.0\.0\.1:\d+: no file "data\/nope\.parquet" in dataset org\/prefs@main/);
      const missingRepo = await plens(['inspect', 'hf://datasets/org/gone/x.parquet'], { HF_HOME: home, HF_ENDPOINT: endpoint });
      assert.equal(missingRepo.code, 1);
      assert.match(missingRepo.stderr, /not found on .*: no dataset org\/gone/);
    } finally {
      await hub.stop();
    }
    assert.equal(existsSync(path.join(home, 'hub', 'datasets--org--prefs', 'snapshots')), false);
    const offline = await plens(['inspect', 'hf://datasets/org/prefs/data/train.parquet'], { HF_HOME: home, HF_ENDPOINT: NO_NETWORK });
    assert.equal(offline.code, 1);
    assert.match(offline.stderr, /cannot reach http:\/\/127\.0\.0\.1:1 .*needs no network/);
  });
});

describe('labels of a Hugging Face dataset file', () => {
  const cachedFile = (root: string, commit: string) => path.join(root, 'hub', 'datasets--org--prefs', 'snapshots', commit, 'data', 'train.jsonl');

  it('are kept in the user data folder, not in the cache, by repo and path; a sidecar already beside the file is still used', async () => {
    const file = cachedFile('/home/u/.cache/huggingface', SHA);
    assert.deepEqual(hubCachedFile(file), { repo: 'org/prefs', commit: SHA, path: 'data/train.jsonl' });
    assert.equal(hubCachedFile('/data/datasets--org--prefs/train.jsonl'), undefined, 'not a snapshot');
    assert.equal(hubCachedFile(path.join('/data/datasets--org--prefs/snapshots/main/train.jsonl')), undefined, 'a snapshot is named by its commit');
    const data = () => '/home/u/.local/share/preference-lens';
    assert.equal(companionPath(file, '.plens-annotations.jsonl', data), '/home/u/.local/share/preference-lens/hf/datasets/org/prefs/data/train.jsonl.plens-annotations.jsonl');
    assert.equal(companionPath('/work/train.jsonl', '.plens-team.json', data), '/work/train.jsonl.plens-team.json');
    assert.equal(userDataDir({ XDG_DATA_HOME: '/x' }, 'linux', '/home/u'), '/x/preference-lens');
    assert.equal(userDataDir({}, 'linux', '/home/u'), '/home/u/.local/share/preference-lens');
    assert.equal(userDataDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Application Support/preference-lens');
    // Labels written next to a cached file before this rule stay where they are.
    const legacy = cachedFile(path.join(dir, 'legacy'), SHA);
    await mkdir(path.dirname(legacy), { recursive: true });
    await writeFile(`${legacy}.plens-annotations.jsonl`, '{"plens":"annotations","version":1}\n');
    assert.equal(companionPath(legacy, '.plens-annotations.jsonl', data), `${legacy}.plens-annotations.jsonl`);
  });

  it('plens annotates an hf:// file without writing into the cache; a newer revision finds the labels; --in-place is refused', async () => {
    const root = path.join(dir, 'labels-home');
    const env = { HF_HOME: root, HF_ENDPOINT: NO_NETWORK, XDG_DATA_HOME: path.join(dir, 'labels-data') };
    const spec = 'hf://datasets/org/prefs/data/train.jsonl';
    const hh = path.join(repoRoot, 'test', 'fixtures', 'formats', 'hh-rlhf.jsonl');
    const checkout = async (commit: string) => {
      await mkdir(path.dirname(cachedFile(root, commit)), { recursive: true });
      await copyFile(hh, cachedFile(root, commit));
      await mkdir(path.join(root, 'hub', 'datasets--org--prefs', 'refs'), { recursive: true });
      await writeFile(path.join(root, 'hub', 'datasets--org--prefs', 'refs', 'main'), commit);
    };
    await checkout(SHA);
    const labels = path.join(dir, 'labels.jsonl');
    await writeFile(labels, '{"line":1,"label":"b"}\n');
    const annotate = await plens(['annotate', spec, '--annotator', 'ann', '--import', labels], env);
    assert.equal(annotate.code, 0, annotate.stderr);
    const sidecar = path.join(dir, 'labels-data', 'preference-lens', 'hf', 'datasets', 'org', 'prefs', 'data', 'train.jsonl.plens-annotations.jsonl');
    assert.equal(JSON.parse(annotate.stdout).annotations, sidecar);
    assert.ok(existsSync(sidecar));
    assert.deepEqual(await readdir(path.dirname(cachedFile(root, SHA))), ['train.jsonl'], 'nothing is written into the cache');

    // The Hub's next revision of the same file (a cache cleanup may have removed the old one).
    const next = 'b'.repeat(40);
    await checkout(next);
    await rm(path.join(root, 'hub', 'datasets--org--prefs', 'snapshots', SHA), { recursive: true });
    const out = path.join(dir, 'labels-out.jsonl');
    const exported = await plens(['export', spec, '--out', out], env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(JSON.parse(exported.stdout).relabelled, 1, 'the label made on the old revision applies to the new one');

    const before = await readFile(cachedFile(root, next));
    const inPlace = await plens(['export', spec, '--in-place'], env);
    assert.equal(inPlace.code, 1);
    assert.match(inPlace.stderr, /is the Hugging Face cache's copy of data\/train\.jsonl in org\/prefs and cannot be changed in place; export a copy with --out instead/);
    assert.ok((await readFile(cachedFile(root, next))).equals(before), 'the cached file is untouched');
  });
});

async function copyDir(from: string, to: string): Promise<void> {
  const { cp } = await import('node:fs/promises');
  await cp(from, to, { recursive: true });
}
