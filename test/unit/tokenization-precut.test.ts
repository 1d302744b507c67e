// Very long texts are cut before they are tokenized (a 5 MB response took minutes): the ids kept
// must be exactly those that tokenizing the whole text and truncating gives, for every tokenizer
// and for text built to defeat the cut (runs of one character, spaces, emoji, CJK).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createEncoder, createPairEncoder } from '../../src/engine/encoder';
import { readTokenizerFolder } from '../../src/engine/modelFolder';

const repoRoot = path.resolve(__dirname, '..', '..');
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const hhFile = path.join(sharedData, 'hh-rlhf-helpful-base-test', 'test.jsonl');
const absent = (what: string) => (existsSync(what) ? false : `${what} is absent; this test needs /work/shared (../shared beside the repository)`);
const MAX_LENGTH = 128;

const HOSTILE = [
  'a'.repeat(20_001),
  'a'.repeat(20_000),
  `${'x'.repeat(9_999)} then words at the end of it all.`,
  `${' '.repeat(30_000)}end`,
  '😀'.repeat(9_000),
  '\u4f60\u597d\u4e16\u754c'.repeat(3_000),
  `${'ab'.repeat(8_000)}c`,
  `${'\n\nHuman: hi\n\nAssistant: '.repeat(1_200)}</s>`,
  'The end of a sentence. '.repeat(1_000),
];

/** Long texts from the shared dataset: windows over its transcripts, so the cut falls anywhere. */
function datasetTexts(count: number): string[] {
  if (!existsSync(hhFile)) return [];
  const all = readFileSync(hhFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, 400)
    .map((line) => (JSON.parse(line) as { chosen: string }).chosen)
    .join('');
  return Array.from({ length: count }, (_, i) => {
    const start = (i * 7919) % (all.length - 12_000);
    return all.slice(start, start + 2_100 + ((i * 104_729) % 9_000));
  });
}

const textTokenizers: Array<[string, string]> = [
  ['demo (Llama-2 style BPE)', path.join(repoRoot, 'models', 'demo')],
  ['llama-2 (SentencePiece BPE)', path.join(sharedData, 'tokenizers', 'llama-2')],
];
const pairTokenizers: Array<[string, string]> = [
  ...textTokenizers,
  ['bert-base-uncased (WordPiece)', path.join(sharedData, 'tokenizers', 'bert-base-uncased')],
  ['t5-small (Unigram)', path.join(sharedData, 'tokenizers', 't5-small')],
  ['all-MiniLM-L6-v2 (WordPiece)', path.join(sharedData, 'tokenizers', 'all-minilm-l6-v2')],
];

describe('cutting very long texts before tokenizing them', () => {
  for (const [name, dir] of textTokenizers) {
    it(`${name}: the kept ids equal tokenizing the whole text`, { skip: absent(dir) }, async () => {
      const folder = await readTokenizerFolder(dir);
      const cut = await createEncoder(folder, { maxLength: MAX_LENGTH, template: 'tulu' });
      const whole = await createEncoder(folder, { maxLength: MAX_LENGTH, template: 'tulu', precutCharsPerToken: Infinity });
      const texts = [...HOSTILE, ...datasetTexts(150)];
      let precut = 0;
      for (const [i, text] of texts.entries()) {
        assert.deepEqual(cut.encodeText(text), whole.encodeText(text), `text ${i} (${text.length} chars)`);
        if (text.length > MAX_LENGTH * 16) precut++;
      }
      assert.ok(precut >= texts.length / 2, 'most texts are long enough to be cut');
    });
  }

  for (const [name, dir] of pairTokenizers) {
    it(`${name}: a text pair keeps the ids of the whole texts`, { skip: absent(dir) }, async () => {
      const folder = await readTokenizerFolder(dir);
      const cut = await createPairEncoder(folder, { maxLength: MAX_LENGTH });
      const whole = await createPairEncoder(folder, { maxLength: MAX_LENGTH, precutCharsPerToken: Infinity });
      for (const [i, text] of [...HOSTILE, ...datasetTexts(40)].entries()) {
        for (const [first, second] of [
          [text, 'A short answer.'],
          ['A short question?', text],
          [text, text.slice(text.length / 2)],
        ]) {
          assert.deepEqual(cut.encodePair(first, second), whole.encodePair(first, second), `pair from text ${i}`);
        }
      }
    });
  }

  it('a 5 MB response is scored on its end in well under a second', async () => {
    const encoder = await createEncoder(await readTokenizerFolder(path.join(repoRoot, 'models', 'demo')), { maxLength: 4096, template: 'tulu' });
    const response = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(90_000) + 'THE VERY END';
    const started = performance.now();
    const { ids, truncated } = encoder.encode([
      { role: 'user', content: 'Write a lot.' },
      { role: 'assistant', content: response },
    ]);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(truncated, true);
    assert.equal(ids.length, 4096);
    assert.equal(ids[0], 1, 'BOS kept');
    assert.ok(seconds < 2, `${seconds.toFixed(2)} s`);
  });
});
