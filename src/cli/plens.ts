/**
 * `plens`: the command-line twin of the review editor, on the same core. Its JSON output is a
 * contract other tools rely on (see the README); progress and warnings go to stderr.
 */
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { AnnotationLog, sidecarPath } from '../core/annotations';
import { detectStreamFormat } from '../core/dataset';
import type { Malformed } from '../core/pair';
import { checksReport } from '../core/noiseChecks';
import { NOISE_METHOD } from '../core/noiseScore';
import { PairTable } from '../core/pairTable';
import { ReviewState } from '../core/reviewState';
import { topDisagreements } from '../core/stats';
import { summarize, verdict } from '../core/verdict';
import { defaultCacheDir } from '../engine/scoreCache';
import { createScorer, isEndpoint, isHubModel, isRemoteProtocol } from '../engine/createScorer';
import { describeRecommendations } from '../engine/recommendedModels';
import { DEVICE_CHOICES, MODEL_VARIANTS, TEMPLATE_CHOICES, type ModelVariant, type TemplateChoice } from '../engine/workerProtocol';
import { EXPORT_OPTIONS, EXPORT_USAGE, exportCommand } from './exportCommand';
import { isHubDatasetPath, resolveHubDatasetFile } from '../engine/hubDataset';
import { checkOutPath, PendingOutput } from './outPath';
import { requirePairs } from './requirePairs';
import { matchScores, readScoreFile } from './scoreFile';
import { openSource, readSource, type DatasetSource } from './streamedDataset';
import { scoreSource, type StreamScoringOptions } from './streamScoring';
import { mergeScoreFiles, parseShard, shardPositions } from './shards';
import { ANNOTATE_USAGE, annotateCommand } from './annotateCommand';
import { teamReport } from '../core/team';
import { checkTeam, type Team } from '../core/assignment';
import { readTeam, teamPath } from '../core/teamFile';
import type { Preference } from '../core/pair';
import { asColumns, modelsReport, readModelColumns, scoreEach, writeSeveral } from './severalModels';
import type { ModelColumn } from '../core/modelConsensus';

const USAGE = `usage:
  plens inspect <file> [--format <name>]
  plens score <file> [--model <dir | org/name | http(s) endpoint>] [--out <file>] [--format <name>] [--device <auto|cpu|cuda|...>]
                     [--max-length <n>] [--batch-tokens <n>] [--template <auto|tulu|chat_template|text-pair>]
                     [--variant <auto|fp32|int8|int4|fp16|quantized>] [--logit <index>] [--cache-dir <dir> | --no-cache]
                     [--remote-protocol <vllm|tei|kserve>] [--tokenizer <dir>] [--concurrency <n>] [--batch-size <n>]
                     [--shard <i/n>]
  plens merge-scores <file> <shard scores>... [--out <file>] [--format <name>]
  plens review <file> [--scores <file> | --model <dir> ...] [--annotations <file>] [--top <n>] [--format <name>]
                      [--team <name,name,...>] [--overlap <n>]
  (score and review take several --model flags: every model scores the file; see the README)
${EXPORT_USAGE}
${ANNOTATE_USAGE}

<file> is JSONL or a JSON array (either may be gzip-compressed: .jsonl.gz), a Parquet file (snappy, zstd, gzip, brotli
or lz4), or a Hugging Face dataset file: hf://datasets/org/name/path/to/file, or hf://datasets/org/name@revision/path,
read from the Hugging Face cache, else downloaded into it ($HF_ENDPOINT, $HF_TOKEN and $HF_HUB_CACHE as huggingface_hub reads them).

--model takes a Hugging Face model folder (config.json + safetensors, as downloaded), a Hub id (org/name; downloaded
once into the Hugging Face cache), an ONNX export, or an http(s) endpoint. Reward models that run on a CPU or a GPU:
${describeRecommendations()}
When --model is omitted, the bundled baseline is used: a linear bag-of-tokens model (see its REPORT.md), barely
better than always preferring the longer response; its disagreements are not evidence of label errors.
An endpoint's token is read from $PLENS_REMOTE_TOKEN; KServe endpoints need --tokenizer <model folder>. Several
endpoints of one model share the work: --model http://a:8000,http://b:8000, or a file listing one URL per line;
--concurrency is requests in flight per endpoint, --batch-size rows per request (defaults 4 and 16, lowered to what the server allows).
--shard i/n scores every n-th pair from the i-th, so n machines can split a file; merge-scores joins their --out files.
Scores are cached in --cache-dir (default ${defaultCacheDir()}); re-scoring unchanged pairs runs no model.`;

class UsageError extends Error {}

/** What the bundled model is and how good, from its own config.json (written by its training script). */
function bundledNote(dir: string): string {
  try {
    return String(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).preference_lens_note ?? 'a baseline, not a reward model');
  } catch {
    return 'a baseline, not a reward model';
  }
}

const bundledModel = () => path.join(__dirname, 'models', 'baseline');

async function inspect(file: string, format: string | undefined): Promise<void> {
  // One pass that keeps counts only: memory is the scanner's offsets, whatever the size of the file.
  const read = await readSource({ file, format: await detectStreamFormat(file, { format }) });
  requirePairs(read, format);
  const report = {
    file,
    format: read.format.name,
    pairs: read.pairs,
    labels: read.labels,
    malformed: read.malformed,
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

/** A download's progress on stderr, on one line: each whole percent once. */
function downloadProgress(what: string): (progress: { loaded: number; total: number }) => void {
  let shownPercent = -1;
  return ({ loaded, total }) => {
    const percent = total > 0 ? Math.floor((100 * loaded) / total) : 100;
    if (percent === shownPercent) return;
    shownPercent = percent;
    process.stderr.write(`\rplens: downloading ${what}: ${percent}% of ${(total / 1e6).toFixed(1)} MB${percent === 100 ? '\n' : ''}`);
  };
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
  template?: string;
  variant?: string;
  logit?: string;
  'cache-dir'?: string;
  'no-cache'?: boolean;
  'remote-protocol'?: string;
  tokenizer?: string;
  concurrency?: string;
  'batch-size'?: string;
  shard?: string;
}

/**
 * Scores every pair of the dataset with the model the flags name, reading it front to back a batch
 * at a time (see ./streamScoring); each batch goes to `onScored` once scored. Progress goes to stderr.
 */
async function scoreAll(source: DatasetSource, values: ScoreFlags, onScored?: StreamScoringOptions['onScored']) {
  const model = values.model ? (isEndpoint(values.model) || isHubModel(values.model) ? values.model : path.resolve(values.model)) : bundledModel();
  const template = values.template;
  if (template !== undefined && !(TEMPLATE_CHOICES as readonly string[]).includes(template)) {
    throw new UsageError(`--template should be ${TEMPLATE_CHOICES.join(', ')}, got "${template}"`);
  }
  const variant = values.variant;
  if (variant !== undefined && !(MODEL_VARIANTS as readonly string[]).includes(variant)) {
    throw new UsageError(`--variant should be ${MODEL_VARIANTS.join(', ')}, got "${variant}"`);
  }
  if (variant !== undefined && !values.model) {
    throw new UsageError(`--variant picks a precision or file of the model --model names; without --model the bundled baseline is used, which has one`);
  }
  const device = values.device;
  if (device !== undefined && !(DEVICE_CHOICES as readonly string[]).includes(device)) {
    throw new UsageError(`--device should be ${DEVICE_CHOICES.join(', ')}, got "${device}"`);
  }
  // Every number checked before the baseline's banner or a model load: a typo fails in a second.
  const maxLength = positiveInt(values['max-length'], '--max-length');
  const batchTokens = positiveInt(values['batch-tokens'], '--batch-tokens');
  const concurrency = positiveInt(values.concurrency, '--concurrency');
  const batchSize = positiveInt(values['batch-size'], '--batch-size');
  const logit = values.logit;
  if (logit !== undefined && !/^\d+$/.test(logit)) throw new UsageError(`--logit should be a 0-based index, got "${logit}"`);
  let shard;
  try {
    shard = values.shard === undefined ? undefined : parseShard(values.shard);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // Made before the scorer: Ctrl-C also cancels a Hub download in load().
  const controller = new AbortController();
  const protocol = values['remote-protocol'];
  if (protocol !== undefined && !isRemoteProtocol(protocol)) throw new UsageError(`--remote-protocol should be vllm, tei or kserve, got "${protocol}"`);
  if (!values.model) {
    process.stderr.write(
      `plens: no --model given; scoring with the bundled baseline: ${bundledNote(model)}\n` +
        'plens: its disagreements with the labels are not evidence of label errors. Reward models that run here (downloaded once into the Hugging Face cache):\n' +
        `${describeRecommendations()}\n`,
    );
  }
  const scorer = createScorer({
    model,
    workerPath: path.join(__dirname, 'worker.js'),
    device,
    maxLength,
    batchTokens,
    cacheDir: values['no-cache'] ? undefined : path.resolve(values['cache-dir'] ?? defaultCacheDir()),
    remote: {
      protocol,
      tokenizerDir: values.tokenizer === undefined ? undefined : path.resolve(values.tokenizer),
      concurrency,
      batchSize,
    },
    template: template as TemplateChoice | undefined,
    variant: variant as ModelVariant | undefined,
    logitIndex: logit === undefined ? undefined : Number(logit),
    // A batch job has the machine to itself: every core (the editor leaves one for the UI).
    threads: os.availableParallelism(),
    // Tokenizing makes short-lived garbage at a high rate: a small nursery keeps the worker's heap, the
    // bulk of the CLI's memory, from growing between collections (no old-generation cap: a large
    // model's build must not run out of heap).
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
    onLoadProgress: ({ done, total }) => {
      process.stderr.write(`\rplens: building the model's graph: step ${done} of ${total}${done === total ? '\n' : ''}`);
    },
    // A cache hit reports nothing; a download reports each whole percent, on one line.
    hub: {
      signal: controller.signal,
      onProgress: downloadProgress(model),
    },
  });
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const started = performance.now();
    const info = await scorer.load();
    if (info.weights) process.stderr.write(`plens: ${info.model}: ${info.weights}\n`);
    if (info.server) process.stderr.write(`plens: ${info.model} served by ${info.server}\n`);
    for (const note of info.notes ?? []) process.stderr.write(`plens: ${note}\n`);
    if (info.padding) process.stderr.write(`plens: ${info.padding}\n`);
    if (info.fallbackReason) process.stderr.write(`plens: running on ${info.device}: ${info.fallbackReason}\n`);
    if (info.cacheError) process.stderr.write(`plens: ${info.cacheError}\n`);
    const progress = new ProgressLine();
    const { table: scores, stats } = await scoreSource(source, scorer, {
      signal: controller.signal,
      shard,
      onNotice: (notice) => process.stderr.write(`plens: ${notice.message}\n`),
      onMalformed: (bad) => reportSkipped(source.file, bad),
      onScored,
      progress: (text, final) => progress.update(text, final),
    });
    if (shard) process.stderr.write(`plens: shard ${shard.index + 1} of ${shard.count}: ${shardPositions(scores.count, shard).length} of ${scores.count} pairs\n`);
    for (const endpoint of stats.endpoints ?? []) {
      const rate = endpoint.seconds > 0 ? `, ${Math.round(endpoint.items / endpoint.seconds)} items per request-second` : '';
      process.stderr.write(`plens: ${endpoint.url}: ${endpoint.items} items in ${endpoint.requests} requests${rate}, ${endpoint.errors} errors${endpoint.down ? `; down: ${endpoint.down}` : ''}\n`);
    }
    if (stats.failed) process.stderr.write(`plens: ${stats.failed} responses could not be scored; their pairs are left out\n`);
    if (stats.cacheError) process.stderr.write(`plens: ${stats.cacheError}\n`);
    return { scores, info, stats, seconds: (performance.now() - started) / 1000, baseline: !values.model, shard };
  } finally {
    process.off('SIGINT', onSigint);
    await scorer.dispose();
  }
}

async function score(file: string, values: ScoreFlags): Promise<void> {
  // Before the dataset and the model are loaded: a bad --out should fail in a second, not after scoring.
  if (values.out !== undefined) checkOutPath(values.out);
  // First: a file none of whose lines fits should say so once, before the model loads.
  const source = await openSource(file, values.format);

  // Written under a temporary name and renamed once complete: a failed run leaves an earlier --out file as it was.
  const pending = values.out === undefined ? undefined : new PendingOutput(values.out);
  const out = pending?.stream ?? process.stdout;
  // Rows are written as their batch is scored, in file order: nothing waits in memory for the end.
  const scoring = scoreAll(source, values, async (batch, batchScores, table) => {
    batch.forEach(({ index, pair }, k) => {
      const pairScore = batchScores[k];
      if (!pairScore) return;
      const v = verdict(pair.label, pairScore, table.identical(index));
      const row = {
        line: pair.line,
        reward_a: v.rewardA,
        reward_b: v.rewardB,
        margin: v.margin,
        prefers: v.prefers,
        label: pair.label,
        agrees: v.agrees,
        // The pair's content key: `review --scores` and `export --scores` check the scores belong to their dataset.
        key: table.keys[index],
      };
      out.write(JSON.stringify(row) + '\n');
    });
    // Written faster than the disk takes them (cached scores): wait, rather than buffer the whole output. A failed
    // stream rejects (its error is kept above) instead of never draining.
    if (out.writableNeedDrain && !pending?.failed) await once(out, 'drain').catch(() => undefined);
  });
  const { scores, info, stats, seconds, baseline, shard } = await scoring.catch(async (error: unknown) => {
    await pending?.abort();
    throw error;
  });
  await pending?.commit();

  const summary = {
    ...summarize(scores),
    model: info.model,
    ...(baseline ? { baseline: true } : {}),
    template: info.template,
    device: info.device,
    ...(info.server ? { server: info.server } : {}),
    ...(shard ? { shard: `${shard.index + 1}/${shard.count}` } : {}),
    seconds: round(seconds),
    tokens_per_second: Math.round(stats.tokens / seconds),
    cached: stats.cached ?? 0,
    truncated: stats.truncated ?? 0,
    ...(info.precision ? { precision: info.precision } : {}),
    model_calls: stats.modelCalls ?? null,
    ...(stats.endpoints ? { endpoints: stats.endpoints.map(({ url, items, requests, errors, seconds, down }) => ({ url, items, requests, errors, seconds: round(seconds), ...(down ? { down } : {}) })) } : {}),
    time: {
      tokenize: round(stats.tokenizeSeconds),
      inference: round(stats.inferenceSeconds),
      other: round(Math.max(0, seconds - stats.tokenizeSeconds - stats.inferenceSeconds)),
    },
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
}

/** `plens score` with several --model flags: every model's columns in one file (./severalModels). */
async function scoreSeveral(file: string, values: ScoreFlags, models: string[]): Promise<void> {
  if (values.shard) throw new UsageError('--shard takes one --model');
  if (values.out !== undefined) checkOutPath(values.out);
  // Each model reads the file front to back in turn; one model is loaded at a time.
  const runs = await scoreEach(models, async (model) => scoreAll(await openSource(file, values.format), { ...values, model }));
  const out = values.out ? createWriteStream(values.out) : process.stdout;
  const summary = writeSeveral(runs[0].run.scores, runs, out);
  if (out !== process.stdout) await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  process.stdout.write(JSON.stringify(summary) + '\n');
}

/** Joins the shards' score files into the unsharded run's file; missing or doubled pairs are errors. */
async function mergeScores(file: string, scoreFiles: string[], values: { out?: string; format?: string }): Promise<void> {
  if (scoreFiles.length === 0) throw new UsageError(`merge-scores: give the shards' score files after <file>\n${USAGE}`);
  if (values.out !== undefined) checkOutPath(values.out);
  // The pairs' lines, read front to back: the merge checks every one has a score, once.
  const pairLines: number[] = [];
  await readSource(await openSource(file, values.format), { onBatch: async (batch) => void pairLines.push(...batch.map(({ pair }) => pair.line)) });
  const { lines, missing } = await mergeScoreFiles(scoreFiles, pairLines);
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).join(', ');
    throw new Error(
      `${missing.length} of ${pairLines.length} pairs of ${file} have no score in these files (lines ${shown}${missing.length > 10 ? ', …' : ''}): ` +
        'a shard is missing, or some of its pairs failed; run that shard again (what it scored before comes from the cache)',
    );
  }
  const text = lines.map((line) => `${line}\n`).join('');
  if (values.out) await writeFile(values.out, text);
  else process.stdout.write(text);
  process.stderr.write(`plens: merged ${lines.length} pairs from ${scoreFiles.length} files\n`);
}

function reportSkipped(file: string, bad: Malformed): void {
  process.stderr.write(`${file}:${bad.line}: skipped: ${bad.error}\n`);
}

/**
 * Reads `plens score` output back into `table`, once it is known to be the scores of this dataset's
 * pairs; says whether the bundled baseline made them.
 */
async function readScores(file: string, dataset: string, table: PairTable): Promise<{ baseline: boolean }> {
  const scoreFile = await readScoreFile(file);
  const scores = matchScores(scoreFile, dataset, table, (message) => process.stderr.write(`plens: ${message}\n`));
  for (const [index, pairScore] of scores) table.setScore(index, pairScore);
  return { baseline: scoreFile.baseline };
}

interface ReviewFlags extends ScoreFlags {
  scores?: string;
  annotations?: string;
  top?: string;
  team?: string;
  overlap?: string;
}

/**
 * The team whose shares review reports: --team (and --overlap, default 1), else the team file
 * beside the dataset (src/core/assignment.ts), whose overlap --overlap may override; else none.
 */
async function reviewTeam(file: string, values: ReviewFlags): Promise<Team | undefined> {
  const overlap = values.overlap === undefined ? undefined : positiveInt(values.overlap, '--overlap');
  if (values.team !== undefined) {
    const annotators = values.team.split(',').map((name) => name.trim());
    try {
      return checkTeam({ annotators, overlap: overlap ?? 1 }, '--team/--overlap');
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const team = await readTeam(teamPath(file));
  if (!team) {
    if (overlap !== undefined) throw new UsageError(`--overlap needs --team <names> or a team file (${teamPath(file)})`);
    return undefined;
  }
  return overlap === undefined ? team : checkTeam({ ...team, overlap }, `${teamPath(file)} with --overlap`);
}

async function review(file: string, values: ReviewFlags, models: string[] = []): Promise<void> {
  // Before scoring: a bad team, or a named annotations file that is not there (a typo would
  // otherwise report no corrections), should fail in a second.
  const teamConfig = await reviewTeam(file, values);
  if (values.annotations !== undefined && !existsSync(values.annotations)) throw new UsageError(`--annotations: ${values.annotations} does not exist`);
  // First: a file none of whose lines fits should say so once, not list every line it skipped.
  const source = await openSource(file, values.format);
  let table: PairTable;
  let baseline = false;
  // Several models (a several-model score file, or several --model): every model's column, the table holding the first's.
  let columns: ModelColumn[] | undefined;
  if (values.scores) {
    ({ table } = await readSource(source, { table: true, onMalformed: (bad) => reportSkipped(file, bad) }));
    ({ baseline } = await readScores(values.scores, file, table));
    columns = readModelColumns(await readFile(values.scores, 'utf8'), table);
  } else if (models.length > 1) {
    const runs = await scoreEach(models, async (model) => scoreAll(await openSource(file, values.format), { ...values, model }));
    table = runs[0].run.scores;
    columns = asColumns(runs);
  } else ({ scores: table, baseline } = await scoreAll(source, values));
  // The reviewer's corrections count, as they do in the editor's stats view: same state, same figures.
  const annotationsFile = values.annotations ?? sidecarPath(file);
  const annotations = existsSync(annotationsFile) ? await AnnotationLog.load(annotationsFile) : AnnotationLog.empty();
  const state = new ReviewState(table, annotations);
  state.team = teamConfig;
  if (columns) {
    state.firstModelName = columns[0].name;
    state.otherModels = columns.slice(1);
  }
  const stats = state.stats();
  const labelOf = (index: number) => state.label(index);
  const team = teamReport({
    keys: table.keys,
    fileLabel: (index) => table.fileLabel(index),
    modelPrefers: (index) => {
      const score = table.score(index);
      if (score === undefined || table.identical(index)) return undefined;
      return verdict(null, score).prefers as Preference;
    },
    labels: annotations.labelsByAnnotator(),
    team: teamConfig,
    adjudicated: (key) => annotations.adjudicationOf(key) !== undefined,
  });
  const ranked = topDisagreements(table, positiveInt(values.top, '--top') ?? 10, labelOf);
  // Their text is read again from the file: only the columns were kept.
  const topPairs = await table.pairs(ranked.map(({ index }) => index));
  const top = ranked.map(({ index, margin }, k) => {
    const pair = topPairs[k];
    const { prefers } = verdict(labelOf(index), table.score(index)!, table.identical(index));
    // The whole conversation, as messages: the last turn alone ("Yes") says nothing of what was asked.
    return { line: pair.line, margin, prefers, label: labelOf(index), prompt: pair.prompt };
  });
  const report = {
    file,
    format: source.format.name,
    pairs: stats.pairs,
    scored: stats.scored,
    agreement: stats.agreement,
    disagreements: stats.disagreements,
    // Pairs whose responses are the same have no verdict: counted and listed apart, left out of agreement.
    identical: stats.identical,
    identical_lines: identicalLines(table),
    calibration: stats.calibration,
    margin_histogram: stats.marginHistogram,
    length: { human_prefers_longer: stats.length.humanPrefersLonger, model_prefers_longer: stats.length.modelPrefersLonger },
    review: {
      reviewed: stats.review.reviewed,
      relabelled: stats.review.relabelled,
      both_bad: stats.review.bothBad,
      flagged: stats.review.flagged,
      notes: stats.review.notes,
    },
    top_disagreements: top,
    annotators: team.annotators.map((a) => ({
      name: a.name,
      labelled: a.labelled,
      agreement_with_file: a.agreementWithFile,
      agreement_with_model: a.agreementWithModel,
      ...(a.assigned !== undefined ? { assigned: a.assigned, done: a.done } : {}),
    })),
    ...(teamConfig ? { team: { annotators: teamConfig.annotators, overlap: teamConfig.overlap } } : {}),
    // Pairs whose annotators gave different labels, and how many an adjudicator decided (the editor's adjudication queue holds the rest).
    adjudication: { conflicts: team.conflicts, adjudicated: team.adjudicated },
    inter_annotator: {
      pairs_multiply_labelled: team.interAnnotator.unitsMultiplyLabelled,
      percent_agreement: team.interAnnotator.percentAgreement,
      krippendorff_alpha: team.interAnnotator.krippendorffAlpha,
      pairwise: team.interAnnotator.pairwise.map((p) => ({ a: p.a, b: p.b, pairs: p.units, percent_agreement: p.percentAgreement, cohen_kappa: p.cohenKappa })),
    },
    length_control: await lengthControlReport(state),
    noise: await noiseReport(state, positiveInt(values.top, '--top') ?? 10),
    // The review state's report, which the editor's stats view shows: the two cannot drift.
    ...(columns ? { models: modelsReport(state.consensus()!.report, (i) => table.line(i)) } : {}),
    // Model-free label-noise checks (src/core/noiseChecks.ts): pairs involved and their lines.
    checks: checksReport(table.checks, (index) => table.line(index)),
    // The bundled baseline is no reward model: whoever reads the report must know its "disagreements" are not findings.
    ...(baseline ? { baseline: { note: 'scored by the bundled baseline, not a reward model: its disagreements are not evidence of label errors' } } : {}),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

/** File lines of the scored pairs with identical responses, the first hundred: enough to find them, bounded for huge files. */
function identicalLines(table: PairTable, limit = 100): number[] {
  const lines: number[] = [];
  for (let index = 0; index < table.count && lines.length < limit; index++) {
    if (table.identical(index) && table.score(index)) lines.push(table.line(index));
  }
  return lines;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The noise score (src/core/noiseScore.ts): the review queue as the editor orders it (disagreements,
 * likeliest label errors first), its first `top` entries with their evidence, and how many pairs are
 * more likely mislabelled than not.
 */
async function noiseReport(state: ReviewState, top: number) {
  const noise = state.noise();
  const suspects = state.noiseSuspects();
  const queue = (await state.select({ filter: 'disagreements', sort: 'noise' })).slice(0, top).map((index) => {
    const { score, model, checks } = noise.evidence(index);
    return { line: state.table.line(index), score, model: model ?? null, checks: checks.map((c) => c.check) };
  });
  return { method: NOISE_METHOD, beta: noise.beta, suspects, queue };
}

/** The length-controlled figures (src/core/lengthControl.ts), as the stats view shows them, with the "preferred only for length" pairs. */
async function lengthControlReport(state: ReviewState) {
  const lc = state.stats().lengthControl!;
  const lines = (await state.select({ filter: 'length-only', sort: 'file' })).map((index) => state.table.line(index));
  return {
    method: lc.method,
    slope: lc.slope,
    intercept: lc.intercept,
    pairs: lc.pairs,
    agreement: lc.agreement,
    agreement_length_controlled: lc.agreementLengthControlled,
    agreement_length_only: lc.agreementLengthOnly,
    explained_by_length: lc.explainedByLength,
    preferred_only_for_length: { count: lines.length, lines },
  };
}

/** Progress on stderr: rewritten in place on a terminal, a line every few seconds otherwise. */
class ProgressLine {
  private lastWrite = 0;

  update(text: string, final: boolean): void {
    const now = Date.now();
    const interval = process.stderr.isTTY ? 100 : 2000;
    if (now - this.lastWrite < interval && !final) return;
    this.lastWrite = now;
    process.stderr.write(process.stderr.isTTY ? `\r${text}\x1b[K${final ? '\n' : ''}` : `${text}\n`);
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', multiple: true },
      out: { type: 'string' },
      format: { type: 'string' },
      device: { type: 'string' },
      'max-length': { type: 'string' },
      'batch-tokens': { type: 'string' },
      template: { type: 'string' },
      variant: { type: 'string' },
      logit: { type: 'string' },
      'cache-dir': { type: 'string' },
      'no-cache': { type: 'boolean' },
      'remote-protocol': { type: 'string' },
      tokenizer: { type: 'string' },
      concurrency: { type: 'string' },
      'batch-size': { type: 'string' },
      shard: { type: 'string' },
      annotator: { type: 'string' },
      import: { type: 'string' },
      adjudicate: { type: 'boolean' },
      scores: { type: 'string' },
      annotations: { type: 'string' },
      top: { type: 'string' },
      team: { type: 'string' },
      overlap: { type: 'string' },
      ...EXPORT_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, file, ...extra] = positionals;
  // Several --model flags: score and review with every model (./severalModels); the rest take one.
  const models = values.model ?? [];
  const flags = { ...values, model: models[0] };
  if (models.length > 1 && command !== 'score' && command !== 'review') throw new UsageError(`${command} takes one --model`);
  if (values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (!file) throw new UsageError(`${command}: missing <file>\n${USAGE}`);
  const local = await datasetFile(file);
  return run(command, local, extra, flags, models);
}

/**
 * A dataset path as given, or, for `hf://datasets/org/name/path` (the Hugging Face Hub), the file in
 * the Hugging Face cache, downloaded first when it is not there (progress on stderr; Ctrl-C cancels).
 */
async function datasetFile(file: string): Promise<string> {
  if (!isHubDatasetPath(file)) return file;
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const local = await resolveHubDatasetFile(file, {
      signal: controller.signal,
      onProgress: downloadProgress(file),
    });
    process.stderr.write(`plens: ${file} is ${local}\n`);
    return local;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

type Flags = Parameters<typeof exportCommand>[1] & ReviewFlags & Parameters<typeof annotateCommand>[1];

async function run(command: string, file: string, extra: string[], flags: Flags, models: string[]): Promise<void> {
  if (command === 'merge-scores') return mergeScores(file, extra, flags);
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (command === 'inspect') return inspect(file, flags.format);
  if (command === 'score') return models.length > 1 ? scoreSeveral(file, flags, models) : score(file, flags);
  if (command === 'review') return review(file, flags, models);
  if (command === 'export') return exportCommand(file, flags);
  if (command === 'annotate') return annotateCommand(file, flags);
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
