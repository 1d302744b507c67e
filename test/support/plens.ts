/** Runs the built CLI as a user does: `node dist/cli.js …` in a child process. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

const repoRoot = path.resolve(__dirname, '..', '..');
export const cliPath = path.join(repoRoot, 'dist', 'cli.js');

export interface PlensRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runPlens(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<PlensRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd: repoRoot, env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export interface CliScratch {
  /** The scratch folder of the suite. */
  readonly dir: string;
  /** A path in the scratch folder that no other call returns: `name` with a number in front. */
  file(name: string): string;
  /** Runs plens with a score cache of its own: never the user's. */
  plens(...args: string[]): Promise<PlensRun>;
  /** The same, with more environment variables. */
  plensWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<PlensRun>;
}

/**
 * A CLI test suite's scratch folder, made before its tests (after checking the CLI is built) and
 * removed after them, and a `plens` that runs in it. `per-run`: each run has a cache of its own, so
 * no run is answered from an earlier one's scores; `shared`: the suite's runs share one.
 */
export function cliScratch(prefix: string, cache: 'per-run' | 'shared' = 'per-run'): CliScratch {
  // Made now, not in a hook: the suite's own `before` may start before an earlier async hook has
  // finished, and a folder still unset was '' there, so its first file landed in the repo root.
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  let runs = 0;
  let files = 0;
  before(() => assert.ok(existsSync(cliPath), `${cliPath} is missing: run \`npm run build\` first`));
  after(() => rm(dir, { recursive: true, force: true }));
  const plensWith = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    runPlens(args, { ...process.env, XDG_CACHE_HOME: path.join(dir, 'cache', cache === 'shared' ? '' : String(runs++)), ...env });
  return {
    dir,
    file: (name) => path.join(dir, `${files++}-${name}`),
    plens: (...args) => plensWith({}, ...args),
    plensWith,
  };
}
