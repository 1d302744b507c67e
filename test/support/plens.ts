/** Runs the built CLI as a user does: `node dist/cli.js …` in a child process. */
import { execFile } from 'node:child_process';
import path from 'node:path';

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
