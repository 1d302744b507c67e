// The CUDA provider installer against a NuGet v3 feed served here on 127.0.0.1 (service index,
// registration, catalog leaf with packageHash, flat container with a .nupkg built by the test whose
// "provider libraries" are stand-in bytes at the real paths): the installed layout, progress,
// cancel, a checksum mismatch, a feed without the version, reuse of a finished install, and that the
// copied onnxruntime-node still loads and runs a model on the CPU. Nothing reaches the real NuGet.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import {
  CUDA_PROVIDER_FILES,
  cudaPlatformSupport,
  cudaRuntimeDir,
  findInstalledCudaRuntime,
  installCudaProviders,
  readOnnxRuntimeVersion,
  type CudaInstallProgress,
} from '../../src/engine/gpu/cudaProviderInstall';
import { knownScoreModelBytes, knownScoreReward } from '../../scripts/modelkit/knownScoreModel';

const repoRoot = path.resolve(__dirname, '..', '..');
const ortPackageDir = path.join(repoRoot, 'node_modules', 'onnxruntime-node');
const PACKAGE_ID = 'microsoft.ml.onnxruntime.gpu.linux';
const NATIVE = 'runtimes/linux-x64/native';
/** Several 64 KiB chunks, so progress has steps and a download can be cancelled halfway. */
const CUDA_LIBRARY_BYTES = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

/** A zip (deflate, as in a real .nupkg) written by hand: the project reads zips but has no writer. */
function zipArchive(entries: ReadonlyArray<{ name: string; data: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const dosDate = (1 << 5) | 1; // 1980-01-01
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const compressed = deflateRawSync(data);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    parts.push(local, nameBytes, compressed);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt16LE(dosDate, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(compressed.length, 20);
    header.writeUInt32LE(data.length, 24);
    header.writeUInt16LE(nameBytes.length, 28);
    header.writeUInt32LE(offset, 42);
    central.push(header, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, centralBytes, end]);
}

/** Stand-in provider libraries: distinct, incompressible bytes, so a mix-up or truncation shows. */
const providerBytes = new Map<string, Buffer>(CUDA_PROVIDER_FILES.map((file) => [file, randomBytes(file.includes('_cuda') ? CUDA_LIBRARY_BYTES : 16 * 1024)]));

function fakeNupkg(): Buffer {
  return zipArchive([
    { name: '[Content_Types].xml', data: Buffer.from('<Types/>') },
    { name: `${PACKAGE_ID}.nuspec`, data: Buffer.from('<package/>') },
    // The package's own onnxruntime, which must not replace the bundled one.
    { name: `${NATIVE}/libonnxruntime.so`, data: Buffer.from('not the bundled library') },
    ...CUDA_PROVIDER_FILES.map((file) => ({ name: `${NATIVE}/${file}`, data: providerBytes.get(file)! })),
  ]);
}

/** The NuGet v3 endpoints the installer reads, for one package; `stall` sends one chunk of the .nupkg and then nothing. */
class FakeNuGetFeed {
  readonly requests: string[] = [];
  /** version → .nupkg bytes and the packageHash the catalog publishes for it. */
  readonly packages = new Map<string, { nupkg: Buffer; packageHash: string }>();
  stall = false;
  /** Registration pages linked instead of inlined, as feeds do for packages with many versions. */
  linkPages = false;
  private base = '';
  private server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return `${this.base}/v3/index.json`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  publish(version: string, nupkg: Buffer, packageHash = createHash('sha512').update(nupkg).digest('base64')): void {
    this.packages.set(version, { nupkg, packageHash });
  }

  private json(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }

  private page() {
    return {
      '@id': `${this.base}/v3/registration/${PACKAGE_ID}/page.json`,
      items: [...this.packages.keys()].map((version) => ({
        '@id': `${this.base}/v3/registration/${PACKAGE_ID}/${version}.json`,
        // Abridged, as in a real registration: the hash is only in the catalog leaf.
        catalogEntry: { '@id': `${this.base}/v3/catalog/${version}.json`, id: 'Microsoft.ML.OnnxRuntime.Gpu.Linux', version },
        packageContent: `${this.base}/v3-flatcontainer/${PACKAGE_ID}/${version}/${PACKAGE_ID}.${version}.nupkg`,
      })),
    };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    this.requests.push(url);
    if (url === '/v3/index.json') {
      return this.json(res, {
        version: '3.0.0',
        resources: [
          { '@id': `${this.base}/v3/search`, '@type': 'SearchQueryService' },
          { '@id': `${this.base}/v3-flatcontainer/`, '@type': 'PackageBaseAddress/3.0.0' },
          { '@id': `${this.base}/v3/registration/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
        ],
      });
    }
    if (url === `/v3/registration/${PACKAGE_ID}/index.json`) {
      const page = this.page();
      return this.json(res, { count: 1, items: [this.linkPages ? { '@id': page['@id'], count: page.items.length } : page] });
    }
    if (url === `/v3/registration/${PACKAGE_ID}/page.json`) return this.json(res, this.page());
    let match = /^\/v3\/catalog\/([^/]+)\.json$/.exec(url);
    const published = match ? this.packages.get(match[1]) : undefined;
    if (published) return this.json(res, { packageHash: published.packageHash, packageHashAlgorithm: 'SHA512', packageSize: published.nupkg.length });
    match = new RegExp(`^/v3-flatcontainer/${PACKAGE_ID}/([^/]+)/${PACKAGE_ID}\\.([^/]+)\\.nupkg$`).exec(url);
    const nupkg = match ? this.packages.get(match[1])?.nupkg : undefined;
    if (nupkg) return void this.send(res, nupkg);
    res.writeHead(404).end();
  }

  private async send(res: http.ServerResponse, body: Buffer): Promise<void> {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    for (let at = 0; at < body.length && !res.destroyed; at += CHUNK_BYTES) {
      res.write(body.subarray(at, at + CHUNK_BYTES));
      if (this.stall) return; // held open until the client gives up (or stop())
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end();
  }
}

/** Every file under `dir`, relative; [] when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)));
}

describe('CUDA provider install from a NuGet feed', { skip: onLinuxX64 ? false : 'the installer serves Linux x64 only' }, () => {
  const feed = new FakeNuGetFeed();
  let feedIndexUrl = '';
  let version = '';
  let scratch = '';
  let storageDir = '';

  before(async () => {
    version = await readOnnxRuntimeVersion(ortPackageDir);
    feedIndexUrl = await feed.start();
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-gpu-install-'));
  });
  after(async () => {
    await feed.stop();
    await fs.rm(scratch, { recursive: true, force: true });
  });
  beforeEach(async () => {
    storageDir = await fs.mkdtemp(path.join(scratch, 'storage-'));
    feed.packages.clear();
    feed.stall = false;
    feed.linkPages = false;
  });

  it('installs a loadable onnxruntime-node copy with the provider libraries beside libonnxruntime.so.1, reporting progress up to the total', async () => {
    const nupkg = fakeNupkg();
    feed.publish('1.29.0', zipArchive([]));
    feed.publish(version, nupkg);
    const progress: CudaInstallProgress[] = [];
    const installed = await installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl, onProgress: (event) => progress.push(event) });

    const runtimeDir = cudaRuntimeDir(storageDir, version);
    assert.equal(installed.runtimeDir, runtimeDir);
    assert.equal(installed.version, version);
    assert.equal(installed.reused, false);
    const binaries = path.join(runtimeDir, 'bin', 'napi-v6', 'linux', 'x64');
    assert.deepEqual(
      installed.files,
      CUDA_PROVIDER_FILES.map((file) => path.join(binaries, file)),
    );
    for (const file of CUDA_PROVIDER_FILES) assert.ok((await fs.readFile(path.join(binaries, file))).equals(providerBytes.get(file)!), `${file} has the package's bytes`);
    assert.deepEqual((await fs.readdir(binaries)).sort(), ['libonnxruntime.so.1', 'onnxruntime_binding.node', ...CUDA_PROVIDER_FILES].sort());
    const bundledLibrary = await fs.stat(path.join(ortPackageDir, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1'));
    assert.equal((await fs.stat(path.join(binaries, 'libonnxruntime.so.1'))).size, bundledLibrary.size, 'the bundled library, not the package one');
    const files = await filesUnder(runtimeDir);
    assert.ok(files.includes(path.join('dist', 'index.js')));
    assert.ok(files.includes(path.join('node_modules', 'onnxruntime-common', 'package.json')));
    assert.ok(!files.some((file) => file.startsWith(path.join('bin', 'napi-v6', 'win32')) || file.startsWith(path.join('bin', 'napi-v6', 'darwin'))));
    assert.deepEqual(await fs.readdir(path.dirname(runtimeDir)), [version], 'no staging folder or download left');
    assert.equal(await findInstalledCudaRuntime(storageDir, version), runtimeDir);

    const downloads = progress.filter((event) => event.phase === 'download');
    assert.ok(downloads.length > 3, `progress in steps (${downloads.length} events)`);
    for (let i = 1; i < downloads.length; i++) assert.ok(downloads[i].loaded >= downloads[i - 1].loaded);
    assert.deepEqual(downloads.at(-1), { phase: 'download', loaded: nupkg.length, total: nupkg.length });
    assert.equal(progress.at(-1)?.phase, 'install');

    // The copy must stand alone: a fresh process requires it by path and runs a model on the CPU.
    const modelPath = path.join(scratch, 'known-score.onnx');
    await fs.writeFile(modelPath, knownScoreModelBytes(64));
    const ids = [1, 5, 9, 33, 63];
    const probe = `
      const ort = require(${JSON.stringify(runtimeDir)});
      (async () => {
        const session = await ort.InferenceSession.create(${JSON.stringify(modelPath)}, { executionProviders: ['cpu'] });
        const ids = ${JSON.stringify(ids)};
        const tensor = (values) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
        const { logits } = await session.run({ input_ids: tensor(ids), attention_mask: tensor(ids.map(() => 1)) });
        const loaded = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((line) => line.includes('libonnxruntime.so')).map((line) => line.split(/\\s+/).pop());
        console.log(JSON.stringify({ reward: logits.data[0], libraries: [...new Set(loaded)], backends: ort.listSupportedBackends().map((b) => b.name) }));
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const child = spawnSync(process.execPath, ['-e', probe], { cwd: scratch, encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    const answer = JSON.parse(child.stdout) as { reward: number; libraries: string[]; backends: string[] };
    assert.equal(answer.reward, knownScoreReward(ids));
    assert.deepEqual(answer.libraries, [path.join(binaries, 'libonnxruntime.so.1')], 'onnxruntime loaded from the runtime folder only');
    assert.ok(answer.backends.includes('cuda'));
  });

  it('finds a finished install without contacting the feed', async () => {
    feed.publish(version, fakeNupkg());
    await installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl });
    const requestsBefore = feed.requests.length;
    const progress: CudaInstallProgress[] = [];
    const again = await installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl, onProgress: (event) => progress.push(event) });
    assert.equal(again.reused, true);
    assert.equal(again.runtimeDir, cudaRuntimeDir(storageDir, version));
    assert.equal(feed.requests.length, requestsBefore, 'no request at all');
    assert.deepEqual(progress, []);
  });

  // A cancel that is not passed on leaves the download hanging: the timeout turns that into a failure.
  it('cancels mid-download at once and leaves no runtime folder and no temporary files', { timeout: 10_000 }, async () => {
    feed.publish(version, fakeNupkg());
    feed.stall = true;
    const controller = new AbortController();
    let abortedAt = 0;
    const install = installCudaProviders({
      storageDir,
      ortPackageDir,
      feedIndexUrl,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.loaded > 0 && abortedAt === 0) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    await assert.rejects(install, (error: Error) => error.name === 'AbortError' && /cancelled; nothing was installed/.test(error.message));
    const latency = performance.now() - abortedAt;
    assert.ok(abortedAt > 0, 'the download had started');
    assert.ok(latency < 1000, `rejected ${latency.toFixed(0)} ms after the abort`);
    assert.deepEqual(await filesUnder(storageDir), []);
    assert.equal(await findInstalledCudaRuntime(storageDir, version), undefined);
  });

  it('refuses a package whose SHA-512 differs from the feed’s packageHash, leaving nothing', async () => {
    feed.publish(version, fakeNupkg(), createHash('sha512').update('something else').digest('base64'));
    await assert.rejects(installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl }), /does not match the SHA-512 the feed publishes.*nothing was installed/s);
    assert.deepEqual(await filesUnder(storageDir), []);
    assert.equal(await findInstalledCudaRuntime(storageDir, version), undefined);
  });

  it('says which versions the feed has when it lacks the bundled one, downloading nothing', async () => {
    feed.linkPages = true;
    feed.publish('1.28.0', zipArchive([]));
    feed.publish('1.29.0', zipArchive([]));
    const requestsBefore = feed.requests.length;
    await assert.rejects(
      installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl }),
      (error: Error) => error.message.includes(`has no Microsoft.ML.OnnxRuntime.Gpu.Linux ${version}`) && error.message.includes('1.28.0, 1.29.0'),
    );
    assert.ok(!feed.requests.slice(requestsBefore).some((url) => url.endsWith('.nupkg')));
    assert.deepEqual(await filesUnder(storageDir), []);
  });

  it('refuses a package without the provider libraries, and a feed that is not a NuGet v3 index', async () => {
    feed.publish(version, zipArchive([{ name: `${NATIVE}/libonnxruntime.so`, data: Buffer.from('x') }]));
    await assert.rejects(installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl }), /lacks runtimes\/linux-x64\/native\/libonnxruntime_providers_cuda\.so/);
    assert.deepEqual(await filesUnder(storageDir), []);
    await assert.rejects(installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl: feedIndexUrl.replace('index.json', 'nothing.json') }), /is not a NuGet v3 service index/);
  });

  it('does not take a runtime folder without its completion marker for an install, and replaces it', async () => {
    const runtimeDir = cudaRuntimeDir(storageDir, version);
    await fs.mkdir(runtimeDir, { recursive: true });
    await fs.writeFile(path.join(runtimeDir, 'package.json'), '{}');
    assert.equal(await findInstalledCudaRuntime(storageDir, version), undefined);
    feed.publish(version, fakeNupkg());
    const installed = await installCudaProviders({ storageDir, ortPackageDir, feedIndexUrl });
    assert.equal(installed.reused, false);
    assert.equal(await findInstalledCudaRuntime(storageDir, version), runtimeDir);
  });
});

describe('CUDA provider platform check', () => {
  it('accepts Linux x64 only, and points elsewhere at the accelerator already bundled', () => {
    assert.deepEqual(cudaPlatformSupport('linux', 'x64'), { supported: true });
    const reasonFor = (platform: NodeJS.Platform, arch: string) => {
      const support = cudaPlatformSupport(platform, arch);
      return support.supported ? '' : support.reason;
    };
    assert.match(reasonFor('win32', 'x64'), /Linux x64 only.*"dml"/);
    assert.match(reasonFor('darwin', 'arm64'), /Linux x64 only.*"coreml"/);
    assert.match(reasonFor('linux', 'arm64'), /no CUDA providers for linux\/arm64/);
  });
});
