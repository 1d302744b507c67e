/**
 * Peak memory of the command line on large files: `plens inspect` of a generated 1 GiB HH-RLHF-like
 * file (target under 200 MB) and `plens score` of a 200 MiB one with the bundled model (target under
 * 400 MB), next to the review editor's index of the same 1 GiB file measured in the same run, and the
 * previous saved run.
 *
 *   npm run build && node --import tsx bench/cli-memory.bench.ts [--inspect-mb 1024] [--score-mb 200] [--no-score]
 *                                                  [--parquet-mb 256] [--parquet-row-group 122880] [--no-parquet] [--keep]
 *
 * `--parquet-mb`: `plens inspect` of a Parquet copy (written by DuckDB, zstd, its default row groups of
 * 122,880 rows) of a generated file of that size: memory follows the largest row group, not the file.
 *
 * Each command runs as a user runs it (node dist/cli.js) with bench/peak-rss.cjs preloaded, which
 * reports the process's peak RSS (VmHWM) as it exits; the scoring worker is a thread of the same
 * process, so it is counted. Files are generated in bench/work/ (git-ignored) and deleted at the end
 * unless --keep; the figures are saved as JSON in bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { generate } from './hhLike';
import { writeParquet } from '../test/support/duckdb';

const TARGETS = { inspectPeakMb: 200, scorePeakMb: 400 };
const repo = path.resolve(__dirname, '..');
const cli = path.join(repo, 'dist', 'cli.js');
const work = path.join(__dirname, 'work');
const results = path.join(__dirname, 'results');

interface Measured {
  seconds: number;
  peakMb: number;
  stdout: string;
}

/** Runs `node [preload] args` and returns its wall time, peak RSS and stdout; fails loudly on a non-zero exit. */
function measure(args: string[], env: NodeJS.ProcessEnv = process.env): Measured {
  const started = performance.now();
  const run = spawnSync(process.execPath, ['--require', path.join(__dirname, 'peak-rss.cjs'), ...args], {
    encoding: 'utf8',
    env,
    maxBuffer: 1 << 30,
  });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`${args.join(' ')} failed (${run.status}): ${run.stderr.slice(-2000)}`);
  const match = /PEAK_RSS_KB (\d+)/.exec(run.stderr);
  if (!match) throw new Error(`no peak RSS reported by ${args.join(' ')}`);
  return { seconds, peakMb: Number(match[1]) / 1024, stdout: run.stdout };
}

function previousRun(): { file: string; summary: Record<string, unknown> } | undefined {
  if (!existsSync(results)) return undefined;
  const files = readdirSync(results)
    .filter((f) => /^cli-memory-.*\.json$/.test(f))
    .sort();
  const last = files.at(-1);
  return last ? { file: last, summary: JSON.parse(readFileSync(path.join(results, last), 'utf8')) } : undefined;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'inspect-mb': { type: 'string', default: '1024' },
      'score-mb': { type: 'string', default: '200' },
      'no-score': { type: 'boolean', default: false },
      'parquet-mb': { type: 'string', default: '256' },
      'parquet-row-group': { type: 'string', default: '122880' },
      'no-parquet': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  mkdirSync(work, { recursive: true });
  mkdirSync(results, { recursive: true });
  const previous = previousRun();
  const inspectFile = path.join(work, 'hh-like-inspect.jsonl');
  const scoreFile = path.join(work, 'hh-like-score.jsonl');
  const scoresOut = path.join(work, 'scores.jsonl');
  const parquetSource = path.join(work, 'hh-like-parquet.jsonl');
  const parquetFile = path.join(work, 'hh-like.zstd.parquet');
  const rows: [string, string, string, string][] = [];
  const ok = (pass: boolean) => (pass ? 'ok' : 'MISSED');
  const summary: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, memoryGb: Math.round(os.totalmem() / 2 ** 30) },
    targets: TARGETS,
  };
  try {
    const inspectBytes = Number(values['inspect-mb']) * 2 ** 20;
    const generated = generate(inspectFile, inspectBytes);
    const size = statSync(inspectFile).size;
    console.log(`generated ${(size / 2 ** 20).toFixed(0)} MiB, ${generated.records} records in ${generated.seconds.toFixed(1)} s`);

    const inspect = measure([cli, 'inspect', inspectFile]);
    const report = JSON.parse(inspect.stdout);
    if (report.pairs !== generated.records) throw new Error(`inspect counted ${report.pairs} pairs of ${generated.records}`);
    // The editor's figure, in the same run on the same file: its background index (index.bench.ts's child).
    const editor = measure(['--import', 'tsx', path.join(__dirname, 'index.bench.ts'), '--child', inspectFile]);
    const editorRecords = JSON.parse(editor.stdout).records;
    if (editorRecords !== generated.records) throw new Error(`the editor's index counted ${editorRecords} records of ${generated.records}`);
    summary.inspect = { bytes: size, pairs: report.pairs, seconds: inspect.seconds, peakMb: inspect.peakMb };
    summary.editorIndex = { seconds: editor.seconds, peakMb: editor.peakMb };
    const mib = (size / 2 ** 20).toFixed(0);
    rows.push([`plens inspect, ${mib} MiB`, `${inspect.peakMb.toFixed(0)} MB peak, ${inspect.seconds.toFixed(1)} s`, `< ${TARGETS.inspectPeakMb} MB`, ok(inspect.peakMb < TARGETS.inspectPeakMb)]);
    rows.push([`editor's index (same file, tsx)`, `${editor.peakMb.toFixed(0)} MB peak, ${editor.seconds.toFixed(1)} s`, '', '']);
    if (!values.keep) rmSync(inspectFile, { force: true });

    if (!values['no-parquet']) {
      const made = generate(parquetSource, Number(values['parquet-mb']) * 2 ** 20);
      const groups = await writeParquet(parquetSource, parquetFile, { compression: 'zstd', rowGroupSize: Number(values['parquet-row-group']) });
      const jsonlMib = (statSync(parquetSource).size / 2 ** 20).toFixed(0);
      rmSync(parquetSource, { force: true });
      const run = measure([cli, 'inspect', parquetFile]);
      const pairs = JSON.parse(run.stdout).pairs;
      if (pairs !== made.records) throw new Error(`inspect counted ${pairs} pairs of ${made.records} in the Parquet copy`);
      const mib = (statSync(parquetFile).size / 2 ** 20).toFixed(0);
      summary.parquetInspect = { bytes: statSync(parquetFile).size, jsonlMib: Number(jsonlMib), rowGroups: groups, rowGroupRows: Number(values['parquet-row-group']), pairs, seconds: run.seconds, peakMb: run.peakMb };
      rows.push([
        `plens inspect, Parquet zstd ${mib} MiB (${jsonlMib} MiB JSONL, ${groups} row groups of ≤ ${values['parquet-row-group']} rows)`,
        `${run.peakMb.toFixed(0)} MB peak, ${run.seconds.toFixed(1)} s`,
        '',
        '',
      ]);
    }

    if (!values['no-score']) {
      const scoreBytes = Number(values['score-mb']) * 2 ** 20;
      const scored = generate(scoreFile, scoreBytes);
      // No cache: every pair runs through the model, as a first run does.
      const run = measure([cli, 'score', scoreFile, '--out', scoresOut, '--no-cache']);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
      if (result.scored !== scored.records) throw new Error(`score scored ${result.scored} pairs of ${scored.records}`);
      summary.score = { bytes: statSync(scoreFile).size, pairs: result.scored, seconds: run.seconds, peakMb: run.peakMb, model: result.model };
      rows.push([
        `plens score, ${values['score-mb']} MiB (${scored.records} pairs)`,
        `${run.peakMb.toFixed(0)} MB peak, ${run.seconds.toFixed(0)} s`,
        `< ${TARGETS.scorePeakMb} MB`,
        ok(run.peakMb < TARGETS.scorePeakMb),
      ]);
    }
    if (previous) {
      const p = previous.summary as { inspect?: { peakMb: number }; score?: { peakMb: number; seconds: number } };
      rows.push([
        `previous run (${previous.file})`,
        `inspect ${p.inspect?.peakMb.toFixed(0) ?? '–'} MB` + (p.score ? `, score ${p.score.peakMb.toFixed(0)} MB in ${p.score.seconds.toFixed(0)} s` : ''),
        '',
        '',
      ]);
    }
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
    console.log(`\npeak RSS (VmHWM) of the whole process, load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs\n`);
    for (const row of rows) console.log(`  ${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2].padEnd(widths[2])}  ${row[3]}`);
    const out = path.join(results, `cli-memory-${String(summary.date).replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`\nsaved ${path.relative(process.cwd(), out)}`);
  } finally {
    if (!values.keep) for (const file of [inspectFile, scoreFile, scoresOut, parquetSource, parquetFile]) rmSync(file, { force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
