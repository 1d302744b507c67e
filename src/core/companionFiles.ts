/**
 * Where a dataset's companion files go (its annotations sidecar, its team file): next to the
 * dataset, named after it, so they travel with it and git sees them.
 *
 * Except for a file in the Hugging Face cache (where `hf://datasets/…` paths resolve, in Python's
 * layout `datasets--org--name/snapshots/<commit>/<path>`): that folder belongs to the cache, which
 * `huggingface-cli delete-cache` and revision cleanups remove whole, so labels kept there would be
 * deleted with it, and a newer revision would not see them. Those files' companions live in the
 * per-user data folder, under the dataset's repo and path but not its revision: a re-downloaded file
 * or a newer revision finds the same labels (annotations follow pairs by content key). A companion
 * already next to a cached file (written before this rule) is still the one used.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface HubCachedFile {
  /** `org/name`. */
  repo: string;
  /** The snapshot's commit. */
  commit: string;
  /** The file's path in the repo, `/`-separated. */
  path: string;
}

/** The repo, commit and path of a file inside a Hugging Face cache snapshot; undefined for any other file. */
export function hubCachedFile(file: string): HubCachedFile | undefined {
  const parts = path.resolve(file).split(path.sep);
  for (let i = parts.length - 4; i >= 0; i--) {
    const repo = /^datasets--(.+?)--(.+)$/.exec(parts[i]!);
    if (repo && parts[i + 1] === 'snapshots' && /^[0-9a-f]{40}$/.test(parts[i + 2]!)) {
      return { repo: `${repo[1]}/${repo[2]}`, commit: parts[i + 2]!, path: parts.slice(i + 3).join('/') };
    }
  }
  return undefined;
}

/**
 * The per-user folder for data Preference Lens keeps outside any dataset folder: $XDG_DATA_HOME (or
 * ~/.local/share) on Linux, ~/Library/Application Support on macOS, %APPDATA% on Windows, each with a
 * `preference-lens` folder. Unlike the score cache, nothing here may be deleted to save space.
 */
export function userDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = os.homedir()): string {
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'preference-lens');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'preference-lens');
  return path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'preference-lens');
}

/** The path of `datasetFile`'s companion ending in `suffix` (e.g. `.plens-annotations.jsonl`). */
export function companionPath(datasetFile: string, suffix: string, dataDir: () => string = userDataDir): string {
  const beside = `${datasetFile}${suffix}`;
  const cached = hubCachedFile(datasetFile);
  if (!cached || existsSync(beside)) return beside;
  return `${path.join(dataDir(), 'hf', 'datasets', ...cached.repo.split('/'), ...cached.path.split('/'))}${suffix}`;
}
