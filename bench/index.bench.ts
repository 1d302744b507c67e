/**
 * Benchmark of the streaming dataset index on a generated HH-RLHF-like JSONL file (1 GiB by default).
 *
 *   node --import tsx bench/index.bench.ts [--size-mb 1024] [--runs 3] [--keep]
 *
 * Reports the time until the first page of 50 pairs can be read, the full index time and throughput
 * next to `wc -l` on the same file in the same run, and the indexer's peak RSS. The indexer runs in a
 * child process so that its peak RSS is its own, not the generator's. The file is written to
 * bench/results/ (git-ignored) and deleted at the end unless --keep; the figures are saved there as JSON.
 * Both tools read the file from the page cache (it was just written), so this measures the indexer's
 * CPU cost, not the disk.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openDatasetIndex } from '../src/core/dataset';
import { generate } from './hhLike';

const PAGE = 50;
const TARGETS = { firstPageS: 0.3, wcRatio: 2, peakRssMb: 200 };

interface ChildResult {
  firstPageS: number;
  fullIndexS: number;
  records: number;
  format: string;
  baselineRssMb: number;
  peakRssMb: number;
}

// ---------------------------------------------------------------------------------------------
// The child: open the index, read the first page, wait for the whole file, report.

function vmHwmMb(): number | undefined {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : undefined;
}

async function child(file: string): Promise<void> {
  const baselineRssMb = process.memoryUsage().rss / 2 ** 20;
  const started = performance.now();
  const index = await openDatasetIndex(file);
  const page = await index.pairs(0, Math.min(PAGE, index.count));
  const firstPageS = (performance.now() - started) / 1000;
  if (page.length < PAGE || page.some((entry) => !('pair' in entry))) throw new Error('the first page is not 50 pairs');
  const records = await index.done;
  const fullIndexS = (performance.now() - started) / 1000;
  await index.close();
  const peakRssMb = vmHwmMb() ?? process.resourceUsage().maxRSS / 1024;
  const result: ChildResult = { firstPageS, fullIndexS, records, format: index.format.name, baselineRssMb, peakRssMb };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The parent: generate, alternate runs of wc -l and the indexer, print and save the figures.

function timeWc(file: string): { seconds: number; lines: number } {
  const started = performance.now();
  const out = execFileSync('wc', ['-l', file], { encoding: 'utf8' });
  return { seconds: (performance.now() - started) / 1000, lines: Number.parseInt(out, 10) };
}

function runChild(file: string): ChildResult & { processS: number } {
  const started = performance.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', file], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`indexer child failed (${run.status}): ${run.stderr}`);
  return { ...(JSON.parse(run.stdout) as ChildResult), processS: (performance.now() - started) / 1000 };
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
const fmt = (values: number[], digits: number) => `${median(values).toFixed(digits)} (min ${Math.min(...values).toFixed(digits)})`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      'size-mb': { type: 'string', default: '1024' },
      runs: { type: 'string', default: '3' },
      keep: { type: 'boolean', default: false },
    },
  });
  if (values.child) return child(values.child);

  const results = path.join(__dirname, 'results');
  mkdirSync(results, { recursive: true });
  const file = path.join(results, 'hh-like.jsonl');
  const sizeBytes = Number(values['size-mb']) * 2 ** 20;
  const runs = Number(values.runs);
  try {
    const generated = generate(file, sizeBytes);
    const size = statSync(file).size;
    console.log(`generated ${(size / 2 ** 20).toFixed(0)} MiB, ${generated.records} records in ${generated.seconds.toFixed(1)} s`);

    const wc: ReturnType<typeof timeWc>[] = [];
    const indexer: ReturnType<typeof runChild>[] = [];
    for (let run = 0; run < runs; run++) {
      wc.push(timeWc(file));
      indexer.push(runChild(file));
    }
    if (wc[0].lines !== generated.records || indexer.some((r) => r.records !== generated.records)) {
      throw new Error(`record counts disagree: generated ${generated.records}, wc ${wc[0].lines}, index ${indexer.map((r) => r.records)}`);
    }
    const mb = size / 1e6;
    const wcRuns = wc.map((r) => r.seconds);
    const fullRuns = indexer.map((r) => r.fullIndexS);
    const wcS = median(wcRuns);
    const fullS = median(fullRuns);
    const summary = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
      file: { bytes: size, records: generated.records, meanLineBytes: Math.round(size / generated.records) },
      runs,
      firstPageS: median(indexer.map((r) => r.firstPageS)),
      fullIndexS: fullS,
      indexMBps: mb / fullS,
      wcS,
      wcMBps: mb / wcS,
      ratioToWc: fullS / wcS,
      ratioToWcOfMinima: Math.min(...fullRuns) / Math.min(...wcRuns),
      loadAverage: os.loadavg(),
      childProcessS: median(indexer.map((r) => r.processS)),
      baselineRssMb: median(indexer.map((r) => r.baselineRssMb)),
      peakRssMb: Math.max(...indexer.map((r) => r.peakRssMb)),
      targets: TARGETS,
      perRun: { wc, indexer },
    };
    const ok = (pass: boolean) => (pass ? 'ok' : 'MISSED');
    const rows: [string, string, string, string][] = [
      ['first page (50 pairs)', `${(summary.firstPageS * 1000).toFixed(1)} ms`, `< ${TARGETS.firstPageS * 1000} ms`, ok(summary.firstPageS < TARGETS.firstPageS)],
      ['full index', `${fmt(fullRuns, 3)} s, ${summary.indexMBps.toFixed(0)} MB/s`, '', ''],
      ['wc -l', `${fmt(wcRuns, 3)} s, ${summary.wcMBps.toFixed(0)} MB/s`, '', ''],
      [
        'index / wc -l',
        `${summary.ratioToWc.toFixed(2)}× (minima: ${summary.ratioToWcOfMinima.toFixed(2)}×)`,
        `≤ ${TARGETS.wcRatio}×`,
        ok(summary.ratioToWc <= TARGETS.wcRatio),
      ],
      ['peak RSS (VmHWM)', `${summary.peakRssMb.toFixed(0)} MB (${summary.baselineRssMb.toFixed(0)} MB before opening)`, `< ${TARGETS.peakRssMb} MB`, ok(summary.peakRssMb < TARGETS.peakRssMb)],
      ['indexer process, incl. Node + tsx start', `${summary.childProcessS.toFixed(3)} s`, '', ''],
    ];
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
    const load = os.loadavg()[0].toFixed(1);
    console.log(`\n${(mb / 1000).toFixed(2)} GB, ${generated.records} records, median of ${runs} runs, warm page cache, load ${load} on ${os.cpus().length} CPUs\n`);
    for (const row of rows) console.log(`  ${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2].padEnd(widths[2])}  ${row[3]}`);
    const out = path.join(results, `index-${summary.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`\nsaved ${path.relative(process.cwd(), out)}`);
  } finally {
    if (!values.keep) rmSync(file, { force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
