/**
 * Installs onnxruntime's CUDA execution provider for the bundled onnxruntime-node, so a user with an
 * NVIDIA GPU on Linux x64 gets `cuda` without building or `npm install`ing anything.
 *
 * onnxruntime-node ships its CUDA-enabled libonnxruntime.so.1 on npm, but not the provider libraries
 * (too large for the registry): its install script fetches them from NuGet (package
 * Microsoft.ML.OnnxRuntime.Gpu.Linux, same version, files runtimes/linux-x64/native/
 * libonnxruntime_providers_{cuda,shared,tensorrt}.so) and drops them beside libonnxruntime.so.1,
 * where onnxruntime looks for them. The VSIX is built with that script skipped (.npmrc), and the
 * extension's own folder is replaced on every update, so this does the same download into the
 * extension's global storage instead: `<storageDir>/onnxruntime-node-cuda/<version>/` is a complete,
 * loadable copy of onnxruntime-node (with the onnxruntime-common it requires) plus the providers.
 *
 * Why a whole copy rather than the three files alone: onnxruntime finds the providers in the folder
 * of the libonnxruntime.so.1 it was loaded from, and that folder (inside the extension) is not ours
 * to write. Only one libonnxruntime.so.1 can be loaded per process (the dynamic linker matches it by
 * its soname), so the scoring worker must load onnxruntime from the runtime folder *instead of* the
 * bundled one, before anything else in the process loads the bundled one.
 *
 * Nothing half-done is ever taken for an install: the package is downloaded and checked against the
 * SHA-512 the feed publishes, the runtime is assembled in a staging folder beside its destination,
 * a marker is written last, and the folder is renamed into place in one step. A cancel or a failure
 * removes the staging folder, download included.
 *
 * No `vscode` import: the CLI, the tests and scripts/gpu-check.ts use it as well as the editor command.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import yauzl from 'yauzl';

export const DEFAULT_NUGET_FEED = 'https://api.nuget.org/v3/index.json';
/** The package onnxruntime-node's install script takes the Linux CUDA providers from (install-metadata.js). */
export const CUDA_PROVIDER_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
/** Where that package keeps them, and where onnxruntime-node keeps libonnxruntime.so.1. */
const NATIVE_DIR_IN_PACKAGE = 'runtimes/linux-x64/native';
const BINARY_DIR = path.join('bin', 'napi-v6', 'linux', 'x64');
/** The three files the install script installs; `shared` is the bridge the other two load through. */
export const CUDA_PROVIDER_FILES = [
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_tensorrt.so',
] as const;
/** What a runtime folder must hold besides the providers for `require(runtimeDir)` to load. */
const RUNTIME_ESSENTIALS = ['package.json', path.join(BINARY_DIR, 'libonnxruntime.so.1'), path.join(BINARY_DIR, 'onnxruntime_binding.node')];
const RUNTIMES_FOLDER = 'onnxruntime-node-cuda';
const STAGING_PREFIX = '.install-';
/** Staging folders older than this belong to a process that died mid-install (a live one is far quicker). */
const STALE_STAGING_MS = 24 * 60 * 60 * 1000;
const MARKER_FILE = '.preference-lens-complete.json';

export type CudaPlatformSupport = { supported: true } | { supported: false; reason: string };

/** Whether this installer can give this platform CUDA: NuGet has onnxruntime-node-compatible providers for Linux x64 only. */
export function cudaPlatformSupport(platform: NodeJS.Platform = process.platform, arch: string = process.arch): CudaPlatformSupport {
  if (platform === 'linux' && arch === 'x64') return { supported: true };
  const where = `${platform}/${arch}`;
  if (platform === 'win32') {
    return { supported: false, reason: `GPU support download is for Linux x64 only. On Windows (${where}) the bundled onnxruntime already has DirectML: set preferenceLens.device to "dml" or leave "auto".` };
  }
  if (platform === 'darwin') {
    return { supported: false, reason: `GPU support download is for Linux x64 only. On macOS (${where}) the bundled onnxruntime already has CoreML: set preferenceLens.device to "coreml" or leave "auto".` };
  }
  return { supported: false, reason: `GPU support download is for Linux x64 only: onnxruntime publishes no CUDA providers for ${where} that fit onnxruntime-node. Scoring runs on the CPU here (preferenceLens.device "cpu" or "auto").` };
}

/** Where the runtime for `version` lives (whether or not it is installed). */
export function cudaRuntimeDir(storageDir: string, version: string): string {
  return path.join(storageDir, RUNTIMES_FOLDER, checkedVersion(version));
}

/** The version doubles as a folder name, so anything but a plain version string is refused. */
function checkedVersion(version: string): string {
  if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) throw new Error(`"${version}" is not an onnxruntime version (expected something like 1.30.0)`);
  return version;
}

/**
 * The onnxruntime-node folder the extension ships: dist/node_modules/ in a VSIX (scripts/package.mjs
 * puts it there), node_modules/ when run from a checkout.
 */
export async function findBundledOnnxRuntime(extensionRoot: string): Promise<string> {
  const candidates = [path.join(extensionRoot, 'dist', 'node_modules', 'onnxruntime-node'), path.join(extensionRoot, 'node_modules', 'onnxruntime-node')];
  for (const candidate of candidates) if (await exists(path.join(candidate, 'package.json'))) return candidate;
  throw new Error(`onnxruntime-node is missing from the extension (looked in ${candidates.join(' and ')}): reinstall Preference Lens.`);
}

/** The version of an onnxruntime-node folder; the providers must come from exactly the same release. */
export async function readOnnxRuntimeVersion(ortPackageDir: string): Promise<string> {
  const manifestPath = path.join(ortPackageDir, 'package.json');
  const manifest = (await readJsonFile(manifestPath).catch(() => undefined)) as { name?: unknown; version?: unknown } | undefined;
  if (manifest?.name !== 'onnxruntime-node' || typeof manifest.version !== 'string') {
    throw new Error(`${manifestPath} is not onnxruntime-node's package.json: point ortPackageDir at the onnxruntime-node folder the extension ships.`);
  }
  return checkedVersion(manifest.version);
}

interface CompletionMarker {
  version: string;
  packageId: string;
  feedIndexUrl: string;
  sha512: string;
  providerFiles: string[];
}

/**
 * The runtime folder for `version` when a complete install is there (marker present, every file it
 * needs in place), else undefined. Cheap enough to call before every model load.
 */
export async function findInstalledCudaRuntime(storageDir: string, version: string): Promise<string | undefined> {
  const runtimeDir = cudaRuntimeDir(storageDir, version);
  const marker = (await readJsonFile(path.join(runtimeDir, MARKER_FILE)).catch(() => undefined)) as Partial<CompletionMarker> | undefined;
  if (marker?.version !== version) return undefined;
  const needed = [...RUNTIME_ESSENTIALS, ...CUDA_PROVIDER_FILES.map((file) => path.join(BINARY_DIR, file))];
  for (const file of needed) if (!(await exists(path.join(runtimeDir, file)))) return undefined;
  return runtimeDir;
}

/** The package to download, as the feed describes it: enough to ask the user, and to check the bytes. */
export interface CudaProviderPackage {
  packageId: string;
  version: string;
  feedIndexUrl: string;
  nupkgUrl: string;
  /** Bytes of the .nupkg, when the feed's catalog says (nuget.org does). */
  size?: number;
  /** Base64 SHA-512 of the .nupkg: NuGet's `packageHash`. */
  sha512: string;
}

export interface CudaInstallProgress {
  /** `download`: bytes arriving; `install`: the download is verified and the files are being put in place. */
  phase: 'download' | 'install';
  loaded: number;
  /** 0 while the size is unknown (a feed that gives neither Content-Length nor packageSize). */
  total: number;
}

export interface FeedOptions {
  /** A NuGet v3 service index; default nuget.org. Another feed (a mirror, an Azure Artifacts upstream) works the same way. */
  feedIndexUrl?: string;
  /** Cancels at once; the call then rejects with an AbortError and leaves nothing behind. */
  signal?: AbortSignal;
  /** Every HTTP request goes through it (tests count requests; the editor may pass its proxy-aware fetch). */
  fetch?: typeof fetch;
}

export interface InstallCudaProvidersOptions extends FeedOptions {
  /** The extension's global storage folder (or any folder the CLI keeps such things in). */
  storageDir: string;
  /** The bundled onnxruntime-node (findBundledOnnxRuntime); copied, and its version is the one installed. */
  ortPackageDir: string;
  onProgress?: (progress: CudaInstallProgress) => void;
}

export interface InstalledCudaRuntime {
  /** `require(runtimeDir)` loads onnxruntime-node with the CUDA providers beside its library. */
  runtimeDir: string;
  version: string;
  /** The provider libraries installed, absolute paths. */
  files: string[];
  /** True when a complete install was already there and nothing was downloaded. */
  reused: boolean;
}

export function cancelledError(): Error {
  const error = new Error('The GPU support download was cancelled; nothing was installed.');
  error.name = 'AbortError';
  return error;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}

/**
 * Installs (or finds) the CUDA runtime matching the bundled onnxruntime-node. Rejects with an
 * AbortError on cancel, and otherwise with a message saying what to do; either way nothing is left
 * that findInstalledCudaRuntime would accept, and no temporary files remain.
 */
export async function installCudaProviders(options: InstallCudaProvidersOptions): Promise<InstalledCudaRuntime> {
  const support = cudaPlatformSupport();
  if (!support.supported) throw new Error(support.reason);
  const { storageDir, signal } = options;
  const version = await readOnnxRuntimeVersion(options.ortPackageDir);
  const runtimeDir = cudaRuntimeDir(storageDir, version);
  const providerPaths = CUDA_PROVIDER_FILES.map((file) => path.join(runtimeDir, BINARY_DIR, file));
  if (await findInstalledCudaRuntime(storageDir, version)) return { runtimeDir, version, files: providerPaths, reused: true };

  const pkg = await resolveCudaProviderPackage({ ...options, version });
  const runtimesRoot = path.dirname(runtimeDir);
  await fs.mkdir(runtimesRoot, { recursive: true });
  await removeStaleStaging(runtimesRoot);
  // Beside the destination, so the final rename stays on one file system (and is atomic).
  const staging = path.join(runtimesRoot, `${STAGING_PREFIX}${version}-${randomBytes(6).toString('hex')}`);
  await fs.mkdir(staging);
  try {
    const nupkg = path.join(staging, 'package.nupkg');
    const downloaded = await downloadVerified(pkg, nupkg, options);
    throwIfAborted(signal);
    options.onProgress?.({ phase: 'install', loaded: downloaded, total: downloaded });

    const stagedRuntime = path.join(staging, 'runtime');
    await copyOnnxRuntimePackage(options.ortPackageDir, stagedRuntime);
    throwIfAborted(signal);
    const wanted = new Map(CUDA_PROVIDER_FILES.map((file) => [`${NATIVE_DIR_IN_PACKAGE}/${file}`, path.join(stagedRuntime, BINARY_DIR, file)]));
    await extractEntries(nupkg, wanted, pkg, signal);
    throwIfAborted(signal);

    const marker: CompletionMarker = {
      version,
      packageId: pkg.packageId,
      feedIndexUrl: pkg.feedIndexUrl,
      sha512: pkg.sha512,
      providerFiles: CUDA_PROVIDER_FILES.map((file) => path.join(BINARY_DIR, file)),
    };
    await fs.writeFile(path.join(stagedRuntime, MARKER_FILE), JSON.stringify(marker, null, 2));
    const reused = await moveIntoPlace(stagedRuntime, runtimeDir, storageDir, version);
    await removeOtherVersions(runtimesRoot, version);
    return { runtimeDir, version, files: providerPaths, reused };
  } catch (error) {
    if (signal?.aborted) throw cancelledError();
    throw error;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/**
 * Renames the staged runtime to its place. Another window may have finished the same install first:
 * its complete copy is kept (true is returned); a leftover without a marker is replaced.
 */
async function moveIntoPlace(staged: string, runtimeDir: string, storageDir: string, version: string): Promise<boolean> {
  try {
    await fs.rename(staged, runtimeDir);
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw error;
  }
  if (await findInstalledCudaRuntime(storageDir, version)) return true;
  await fs.rm(runtimeDir, { recursive: true, force: true });
  await fs.rename(staged, runtimeDir);
  return false;
}

/**
 * Runtimes of other onnxruntime versions are dead weight (hundreds of MB each): the extension only
 * ever loads its own version's. Linux keeps files open by a running process readable after removal,
 * so a window still on the old version is not disturbed.
 */
async function removeOtherVersions(runtimesRoot: string, keep: string): Promise<void> {
  for (const entry of await fs.readdir(runtimesRoot)) {
    if (entry !== keep && !entry.startsWith(STAGING_PREFIX)) await fs.rm(path.join(runtimesRoot, entry), { recursive: true, force: true });
  }
}

async function removeStaleStaging(runtimesRoot: string): Promise<void> {
  const now = Date.now();
  for (const entry of await fs.readdir(runtimesRoot)) {
    if (!entry.startsWith(STAGING_PREFIX)) continue;
    const folder = path.join(runtimesRoot, entry);
    const stat = await fs.stat(folder).catch(() => undefined);
    if (stat && now - stat.mtimeMs > STALE_STAGING_MS) await fs.rm(folder, { recursive: true, force: true });
  }
}

// ---- NuGet v3 ---------------------------------------------------------------------------------

interface ServiceIndex {
  resources?: Array<{ '@id'?: string; '@type'?: string | string[] }>;
}
interface CatalogEntry {
  '@id'?: string;
  version?: string;
  packageHash?: string;
  packageHashAlgorithm?: string;
  packageSize?: number;
}
interface RegistrationPage {
  '@id'?: string;
  items?: Array<{ catalogEntry?: CatalogEntry | string }>;
}
interface RegistrationIndex {
  items?: RegistrationPage[];
}

/** Newest first: nuget.org's 3.6.0 hive lists SemVer 2 versions too; any of them has a SemVer 1 version like ours. */
const REGISTRATION_TYPES = ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl'];

/** NuGet compares versions case-insensitively and without build metadata. */
const normalizeVersion = (version: string) => version.toLowerCase().split('+')[0];
const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/**
 * Looks the package up on the feed: the .nupkg URL (PackageBaseAddress, as onnxruntime-node's
 * script builds it) and the SHA-512 to check it against (registration → catalog entry
 * `packageHash`). Refuses a feed that publishes no SHA-512: unverified native code is not installed.
 */
export async function resolveCudaProviderPackage(options: FeedOptions & { version: string }): Promise<CudaProviderPackage> {
  const feedIndexUrl = options.feedIndexUrl ?? DEFAULT_NUGET_FEED;
  const version = checkedVersion(options.version);
  const id = CUDA_PROVIDER_PACKAGE.toLowerCase();
  const get = (url: string) => getJson(url, options);

  const index = (await get(feedIndexUrl)) as ServiceIndex | undefined;
  if (!index || !Array.isArray(index.resources)) {
    throw new Error(`${feedIndexUrl} is not a NuGet v3 service index (no "resources"): set the feed to a v3 index.json URL such as ${DEFAULT_NUGET_FEED}.`);
  }
  const resourceOf = (type: string) => index.resources?.find((resource) => [resource['@type']].flat().includes(type))?.['@id'];
  const packageBase = resourceOf('PackageBaseAddress/3.0.0');
  const registrationsBase = REGISTRATION_TYPES.map(resourceOf).find((url) => url !== undefined);
  if (!packageBase || !registrationsBase) {
    throw new Error(`The NuGet feed ${feedIndexUrl} lacks a PackageBaseAddress or RegistrationsBaseUrl resource, both needed to download and verify ${CUDA_PROVIDER_PACKAGE}: use a full NuGet v3 feed such as ${DEFAULT_NUGET_FEED}.`);
  }

  const registration = (await get(`${withSlash(registrationsBase)}${id}/index.json`)) as RegistrationIndex | undefined;
  if (!registration) {
    throw new Error(`The NuGet feed ${feedIndexUrl} has no ${CUDA_PROVIDER_PACKAGE} package at all: use ${DEFAULT_NUGET_FEED} or a mirror of it.`);
  }
  const seen: string[] = [];
  let entry: CatalogEntry | string | undefined;
  for (const listedPage of registration.items ?? []) {
    // Feeds inline the versions of small pages and link the rest.
    const page = listedPage.items ? listedPage : listedPage['@id'] ? ((await get(listedPage['@id'])) as RegistrationPage | undefined) : undefined;
    for (const item of page?.items ?? []) {
      const itemVersion = typeof item.catalogEntry === 'object' ? item.catalogEntry.version : undefined;
      if (itemVersion === undefined) continue;
      seen.push(itemVersion);
      if (normalizeVersion(itemVersion) === normalizeVersion(version)) entry = item.catalogEntry;
    }
    if (entry) break;
  }
  if (!entry) {
    const recent = seen.slice(-5).join(', ') || 'none';
    throw new Error(
      `The NuGet feed ${feedIndexUrl} has no ${CUDA_PROVIDER_PACKAGE} ${version} (latest it lists: ${recent}). The CUDA providers must be ` +
        `the exact version of the bundled onnxruntime-node (${version}): use ${DEFAULT_NUGET_FEED}, or wait until the feed has that release.`,
    );
  }
  // The inline entry of a registration is abridged; the hash lives in the catalog leaf it links to.
  let catalog: CatalogEntry | undefined = typeof entry === 'object' ? entry : undefined;
  if (!catalog?.packageHash) {
    const leafUrl = typeof entry === 'string' ? entry : entry['@id'];
    catalog = leafUrl ? ((await get(leafUrl)) as CatalogEntry | undefined) : undefined;
  }
  if (!catalog?.packageHash) {
    throw new Error(`The NuGet feed ${feedIndexUrl} publishes no packageHash for ${CUDA_PROVIDER_PACKAGE} ${version}, so the download could not be checked; refusing to install unverified native code. Use ${DEFAULT_NUGET_FEED}.`);
  }
  if ((catalog.packageHashAlgorithm ?? 'SHA512').toUpperCase() !== 'SHA512') {
    throw new Error(`The NuGet feed ${feedIndexUrl} gives a ${catalog.packageHashAlgorithm} hash for ${CUDA_PROVIDER_PACKAGE} ${version}; only SHA512 is checked. Use ${DEFAULT_NUGET_FEED}.`);
  }
  const lowerVersion = normalizeVersion(version);
  return {
    packageId: CUDA_PROVIDER_PACKAGE,
    version,
    feedIndexUrl,
    nupkgUrl: `${withSlash(packageBase)}${id}/${lowerVersion}/${id}.${lowerVersion}.nupkg`,
    size: typeof catalog.packageSize === 'number' && catalog.packageSize > 0 ? catalog.packageSize : undefined,
    sha512: catalog.packageHash,
  };
}

/** A feed's JSON document; undefined for a 404 (the caller knows what is missing). */
async function getJson(url: string, options: FeedOptions): Promise<unknown> {
  const response = await request(url, options);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status} ${response.statusText}: try again later, or check the feed URL.`);
  try {
    return await response.json();
  } catch (error) {
    if (options.signal?.aborted) throw cancelledError();
    throw new Error(`${url} did not answer JSON (${(error as Error).message}): check that the feed URL is a NuGet v3 feed.`);
  }
}

async function request(url: string, options: FeedOptions): Promise<Response> {
  throwIfAborted(options.signal);
  try {
    return await (options.fetch ?? fetch)(url, { signal: options.signal });
  } catch (error) {
    if (options.signal?.aborted) throw cancelledError();
    const cause = (error as Error & { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    throw new Error(`Cannot reach ${url} (${cause}): check the network connection and proxy settings, or point the feed at a NuGet mirror you can reach.`, { cause: error });
  }
}

/** Streams the .nupkg to `file`, hashing as it goes, and refuses it unless the SHA-512 is the feed's. */
async function downloadVerified(pkg: CudaProviderPackage, file: string, options: InstallCudaProvidersOptions): Promise<number> {
  const { signal, onProgress } = options;
  const response = await request(pkg.nupkgUrl, options);
  if (!response.ok || !response.body) {
    throw new Error(`Downloading ${pkg.nupkgUrl} failed: HTTP ${response.status} ${response.statusText}. Try again later, or check the feed URL.`);
  }
  const total = Number(response.headers.get('content-length')) || pkg.size || 0;
  const hash = createHash('sha512');
  let loaded = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      loaded += chunk.length;
      onProgress?.({ phase: 'download', loaded, total });
      callback(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), counter, createWriteStream(file), { signal });
  } catch (error) {
    if (signal?.aborted) throw cancelledError();
    throw new Error(`Downloading ${pkg.nupkgUrl} failed after ${loaded} bytes (${(error as Error).message}): try again.`, { cause: error });
  }
  // A feed without Content-Length or packageSize: the end is the only moment the total is known.
  if (total !== loaded) onProgress?.({ phase: 'download', loaded, total: loaded });
  const actual = hash.digest('base64');
  if (actual !== pkg.sha512) {
    throw new Error(
      `The download of ${pkg.packageId} ${pkg.version} from ${pkg.nupkgUrl} does not match the SHA-512 the feed publishes ` +
        `(expected ${pkg.sha512}, got ${actual}), so it was discarded and nothing was installed. Try again; if it persists, ` +
        'something between you and the feed (a proxy or mirror) is altering the file.',
    );
  }
  return loaded;
}

/** Writes each wanted zip entry (by its path in the package) to its target; fails if any is absent. */
async function extractEntries(zipPath: string, wanted: Map<string, string>, pkg: CudaProviderPackage, signal: AbortSignal | undefined): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false }, (error, opened) => (error ? reject(error) : resolve(opened))),
  ).catch((error: Error) => {
    throw new Error(`${pkg.packageId} ${pkg.version} is not a readable .nupkg (${error.message}): try the install again.`, { cause: error });
  });
  const found = new Set<string>();
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        const target = wanted.get(entry.fileName);
        if (target === undefined) return zip.readEntry();
        zip.openReadStream(entry, (error, stream) => {
          if (error) return reject(error);
          pipeline(stream, createWriteStream(target, { mode: 0o755 }), { signal }).then(() => {
            found.add(entry.fileName);
            zip.readEntry();
          }, reject);
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  const missing = [...wanted.keys()].filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new Error(`${pkg.packageId} ${pkg.version} from ${pkg.feedIndexUrl} lacks ${missing.join(', ')}, which onnxruntime-node needs for CUDA: the package layout has changed; please report it.`);
  }
}

// ---- The runtime copy ---------------------------------------------------------------------------

/**
 * Copies what `require()` of onnxruntime-node needs: its package.json, the folder of its `main`, the
 * Linux x64 binaries, and onnxruntime-common (its one runtime dependency) under node_modules/, so the
 * copy resolves it by itself wherever it lives.
 */
async function copyOnnxRuntimePackage(ortPackageDir: string, target: string): Promise<void> {
  const manifest = (await readJsonFile(path.join(ortPackageDir, 'package.json'))) as { main?: string };
  const binaries = path.join(ortPackageDir, BINARY_DIR);
  if (!(await exists(path.join(binaries, 'libonnxruntime.so.1')))) {
    throw new Error(`${binaries} has no libonnxruntime.so.1: this onnxruntime-node is not the Linux x64 build. Reinstall the Linux x64 Preference Lens.`);
  }
  await fs.mkdir(target, { recursive: true });
  await fs.copyFile(path.join(ortPackageDir, 'package.json'), path.join(target, 'package.json'));
  const mainTop = path.normalize(manifest.main ?? 'index.js').split(path.sep)[0];
  await fs.cp(path.join(ortPackageDir, mainTop), path.join(target, mainTop), { recursive: true });
  await fs.cp(binaries, path.join(target, BINARY_DIR), { recursive: true });
  await fs.cp(findPackageDir(ortPackageDir, 'onnxruntime-common'), path.join(target, 'node_modules', 'onnxruntime-common'), { recursive: true });
}

/** A dependency's folder as Node would resolve it from `fromPackageDir` (it may be hoisted above it). */
function findPackageDir(fromPackageDir: string, name: string): string {
  let entry: string;
  try {
    entry = createRequire(path.join(fromPackageDir, 'package.json')).resolve(name);
  } catch (error) {
    throw new Error(`${name}, which onnxruntime-node requires, cannot be found from ${fromPackageDir}: reinstall Preference Lens.`, { cause: error });
  }
  const marker = `${path.sep}node_modules${path.sep}${name}${path.sep}`;
  const at = entry.lastIndexOf(marker);
  if (at < 0) throw new Error(`${name} resolved to ${entry}, outside a node_modules folder; cannot copy it`);
  return entry.slice(0, at + marker.length - 1);
}

async function readJsonFile(file: string): Promise<unknown> {
  return JSON.parse(await fs.readFile(file, 'utf8'));
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
