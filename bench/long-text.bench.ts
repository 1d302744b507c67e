/**
 * One very long response (5 MB, as in issue 11's report), tokenized for a 4096-token model: time
 * and memory with the cut before tokenizing, next to tokenizing the whole text (the baseline, the
 * encoder as it was). The kept ids are checked to be the same.
 *
 *     node --expose-gc --import tsx bench/long-text.bench.ts [--mb 5] [--tokenizer models/demo]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createEncoder } from '../src/engine/encoder';
import { readTokenizerFolder } from '../src/engine/modelFolder';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '5' }, tokenizer: { type: 'string', default: path.join(__dirname, '..', 'models', 'demo') } } });
const sentence = 'The assistant explains, at length and with many examples, how the thing works. ';
const response = sentence.repeat(Math.ceil((Number(values.mb) * 1e6) / sentence.length));

async function measure(precutCharsPerToken: number | undefined) {
  const encoder = await createEncoder(await readTokenizerFolder(values.tokenizer), { maxLength: 4096, template: 'tulu', precutCharsPerToken });
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const started = performance.now();
  const { ids } = encoder.encode([{ role: 'user', content: 'Explain it.' }, { role: 'assistant', content: response }]);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { seconds, extraMb: (peak - before) / 1e6, ids };
}

void (async () => {
  const cut = await measure(undefined);
  const whole = await measure(Infinity);
  const same = cut.ids.length === whole.ids.length && cut.ids.every((id, i) => id === whole.ids[i]);
  console.log(`${(response.length / 1e6).toFixed(1)} MB response, 4096-token limit, ${path.basename(values.tokenizer)} tokenizer`);
  console.table([
    { arm: 'whole text tokenized (baseline)', seconds: Number(whole.seconds.toFixed(2)), 'RSS growth MB': Math.round(whole.extraMb) },
    { arm: 'cut before tokenizing', seconds: Number(cut.seconds.toFixed(3)), 'RSS growth MB': Math.round(cut.extraMb) },
  ]);
  console.log(`kept ids identical: ${same}`);
  if (!same) process.exitCode = 1;
})();
