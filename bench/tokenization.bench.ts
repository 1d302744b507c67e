/**
 * Tokenization throughput with the Llama-2 tokenizer on every conversation of the HH-RLHF
 * helpful-base test split (2354 pairs, 4708 conversations, tulu format), with shared-prompt reuse
 * (the prompt of a pair tokenized once) against whole-text tokenization.
 *
 *   node --import tsx bench/tokenization.bench.ts [--rounds 3] [--data <test.jsonl>] [--tokenizer <dir>]
 *
 * Both variants run in the same process, alternating, each with its own encoder (so the reusing one's
 * memo never holds the other's work); the median round is reported. Tokens/s counts the ids of whole
 * conversations (the same for both variants; checked).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/core/dataset';
import { createEncoder, type Encoder } from '../src/engine/encoder';
import { readTokenizerFolder } from '../src/engine/modelFolder';
import { median, previousRun, printTable, saveRun, type Row } from './engine-report';

const BENCH = 'tokenization';
const shared = path.resolve(__dirname, '..', '..', 'shared', 'data');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      data: { type: 'string', default: path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl') },
      tokenizer: { type: 'string', default: path.join(shared, 'tokenizers', 'llama-2') },
    },
  });
  const rounds = Number(values.rounds);
  const dataset = await loadDataset(values.data);
  const folder = await readTokenizerFolder(values.tokenizer);
  const reusing = await createEncoder(folder);
  const whole = await createEncoder(folder);
  if (!reusing.promptReuse.enabled) throw new Error(`prompt reuse is off for this tokenizer: ${reusing.promptReuse.reason}`);
  const conversations = dataset.pairs.flatMap((pair) =>
    [pair.a, pair.b].map((response) => ({ text: reusing.render([...pair.prompt, ...response]), prefix: reusing.promptPrefix(pair.prompt, response) })),
  );

  const run = (encoder: Encoder, withPrefix: boolean) => {
    const started = performance.now();
    const ids = conversations.map(({ text, prefix }) => encoder.encodeText(text, withPrefix ? prefix : undefined).ids);
    return { seconds: (performance.now() - started) / 1000, ids };
  };
  // One untimed pass each: JIT warm-up, and the library's per-word BPE cache filled for both alike.
  const expected = run(whole, false).ids;
  const reused = run(reusing, true).ids;
  reused.forEach((ids, i) => {
    if (ids.length !== expected[i].length || ids.some((id, j) => id !== expected[i][j])) throw new Error(`conversation ${i}: reused ids differ`);
  });
  const tokens = expected.reduce((sum, ids) => sum + ids.length, 0);

  const wholeSeconds: number[] = [];
  const reuseSeconds: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always runs on a cooler (or hotter) machine.
    if (round % 2 === 0) {
      wholeSeconds.push(run(whole, false).seconds);
      reuseSeconds.push(run(reusing, true).seconds);
    } else {
      reuseSeconds.push(run(reusing, true).seconds);
      wholeSeconds.push(run(whole, false).seconds);
    }
  }
  const reuseS = median(reuseSeconds);
  const wholeS = median(wholeSeconds);
  const rows: Row[] = [
    { metric: 'conversations', value: conversations.length, baseline: conversations.length },
    { metric: 'tokens', value: tokens, baseline: tokens },
    { metric: 'seconds (median)', value: reuseS, baseline: wholeS },
    { metric: 'tokens/s', value: Math.round(tokens / reuseS), baseline: Math.round(tokens / wholeS) },
    { metric: 'speed-up vs whole text', value: wholeS / reuseS },
  ];
  const previous = previousRun(BENCH);
  printTable(`Tokenization, Llama-2 tokenizer, ${path.basename(values.data)}: shared-prompt reuse vs whole text (${rounds} rounds)`, rows, previous, 'whole text');
  const file = saveRun(BENCH, { data: values.data, tokenizer: values.tokenizer, rounds, reuseSeconds, wholeSeconds }, rows);
  process.stdout.write(`\nsaved ${path.relative(process.cwd(), file)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
