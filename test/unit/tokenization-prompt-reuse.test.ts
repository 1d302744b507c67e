// Shared-prompt tokenization: the prompt of a pair is tokenized once and each response after it on
// its own, only where that gives exactly the ids of tokenizing the whole text. Proved on every
// conversation of the HH-RLHF helpful-base test split with the Llama-2 tokenizer, and shown to
// switch itself off for a tokenizer that can merge across the split.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadDataset } from '../../src/core/dataset';
import type { Message } from '../../src/core/pair';
import { createEncoder, promptSplitBlocker, promptSplitPoint, type Encoder } from '../../src/engine/encoder';
import { readTokenizerFolder } from '../../src/engine/modelFolder';
import { renderTulu, tuluPromptPrefix } from '../../src/engine/promptFormat';

const repoRoot = path.resolve(__dirname, '..', '..');
// The demo model ships the Llama-2 tokenizer (the same files as ../shared/data/tokenizers/llama-2).
const llama2Dir = path.join(repoRoot, 'models', 'demo');
const hhTest = path.resolve(repoRoot, '..', 'shared', 'data', 'hh-rlhf-helpful-base-test', 'test.jsonl');

const user = (content: string): Message => ({ role: 'user', content });
const assistant = (content: string): Message => ({ role: 'assistant', content });

let scratch: string;
before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-prompt-reuse-'));
});
after(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

/**
 * An encoder over a copy of `tokenizerJson` whose context is effectively unlimited, so that left
 * truncation cannot hide a difference at the front of a long conversation.
 */
async function untruncatedEncoder(name: string, tokenizerJson: object): Promise<Encoder> {
  const dir = path.join(scratch, name);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await fs.copyFile(path.join(llama2Dir, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
  await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ max_position_embeddings: 1_000_000 }));
  return createEncoder(await readTokenizerFolder(dir));
}

const llama2Json = async () => JSON.parse(await fs.readFile(path.join(llama2Dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;

describe('tulu prompt prefix', () => {
  it('is exactly the start of the rendered conversation up to the response text', () => {
    const prompt = [{ role: 'system', content: 'Be brief.' }, user('Hi'), assistant('Hello.'), user('Bye')];
    const response = [assistant('Goodbye.')];
    const text = renderTulu([...prompt, ...response], '</s>');
    const prefix = tuluPromptPrefix(prompt, response, '</s>');
    assert.equal(prefix, '<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello.</s>\n<|user|>\nBye\n<|assistant|>\n');
    assert.ok(text.startsWith(prefix));
    assert.equal(promptSplitPoint(text, prefix), prefix.length);
  });

  it('splits only after a newline the text and the prefix share', () => {
    assert.equal(promptSplitPoint('ab\ncd\nef', 'ab\ncd\nXY'), 6);
    assert.equal(promptSplitPoint('ab\ncd', 'ab\ncX'), 3, 'cut back to the last shared newline');
    assert.equal(promptSplitPoint('abc', 'abX'), 0, 'no shared newline: no split');
    assert.equal(promptSplitPoint('abc', ''), 0);
  });
});

describe('shared-prompt tokenization with the Llama-2 tokenizer', () => {
  it('qualifies: no merge, normalizer, pre-tokenizer or added token acts across a newline', async () => {
    assert.equal(promptSplitBlocker(await llama2Json(), {}), undefined);
    const encoder = await untruncatedEncoder('llama2-flag', await llama2Json());
    assert.deepEqual(encoder.promptReuse, { enabled: true });
  });

  it('tokenizes the prompt once for all responses to it', async (t) => {
    const encoder = await untruncatedEncoder('llama2-count', await llama2Json());
    const prompt = [user(`${'A long question about tokenizers. '.repeat(20)}?`)];
    const responses = [[assistant('Yes.')], [assistant('No, and here is why: the merges never cross a newline.')]];
    const { Tokenizer } = await import('@huggingface/tokenizers');
    let charsTokenized = 0;
    const encode = Tokenizer.prototype.encode;
    t.mock.method(Tokenizer.prototype, 'encode', function (this: InstanceType<typeof Tokenizer>, text: string, options?: Parameters<typeof encode>[1]) {
      charsTokenized += text.length;
      return encode.call(this, text, options);
    });
    const texts = responses.map((response) => encoder.render([...prompt, ...response]));
    const prefix = encoder.promptPrefix(prompt, responses[0]);
    for (const text of texts) encoder.encodeText(text, prefix);
    // The prompt once, then each response behind a one-character boundary; the closing `</s>` is
    // put in as its id, not tokenized (see encoder.ts).
    const tails = texts.reduce((sum, text) => sum + text.length - prefix.length + 1 - '</s>'.length, 0);
    assert.equal(charsTokenized, prefix.length + tails);
  });

  it('gives the whole-text ids for every conversation of the HH-RLHF helpful-base test split', async (t) => {
    if (!existsSync(hhTest)) return t.skip(`the shared HH-RLHF test split is absent (${hhTest}); this test needs /work/shared`);
    const dataset = await loadDataset(hhTest);
    assert.equal(dataset.pairs.length, 2354);
    // One encoder per path, so the reused run's memo never holds anything the whole-text run made.
    const reusing = await untruncatedEncoder('llama2-hh-reuse', await llama2Json());
    const whole = await untruncatedEncoder('llama2-hh-whole', await llama2Json());
    let checked = 0;
    for (const pair of dataset.pairs) {
      for (const response of [pair.a, pair.b]) {
        const text = reusing.render([...pair.prompt, ...response]);
        const prefix = reusing.promptPrefix(pair.prompt, response);
        // The split really happens, right after `<|assistant|>\n`; otherwise this would compare whole with whole.
        assert.equal(promptSplitPoint(text, prefix), prefix.length, `line ${pair.line}`);
        assert.ok(prefix.endsWith('<|assistant|>\n'), `line ${pair.line}`);
        const reused = reusing.encodeText(text, prefix);
        const expected = whole.encodeText(text);
        assert.equal(reused.truncated, false);
        assert.deepEqual(reused.ids, expected.ids, `line ${pair.line}: ids differ`);
        checked++;
      }
    }
    assert.equal(checked, 4708);
  });
});

describe('a tokenizer that can merge across the newline', () => {
  /** Llama-2 plus a newline symbol and a top-ranked merge of it with a following `<`. */
  async function mergingJson(): Promise<Record<string, unknown>> {
    const json = await llama2Json();
    const model = json.model as { vocab: Record<string, number>; merges: string[] };
    model.vocab['\n'] = 32000;
    model.vocab['\n<'] = 32001;
    model.merges.unshift('\n <');
    return json;
  }

  it('is refused for prompt reuse, and still tokenized correctly', async () => {
    const json = await mergingJson();
    assert.match(promptSplitBlocker(json, {}) ?? '', /merge .* joins a newline/);
    const encoder = await untruncatedEncoder('merging', json);
    assert.equal(encoder.promptReuse.enabled, false);

    const prompt = [user('Show me bold text.')];
    const response = [assistant('<b>bold</b>')];
    const text = encoder.render([...prompt, ...response]);
    const prefix = encoder.promptPrefix(prompt, response);
    const wholeIds = encoder.encodeText(text).ids;
    assert.ok(wholeIds.includes(32001), 'the newline merged with the response’s first character');
    assert.deepEqual(encoder.encodeText(text, prefix).ids, wholeIds);

    // What splitting would have produced with the bare tokenizer: the merged token is lost, so the
    // refusal is what keeps the ids right.
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const tokenizer = new Tokenizer(json, JSON.parse(await fs.readFile(path.join(llama2Dir, 'tokenizer_config.json'), 'utf8')));
    const ids = (t: string, special: boolean) => tokenizer.encode(t, { add_special_tokens: special }).ids;
    const split = [...ids(prefix, true), ...ids(`\n${text.slice(prefix.length)}`, false).slice(ids('\n', false).length)];
    assert.notDeepEqual(split, ids(text, true));
  });
});
