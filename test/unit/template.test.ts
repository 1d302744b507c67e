// Template choice (LoadOptions.template): auto / tulu / chat_template over a real T5 tokenizer, and
// text-pair over BERT's, checked id for id against the tokenizer's own pair encoding and, end to end,
// against a known-score model that also takes token_type_ids.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Tokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import { padBatch } from '../../src/engine/batching';
import { createItemEncoder, createPairEncoder, type PairEncoder } from '../../src/engine/encoder';
import { buildKnownScoreModel, KNOWN_SCORE_BIAS, knownScoreWeight } from '../../scripts/modelkit/knownScoreModel';
import { buildTokenTypeModel, tokenTypeWeight } from '../../scripts/modelkit/tokenTypeModel';
import { readModelFolder, readTokenizerFolder } from '../../src/engine/modelFolder';
import type { ScoreItem, ScoreResult } from '../../src/engine/scorer';
import { ScoringEngine } from '../../src/engine/scoringEngine';
import type { LoadOptions } from '../../src/engine/workerProtocol';

const tokenizers = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'tokenizers');
const bertDir = path.join(tokenizers, 'bert-base-uncased');
const t5Dir = path.join(tokenizers, 't5-small');
const absent = (dir: string) => (existsSync(path.join(dir, 'tokenizer.json')) ? false : `shared tokenizer absent: ${dir}`);

const ITEMS: ScoreItem[] = [
  { id: 1, prompt: [{ role: 'user', content: 'What is 2+2?' }], response: [{ role: 'assistant', content: 'It is 4.' }] },
  {
    id: 2,
    prompt: [
      { role: 'user', content: 'Name a colour.' },
      { role: 'assistant', content: 'Red.' },
      { role: 'user', content: 'Another one, please?' },
    ],
    response: [{ role: 'assistant', content: 'Blue, the colour of a clear sky at noon in summer.' }],
  },
  { id: 3, prompt: [{ role: 'user', content: 'Explain recursion briefly.' }], response: [{ role: 'assistant', content: 'A function that calls itself.' }] },
];

async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const config = existsSync(path.join(dir, 'tokenizer_config.json')) ? JSON.parse(await fs.readFile(path.join(dir, 'tokenizer_config.json'), 'utf8')) : {};
  return new Tokenizer(JSON.parse(await fs.readFile(path.join(dir, 'tokenizer.json'), 'utf8')), config);
}

/** The reward of the token-type known-score model for one unpadded row. */
function typedReward(ids: readonly number[], typeIds: readonly number[]): number {
  return ids.reduce((sum, id, t) => sum + knownScoreWeight(id) + tokenTypeWeight(typeIds[t]), KNOWN_SCORE_BIAS);
}

async function scoreWith(options: LoadOptions, items: ScoreItem[]) {
  const engine = await ScoringEngine.load({ device: 'cpu', ...options });
  try {
    const results: ScoreResult[] = [];
    const stats = await engine.score(items, { isCancelled: () => false, onResults: (batch) => results.push(...batch), onProgress: () => undefined });
    return { info: engine.info, stats, rewards: new Map(results.map((r) => [r.id, r.reward])) };
  } finally {
    await engine.dispose();
  }
}

describe('template choice', () => {
  let scratch: string;
  before(async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-template-'));
  });
  after(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });

  describe('text formats over the T5 tokenizer', { skip: absent(t5Dir) }, () => {
    let plain: string;
    let templated: string;
    before(async () => {
      plain = path.join(scratch, 't5-plain');
      await buildKnownScoreModel({ tokenizerDir: t5Dir, outDir: plain, padTokenId: 0 });
      templated = path.join(scratch, 't5-templated');
      await fs.cp(plain, templated, { recursive: true });
      await fs.writeFile(path.join(templated, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}');
    });

    it('auto is the chat template when the folder has one, else tulu; tulu can be forced', async () => {
      const format = async (dir: string, template?: LoadOptions['template']) => (await createItemEncoder(await readTokenizerFolder(dir), { template })).format;
      assert.equal(await format(plain), 'tulu');
      assert.equal(await format(plain, 'auto'), 'tulu');
      assert.equal(await format(templated), 'chat_template');
      assert.equal(await format(templated, 'chat_template'), 'chat_template');
      assert.equal(await format(templated, 'tulu'), 'tulu');
    });

    it('says clearly that chat_template needs a template in the folder', async () => {
      await assert.rejects(createItemEncoder(await readTokenizerFolder(plain), { template: 'chat_template' }), /no chat template.*chat_template\.jinja.*"tulu" or "text-pair"/s);
    });

    it('scores exactly the tokens of the chosen format, and keeps each template in its own cache', async () => {
      const tokenizer = await loadTokenizer(t5Dir);
      const cacheDir = path.join(scratch, 'cache');
      const item = ITEMS[0];
      const tulu = await scoreWith({ modelDir: templated, template: 'tulu', cacheDir }, [item]);
      const chat = await scoreWith({ modelDir: templated, template: 'auto', cacheDir }, [item]);
      assert.equal(tulu.info.template, 'tulu');
      assert.equal(chat.info.template, 'chat_template');
      const reward = (text: string) => tokenizer.encode(text).ids.reduce((sum: number, id: number) => sum + knownScoreWeight(id), KNOWN_SCORE_BIAS);
      // T5's post-processor appends </s>; the tulu text already ends with one (scored as its own token).
      assert.equal(tulu.rewards.get(1), reward('<|user|>\nWhat is 2+2?\n<|assistant|>\nIt is 4.</s>'));
      assert.equal(chat.rewards.get(1), reward('[user] What is 2+2?</s>[assistant] It is 4.</s>'));
      assert.notEqual(tulu.info.cache, chat.info.cache, 'the template is part of the cache identity');
      const again = await scoreWith({ modelDir: templated, template: 'tulu', cacheDir }, [item]);
      assert.equal(again.stats.cached, 1);
      assert.equal(again.rewards.get(1), tulu.rewards.get(1));
    });
  });

  describe('text-pair over the BERT tokenizer', { skip: absent(bertDir) }, () => {
    let tokenizer: Tokenizer;
    let typed: string;
    let encoder: PairEncoder;
    before(async () => {
      tokenizer = await loadTokenizer(bertDir);
      typed = path.join(scratch, 'bert-typed');
      await buildTokenTypeModel({ tokenizerDir: bertDir, outDir: typed, maxPositionEmbeddings: 512 });
      encoder = await createPairEncoder(await readTokenizerFolder(typed));
    });

    it('gives the ids and segment ids of the tokenizer’s own pair encoding', () => {
      for (const [first, second] of [
        ['What is 2+2?', 'It is 4.'],
        ['Name a colour.\n\nRed.\n\nAnother?', 'Blue — or 青 🎨.'],
        ['', 'Only a response'],
      ]) {
        const expected = tokenizer.encode(first, { text_pair: second, return_token_type_ids: true });
        const encoded = encoder.encodePair(first, second);
        assert.deepEqual(encoded.ids, expected.ids, `${first} / ${second}`);
        assert.deepEqual(encoded.typeIds, expected.token_type_ids);
        assert.equal(encoded.truncated, false);
      }
      assert.equal(encoder.maxLength, 512);
    });

    it('truncates from the left of the prompt, then of the response, keeping the special tokens', async () => {
      const [cls, sep] = [tokenizer.token_to_id('[CLS]'), tokenizer.token_to_id('[SEP]')];
      const first = 'one two three four five six';
      const second = 'alpha beta gamma delta';
      const full = tokenizer.encode(first, { text_pair: second, return_token_type_ids: true });
      const promptIds = tokenizer.encode(first, { add_special_tokens: false }).ids;
      const responseIds = tokenizer.encode(second, { add_special_tokens: false }).ids;
      const short = await createPairEncoder(await readTokenizerFolder(typed), { maxLength: full.ids.length - 2 });
      const cut = short.encodePair(first, second);
      assert.equal(cut.truncated, true);
      assert.deepEqual(cut.ids, [cls, ...promptIds.slice(2), sep, ...responseIds, sep]);
      assert.deepEqual(cut.typeIds, [0, ...promptIds.slice(2).map(() => 0), 0, ...responseIds.map(() => 1), 1]);

      // Shorter than specials + response: the prompt is gone and the response keeps its end.
      const tiny = await createPairEncoder(await readTokenizerFolder(typed), { maxLength: 5 });
      const kept = tiny.encodePair(first, second);
      assert.deepEqual(kept.ids, [cls, sep, ...responseIds.slice(-2), sep]);
      assert.deepEqual(kept.typeIds, [0, 0, 1, 1, 1]);
      await assert.rejects(createPairEncoder(await readTokenizerFolder(typed), { maxLength: 3 }), /no room for text next to the 3 special tokens/);
    });

    it('pads segment ids with 0', () => {
      const batch = padBatch([[5, 6, 7], [8]], 0, [[0, 1, 1], [1]]);
      assert.deepEqual([...batch.tokenTypeIds], [0n, 1n, 1n, 1n, 0n, 0n]);
      assert.deepEqual([...padBatch([[5], [8, 9]], 0).tokenTypeIds], [0n, 0n, 0n, 0n], 'one-segment input: all 0');
    });

    it('feeds the model the pair and its segment ids, alone and in a padded batch of mixed lengths', async () => {
      const expected = new Map(
        ITEMS.map((item) => {
          const [first, second] = [item.prompt, item.response].map((turns) => turns.map((turn) => turn.content).join('\n\n'));
          const pair = tokenizer.encode(first, { text_pair: second, return_token_type_ids: true });
          return [item.id, typedReward(pair.ids, pair.token_type_ids)];
        }),
      );
      const together = await scoreWith({ modelDir: typed, template: 'text-pair', batchTokens: 1_000_000 }, ITEMS);
      assert.equal(together.info.template, 'text-pair');
      assert.equal(together.stats.modelCalls, 1, 'one padded batch');
      assert.deepEqual(together.rewards, expected);
      const oneByOne = await scoreWith({ modelDir: typed, template: 'text-pair', batchTokens: 1 }, ITEMS);
      assert.deepEqual(oneByOne.rewards, expected);
    });

    it('scores a truncated pair on what is left of it', async () => {
      const item = ITEMS[1];
      const { rewards, stats } = await scoreWith({ modelDir: typed, template: 'text-pair', maxLength: 12 }, [item]);
      const encoded = (await createPairEncoder(await readModelFolder(typed), { maxLength: 12 })).encodePair('Name a colour.\n\nRed.\n\nAnother one, please?', item.response[0].content);
      assert.equal(encoded.ids.length, 12);
      assert.equal(stats.truncated, 1);
      assert.equal(rewards.get(item.id), typedReward(encoded.ids, encoded.typeIds ?? []));
    });
  });
});
