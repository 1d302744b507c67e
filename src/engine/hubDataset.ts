/**
 * Dataset files on the Hugging Face Hub named by path, as huggingface_hub's file system names them:
 * `hf://datasets/org/name/path/to/file.parquet`, or `hf://datasets/org/name@revision/path` for a
 * branch, tag or commit (`refs%2Fconvert%2Fparquet`, the Hub's Parquet conversion, URL-encoded as
 * huggingface_hub writes it). The file is found in the Hugging Face cache, in Python's layout
 * (`datasets--org--name/refs/<revision>` holds a commit, `snapshots/<commit>/<path>` links to
 * `blobs/<etag>`), so a file fetched by `datasets` or `huggingface_hub` is reused, and one fetched
 * here is reused by them; else it is downloaded into the cache with progress.
 *
 * The download is the Hub's resolve endpoint read directly rather than @huggingface/hub's
 * downloadFileToCacheDir: that one logs to stdout (where plens writes its JSON) and files a download
 * under the file's last commit instead of the revision's, so Python would not find it. The commit
 * comes from the `X-Repo-Commit` header of the resolve answer, as huggingface_hub takes it.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { abortError } from './abort';
import { hubCacheDir, type HubProgress } from './hub';

export const HF_PREFIX = 'hf://';

export interface HubDatasetFile {
  /** `org/name`. */
  repo: string;
  revision: string;
  /** The file's path in the repo. */
  path: string;
}

const COMMIT_SHA = /^[0-9a-f]{40}$/;

export function isHubDatasetPath(spec: string): boolean {
  return spec.startsWith(HF_PREFIX);
}

/** Reads an `hf://datasets/…` path; throws saying what the form is when it is not one. */
export function parseHubDatasetPath(spec: string): HubDatasetFile {
  const match = /^hf:\/\/datasets\/([\w.-]+)\/([\w.-]+?)(?:@([^/]+))?\/(.+)$/.exec(spec);
  if (!match || match[4].split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(
      `"${spec}" is not a Hugging Face dataset file: write hf://datasets/org/name/path/to/file (or hf://datasets/org/name@revision/path/to/file)`,
    );
  }
  const [, org, name, revision, file] = match;
  return { repo: `${org}/${name}`, revision: revision === undefined ? 'main' : decodeURIComponent(revision), path: file };
}

export interface ResolveHubDatasetOptions {
  /** Default hubCacheDir(). */
  cacheDir?: string;
  /** Default $HF_ENDPOINT (a mirror, as huggingface_hub reads it), else the public Hub. */
  hubUrl?: string;
  /** For private or gated datasets; default $HF_TOKEN. */
  accessToken?: string;
  signal?: AbortSignal;
  /** Called as bytes arrive (not for a cache hit). */
  onProgress?: (progress: HubProgress) => void;
}

const repoFolder = (cacheDir: string, repo: string) => path.join(cacheDir, `datasets--${repo.replace('/', '--')}`);

/** The file in the cache, if it is there: through the revision's ref, or the commit itself. */
export async function findCachedDatasetFile(file: HubDatasetFile, cacheDir: string = hubCacheDir()): Promise<string | undefined> {
  const folder = repoFolder(cacheDir, file.repo);
  const sha = COMMIT_SHA.test(file.revision) ? file.revision : (await fs.readFile(path.join(folder, 'refs', file.revision), 'utf8').catch(() => '')).trim();
  if (!sha) return undefined;
  const local = path.join(folder, 'snapshots', sha, ...file.path.split('/'));
  const stat = await fs.stat(local).catch(() => undefined);
  return stat?.isFile() ? local : undefined;
}

/**
 * The local path of an `hf://datasets/…` file: the cached copy, else a fresh download into the
 * cache. Rejects with an AbortError when `signal` fires, and with a message saying what to check
 * when the dataset or the file is not there, or is private or gated.
 */
export async function resolveHubDatasetFile(spec: string, options: ResolveHubDatasetOptions = {}): Promise<string> {
  const file = parseHubDatasetPath(spec);
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const cached = await findCachedDatasetFile(file, cacheDir);
  if (cached !== undefined) return cached;

  const hubUrl = (options.hubUrl ?? (process.env.HF_ENDPOINT || 'https://huggingface.co')).replace(/\/+$/, '');
  const accessToken = options.accessToken ?? (process.env.HF_TOKEN || undefined);
  const headers: Record<string, string> = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
  const url = `${hubUrl}/datasets/${file.repo}/resolve/${encodeURIComponent(file.revision)}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
  const { signal } = options;
  try {
    // Not followed at once: the Hub's own answer carries the commit and the etag, a CDN's after a redirect does not.
    let response = await fetch(url, { headers, redirect: 'manual', signal });
    const answer = response;
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      await response.body?.cancel();
      // The token goes to the Hub only, not to the storage it redirects to.
      const location = new URL(response.headers.get('location')!, url);
      response = await fetch(location, { headers: location.origin === new URL(url).origin ? headers : {}, signal });
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(failure(spec, file, hubUrl, response.status, answer.headers.get('x-error-code')));
    }
    const sha = answer.headers.get('x-repo-commit') ?? (COMMIT_SHA.test(file.revision) ? file.revision : undefined);
    if (!sha || !COMMIT_SHA.test(sha)) throw new Error(`${hubUrl} gave no commit for ${file.repo}@${file.revision} (no X-Repo-Commit header)`);
    const etag = (answer.headers.get('x-linked-etag') ?? answer.headers.get('etag') ?? sha + '-' + file.path).replace(/^W\//, '').replace(/"/g, '').replace(/[^\w.-]/g, '_');
    const total = Number(answer.headers.get('x-linked-size') ?? response.headers.get('content-length') ?? 0);

    const folder = repoFolder(cacheDir, file.repo);
    const blob = path.join(folder, 'blobs', etag);
    const local = path.join(folder, 'snapshots', sha, ...file.path.split('/'));
    await fs.mkdir(path.dirname(blob), { recursive: true });
    await fs.mkdir(path.dirname(local), { recursive: true });
    // Written whole under another name, then renamed: a cut download never passes for the file.
    const incomplete = `${blob}.incomplete`;
    let loaded = 0;
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      loaded += chunk.length;
      options.onProgress?.({ file: file.path, loaded, total: Math.max(total, loaded) });
    });
    await pipeline(body, createWriteStream(incomplete), { signal });
    if (total && loaded !== total) throw new Error(`${spec}: the download stopped at ${loaded} of ${total} bytes; run the command again`);
    await fs.rename(incomplete, blob);
    // A relative link, as huggingface_hub makes them: the cache can be moved whole.
    await fs.rm(local, { force: true });
    await fs.symlink(path.relative(path.dirname(local), blob), local).catch(async () => {
      // Where links are not allowed (some Windows setups), huggingface_hub keeps a copy instead.
      await fs.copyFile(blob, local);
    });
    if (!COMMIT_SHA.test(file.revision)) {
      await fs.mkdir(path.join(folder, 'refs', ...path.dirname(file.revision).split('/').filter((p) => p !== '.')), { recursive: true });
      await fs.writeFile(path.join(folder, 'refs', ...file.revision.split('/')), sha);
    }
    return local;
  } catch (error) {
    if (signal?.aborted) throw abortError();
    if (error instanceof TypeError && (error as { cause?: Error }).cause) {
      throw new Error(`${spec}: cannot reach ${hubUrl} (${(error as { cause: Error }).cause.message}); a file already in the Hugging Face cache (${cacheDir}) needs no network`);
    }
    throw error;
  }
}

function failure(spec: string, file: HubDatasetFile, hubUrl: string, status: number, code: string | null): string {
  if (status === 404) {
    const what =
      code === 'RevisionNotFound'
        ? `revision "${file.revision}" of dataset ${file.repo}`
        : code === 'EntryNotFound'
          ? `file "${file.path}" in dataset ${file.repo}@${file.revision}`
          : `dataset ${file.repo} (or its file "${file.path}" at ${file.revision})`;
    return `${spec}: not found on ${hubUrl}: no ${what}; check the id, the path and the revision. A private dataset also answers "not found" without HF_TOKEN.`;
  }
  if (status === 401 || status === 403) {
    return `${spec}: ${hubUrl} refused access (${status}): the dataset is private or gated; accept its terms on the Hub and set HF_TOKEN`;
  }
  return `${spec}: downloading from ${hubUrl} failed (HTTP ${status})`;
}
