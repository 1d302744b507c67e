/**
 * `plens score` and `plens review` with several reward models (`--model A --model B …`): every
 * model scores the file in turn (one loaded at a time, so memory is one model's), the score file
 * carries every model's columns, and the review reports each model's agreement, model-vs-model
 * agreement, the consensus and the pairs every model disagrees with (../core/modelConsensus).
 *
 * Score file: one line per pair the first model scored; its top-level `reward_a` / `reward_b` /
 * `margin` / `prefers` / `agrees` are the first model's (so readers of one-model files read it
 * unchanged), and `models` maps each `--model` argument to that model's columns. The summary line
 * lists each model's run and the consensus.
 */
import type { Writable } from 'node:stream';
import { consensusReport, type ConsensusReport, type ModelColumn } from '../core/modelConsensus';
import type { Preference } from '../core/pair';
import type { PairTable } from '../core/pairTable';
import { summarize, verdict, type PairScore } from '../core/verdict';

/** What scoring one model gives back (plens.ts's scoreAll). */
export interface ModelRun {
  scores: PairTable;
  info: { model: string; template: string; device: string };
  stats: { cached?: number; modelCalls?: number };
  seconds: number;
}

export class SeveralModelsError extends Error {}

/** Scores the dataset with each model in turn; `models` are the --model arguments. */
export async function scoreEach(models: readonly string[], scoreOne: (model: string) => Promise<ModelRun>): Promise<{ model: string; run: ModelRun }[]> {
  const seen = new Set<string>();
  for (const model of models) {
    if (seen.has(model)) throw new SeveralModelsError(`--model ${model} is given twice`);
    seen.add(model);
  }
  const runs: { model: string; run: ModelRun }[] = [];
  for (const model of models) {
    process.stderr.write(`plens: model ${runs.length + 1} of ${models.length}: ${model}\n`);
    runs.push({ model, run: await scoreOne(model) });
  }
  return runs;
}

const columns = (label: Preference, score: PairScore, identical = false) => {
  const v = verdict(label, score, identical);
  return { reward_a: v.rewardA, reward_b: v.rewardB, margin: v.margin, prefers: v.prefers, agrees: v.agrees };
};

/** Writes the several-model score file (see the header) and returns its summary; `table` is the file's pairs (the first run's). */
export function writeSeveral(table: PairTable, runs: readonly { model: string; run: ModelRun }[], out: Writable) {
  const [first] = runs;
  for (let index = 0; index < table.count; index++) {
    const score = first.run.scores.score(index);
    if (!score) continue;
    const label = table.fileLabel(index);
    const identical = table.identical(index);
    const models = Object.fromEntries(
      runs.flatMap(({ model, run }) => {
        const s = run.scores.score(index);
        return s ? [[model, columns(label, s, identical)]] : [];
      }),
    );
    // The content key, as in one-model score files: review and export check the scores belong to the file.
    out.write(JSON.stringify({ line: table.line(index), ...columns(label, score, identical), label, key: table.keys[index], models }) + '\n');
  }
  const report = consensusReport(asColumns(runs), table.count, (i) => table.fileLabel(i), undefined, (i) => table.identical(i));
  return {
    ...summarize(first.run.scores),
    models: runs.map(({ model, run }) => ({
      model,
      name: run.info.model,
      ...summarize(run.scores),
      template: run.info.template,
      device: run.info.device,
      seconds: Math.round(run.seconds * 1000) / 1000,
      cached: run.stats.cached ?? 0,
      model_calls: run.stats.modelCalls ?? null,
    })),
    consensus: report.consensus,
    every_model_disagrees: report.everyModelDisagrees.length,
  };
}

export const asColumns = (runs: readonly { model: string; run: ModelRun }[]): ModelColumn[] =>
  runs.map(({ model, run }) => ({ name: model, score: (i: number) => run.scores.score(i) }));

/**
 * The models of a several-model score file, each as a column over the dataset's pairs (by line);
 * undefined for a one-model file.
 */
export function readModelColumns(text: string, table: PairTable): ModelColumn[] | undefined {
  const byModel = new Map<string, Map<number, PairScore>>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as { line?: number; models?: Record<string, { reward_a?: unknown; reward_b?: unknown }> };
    if (row.line === undefined || !row.models) continue;
    for (const [model, s] of Object.entries(row.models)) {
      if (typeof s.reward_a !== 'number' || typeof s.reward_b !== 'number') throw new SeveralModelsError(`line ${row.line}: model ${model} has no numeric reward_a / reward_b`);
      if (!byModel.has(model)) byModel.set(model, new Map());
      byModel.get(model)!.set(row.line, { rewardA: s.reward_a, rewardB: s.reward_b });
    }
  }
  if (byModel.size < 2) return undefined;
  const indexOfLine = new Map(Array.from({ length: table.count }, (_, i) => [table.line(i), i]));
  return [...byModel].map(([name, scores]) => {
    const byIndex: (PairScore | undefined)[] = new Array(table.count);
    for (const [line, score] of scores) {
      const index = indexOfLine.get(line);
      if (index !== undefined) byIndex[index] = score;
    }
    return { name, score: (i: number) => byIndex[i] };
  });
}

/** What `plens review` prints about several models; `lineOf` turns pair indices into 1-based lines. */
export function modelsReport(report: ConsensusReport, lineOf: (index: number) => number) {
  const lines = report.everyModelDisagrees.map(lineOf);
  return {
    models: report.models,
    agreement: report.agreement,
    pairwise: report.pairwise,
    consensus: report.consensus,
    every_model_disagrees: { count: lines.length, lines },
  };
}
