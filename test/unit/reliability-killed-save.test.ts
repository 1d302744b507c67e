/**
 * Nothing lost on a killed save (issue 6 item 2), by actually killing processes: a child process
 * saves a large annotations sidecar (or writes a large file with writeFileAtomic) in a loop and is
 * SIGKILLed at random moments, over and over. After every kill the file must be exactly the old or
 * the new content — fully parseable, no half-written save, no acknowledged save lost — and the
 * next process must be able to carry on from it.
 *
 * SIGKILL stops the process at an arbitrary instruction but keeps what the kernel already has, so
 * this proves the write protocol (temporary file, then rename) rather than durability across a
 * power cut, which is what the fsyncs in writeFileAtomic are for and which a test cannot cut.
 *
 * The run continues until enough kills landed while a temporary file existed (i.e. in the middle
 * of writeFileAtomic), so the dangerous window is exercised on every run, not by luck.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildSync } from 'esbuild';
import { AnnotationLog, type AnnotationEvent } from '../../src/core/annotations';

const repo = path.resolve(__dirname, '../..');
/** Kills that must land mid-write before a test may pass. */
const MID_WRITE_KILLS = Number(process.env.PLENS_KILL_MID_WRITE ?? 5);
const MAX_ITERATIONS = Number(process.env.PLENS_KILL_MAX_ITERATIONS ?? 250);
const SEED_EVENTS = 20_000;
const BATCH = 25;

/**
 * The child, bundled with esbuild so that each of the many spawns starts in tens of milliseconds
 * (tsx would compile on every start). Prints "ready" and then one line per completed save.
 */
const CHILD_SOURCE = `
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { AnnotationLog } from ${JSON.stringify(path.join(repo, 'src/core/annotations'))};
import { writeFileAtomic } from ${JSON.stringify(path.join(repo, 'src/core/atomicWrite'))};
import { createHash } from 'node:crypto';

const [mode, file, batchText] = process.argv.slice(2);
const batch = Number(batchText);

async function saveLog() {
  const log = await AnnotationLog.load(file);
  let events = readFileSync(file, 'utf8').split('\\n').filter((l) => l.trim()).length - 1;
  process.stdout.write('ready ' + events + '\\n');
  for (let n = 0; ; n++) {
    for (let i = 0; i < batch; i++) {
      log.record({ key: 'p' + process.pid + '-' + n + '-' + i, line: i + 1, field: 'note', from: null, to: 'n'.repeat(120), by: 'killed-child', at: new Date().toISOString() });
    }
    await log.save(file);
    events += batch;
    process.stdout.write('saved ' + events + '\\n');
  }
}

/** Versions of a 4 MB file, each ending in the sha256 of the rest, so a torn file is detectable. */
async function writeVersions(write) {
  const start = Number(readFileSync(file, 'utf8').split('\\n', 1)[0]);
  process.stdout.write('ready ' + start + '\\n');
  for (let version = start + 1; ; version++) {
    const body = version + '\\n' + String(version % 10).repeat(4 * 1024 * 1024) + '\\n';
    await write(file, body + createHash('sha256').update(body).digest('hex'));
    process.stdout.write('saved ' + version + '\\n');
  }
}

// 'naive' is the control: a plain overwrite, which the test must catch tearing.
const run = mode === 'log' ? saveLog() : writeVersions(mode === 'naive' ? (f, d) => writeFile(f, d) : writeFileAtomic);
run.catch((error) => {
  process.stderr.write(String(error && error.stack || error) + '\\n');
  process.exit(2);
});
`;

let work: string;
let childJs: string;

before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'plens-killed-save-'));
  const entry = path.join(work, 'child.ts');
  writeFileSync(entry, CHILD_SOURCE);
  childJs = path.join(work, 'child.js');
  buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: childJs, logLevel: 'warning' });
});

after(() => rmSync(work, { recursive: true, force: true }));

type Mode = 'log' | 'bytes' | 'naive';

interface Run {
  /** The number the child printed with "ready": what it read from disk. */
  ready: number;
  /** The last number it printed with "saved": the last save it knows completed. */
  acknowledged: number;
  stderr: string;
}

/**
 * Starts the child and SIGKILLs it `delayMs` after it is ready (or when it fails). Resolves once it
 * is dead with what it reported.
 */
function runAndKill(mode: Mode, file: string, delayMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childJs, mode, file, String(BATCH)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!timer && /^ready \d+$/m.test(out)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const ready = /^ready (\d+)$/m.exec(out);
      if (!ready) return reject(new Error(`child exited (${code ?? signal}) before it was ready: ${stderr}`));
      if (signal !== 'SIGKILL') return reject(new Error(`child exited by itself (${code ?? signal}): ${stderr}`));
      const saved = [...out.matchAll(/^saved (\d+)$/gm)].map((m) => Number(m[1]));
      resolve({ ready: Number(ready[1]), acknowledged: saved.at(-1) ?? Number(ready[1]), stderr });
    });
  });
}

/** Temporary files writeFileAtomic leaves when killed: `.<name>.<pid>.<random>.tmp` beside it. */
function temporaries(file: string): string[] {
  const prefix = `.${path.basename(file)}.`;
  return readdirSync(path.dirname(file)).filter((f) => f.startsWith(prefix) && f.endsWith('.tmp'));
}

/** A kill lands anywhere in a save cycle; the cycle's length, measured once, bounds the delays. */
const randomDelay = (cycleMs: number) => Math.floor(Math.random() * cycleMs * 1.5);

async function measureCycle(mode: Mode, file: string): Promise<number> {
  const started = Date.now();
  const run = await runAndKill(mode, file, 1500);
  const saves = Math.max(1, (run.acknowledged - run.ready) / (mode === 'log' ? BATCH : 1));
  // Not exact (start-up is included), but the right order of magnitude is all the delays need.
  return Math.max(20, Math.min(1500, (Date.now() - started) / saves));
}

test('SIGKILL during AnnotationLog.save: the sidecar is always the old or the new log, whole', { timeout: 10 * 60_000 }, async () => {
  const file = path.join(work, 'data.jsonl.plens-annotations.jsonl');
  const seed = AnnotationLog.empty();
  for (let i = 0; i < SEED_EVENTS; i++) {
    seed.record({ key: `seed-${i}`, line: i + 1, field: i % 2 ? 'flagged' : 'label', from: null, to: i % 2 ? true : 'a', by: 'seed', at: new Date(0).toISOString() } as AnnotationEvent);
  }
  await seed.save(file);
  const seedSize = readFileSync(file).length;

  const cycleMs = await measureCycle('log', file);
  let midWrite = 0;
  let iterations = 0;
  let previous = await eventsOnDisk(file);
  for (; iterations < MAX_ITERATIONS && midWrite < MID_WRITE_KILLS; iterations++) {
    const before = new Set(temporaries(file));
    const run = await runAndKill('log', file, randomDelay(cycleMs));
    assert.equal(run.ready, previous, 'the child read what the last one left');
    // Whole and parseable: AnnotationLog.load refuses a torn line or a missing header.
    const log = await AnnotationLog.load(file);
    assert.ok(log.get('seed-0') && log.get(`seed-${SEED_EVENTS - 1}`), 'seed events are still there');
    const events = await eventsOnDisk(file);
    // Old or new: every save the child acknowledged is on disk, and at most the one it was in the
    // middle of (which may have been renamed into place just before the kill) on top of them.
    assert.ok(
      events === run.acknowledged || events === run.acknowledged + BATCH,
      `after a kill, ${events} events on disk; acknowledged ${run.acknowledged} (iteration ${iterations})`,
    );
    if (temporaries(file).some((t) => !before.has(t))) midWrite++;
    previous = events;
  }
  const leftovers = temporaries(file);
  console.log(
    `${iterations} kills (cycle ≈${Math.round(cycleMs)} ms, sidecar ${(seedSize / 1e6).toFixed(1)} MB+), ` +
      `${midWrite} during writeFileAtomic; ${leftovers.length} temporary files left behind`,
  );
  assert.ok(midWrite >= MID_WRITE_KILLS, `only ${midWrite} of ${iterations} kills landed mid-write: the test did not exercise the window`);
  // Leftover temporaries are inert: never read as the sidecar, and a later save still works.
  const final = await AnnotationLog.load(file);
  final.record({ key: 'after', line: 1, field: 'reviewed', from: null, to: true, by: 'test', at: new Date().toISOString() });
  await final.save(file);
  assert.equal((await AnnotationLog.load(file)).get('after')?.reviewed, true);
});

test('SIGKILL during writeFileAtomic: a 4 MB file is never torn', { timeout: 10 * 60_000 }, async () => {
  const file = path.join(work, 'versions.bin');
  writeVersionZero(file);
  const cycleMs = await measureCycle('bytes', file);
  let midWrite = 0;
  let iterations = 0;
  let previous = versionOnDisk(file);
  for (; iterations < MAX_ITERATIONS && midWrite < MID_WRITE_KILLS; iterations++) {
    const before = new Set(temporaries(file));
    const run = await runAndKill('bytes', file, randomDelay(cycleMs));
    assert.equal(run.ready, previous);
    const version = versionOnDisk(file);
    assert.ok(version === run.acknowledged || version === run.acknowledged + 1, `version ${version} on disk; acknowledged ${run.acknowledged}`);
    if (temporaries(file).some((t) => !before.has(t))) midWrite++;
    previous = version;
  }
  console.log(`${iterations} kills (cycle ≈${Math.round(cycleMs)} ms), ${midWrite} during writeFileAtomic; ${temporaries(file).length} temporary files left behind`);
  assert.ok(midWrite >= MID_WRITE_KILLS, `only ${midWrite} of ${iterations} kills landed mid-write`);
});

/**
 * The control: the same kills against a plain overwrite (fs.writeFile straight onto the file) must
 * produce a torn file, or the checks above could not tell atomic from not.
 */
test('control: the same kills tear a file written without writeFileAtomic', { timeout: 5 * 60_000 }, async () => {
  const file = path.join(work, 'naive.bin');
  writeVersionZero(file);
  const cycleMs = await measureCycle('naive', file);
  let torn = 0;
  let iterations = 0;
  for (; iterations < MAX_ITERATIONS && torn === 0; iterations++) {
    await runAndKill('naive', file, randomDelay(cycleMs));
    try {
      versionOnDisk(file);
    } catch {
      torn++;
      // Start the next round from a whole file again.
      writeVersionZero(file);
    }
  }
  console.log(`control: torn after ${iterations} kill(s)`);
  assert.ok(torn > 0, `a plain overwrite was never torn in ${iterations} kills: the kill timing does not reach the write`);
});

async function eventsOnDisk(file: string): Promise<number> {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).length - 1;
}

/** The version number of a file written by the child, after checking its checksum. */
/** Version 0 of the child's versioned file (a body, then its sha256), as versionOnDisk reads it. */
function writeVersionZero(file: string): void {
  const body = '0\n';
  writeFileSync(file, body + createHash('sha256').update(body).digest('hex'));
}

function versionOnDisk(file: string): number {
  const text = readFileSync(file, 'utf8');
  const body = text.slice(0, -64);
  assert.equal(createHash('sha256').update(body).digest('hex'), text.slice(-64), `torn file: ${text.length} bytes`);
  return Number(body.split('\n', 1)[0]);
}
