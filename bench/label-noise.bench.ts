/**
 * Finding label noise: known noise injected (seeded) into the shared HH-RLHF helpful-base test split,
 * then found again the way a user finds it, with `plens score` (the bundled baseline) and `plens
 * review` on the noisy file:
 *
 *   npm run build && node --import tsx bench/label-noise.bench.ts [--data <hh-rlhf.jsonl>] [--seed 1] [--model <dir>]...
 *
 * Injected: 10% of the labels flipped (chosen and rejected swapped), 50 duplicates with the sides
 * swapped (so their labels conflict with the original's), 20 identical-response pairs (a pair's
 * chosen transcript as both), 20 near-duplicates with edits (case, punctuation, spacing and one
 * word changed in the prompt and in each response of 8+ words; sides swapped, so the labels
 * conflict). Each kind uses its own originals; the records are shuffled before writing.
 *
 * Printed:
 * - per check, recall and precision on the injected kinds (a flag on a pair the check already
 *   flagged in the clean file counts as correct, and is shown apart as "pre-existing"); targets
 *   1.0 / 1.0 for the exact checks, recall ≥ 0.9 for near-duplicates;
 * - the checks' time per 100k pairs (NoiseChecks.add over the parsed pairs, median of 5 runs,
 *   scaled linearly), next to the whole table build (content keys and checks) and to reading the
 *   pairs (JSON parse and normalisation), which the index does anyway;
 * - precision@100 of the flipped labels for each queue: |margin| among the disagreements (the
 *   old queue), the length-controlled margin, the noise score (the review queue: disagreements by
 *   noise score), and a random order; also precision@100 counting any injected noise. With several
 *   --model, also the models' consensus (mean standardised margin) and "every model disagrees";
 *   the project bundles one real-ish model (the baseline) and a demo that is no reward model.
 * The bundled baseline is a bag-of-tokens model barely better than "prefer the longer response"
 * (models/baseline/REPORT.md): its queues say little about a real reward model's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { loadDataset } from '../src/core/dataset';
import { mulberry32 } from '../src/core/lengthControl';
import { CHECK_NAMES, NoiseChecks, type CheckName } from '../src/core/noiseChecks';
import { PairTable } from '../src/core/pairTable';
import { ReviewState } from '../src/core/reviewState';
import { consensusMargins, consensusReport } from '../src/core/modelConsensus';
import { readModelColumns } from '../src/cli/severalModels';
import { median, previousRun, printTable, saveRun, type Row } from './engine-report';

const BENCH = 'label-noise';
const repoRoot = path.resolve(__dirname, '..');
const ASSISTANT = '\n\nAssistant:';

interface Hh {
  chosen: string;
  rejected: string;
}
type Kind = 'flipped' | 'swapped-duplicate' | 'identical' | 'near-duplicate' | 'original-of-duplicate' | 'original-of-near-duplicate';

/** Where chosen and rejected part: after the last "\n\nAssistant:" of their common prefix (as the hh-rlhf format reads it). */
function promptEnd(record: Hh): number {
  let i = 0;
  while (i < record.chosen.length && record.chosen[i] === record.rejected[i]) i++;
  const marker = record.chosen.slice(0, i).lastIndexOf(ASSISTANT);
  return marker < 0 ? -1 : marker + ASSISTANT.length;
}

/** Small edits that keep the turn markers: case, punctuation, doubled spaces, and one word changed when there are 8+. */
function edit(text: string, random: () => number): string {
  // The markers are "\n\nHuman:" / "\n\nAssistant:": split them out and edit only what is between.
  return text
    .split(/(\n\nHuman:|\n\nAssistant:)/)
    .map((part, i) => {
      if (i % 2 === 1) return part;
      let edited = part.replace(/\b(\w)(\w*)\b/g, (word, first: string, rest: string) => (random() < 0.15 ? first.toUpperCase() + rest : word));
      edited = edited.replace(/[,.!?]/g, (p) => (random() < 0.3 ? { ',': ';', '.': '!', '!': '.', '?': '.' }[p]! : p));
      edited = edited.replace(/ /g, (s) => (random() < 0.05 ? '  ' : s));
      const words = [...edited.matchAll(/\b[A-Za-z]{4,}\b/g)];
      if (words.length >= 8) {
        const target = words[Math.floor(random() * words.length)];
        edited = edited.slice(0, target.index!) + 'something' + edited.slice(target.index! + target[0].length);
      }
      return edited;
    })
    .join('');
}

/** Copies `record` with the sides swapped and the text lightly edited (the prompt once, shared by both). */
function nearDuplicate(record: Hh, random: () => number): Hh {
  const cut = promptEnd(record);
  const prompt = edit(record.chosen.slice(0, cut), random);
  const chosen = edit(record.chosen.slice(cut), random);
  const rejected = edit(record.rejected.slice(cut), random);
  return { chosen: prompt + rejected, rejected: prompt + chosen };
}

function inject(records: Hh[], seed: number): { records: Hh[]; kinds: Kind[][] } {
  const random = mulberry32(seed);
  const order = records.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  // Originals with two different transcripts and a prompt the format can read, each used once.
  const usable = order.filter((i) => records[i].chosen !== records[i].rejected && promptEnd(records[i]) > 0);
  const take = (n: number) => usable.splice(0, n);
  const out: { record: Hh; kinds: Kind[] }[] = records.map((record) => ({ record, kinds: [] }));
  for (const i of take(Math.round(records.length * 0.1))) {
    out[i] = { record: { chosen: records[i].rejected, rejected: records[i].chosen }, kinds: ['flipped'] };
  }
  for (const i of take(50)) {
    out[i].kinds.push('original-of-duplicate');
    out.push({ record: { chosen: records[i].rejected, rejected: records[i].chosen }, kinds: ['swapped-duplicate'] });
  }
  for (const i of take(20)) out.push({ record: { chosen: records[i].chosen, rejected: records[i].chosen }, kinds: ['identical'] });
  for (const i of take(20)) {
    out[i].kinds.push('original-of-near-duplicate');
    out.push({ record: nearDuplicate(records[i], random), kinds: ['near-duplicate'] });
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return { records: out.map((o) => o.record), kinds: out.map((o) => o.kinds) };
}

async function run(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), ...args], { cwd: repoRoot, maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: path.resolve(repoRoot, '..', 'shared', 'data', 'hh-rlhf-helpful-base-test', 'test.jsonl') },
      seed: { type: 'string', default: '1' },
      model: { type: 'string', multiple: true },
    },
  });
  const models = values.model ?? [];
  const seed = Number(values.seed);
  const clean = readFileSync(values.data!, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Hh);
  const { records, kinds } = inject(clean, seed);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plens-label-noise-'));
  try {
    const noisy = path.join(dir, 'noisy.jsonl');
    writeFileSync(noisy, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const lineKinds = new Map(kinds.map((k, i) => [i + 1, k]));
    const linesOf = (...wanted: Kind[]) => new Set([...lineKinds].filter(([, k]) => k.some((x) => wanted.includes(x))).map(([line]) => line));

    // ---- what the checks flag in the clean file: counted as correct when flagged again.
    const cleanDataset = await loadDataset(values.data!);
    const cleanTable = PairTable.fromPairs(cleanDataset.pairs);
    const preExisting = Object.fromEntries(CHECK_NAMES.map((name) => [name, cleanTable.checks.summary()[name]])) as Record<CheckName, number>;

    // ---- scores and the review, as a user runs them.
    const scores = path.join(dir, 'scores.jsonl');
    const cache = ['--cache-dir', path.join(dir, 'cache')];
    process.stderr.write(`scoring ${records.length} pairs with ${models.join(', ') || 'the bundled baseline'}…\n`);
    const scoreSummary = JSON.parse((await run(['score', noisy, '--out', scores, ...cache, ...models.flatMap((m) => ['--model', m])])).trim());
    const review = JSON.parse(await run(['review', noisy, '--scores', scores, '--top', '100000']));

    const rows: Row[] = [
      { metric: 'pairs in the noisy file', value: review.pairs },
      { metric: 'labels flipped', value: linesOf('flipped').size },
    ];
    // Injected kinds each check should find: both members of a conflicting pair are involved.
    const truth: Partial<Record<CheckName, Set<number>>> = {
      identical_responses: linesOf('identical'),
      conflicting_duplicates: linesOf('swapped-duplicate', 'original-of-duplicate'),
      near_duplicate_conflicts: linesOf('near-duplicate', 'original-of-near-duplicate'),
    };
    const targets: Partial<Record<CheckName, string>> = { identical_responses: '1.0 / 1.0', conflicting_duplicates: '1.0 / 1.0', near_duplicate_conflicts: 'recall ≥ 0.9' };
    for (const name of CHECK_NAMES) {
      const flagged = new Set<number>(review.checks[name].lines);
      const expected = truth[name];
      if (!expected) {
        rows.push({ metric: `${name}: flagged (nothing injected; in the clean file: ${preExisting[name]})`, value: flagged.size });
        continue;
      }
      const found = [...expected].filter((line) => flagged.has(line)).length;
      const other = flagged.size - found;
      // A flag outside the injected pairs is correct when the clean file already had that many.
      const correct = found + Math.min(other, preExisting[name]);
      rows.push({ metric: `${name}: recall`, value: found / expected.size, target: targets[name] });
      rows.push({ metric: `${name}: precision`, value: flagged.size ? correct / flagged.size : 1, target: name === 'near_duplicate_conflicts' ? '' : '1.0' });
      rows.push({ metric: `${name}: flagged (injected ${expected.size}, pre-existing ${preExisting[name]})`, value: flagged.size });
    }

    // ---- time of the checks, and of the whole table build, per 100k pairs.
    const dataset = await loadDataset(noisy);
    const timings: number[] = [];
    const tableTimings: number[] = [];
    const readTimings: number[] = [];
    for (let r = 0; r < 5; r++) {
      let started = performance.now();
      await loadDataset(noisy);
      readTimings.push(performance.now() - started);
      started = performance.now();
      const checks = new NoiseChecks();
      dataset.pairs.forEach((p, i) => checks.add(i, p));
      timings.push(performance.now() - started);
      started = performance.now();
      PairTable.fromPairs(dataset.pairs);
      tableTimings.push(performance.now() - started);
    }
    const per100k = (ms: number) => (ms / dataset.pairs.length) * 100_000 / 1000;
    rows.push({ metric: 'checks: seconds per 100k pairs', value: per100k(median(timings)) });
    rows.push({ metric: 'table build (keys + checks): seconds per 100k pairs', value: per100k(median(tableTimings)) });
    rows.push({ metric: 'reading the pairs (parse + normalise): seconds per 100k pairs', value: per100k(median(readTimings)) });

    // ---- queues: precision@100 of flipped labels.
    const table = PairTable.fromPairs(dataset.pairs);
    for (const line of readFileSync(scores, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const row = JSON.parse(line);
      if (row.line === undefined) continue;
      table.setScore(row.line - 1, { rewardA: row.reward_a, rewardB: row.reward_b });
    }
    if (dataset.pairs.some((p, i) => p.line !== i + 1)) throw new Error('expected one pair per line');
    const state = new ReviewState(table);
    const columns = readModelColumns(readFileSync(scores, 'utf8'), table);
    if (columns) state.otherModels = columns.slice(1);
    const flipped = linesOf('flipped');
    const anyNoise = linesOf('flipped', 'swapped-duplicate', 'identical', 'near-duplicate');
    const precisionAt = (indices: number[], wanted: Set<number>, k = 100) => indices.slice(0, k).filter((i) => wanted.has(table.line(i))).length / Math.min(k, indices.length);
    const random = mulberry32(seed + 1);
    const shuffled = Array.from({ length: table.count }, (_, i) => i);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const queues: [string, number[]][] = [
      ['|margin| among disagreements', await state.select({ filter: 'disagreements', sort: 'confidence' })],
      ['length-controlled margin', await state.select({ filter: 'all', sort: 'length-controlled' })],
      ['noise score (review queue)', await state.select({ filter: 'disagreements', sort: 'noise' })],
      ['random', shuffled],
    ];
    if (columns) {
      // The consensus queue: labelled pairs the mean standardised margin contradicts, most strongly first.
      const consensus = consensusMargins(columns, table.count);
      const signed = (i: number) => (table.fileLabel(i) === 'a' ? consensus[i]! : -consensus[i]!);
      const contradicted = consensus.flatMap((m, i) => (m !== undefined && (table.fileLabel(i) === 'a' || table.fileLabel(i) === 'b') && signed(i) < 0 ? [i] : []));
      queues.splice(3, 0, ['consensus of the models', contradicted.sort((x, y) => signed(x) - signed(y) || x - y)]);
      // Identical responses have no verdict in any model (as in the editor and plens review).
      const every = consensusReport(columns, table.count, (i) => table.fileLabel(i), undefined, (i) => table.identical(i)).everyModelDisagrees;
      queues.splice(4, 0, ['every model disagrees (file order)', every]);
    }
    const randomFlips = precisionAt(shuffled, flipped);
    for (const [name, indices] of queues) {
      rows.push({ metric: `precision@100 flipped: ${name}`, value: precisionAt(indices, flipped), baseline: name === 'random' ? undefined : randomFlips });
    }
    for (const [name, indices] of queues) rows.push({ metric: `precision@100 any injected noise: ${name}`, value: precisionAt(indices, anyNoise), baseline: name === 'random' ? undefined : precisionAt(shuffled, anyNoise) });
    if (!columns) rows.push({ metric: 'precision@100: consensus of the models', value: 'n/a: one model (give several --model)' });
    rows.push({ metric: 'model agreement (noisy file)', value: review.agreement });
    rows.push({ metric: 'length explains of the agreement above chance', value: review.length_control.explained_by_length ?? 'n/a' });
    rows.push({ metric: 'noise: pairs with P(label wrong) ≥ 0.5', value: review.noise.suspects });

    const previous = previousRun(BENCH);
    const modelNames = scoreSummary.models ? scoreSummary.models.map((m: { name: string }) => m.name).join(' + ') : scoreSummary.model;
    printTable(`Label noise on ${path.basename(values.data!)} (seed ${seed}; model ${modelNames}${scoreSummary.baseline ? ', the bundled baseline' : ''})`, rows, previous, 'random queue');
    process.stdout.write(`saved ${saveRun(BENCH, { data: values.data, seed, model: modelNames }, rows)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
