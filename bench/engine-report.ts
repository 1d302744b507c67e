/**
 * What the engine benchmarks share: a table printed with this run next to a baseline measured in the
 * same run and next to the previous saved run, and the figures saved as JSON in bench/results/
 * (git-ignored), where the next run finds them.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const RESULTS_DIR = path.join(__dirname, 'results');

export interface Row {
  metric: string;
  value: number | string;
  /** The same figure for the in-run baseline (arrival order, whole-text tokenization, …). */
  baseline?: number | string;
  target?: string;
}

export interface SavedRun {
  bench: string;
  date: string;
  machine: { cpus: number; cpu: string; node: string };
  settings: Record<string, unknown>;
  rows: Row[];
}

/** The newest saved run of `bench`, whose figures are shown in the "previous run" column. */
export function previousRun(bench: string): SavedRun | undefined {
  let files: string[];
  try {
    files = readdirSync(RESULTS_DIR).filter((file) => file.startsWith(`${bench}-`) && file.endsWith('.json'));
  } catch {
    return undefined;
  }
  // ISO timestamps in the names sort chronologically.
  const newest = files.sort().at(-1);
  return newest === undefined ? undefined : (JSON.parse(readFileSync(path.join(RESULTS_DIR, newest), 'utf8')) as SavedRun);
}

const format = (value: number | string | undefined) =>
  value === undefined ? '' : typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toPrecision(4)) : value;

export function printTable(title: string, rows: readonly Row[], previous: SavedRun | undefined, baselineName: string): void {
  const before = new Map(previous?.rows.map((row) => [row.metric, row.value]));
  const header = ['metric', 'this run', baselineName, `previous run${previous ? ` (${previous.date.slice(0, 16)})` : ''}`, 'target'];
  const lines = rows.map((row) => [row.metric, format(row.value), format(row.baseline), format(before.get(row.metric)), row.target ?? '']);
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i].length)));
  const render = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ');
  process.stdout.write(`\n${title}\n${render(header)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}\n${lines.map(render).join('\n')}\n`);
}

/** Saves the run and returns the file written. */
export function saveRun(bench: string, settings: Record<string, unknown>, rows: readonly Row[]): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const date = new Date().toISOString();
  const run: SavedRun = { bench, date, machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version }, settings, rows: [...rows] };
  const file = path.join(RESULTS_DIR, `${bench}-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  return file;
}

export const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
