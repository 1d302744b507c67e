// The rough edges a new user hit with plens (issue 11), each run as a user runs it: the built CLI in a child process.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath as cli, runPlens, type PlensRun as Run } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'formats', name);

let runs = 0;
function plens(...args: string[]): Promise<Run> {
  // A cache of our own: never the user's, and no run answered from an earlier test's scores.
  return runPlens(args, { ...process.env, XDG_CACHE_HOME: path.join(dir, 'cache', String(runs++)) });
}

let dir: string;
before(async () => {
  assert.ok(existsSync(cli), `${cli} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'plens-edges-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('--out that cannot be written', () => {
  it('score fails at once with the path named, before the model is loaded', async () => {
    const folder = path.join(dir, 'a-folder');
    await mkdir(folder);
    for (const [out, reason] of [
      [path.join(dir, 'no-such-dir', 's.jsonl'), /--out .*no-such-dir.*s\.jsonl: the folder .*no-such-dir does not exist/],
      [folder, /--out .*a-folder is a folder; give a file path/],
    ] as const) {
      const run = await plens('score', fixture('hh-rlhf.jsonl'), '--out', out);
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, reason);
      // Nothing about the model: the check runs before it loads.
      assert.doesNotMatch(run.stderr, /baseline|running on|Unhandled/);
    }
  });

  it('export fails the same way', async () => {
    const run = await plens('export', fixture('hh-rlhf.jsonl'), '--out', path.join(dir, 'missing', 'x.jsonl'));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^plens: --out .*missing.*x\.jsonl: the folder .*missing does not exist/m);
  });
});
