/**
 * `plens`: the command-line twin of the review editor, on the same core. Its JSON output is a
 * contract other tools rely on (see the README); progress and warnings go to stderr.
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { countLabels, loadDataset } from '../core/dataset';
import { scorePairs, summarize, verdict, type PairScore } from '../core/verdict';
import { createWorkerScorer } from '../engine/workerScorer';

const USAGE = `usage:
  plens inspect <file> [--format <name>]
  plens score <file> [--model <dir>] [--out <file>] [--format <name>] [--device <auto|cpu|cuda|...>]
                     [--max-length <n>] [--batch-tokens <n>]

When --model is omitted, the bundled demo model is used (a toy with known scores, not a real reward model).`;

class UsageError extends Error {}

const bundledModel = () => path.join(__dirname, 'models', 'demo');

async function inspect(file: string, format: string | undefined): Promise<void> {
  const dataset = await loadDataset(file, { format });
  const report = {
    file,
    format: dataset.format.name,
    pairs: dataset.pairs.length,
    labels: countLabels(dataset.pairs),
    malformed: dataset.malformed,
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} should be a positive integer, got "${value}"`);
  return n;
}

interface ScoreFlags {
  model?: string;
  out?: string;
  format?: string;
  device?: string;
  'max-length'?: string;
  'batch-tokens'?: string;
}

async function score(file: string, values: ScoreFlags): Promise<void> {
  const dataset = await loadDataset(file, { format: values.format });
  for (const bad of dataset.malformed) process.stderr.write(`${file}:${bad.line}: skipped: ${bad.error}\n`);

  const modelDir = values.model ? path.resolve(values.model) : bundledModel();
  if (!values.model) process.stderr.write('plens: no --model given; using the bundled demo model (not a real reward model)\n');
  const scorer = createWorkerScorer({
    modelDir,
    workerPath: path.join(__dirname, 'worker.js'),
    device: values.device,
    maxLength: positiveInt(values['max-length'], '--max-length'),
    batchTokens: positiveInt(values['batch-tokens'], '--batch-tokens'),
  });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const started = performance.now();
    const info = await scorer.load();
    if (info.fallbackReason) process.stderr.write(`plens: running on ${info.device}: ${info.fallbackReason}\n`);
    const scores = new Map<number, PairScore>();
    const progress = new ProgressLine(dataset.pairs.length * 2);
    const stats = await scorePairs(
      dataset.pairs,
      dataset.pairs.map((_, i) => i),
      scorer,
      {
        signal: controller.signal,
        onPair: (index, pairScore) => scores.set(index, pairScore),
        onProgress: (done) => progress.update(done),
      },
    );
    progress.finish();
    const seconds = (performance.now() - started) / 1000;

    const out = values.out ? createWriteStream(values.out) : process.stdout;
    dataset.pairs.forEach((pair, index) => {
      const pairScore = scores.get(index);
      if (!pairScore) return;
      const v = verdict(pair.label, pairScore);
      const row = {
        line: pair.line,
        reward_a: v.rewardA,
        reward_b: v.rewardB,
        margin: v.margin,
        prefers: v.prefers,
        label: pair.label,
        agrees: v.agrees,
      };
      out.write(JSON.stringify(row) + '\n');
    });
    if (out !== process.stdout) await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));

    const summary = {
      ...summarize(dataset.pairs, scores),
      model: info.model,
      template: info.template,
      device: info.device,
      seconds: round(seconds),
      tokens_per_second: Math.round(stats.tokens / seconds),
      time: {
        tokenize: round(stats.tokenizeSeconds),
        inference: round(stats.inferenceSeconds),
        other: round(Math.max(0, seconds - stats.tokenizeSeconds - stats.inferenceSeconds)),
      },
    };
    process.stdout.write(JSON.stringify(summary) + '\n');
  } finally {
    process.off('SIGINT', onSigint);
    await scorer.dispose();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Progress on stderr: rewritten in place on a terminal, a line every few seconds otherwise. */
class ProgressLine {
  private lastWrite = 0;
  constructor(private readonly total: number) {}

  update(done: number): void {
    const now = Date.now();
    const interval = process.stderr.isTTY ? 100 : 2000;
    if (now - this.lastWrite < interval && done < this.total) return;
    this.lastWrite = now;
    const text = `scored ${done}/${this.total} responses (${Math.floor((100 * done) / this.total)}%)`;
    process.stderr.write(process.stderr.isTTY ? `\r${text}` : `${text}\n`);
  }

  finish(): void {
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string' },
      device: { type: 'string' },
      'max-length': { type: 'string' },
      'batch-tokens': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, file, ...extra] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (!file) throw new UsageError(`${command}: missing <file>\n${USAGE}`);
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (command === 'inspect') return inspect(file, values.format);
  if (command === 'score') return score(file, values);
  throw new UsageError(`unknown command "${command}"\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: Error) => {
  if (error.name === 'AbortError') {
    process.stderr.write('plens: cancelled\n');
    process.exitCode = 130;
    return;
  }
  // Errors here are written for the user; the stack is for bug reports.
  process.stderr.write(`plens: ${process.env.PLENS_DEBUG ? error.stack : error.message}\n`);
  process.exitCode = 1;
});
