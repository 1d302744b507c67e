/**
 * Trains the baseline reward model that ships as the default (models/baseline/):
 *   node --import tsx scripts/train-baseline.ts [dataDir] [outDir]
 * dataDir defaults to ../shared/data beside the repository, outDir to models/baseline.
 *
 * The model is a linear Bradley–Terry model over token counts: reward = bias + Σ_tokens w[id], which
 * is exactly the per-token weight graph of modelkit/knownScoreModel.ts, so it runs through the same
 * engine path as any optimum export. Conversations are rendered and tokenized by the engine's own
 * encoder (Tulu format, the Llama-2 tokenizer vendored in models/demo), so training sees the ids the
 * engine will feed. Nothing is random (zero initialisation, full-batch Adam, a hash split) and the
 * weights are rounded to multiples of 2^-WEIGHT_FRACTION_BITS, so a rerun writes the same bytes and
 * onnxruntime's float32 sums equal the float64 rewards used for the report bit for bit.
 *
 * Exports the data preparation (sources, filters, split) so test/unit/baseline-model.test.ts scores
 * exactly the held-out pairs the report describes.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../src/core/dataset';
import type { Message, Pair } from '../src/core/pair';
import { createEncoder, type Encoder } from '../src/engine/encoder';
import { buildKnownScoreModel, knownScoreReward } from './modelkit/knownScoreModel';
import { readTokenizerFolder } from '../src/engine/modelFolder';

const repoRoot = path.resolve(__dirname, '..');
export const DEFAULT_DATA_DIR = path.resolve(repoRoot, '..', 'shared', 'data');
export const BASELINE_DIR = path.join(repoRoot, 'models', 'baseline');
/** The Llama-2 tokenizer the demo model already vendors: the baseline shares it (and its licence notice). */
const TOKENIZER_DIR = path.join(repoRoot, 'models', 'demo');

/** Written to config.json; the encoder truncates to it, so training and scoring cut the same tokens. */
const MAX_POSITIONS = 4096;
/** config.json pad id, as the demo's (`<unk>`): distinct from EOS, and masked out by the graph anyway. */
const PAD_TOKEN_ID = 0;

export const HELD_OUT_PERCENT = 20;
/** Folds of the cross-validation that picks the L2 strength, inside the training split only. */
const CV_FOLDS = 5;
/** L2 strengths tried (per-pair-averaged loss + λ/2 ‖w‖²); the best mean CV log-loss wins. */
const L2_GRID = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100] as const;
/** Full-batch Adam with a cosine-decayed step size: converges on this convex loss without tuning per fold. */
const ADAM = { steps: 600, learningRate: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;
/**
 * Weights and bias are multiples of 2^-16: fine next to weights of a few thousandths. Every partial
 * sum of ≤ MAX_POSITIONS such weights is then a multiple of 2^-16, exact in float32 while below
 * 2^(24-16) = 256 in magnitude (checked before writing), so the engine's sum in any order equals
 * this script's.
 */
const WEIGHT_FRACTION_BITS = 16;

interface SourceSpec {
  name: string;
  /** Paths under the data folder; their pairs are pooled. */
  files: readonly string[];
  origin: string;
  license: string;
}

/** The public preference sets of ../shared/data (see its README for provenance). */
export const SOURCES: readonly SourceSpec[] = [
  {
    name: 'HH-RLHF helpful-base (test split)',
    files: ['hh-rlhf-helpful-base-test/test.jsonl'],
    origin: 'Anthropic hh-rlhf via DaehanKim/EasyRLHF@4b0742e',
    license: 'MIT',
  },
  {
    name: 'PandaLM test set (majority label)',
    files: ['pandalm-testset-v1/testset-v1.json'],
    origin: 'WeOpenML/PandaLM@3871806',
    license: 'Apache-2.0',
  },
  {
    name: 'LLMBar Natural',
    files: ['llmbar/LLMBar/Natural/dataset.json'],
    origin: 'princeton-nlp/LLMBar@900616b',
    license: 'MIT',
  },
  {
    name: 'MT-Bench human judgments',
    files: ['llmbar/Processed/MT-Bench/dataset.json'],
    origin: 'princeton-nlp/LLMBar@900616b (from lmsys/mt_bench_human_judgments)',
    license: 'CC-BY-4.0',
  },
  {
    name: 'LLaMA-Factory DPO demo',
    files: ['llama-factory-dpo-demo/dpo_en_demo.json', 'llama-factory-dpo-demo/v1_dpo_demo.jsonl'],
    origin: 'hiyouga/LLaMA-Factory@ff6d4d1',
    license: 'Apache-2.0',
  },
];

export interface PreferencePair {
  source: string;
  file: string;
  line: number;
  prompt: Message[];
  chosen: Message[];
  rejected: Message[];
  heldOut: boolean;
  /** Cross-validation fold within the training split (0…CV_FOLDS-1). */
  fold: number;
}

interface SourceCounts {
  records: number;
  malformed: number;
  ties: number;
  unlabelled: number;
  /** Chosen and rejected are the same text: no preference can be learnt or measured. */
  identical: number;
  train: number;
  heldOut: number;
}

/**
 * Train / held-out by a hash of the prompt, so every pair that shares a prompt (PandaLM and MT-Bench
 * compare several models per question) lands on the same side, whichever file it comes from. The
 * fold uses other bits of the same hash, so CV folds are prompt-disjoint too.
 */
export function promptSplit(prompt: readonly Message[]): { heldOut: boolean; fold: number } {
  const digest = createHash('sha256')
    .update(JSON.stringify(prompt.map((m) => [m.role, m.content])))
    .digest();
  return { heldOut: digest.readUInt32BE(0) % 100 < HELD_OUT_PERCENT, fold: digest.readUInt32BE(4) % CV_FOLDS };
}

const sameMessages = (x: readonly Message[], y: readonly Message[]) =>
  x.length === y.length && x.every((m, i) => m.role === y[i].role && m.content === y[i].content);

function orient(pair: Pair): { chosen: Message[]; rejected: Message[] } | undefined {
  if (pair.label === 'a') return { chosen: pair.a, rejected: pair.b };
  if (pair.label === 'b') return { chosen: pair.b, rejected: pair.a };
  return undefined;
}

/** Every labelled, non-tied pair of every source, in file order, with its side of the split. */
export async function loadPreferencePairs(dataDir: string): Promise<{ pairs: PreferencePair[]; counts: Map<string, SourceCounts> }> {
  const pairs: PreferencePair[] = [];
  const counts = new Map<string, SourceCounts>();
  for (const source of SOURCES) {
    const tally: SourceCounts = { records: 0, malformed: 0, ties: 0, unlabelled: 0, identical: 0, train: 0, heldOut: 0 };
    counts.set(source.name, tally);
    for (const file of source.files) {
      const dataset = await loadDataset(path.join(dataDir, file));
      tally.records += dataset.pairs.length + dataset.malformed.length;
      tally.malformed += dataset.malformed.length;
      for (const pair of dataset.pairs) {
        const oriented = orient(pair);
        if (!oriented) {
          if (pair.label === 'tie') tally.ties++;
          else tally.unlabelled++;
          continue;
        }
        if (sameMessages(oriented.chosen, oriented.rejected)) {
          tally.identical++;
          continue;
        }
        const split = promptSplit(pair.prompt);
        if (split.heldOut) tally.heldOut++;
        else tally.train++;
        pairs.push({ source: source.name, file, line: pair.line, prompt: pair.prompt, ...oriented, ...split });
      }
    }
  }
  return { pairs, counts };
}

/** The engine's encoder over the baseline's tokenizer and config.json limits. */
async function baselineEncoder(): Promise<Encoder> {
  const folder = await readTokenizerFolder(TOKENIZER_DIR);
  return createEncoder({ ...folder, config: { ...folder.config, pad_token_id: PAD_TOKEN_ID, max_position_embeddings: MAX_POSITIONS } });
}

/** Token ids of prompt + response exactly as ScoringEngine.score computes them. */
function encodeResponse(encoder: Encoder, prompt: readonly Message[], response: readonly Message[]): Int32Array {
  const text = encoder.render([...prompt, ...response]);
  return Int32Array.from(encoder.encodeText(text, encoder.promptPrefix(prompt, response)).ids);
}

const characters = (messages: readonly Message[]) => messages.reduce((sum, m) => sum + m.content.length, 0);

interface EncodedPair {
  pair: PreferencePair;
  chosenIds: Int32Array;
  rejectedIds: Int32Array;
  /** count(chosen) − count(rejected) per token id, ids ascending, zeros dropped. */
  diffIds: Int32Array;
  diffCounts: Float64Array;
}

function encodePair(encoder: Encoder, pair: PreferencePair): EncodedPair {
  const chosenIds = encodeResponse(encoder, pair.prompt, pair.chosen);
  const rejectedIds = encodeResponse(encoder, pair.prompt, pair.rejected);
  const diff = new Map<number, number>();
  for (const id of chosenIds) diff.set(id, (diff.get(id) ?? 0) + 1);
  for (const id of rejectedIds) diff.set(id, (diff.get(id) ?? 0) - 1);
  const ids = [...diff.keys()].filter((id) => diff.get(id) !== 0).sort((x, y) => x - y);
  return {
    pair,
    chosenIds,
    rejectedIds,
    diffIds: Int32Array.from(ids),
    diffCounts: Float64Array.from(ids, (id) => diff.get(id) as number),
  };
}

/** Per-token weights plus a common per-token term (length), before folding and rounding. */
interface LinearModel {
  weights: Float64Array;
  perToken: number;
}

/** log(1 + e^-m) without overflow. */
const logLoss = (margin: number) => (margin > 0 ? Math.log1p(Math.exp(-margin)) : -margin + Math.log1p(Math.exp(margin)));
/** σ(-m), the weight of a pair's gradient. */
const sigmoidNeg = (margin: number) => (margin > 0 ? Math.exp(-margin) / (1 + Math.exp(-margin)) : 1 / (1 + Math.exp(margin)));

function marginOf(model: LinearModel, p: EncodedPair): number {
  let margin = model.perToken * (p.chosenIds.length - p.rejectedIds.length);
  for (let k = 0; k < p.diffIds.length; k++) margin += model.weights[p.diffIds[k]] * p.diffCounts[k];
  return margin;
}

/**
 * Minimises mean −log σ(r(chosen) − r(rejected)) + λ/2 ‖w‖². The bias cancels in every difference,
 * so it is not trained. The per-token term is left unpenalised: it lets the model take the length
 * preference without spending L2 budget on every token's weight.
 */
function fit(train: readonly EncodedPair[], vocabSize: number, l2: number): LinearModel {
  const model: LinearModel = { weights: new Float64Array(vocabSize), perToken: 0 };
  const grad = new Float64Array(vocabSize);
  const m1 = new Float64Array(vocabSize + 1);
  const m2 = new Float64Array(vocabSize + 1);
  const { steps, learningRate, beta1, beta2, epsilon } = ADAM;
  for (let step = 0; step < steps; step++) {
    for (let id = 0; id < vocabSize; id++) grad[id] = l2 * model.weights[id];
    let gradPerToken = 0;
    for (const p of train) {
      const g = -sigmoidNeg(marginOf(model, p)) / train.length;
      for (let k = 0; k < p.diffIds.length; k++) grad[p.diffIds[k]] += g * p.diffCounts[k];
      gradPerToken += g * (p.chosenIds.length - p.rejectedIds.length);
    }
    const rate = (learningRate * 0.5 * (1 + Math.cos((Math.PI * step) / steps))) / (1 - beta1 ** (step + 1));
    const secondCorrection = 1 - beta2 ** (step + 1);
    const update = (index: number, gradient: number) => {
      m1[index] = beta1 * m1[index] + (1 - beta1) * gradient;
      m2[index] = beta2 * m2[index] + (1 - beta2) * gradient * gradient;
      return (rate * m1[index]) / (Math.sqrt(m2[index] / secondCorrection) + epsilon);
    };
    for (let id = 0; id < vocabSize; id++) model.weights[id] -= update(id, grad[id]);
    model.perToken -= update(vocabSize, gradPerToken);
  }
  return model;
}

function meanLogLoss(model: LinearModel, pairs: readonly EncodedPair[]): number {
  return pairs.reduce((sum, p) => sum + logLoss(marginOf(model, p)), 0) / pairs.length;
}

/** Pairwise accuracy points: 1 when the chosen response scores higher, ½ on an exact tie. */
const point = (chosen: number, rejected: number) => (chosen > rejected ? 1 : chosen === rejected ? 0.5 : 0);

function accuracyOf(model: LinearModel, pairs: readonly EncodedPair[]): number {
  return pairs.reduce((sum, p) => sum + point(marginOf(model, p), 0), 0) / pairs.length;
}

interface CvRow {
  l2: number;
  logLoss: number;
  accuracy: number;
}

function crossValidate(train: readonly EncodedPair[], vocabSize: number): CvRow[] {
  return L2_GRID.map((l2) => {
    let logLossSum = 0;
    let accuracySum = 0;
    for (let fold = 0; fold < CV_FOLDS; fold++) {
      const model = fit(
        train.filter((p) => p.pair.fold !== fold),
        vocabSize,
        l2,
      );
      const validation = train.filter((p) => p.pair.fold === fold);
      logLossSum += meanLogLoss(model, validation);
      accuracySum += accuracyOf(model, validation);
    }
    const row = { l2, logLoss: logLossSum / CV_FOLDS, accuracy: accuracySum / CV_FOLDS };
    console.log(`  λ=${l2}: CV log-loss ${row.logLoss.toFixed(4)}, accuracy ${(100 * row.accuracy).toFixed(1)}%`);
    return row;
  });
}

/**
 * The shipped table: the length term folded into every weight (reward = bias + Σ (w[id] + c) is the
 * graph's shape), rounded to the exactness grid, and a bias that centres the training conversations'
 * rewards on 0. The bias cancels in every comparison; centring only keeps the numbers readable.
 */
function toTable(model: LinearModel, train: readonly EncodedPair[]): { weights: Float32Array; bias: number } {
  const scale = 2 ** WEIGHT_FRACTION_BITS;
  const round = (value: number) => Math.round(value * scale) / scale;
  const weights = Float32Array.from(model.weights, (w) => round(w + model.perToken));
  let total = 0;
  for (const p of train) total += sumWeights(weights, p.chosenIds) + sumWeights(weights, p.rejectedIds);
  const bias = round(-total / (2 * train.length));
  const maxWeight = weights.reduce((max, w) => Math.max(max, Math.abs(w)), 0);
  const bound = MAX_POSITIONS * maxWeight + Math.abs(bias);
  if (bound >= 2 ** (24 - WEIGHT_FRACTION_BITS)) {
    throw new Error(`A reward could reach ${bound}, past float32's exact range for multiples of 2^-${WEIGHT_FRACTION_BITS}: lower WEIGHT_FRACTION_BITS`);
  }
  return { weights, bias };
}

function sumWeights(weights: Float32Array, ids: Int32Array): number {
  let sum = 0;
  for (const id of ids) sum += weights[id];
  return sum;
}

interface Tally {
  pairs: number;
  points: number;
}

interface Evaluation {
  baseline: Tally;
  longer: Tally;
  demo: Tally;
  /** Pairs the baseline gets right and "longer" wrong, and the reverse (ties in either skipped). */
  onlyBaseline: number;
  onlyLonger: number;
  /** Pairs where the baseline and "longer" pick the same response. */
  agreeWithLonger: number;
}

function evaluate(pairs: readonly EncodedPair[], table: { weights: Float32Array; bias: number }): Evaluation {
  const e: Evaluation = {
    baseline: { pairs: 0, points: 0 },
    longer: { pairs: 0, points: 0 },
    demo: { pairs: 0, points: 0 },
    onlyBaseline: 0,
    onlyLonger: 0,
    agreeWithLonger: 0,
  };
  for (const p of pairs) {
    const baseline = point(table.bias + sumWeights(table.weights, p.chosenIds), table.bias + sumWeights(table.weights, p.rejectedIds));
    const longer = point(characters(p.pair.chosen), characters(p.pair.rejected));
    const demo = point(knownScoreReward([...p.chosenIds]), knownScoreReward([...p.rejectedIds]));
    for (const [tally, value] of [
      [e.baseline, baseline],
      [e.longer, longer],
      [e.demo, demo],
    ] as const) {
      tally.pairs++;
      tally.points += value;
    }
    if (baseline === 1 && longer === 0) e.onlyBaseline++;
    if (baseline === 0 && longer === 1) e.onlyLonger++;
    if (baseline !== 0.5 && baseline === longer) e.agreeWithLonger++;
  }
  return e;
}

/** Two-sided exact McNemar (binomial, p = ½) test on the discordant pairs. */
function mcnemarP(onlyA: number, onlyB: number): number {
  const n = onlyA + onlyB;
  if (n === 0) return 1;
  const logChoose = (k: number) => logFactorial(n) - logFactorial(k) - logFactorial(n - k);
  let tail = 0;
  for (let k = 0; k <= Math.min(onlyA, onlyB); k++) tail += Math.exp(logChoose(k) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

function logFactorial(n: number): number {
  let sum = 0;
  for (let k = 2; k <= n; k++) sum += Math.log(k);
  return sum;
}

/** 95% Wilson score interval of a proportion. */
function wilson(points: number, n: number): [number, number] {
  const z = 1.959964;
  const p = points / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [centre - half, centre + half];
}

const percent = (tally: Tally) => (tally.pairs === 0 ? '–' : `${((100 * tally.points) / tally.pairs).toFixed(1)}%`);

function topTokens(weights: Float64Array, vocab: Map<number, string>, sign: 1 | -1, count: number): string {
  const order = [...weights.keys()].sort((x, y) => sign * (weights[y] - weights[x]) || x - y);
  return order
    .slice(0, count)
    .map((id) => `\`${JSON.stringify(vocab.get(id) ?? `#${id}`).slice(1, -1)}\` ${weights[id] >= 0 ? '+' : ''}${weights[id].toFixed(4)}`)
    .join(', ');
}

interface Results {
  name: string;
  counts: Map<string, SourceCounts>;
  cv: CvRow[];
  l2: number;
  perToken: number;
  bias: number;
  trainAccuracy: number;
  heldOut: Evaluation;
  bySource: Map<string, Evaluation>;
  vocab: Map<number, string>;
  /** Fitted per-token weights before the length term is folded in: what each token adds beyond length. */
  tokenWeights: Float64Array;
  modelSha256: string;
}

function report(r: Results): string {
  const overall = r.heldOut;
  const [low, high] = wilson(overall.baseline.points, overall.baseline.pairs);
  const gain = (100 * (overall.baseline.points - overall.longer.points)) / overall.baseline.pairs;
  const p = mcnemarP(overall.onlyBaseline, overall.onlyLonger);
  const verdict =
    p < 0.05
      ? `It beats always-prefer-longer by ${gain.toFixed(1)} points overall (exact McNemar p = ${p.toPrecision(2)}).`
      : `It does **not** clearly beat always-prefer-longer: ${gain.toFixed(1)} points overall, exact McNemar p = ${p.toPrecision(2)}.`;
  const dataRows = SOURCES.map((s) => {
    const c = r.counts.get(s.name) as SourceCounts;
    const excluded = [
      c.ties && `${c.ties} ties`,
      c.unlabelled && `${c.unlabelled} unlabelled`,
      c.identical && `${c.identical} identical pairs`,
      c.malformed && `${c.malformed} malformed`,
    ].filter(Boolean);
    return `| ${s.name} | ${s.files.map((f) => `\`${f}\``).join(', ')} | ${s.origin} | ${s.license} | ${c.records} | ${excluded.join(', ') || '–'} | ${c.train} | ${c.heldOut} |`;
  });
  const resultRows = [...r.bySource.entries(), ['**all held-out pairs**', overall] as const].map(([name, e]) => {
    const [from, to] = wilson(e.baseline.points, e.baseline.pairs);
    const interval = `${(100 * from).toFixed(0)}–${(100 * to).toFixed(0)}%`;
    return `| ${name} | ${e.baseline.pairs} | ${percent(e.baseline)} | ${interval} | ${percent(e.longer)} | ${percent(e.demo)} |`;
  });
  const cvRows = r.cv.map((row) => `| ${row.l2} | ${row.logLoss.toFixed(4)} | ${(100 * row.accuracy).toFixed(1)}%${row.l2 === r.l2 ? ' ← chosen' : ''} |`);
  return `# ${r.name}

Written by \`node --import tsx scripts/train-baseline.ts\`; every measured figure below is computed by that run.

**What it is.** reward = bias + Σ over the tokens of the Tulu-rendered conversation of w[token id]: a
linear Bradley–Terry model over token counts (a "bag of tokens"), in the same ONNX graph shape as an
optimum export (\`input_ids\`, \`attention_mask\` → \`logits [batch, 1]\`). It cannot read meaning, order or
correctness; it learns which tokens, and how much length, the labellers of these sets tended to prefer.
Use it to get a first ranking of doubtful labels, and bring a real reward model for anything else.

**How well.** Held-out pairwise accuracy ${percent(overall.baseline)} (95% Wilson interval ${(100 * low).toFixed(1)}–${(100 * high).toFixed(1)}%, ${overall.baseline.pairs} pairs)
against ${percent(overall.longer)} for always preferring the longer response and ${percent(overall.demo)} for the demo model.
${verdict} It picks the same response as "longer" on ${((100 * overall.agreeWithLonger) / overall.baseline.pairs).toFixed(1)}% of held-out pairs.
Human–human agreement on such data is about 63–77% (see ../shared/docs/ml-notes.md).

## Data

| source | file(s) under \`../shared/data\` | origin | licence | records | excluded | train pairs | held-out pairs |
| --- | --- | --- | --- | --- | --- | --- | --- |
${dataRows.join('\n')}

Files are read with the extension's own \`loadDataset\`; a pair's chosen side is its label (PandaLM: the
majority of three annotators). Ties carry no preference and identical responses cannot be told apart, so
both are left out of training and evaluation.

## Split

A pair is held out when the SHA-256 of its prompt (the JSON of its \`[role, content]\` turns), read as a
big-endian uint32 from the first 4 bytes, is below ${HELD_OUT_PERCENT} mod 100. Every pair that shares a prompt is on the same
side, across files too (PandaLM and MT-Bench compare several models per question). The held-out set is from the
same sources as the training set: these are in-distribution figures, and data of another kind may
score lower.

## Features and training

- Text: \`encoder.render(prompt + response)\` with the engine's Tulu format and the Llama-2 tokenizer of
  \`models/demo\`, tokenized by \`encoder.encodeText\` (BOS added, EOS after each assistant turn), left-truncated
  to ${MAX_POSITIONS} tokens: the ids the engine feeds the model.
- Loss: mean over pairs of −log σ(r(chosen) − r(rejected)) + λ/2 ‖w‖², plus an unpenalised per-token
  (length) term c; the bias cancels in every difference.
- Optimiser: full-batch Adam, ${ADAM.steps} steps, step size ${ADAM.learningRate} with cosine decay to 0,
  β = (${ADAM.beta1}, ${ADAM.beta2}), ε = ${ADAM.epsilon}; zero initialisation. Nothing is random.
- λ chosen by ${CV_FOLDS}-fold prompt-disjoint cross-validation inside the training split (folds from bytes 4–7 of
  the same hash), by mean validation log-loss; then refitted on the whole training split:

| λ | CV log-loss | CV accuracy |
| --- | --- | --- |
${cvRows.join('\n')}

- Export: the length term c = ${r.perToken.toFixed(5)} per token is added to every weight; weights and bias are
  rounded to multiples of 2^-${WEIGHT_FRACTION_BITS}, so every partial sum is exact in float32 and onnxruntime's rewards equal
  this script's float64 ones bit for bit. Bias ${r.bias} centres the training conversations' mean reward on 0
  (it cancels in every comparison).
- Training-split accuracy of the exported model: ${(100 * r.trainAccuracy).toFixed(1)}%.

## Held-out accuracy

Accuracy counts a pair right when the chosen response gets the higher score; an exact tie counts ½.
"Longer" compares the responses' length in characters; "demo" is the hashed-weight model of \`models/demo\`,
whose weights say nothing about quality but average +1/128 a token, so it leans towards longer responses.
Intervals are 95% Wilson intervals: the smaller sources' figures are mostly noise.

| source | held-out pairs | baseline | baseline 95% interval | always prefer longer | demo model |
| --- | --- | --- | --- | --- | --- |
${resultRows.join('\n')}

Against "longer" on the held-out pairs, the baseline alone is right on ${overall.onlyBaseline} pairs and "longer" alone on
${overall.onlyLonger}.

## What it learnt

Every token adds the length term c = ${r.perToken.toFixed(5)} plus its own weight. Own weights, largest:
${topTokens(r.tokenWeights, r.vocab, 1, 15)}.

Smallest: ${topTokens(r.tokenWeights, r.vocab, -1, 15)}.

## Caveats

- The HH-RLHF helpful-base **test** split is training data here: scoring that file with this model
  shows fewer disagreements than the labels deserve on the ${100 - HELD_OUT_PERCENT}% of its prompts it was trained on.
- A bag of tokens rewards vocabulary and length; it cannot check facts, follow instructions or notice
  that a response answers a different question.
- Tokens of the prompt count too, but they cancel between the two responses of a pair, so rewards are
  only comparable between responses to the same prompt.

## Files

\`model.onnx\` (sha256 \`${r.modelSha256}\`), \`config.json\` (the evaluation above under
\`preference_lens_baseline\`), \`tokenizer.json\` and \`tokenizer_config.json\` (the Llama 2 tokenizer, Meta, Llama 2
Community License, from microsoft/onnxruntime-extensions \`test/data/llama2/\` at 319f8d2; see
\`models/demo/NOTICE.md\`). The weights are derived from the data sets above under their licences;
the MT-Bench judgments are CC-BY-4.0 (lmsys).
`;
}

const tallyJson = (t: Tally) => ({ pairs: t.pairs, points: t.points, accuracy: Number((t.points / t.pairs).toFixed(4)) });

async function main(): Promise<void> {
  const [dataArg, outArg] = process.argv.slice(2);
  const dataDir = path.resolve(dataArg ?? DEFAULT_DATA_DIR);
  const outDir = path.resolve(outArg ?? BASELINE_DIR);
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

  const { pairs, counts } = await loadPreferencePairs(dataDir);
  const encoder = await baselineEncoder();
  const tokenizerJson = JSON.parse(await fs.readFile(path.join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  const vocab = new Map(Object.entries(tokenizerJson.model.vocab).map(([token, id]) => [id, token]));
  const vocabSize = vocab.size;
  const encoded = pairs.map((pair) => encodePair(encoder, pair));
  const train = encoded.filter((p) => !p.pair.heldOut);
  const heldOut = encoded.filter((p) => p.pair.heldOut);
  console.log(`${pairs.length} pairs (${train.length} train, ${heldOut.length} held out) encoded in ${elapsed()}`);

  console.log('cross-validating the L2 strength:');
  const cv = crossValidate(train, vocabSize);
  const best = cv.reduce((a, b) => (b.logLoss < a.logLoss ? b : a));
  const model = fit(train, vocabSize, best.l2);
  console.log(`fitted λ=${best.l2} in ${elapsed()}; train log-loss ${meanLogLoss(model, train).toFixed(4)}`);
  const table = toTable(model, train);

  const heldOutEval = evaluate(heldOut, table);
  const bySource = new Map(SOURCES.map((s) => [s.name, evaluate(heldOut.filter((p) => p.pair.source === s.name), table)]));
  const trainEval = evaluate(train, table);
  const accuracy = percent(heldOutEval.baseline);
  const name = `Preference Lens baseline (linear bag-of-tokens, trained on HH-RLHF, PandaLM, LLMBar, MT-Bench and LLaMA-Factory pairs; held-out accuracy ${accuracy})`;

  await buildKnownScoreModel({
    tokenizerDir: TOKENIZER_DIR,
    outDir,
    maxPositionEmbeddings: MAX_POSITIONS,
    padTokenId: PAD_TOKEN_ID,
    trained: {
      table,
      name,
      note:
        `A baseline, not a trained neural reward model: reward = bias + a sum of per-token weights fitted Bradley–Terry ` +
        `style on public preference pairs. Held-out pairwise accuracy ${accuracy} (always prefer longer: ` +
        `${percent(heldOutEval.longer)}). See REPORT.md.`,
      extraConfig: {
        preference_lens_baseline: {
          trained_by: 'scripts/train-baseline.ts',
          held_out_rule: `sha256(prompt) first uint32 % 100 < ${HELD_OUT_PERCENT}`,
          l2: best.l2,
          held_out: { ...tallyJson(heldOutEval.baseline), always_prefer_longer: tallyJson(heldOutEval.longer), demo_model: tallyJson(heldOutEval.demo) },
          held_out_by_source: Object.fromEntries([...bySource].map(([source, e]) => [source, tallyJson(e.baseline)])),
        },
      },
    },
  });
  const modelSha256 = createHash('sha256')
    .update(await fs.readFile(path.join(outDir, 'model.onnx')))
    .digest('hex');
  const results: Results = {
    name,
    counts,
    cv,
    l2: best.l2,
    perToken: model.perToken,
    bias: table.bias,
    trainAccuracy: trainEval.baseline.points / trainEval.baseline.pairs,
    heldOut: heldOutEval,
    bySource,
    vocab,
    tokenWeights: model.weights,
    modelSha256,
  };
  await fs.writeFile(path.join(outDir, 'REPORT.md'), report(results));
  console.log(`${name}\n  → ${outDir} (model.onnx sha256 ${modelSha256}) in ${elapsed()}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`train-baseline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  });
}
