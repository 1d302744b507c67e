// tokenizer.model → tokenizer.json, checked where it matters: on the Llama-2 tokenizer, which
// ../shared has in both forms (every text of the shared preference datasets gets the same ids);
// on a real T5 tokenizer.json for the Unigram path; and on small models built here, whose ids are
// worked out by hand. The expected JSON and ids of the tokenizer_config variants, and of the
// hand-built models, are also what transformers 4.49 gives for the same folder (checked once in
// Python, which the test setup does not have).
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import protobuf from 'protobufjs';
import type { Tokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import { tokenizerConfigWithSpecialTokensMap, tokenizerJsonFromSentencePiece } from '../../src/engine/hf/sentencePiece';
import { ModelFolderError } from '../../src/engine/modelFolderError';

const repoRoot = path.resolve(__dirname, '..', '..');
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const llama2Dir = path.join(sharedData, 'tokenizers', 'llama-2');
const t5Dir = path.join(sharedData, 'tokenizers', 't5-small');
const hhFile = path.join(sharedData, 'hh-rlhf-helpful-base-test', 'test.jsonl');
const absent = (what: string) => (existsSync(what) ? false : `${what} is absent; this test needs /work/shared (../shared beside the repository)`);
const METASPACE = '\u2581';
/** Every unique dataset text is tokenized whole with both tokenizers when this is 1; every n-th otherwise. */
const TEXT_STRIDE = Number(process.env.PLENS_SENTENCEPIECE_TEXT_STRIDE ?? 40);

async function loadTokenizer(json: object, config: object): Promise<Tokenizer> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  return new Tokenizer(json, config);
}
const ids = (tokenizer: Tokenizer, text: string, addSpecialTokens = false) => tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;

/**
 * Writes SentencePiece models the way the trainer does, from the fields of upstream's
 * sentencepiece_model.proto (its field numbers), independently of the converter's reader.
 */
const ModelProto = protobuf
  .parse(
    `syntax = "proto2";
    package sentencepiece;
    message TrainerSpec {
      optional int32 model_type = 3;
      optional int32 unk_id = 40;
      optional string unk_piece = 45;
    }
    message NormalizerSpec {
      optional string name = 1;
      optional bytes precompiled_charsmap = 2;
      optional bool add_dummy_prefix = 3;
    }
    message ModelProto {
      message SentencePiece {
        optional string piece = 1;
        optional float score = 2;
        optional int32 type = 3;
      }
      repeated SentencePiece pieces = 1;
      optional TrainerSpec trainer_spec = 2;
      optional NormalizerSpec normalizer_spec = 3;
    }`,
  )
  .root.lookupType('sentencepiece.ModelProto');

const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const USER_DEFINED = 4;
const UNIGRAM = 1;
const BPE = 2;

interface ModelSpec {
  pieces: Array<[piece: string, score: number, type?: number]>;
  modelType: number;
  unkId?: number;
  charsmap?: Uint8Array;
  withoutTrainerSpec?: boolean;
}
function sentencePieceModel(spec: ModelSpec): Uint8Array {
  return ModelProto.encode(
    ModelProto.fromObject({
      pieces: spec.pieces.map(([piece, score, type = NORMAL]) => ({ piece, score, type })),
      ...(spec.withoutTrainerSpec ? {} : { trainerSpec: { modelType: spec.modelType, unkId: spec.unkId ?? 0, unkPiece: spec.pieces[spec.unkId ?? 0][0] } }),
      normalizerSpec: { name: spec.charsmap ? 'nmt_nfkc' : 'identity', precompiledCharsmap: spec.charsmap ?? new Uint8Array(0), addDummyPrefix: true },
    }),
  ).finish();
}

async function errorOf(run: () => unknown): Promise<ModelFolderError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof ModelFolderError, `expected a ModelFolderError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an error');
}

/** Every text a reviewer would score from the shared preference datasets, duplicates removed. */
async function sharedDatasetTexts(): Promise<{ texts: string[]; perFile: Record<string, number> }> {
  const strings = (value: unknown): string[] =>
    typeof value === 'string' ? [value] : Array.isArray(value) ? value.flatMap(strings) : value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [];
  const read = async (file: string): Promise<unknown> => {
    const text = await fs.readFile(file, 'utf8');
    return file.endsWith('.jsonl') ? text.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line)) : JSON.parse(text);
  };
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(path.join(dir, name)).isDirectory() ? walk(path.join(dir, name)) : [path.join(dir, name)]));
  const perFile: Record<string, number> = {};
  const all: string[] = [];
  const hh = ((await read(hhFile)) as Array<{ chosen: string; rejected: string }>).flatMap((row) => [row.chosen, row.rejected]);
  perFile[path.relative(sharedData, hhFile)] = hh.length;
  all.push(...hh);
  const files = [
    ...walk(path.join(sharedData, 'llama-factory-dpo-demo')),
    path.join(sharedData, 'pandalm-testset-v1', 'testset-v1.json'),
    ...walk(path.join(sharedData, 'llmbar')).filter((file) => path.basename(file) === 'dataset.json'),
  ];
  for (const file of files) {
    const found = strings(await read(file));
    perFile[path.relative(sharedData, file)] = found.length;
    all.push(...found);
  }
  return { texts: [...new Set(all)], perFile };
}

/**
 * The text as Llama's normalizer leaves it (▁ prepended, spaces as ▁; an empty text stays empty),
 * cut before every ▁ that follows another character. No Llama-2 piece has ▁ after anything but ▁
 * (asserted below), so no merge can join two of these words, and BPE, run on the whole text, works
 * on each word alone.
 */
const llamaWords = (text: string) => (text === '' ? [] : (METASPACE + text.replaceAll(' ', METASPACE)).split(/(?<=[^\u2581])(?=\u2581)/u));
/** The ids of one word: tokenized after "a" (one token, ▁a) so that a bare ▁ is a word too, then "a" dropped. */
const wordIds = (tokenizer: Tokenizer, word: string) => ids(tokenizer, `a${word.replaceAll(METASPACE, ' ')}`).slice(1);

describe('the Llama-2 tokenizer.model, which ../shared also has as tokenizer.json', { skip: absent(llama2Dir) || absent(hhFile) }, () => {
  let model: Uint8Array;
  let config: Record<string, unknown>;
  let sharedJson: any;
  let convertedJson: any;
  let conversionMs: number;
  let converted: Tokenizer;
  let shared: Tokenizer;

  before(async () => {
    model = await fs.readFile(path.join(llama2Dir, 'tokenizer.model'));
    config = JSON.parse(await fs.readFile(path.join(llama2Dir, 'tokenizer_config.json'), 'utf8'));
    sharedJson = JSON.parse(await fs.readFile(path.join(llama2Dir, 'tokenizer.json'), 'utf8'));
    const start = performance.now();
    convertedJson = tokenizerJsonFromSentencePiece(model, config, 'llama-2/tokenizer.model');
    conversionMs = performance.now() - start;
    converted = await loadTokenizer(convertedJson, config);
    shared = await loadTokenizer(sharedJson, config);
  });

  it('is the shared tokenizer.json, up to what a current conversion does differently', (t) => {
    t.diagnostic(`conversion took ${conversionMs.toFixed(0)} ms`);
    assert.ok(conversionMs < 5000, `conversion took ${conversionMs} ms`);
    for (const part of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const) assert.deepEqual(convertedJson[part], sharedJson[part], part);
    assert.deepEqual(
      { ...convertedJson.model, vocab: undefined, merges: undefined },
      {
        type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab: undefined, merges: undefined,
      },
    );

    // The shared file has plain spaces where the model's pieces have no-break spaces (U+00A0).
    const vocab: Record<string, number> = convertedJson.model.vocab;
    const sharedVocab: Record<string, number> = sharedJson.model.vocab;
    assert.equal(Object.keys(vocab).length, 32000);
    const differing = Object.entries(vocab).filter(([piece, id]) => sharedVocab[piece] !== id);
    assert.deepEqual(differing.sort(([, a], [, b]) => a - b), [
      ['\u00a0\u00a0', 8655],
      ['\u00a0\u00a0\u00a0\u00a0', 17891],
      ['\u2581\u00a0', 20246],
      ['\u00a0', 30081],
    ]);
    for (const [piece, id] of differing) assert.equal(sharedVocab[piece.replaceAll('\u00a0', ' ')], id);

    // The same merges, in the order transformers 4.49 gives: by score, then the longer left half
    // first; the old conversion behind the shared file ordered merges of equal score otherwise.
    const merges: Array<[string, string]> = convertedJson.model.merges;
    assert.equal(merges.length, sharedJson.model.merges.length);
    assert.deepEqual(new Set(merges.map((m) => m.join(' ').replaceAll('\u00a0', ' '))), new Set(sharedJson.model.merges));
    const rank = (left: string, right: string) => merges.findIndex(([l, r]) => l === left && r === right);
    assert.deepEqual(merges.slice(0, 3), [[METASPACE, 't'], ['e', 'r'], ['i', 'n']]);
    assert.ok(rank(`${METASPACE}th`, 'e') < rank(`${METASPACE}t`, 'he'));
    assert.ok(sharedJson.model.merges.indexOf(`${METASPACE}th e`) > sharedJson.model.merges.indexOf(`${METASPACE}t he`));

    // <s> and </s> match as transformers matches them; <unk> keeps the config's `normalized: true`.
    assert.deepEqual(
      convertedJson.added_tokens.map((token: any) => [token.id, token.content, token.normalized, token.special]),
      [[0, '<unk>', true, true], [1, '<s>', false, true], [2, '</s>', false, true]],
    );
    assert.deepEqual(
      sharedJson.added_tokens.map((token: any) => [token.id, token.content, token.normalized, token.special]),
      [[0, '<unk>', true, true], [1, '<s>', true, true], [2, '</s>', true, true]],
    );
  });

  it("gives the shared tokenizer.json's ids for every text of the shared datasets, with and without special tokens", async (t) => {
    const { texts, perFile } = await sharedDatasetTexts();
    t.diagnostic(`${texts.length} distinct texts: ${JSON.stringify(perFile)}`);
    assert.ok(texts.length > 7000, `only ${texts.length} texts`);
    // What the two files tokenize differently (see the tests below) appears in no text.
    for (const needle of ['<s>', '</s>', '<unk>', '\u00a0', METASPACE]) {
      assert.equal(texts.filter((text) => text.includes(needle)).length, 0, `a text contains ${JSON.stringify(needle)}`);
    }

    // Tokenizing 5.5 million characters whole, twice per tokenizer, takes about 40 s here; both
    // files cut a text into words BPE cannot merge across, so every word is compared once instead.
    for (const json of [convertedJson, sharedJson]) {
      assert.equal(json.pre_tokenizer, null);
      assert.deepEqual(Object.keys(json.model.vocab).filter((piece) => /[^\u2581]\u2581/u.test(piece)), []);
    }
    assert.deepEqual(ids(converted, 'a'), [263]);
    assert.deepEqual(ids(shared, 'a'), [263]);
    const words = new Set(texts.flatMap(llamaWords));
    const convertedWords = new Map<string, number[]>();
    let differentWords = 0;
    for (const word of words) {
      const fromModel = wordIds(converted, word);
      convertedWords.set(word, fromModel);
      if (JSON.stringify(fromModel) !== JSON.stringify(wordIds(shared, word))) differentWords++;
    }
    assert.equal(differentWords, 0, `${differentWords} of ${words.size} words tokenize differently`);

    // The word-by-word argument, checked on whole texts: the longest and every TEXT_STRIDE-th.
    const byLength = [...texts].sort((a, b) => b.length - a.length);
    const sample = new Set([...byLength.slice(0, 10), ...texts.filter((_, i) => i % TEXT_STRIDE === 0)]);
    for (const text of sample) {
      const wordByWord = llamaWords(text).flatMap((word) => convertedWords.get(word)!);
      const without = ids(converted, text);
      assert.deepEqual(without, wordByWord, `word by word: ${JSON.stringify(text.slice(0, 80))}`);
      assert.deepEqual(ids(shared, text), without, `without special tokens: ${JSON.stringify(text.slice(0, 80))}`);
      const withSpecial = ids(converted, text, true);
      assert.deepEqual(withSpecial, [1, ...without]);
      assert.deepEqual(ids(shared, text, true), withSpecial, `with special tokens: ${JSON.stringify(text.slice(0, 80))}`);
    }
    t.diagnostic(`${words.size} distinct words compared; ${sample.size} whole texts tokenized by both, with and without special tokens`);
  });

  it('reads </s> in running text as id 2, as the slow SentencePiece tokenizer and transformers do; the shared file splits it', () => {
    // The slow tokenizer (LlamaTokenizer) gives [1, 6324, 2] and [1, 6324, 29871, 2].
    assert.deepEqual(ids(converted, 'Hi</s>', true), [1, 6324, 2]);
    assert.deepEqual(ids(converted, 'Hi </s>', true), [1, 6324, 29871, 2]);
    assert.deepEqual(ids(converted, 'a<s>b', true), [1, 263, 1, 289]);
    // `normalized: true` makes @huggingface/tokenizers look for "▁</s>" in the normalized text.
    assert.deepEqual(ids(shared, 'Hi</s>', true), [1, 6324, 829, 29879, 29958]);
    assert.deepEqual(ids(shared, 'Hi </s>', true), [1, 6324, 2]);
    // <unk> is normalized in both, as in transformers: found after a space only.
    for (const tokenizer of [converted, shared]) {
      assert.deepEqual(ids(tokenizer, 'x<unk>y', true), [1, 921, 29966, 2960, 29958, 29891]);
      assert.deepEqual(ids(tokenizer, 'x <unk>y', true), [1, 921, 0, 29891]);
    }
    // No-break spaces have pieces of their own (the slow tokenizer: [263, 8655, 29890]); the shared file falls back to bytes.
    assert.deepEqual(ids(converted, 'a\u00a0\u00a0b'), [263, 8655, 29890]);
    assert.deepEqual(ids(shared, 'a\u00a0\u00a0b'), [263, 197, 163, 197, 163, 29890]);
  });

  it('decodes its ids back to the text', async () => {
    const { texts } = await sharedDatasetTexts();
    const samples = [...texts.filter((_, i) => i % 100 === 0), ' leading space', 'trailing  ', '  ', 'naïve café 青 🎨 \u00a0\t\r\n'];
    for (const text of samples) {
      assert.equal(converted.decode(ids(converted, text)), text);
      assert.equal(converted.decode(ids(converted, text, true), { skip_special_tokens: true }), text);
    }
  });

  it('builds what transformers builds for the other tokenizer_config.json settings', async () => {
    const convert = (settings: object) => tokenizerJsonFromSentencePiece(model, settings, 'tokenizer.model') as any;
    const metaspaceFirst = { type: 'Metaspace', replacement: METASPACE, prepend_scheme: 'first', split: false };
    const llamaDecoder = (strip: boolean) => ({
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: METASPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(strip ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    });
    const token = (id: number, content: string, extra: object = {}) =>
      ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra });
    const plainSpecials = [token(0, '<unk>'), token(1, '<s>'), token(2, '</s>')];

    // legacy: false — no normalizer; Metaspace prepends ▁ to the first section only.
    const nonLegacy = convert({ legacy: false });
    assert.equal(nonLegacy.normalizer, null);
    assert.deepEqual(nonLegacy.pre_tokenizer, metaspaceFirst);
    assert.deepEqual(nonLegacy.decoder, llamaDecoder(true));
    assert.deepEqual(nonLegacy.added_tokens, plainSpecials);
    const nonLegacyTokenizer = await loadTokenizer(nonLegacy, { legacy: false });
    assert.deepEqual(ids(nonLegacyTokenizer, 'Hello <s>.', true), [1, 15043, 29871, 1, 29889]);
    assert.deepEqual(ids(converted, 'Hello <s>.', true), [1, 15043, 29871, 1, 869]);

    // add_prefix_space: false — no Prepend, no Strip.
    const noPrefix = convert({ add_prefix_space: false });
    assert.deepEqual(noPrefix.normalizer, { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { String: ' ' }, content: METASPACE }] });
    assert.deepEqual(noPrefix.decoder, llamaDecoder(false));
    assert.deepEqual(ids(await loadTokenizer(noPrefix, {}), 'Hi</s>', true), [1, 18567, 2]);
    assert.deepEqual(convert({ legacy: false, add_prefix_space: false }).pre_tokenizer, { ...metaspaceFirst, prepend_scheme: 'never' });

    // add_bos_token / add_eos_token make LlamaTokenizerFast's template.
    const eosOnly = convert({ add_bos_token: false, add_eos_token: true });
    assert.deepEqual(eosOnly.post_processor, {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '</s>', type_id: 1 } },
      ],
      special_tokens: { '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
    });
    assert.deepEqual(ids(await loadTokenizer(eosOnly, {}), 'Hello <s>.', true), [15043, 29871, 1, 869, 2]);

    // A current config: added_tokens_decoder, with a pad token past the vocabulary.
    const decoderEntry = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true });
    const modern = {
      tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', legacy: false,
      added_tokens_decoder: { 0: decoderEntry('<unk>'), 1: decoderEntry('<s>'), 2: decoderEntry('</s>'), 32000: decoderEntry('<pad>') },
    };
    const modernJson = convert(modern);
    assert.deepEqual(modernJson.added_tokens, [...plainSpecials, token(32000, '<pad>')]);
    assert.deepEqual(ids(await loadTokenizer(modernJson, modern), '<pad>x', true), [1, 32000, 29916]);

    // special_tokens_map.json in a folder without added_tokens_decoder: its tokens are special, new ones get new ids.
    const withMap = tokenizerConfigWithSpecialTokensMap(
      { add_eos_token: true, additional_special_tokens: ['<|assistant|>'] },
      {
        bos_token: { content: '<s>', lstrip: false, normalized: true, rstrip: false, single_word: false },
        eos_token: '</s>',
        pad_token: '<pad>',
        additional_special_tokens: [{ content: '<|user|>', lstrip: true, normalized: false, rstrip: false, single_word: false }, '<|assistant|>'],
      },
    );
    assert.deepEqual(withMap, {
      add_eos_token: true,
      additional_special_tokens: ['<|assistant|>', { content: '<|user|>', lstrip: true, normalized: false, rstrip: false, single_word: false, special: true }],
      bos_token: { content: '<s>', lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
      eos_token: '</s>',
      pad_token: '<pad>',
    });
    const withMapJson = convert(withMap);
    assert.deepEqual(withMapJson.added_tokens, [...plainSpecials, token(32000, '<pad>'), token(32001, '<|assistant|>'), token(32002, '<|user|>', { lstrip: true })]);
    const withMapTokenizer = await loadTokenizer(withMapJson, withMap);
    assert.deepEqual(ids(withMapTokenizer, 'Hello <s>.', true), [1, 15043, 29871, 1, 869, 2]);
    assert.deepEqual(ids(withMapTokenizer, '<pad>x', true), [1, 32000, 921, 2]);
    assert.deepEqual(tokenizerConfigWithSpecialTokensMap(modern, { bos_token: 'other' }), modern);
  });

  it('names the file when tokenizer.model is truncated or corrupted', async () => {
    const file = '/models/tulu/tokenizer.model';
    for (const broken of [model.subarray(0, 1000), model.subarray(0, model.length >> 1), Uint8Array.from(model, (byte, i) => (i < 16 ? 0xff : byte))]) {
      const error = await errorOf(() => tokenizerJsonFromSentencePiece(broken, config, file));
      assert.equal(error.file, file);
      assert.match(error.message, /^\/models\/tulu\/tokenizer\.model is not a readable SentencePiece model \(.+\): it is truncated or corrupted\. /);
      assert.ok(
        error.message.endsWith('Fetch it again, or save a tokenizer.json beside it with Python transformers: `AutoTokenizer.from_pretrained(<model id>).save_pretrained(<folder>)`.'),
        error.message,
      );
    }
  });
});

describe('tokenizer.model files that cannot be converted', () => {
  const file = 'folder/tokenizer.model';
  const fromFile = (bytes: Uint8Array, config: object = {}) => errorOf(() => tokenizerJsonFromSentencePiece(bytes, config, file));
  const tiny = (overrides: Partial<ModelSpec> = {}) =>
    sentencePieceModel({ pieces: [['<unk>', 0, UNKNOWN], ['<s>', 0, CONTROL], ['</s>', 0, CONTROL], ['a', -1]], modelType: BPE, ...overrides });

  it('says why, and names the file', async () => {
    const cases: Array<[Uint8Array, object, RegExp]> = [
      [new Uint8Array(0), {}, /is empty \(0 bytes\)/],
      [new TextEncoder().encode('{"version": "1.0", "model": {"type": "BPE"}}'), {}, /is not a readable SentencePiece model/],
      [new TextEncoder().encode('IQ== 0\nIg== 1\nIw== 2\n'), {}, /is a tiktoken ranks file, not a SentencePiece model/],
      [Uint8Array.from({ length: 512 }, (_, i) => (i * 97 + 13) % 256), {}, /is not a readable SentencePiece model/],
      [tiny({ withoutTrainerSpec: true }), {}, /ends before its trainer and normalizer settings: it is truncated/],
      [tiny({ modelType: 3 }), {}, /is a SentencePiece word model\. Only Unigram and BPE models have a tokenizer\.json form/],
      [
        tiny(),
        { tokenizer_class: 'AlbertTokenizer' },
        /tokenizer_config\.json names tokenizer_class AlbertTokenizer, which is not converted here \(supported: LlamaTokenizer, T5Tokenizer, DebertaV2Tokenizer\)/,
      ],
      [tiny({ modelType: UNIGRAM }), {}, /is a SentencePiece Unigram model, and no tokenizer_config\.json tokenizer_class says which tokenizer uses it/],
      [tiny(), { bos_token: null }, /adds a bos_token \(add_bos_token is true unless set to false\), but tokenizer_config\.json has none/],
    ];
    for (const [bytes, config, expected] of cases) {
      const error = await fromFile(bytes, config);
      assert.equal(error.file, file);
      assert.ok(error.message.startsWith(file), error.message);
      assert.match(error.message, expected);
    }
  });
});

describe('models built here, with ids worked out by hand', () => {
  it('BPE: merges by score, then the longer left half; control pieces special, user-defined ones not', async () => {
    const bytes = sentencePieceModel({
      modelType: BPE,
      pieces: [
        ['<unk>', 0, UNKNOWN], ['<s>', 0, CONTROL], ['</s>', 0, CONTROL], ['<|user|>', 0, USER_DEFINED],
        ['ab', -1], [`${METASPACE}a`, -2], [`${METASPACE}ab`, -3], ['bc', -3], [METASPACE, -4], ['a', -5], ['b', -6], ['c', -7],
      ],
    });
    const json = tokenizerJsonFromSentencePiece(bytes, { tokenizer_class: 'LlamaTokenizerFast' }, 'tokenizer.model') as any;
    // ▁ab splits as ▁a+b and ▁+ab (score -3, like bc): the longer left half first, then bc.
    assert.deepEqual(json.model.merges, [['a', 'b'], [METASPACE, 'a'], [`${METASPACE}a`, 'b'], [METASPACE, 'ab'], ['b', 'c']]);
    assert.deepEqual(json.added_tokens, [
      { id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 2, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 3, content: '<|user|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
    ]);
    const tokenizer = await loadTokenizer(json, {});
    // ▁ a b c: a+b (rank 0), then ▁+ab (rank 3); ab+c is no merge.
    assert.deepEqual(ids(tokenizer, 'abc', true), [1, 6, 11]);
    assert.deepEqual(ids(tokenizer, '<|user|>abc'), [3, 6, 11]);
    // d has neither a piece nor byte pieces to fall back on: the unknown token.
    assert.deepEqual(ids(tokenizer, 'abd'), [6, 0]);
    assert.equal(tokenizer.decode([6, 11]), 'abc');
  });

  const unigramPieces = (specials: Array<[string, number, number]>): ModelSpec['pieces'] => [
    ...specials,
    [METASPACE, -3], [`${METASPACE}the`, -2], [`${METASPACE}t`, -2.5], ['he', -2.5], ['the', -1],
    [`${METASPACE}ca`, -4.5], [`${METASPACE}c`, -4], ['at', -3], ['t', -2], ['c', -4], ['a', -4],
  ];

  it('Unigram as T5: scores and unk id kept, sentinels appended, </s> after the text', async () => {
    const bytes = sentencePieceModel({
      modelType: UNIGRAM,
      unkId: 2,
      pieces: [...unigramPieces([['<pad>', 0, CONTROL], ['</s>', 0, CONTROL], ['<unk>', 0, UNKNOWN]]), ['<sep>', 0, USER_DEFINED]],
    });
    const config = { tokenizer_class: 'T5Tokenizer', extra_ids: 2 };
    const json = tokenizerJsonFromSentencePiece(bytes, config, 'spiece.model') as any;
    assert.deepEqual(json.model.vocab.slice(0, 4), [['<pad>', 0], ['</s>', 0], ['<unk>', 0], [METASPACE, -3]]);
    assert.deepEqual(json.model.vocab.slice(-2), [['<extra_id_1>', 0], ['<extra_id_0>', 0]]);
    assert.deepEqual({ ...json.model, vocab: undefined }, { type: 'Unigram', unk_id: 2, vocab: undefined, byte_fallback: false });
    assert.deepEqual(json.normalizer, {
      type: 'Sequence',
      normalizers: [{ type: 'Strip', strip_left: false, strip_right: true }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: METASPACE }],
    });
    const metaspace = { type: 'Metaspace', replacement: METASPACE, prepend_scheme: 'always', split: true };
    assert.deepEqual(json.pre_tokenizer, metaspace);
    assert.deepEqual(json.decoder, metaspace);
    const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    assert.deepEqual(json.added_tokens, [
      special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>'),
      { ...special(14, '<sep>'), special: false }, special(15, '<extra_id_1>'), special(16, '<extra_id_0>'),
    ]);
    const tokenizer = await loadTokenizer(json, config);
    // ▁the (-2) beats ▁+the (-4) and ▁t+he (-5); ▁ca+t (-6.5) beats ▁c+at (-7).
    assert.deepEqual(ids(tokenizer, 'the cat', true), [4, 8, 11, 1]);
    assert.deepEqual(ids(tokenizer, 'the cat<extra_id_0>'), [4, 8, 11, 16]);
    // b has no piece: ▁ then the unknown token.
    assert.deepEqual(ids(tokenizer, 'a<sep>b'), [3, 13, 14, 3, 2]);
    assert.equal(tokenizer.decode(ids(tokenizer, 'the cat')), 'the cat');
  });

  it('Unigram as DeBERTa-v3: [CLS] A [SEP] B [SEP], a normalized [UNK], [MASK] after the pieces', async () => {
    const specials: Array<[string, number, number]> = [['[PAD]', 0, CONTROL], ['[CLS]', 0, CONTROL], ['[SEP]', 0, CONTROL], ['[UNK]', 0, UNKNOWN]];
    const bytes = sentencePieceModel({ modelType: UNIGRAM, unkId: 3, pieces: unigramPieces(specials) });
    const config = { tokenizer_class: 'DebertaV2Tokenizer', do_lower_case: true };
    const json = tokenizerJsonFromSentencePiece(bytes, config, 'spm.model') as any;
    assert.deepEqual(json.normalizer, {
      type: 'Sequence',
      normalizers: [{ type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: true }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
    });
    assert.deepEqual(json.pre_tokenizer, { type: 'Sequence', pretokenizers: [{ type: 'Metaspace', replacement: METASPACE, prepend_scheme: 'always', split: true }] });
    assert.deepEqual(
      json.added_tokens.map((t: any) => [t.id, t.content, t.normalized, t.special]),
      [[0, '[PAD]', false, true], [1, '[CLS]', false, true], [2, '[SEP]', false, true], [3, '[UNK]', true, true], [15, '[MASK]', false, true]],
    );
    const tokenizer = await loadTokenizer(json, config);
    const pair = tokenizer.encode('The Cat', { text_pair: 'at', return_token_type_ids: true });
    // ▁at: ▁+at (-6) beats ▁+a+t (-9).
    assert.deepEqual(pair.ids, [1, 5, 9, 12, 2, 4, 11, 2]);
    assert.deepEqual(pair.token_type_ids, [0, 0, 0, 0, 0, 1, 1, 1]);
    // Only the JSON: @huggingface/tokenizers' Punctuation keeps runs of punctuation together where
    // tokenizers isolates each character, so its ids differ from transformers' for such models.
    assert.deepEqual(
      (tokenizerJsonFromSentencePiece(bytes, { tokenizer_class: 'DebertaV2Tokenizer', split_by_punct: true }, 'spm.model') as any).pre_tokenizer.pretokenizers[0],
      { type: 'Punctuation', behavior: 'Isolated' },
    );
  });
});

describe('Unigram against a real T5 tokenizer.json', { skip: absent(t5Dir) || absent(hhFile) }, () => {
  it("rebuilt as the spiece.model it came from, converts back to its vocabulary, added tokens, template and ids", async () => {
    // t5-small's spiece.model is not in ../shared; its tokenizer.json holds all that the model file
    // held (pieces, scores, unk id 2, <pad>/</s> control, the precompiled charsmap) and the converter's additions.
    const sharedJson = JSON.parse(await fs.readFile(path.join(t5Dir, 'tokenizer.json'), 'utf8'));
    const config = JSON.parse(await fs.readFile(path.join(t5Dir, 'tokenizer_config.json'), 'utf8'));
    const pieceType: Record<string, number> = { '<pad>': CONTROL, '</s>': CONTROL, '<unk>': UNKNOWN };
    const charsmap = Buffer.from(sharedJson.normalizer.precompiled_charsmap, 'base64');
    const bytes = sentencePieceModel({
      modelType: UNIGRAM,
      unkId: sharedJson.model.unk_id,
      pieces: sharedJson.model.vocab.slice(0, 32000).map(([piece, score]: [string, number]) => [piece, score, pieceType[piece] ?? NORMAL]),
      charsmap,
    });
    const json = tokenizerJsonFromSentencePiece(bytes, config, 't5-small/spiece.model') as any;
    assert.deepEqual(json.model.vocab, sharedJson.model.vocab);
    assert.equal(json.model.unk_id, 2);
    assert.deepEqual(json.added_tokens, sharedJson.added_tokens);
    assert.deepEqual(json.post_processor, sharedJson.post_processor);
    // The shared file is an older conversion (WhitespaceSplit + Metaspace, Precompiled alone); the
    // current one strips and folds spaces in the normalizer, with the same charsmap.
    assert.deepEqual(json.normalizer.normalizers[0], sharedJson.normalizer);

    const converted = await loadTokenizer(json, config);
    const shared = await loadTokenizer(sharedJson, config);
    const hh = (await fs.readFile(hhFile, 'utf8')).split('\n').filter((line) => line.trim()).slice(0, 100);
    const texts = [...hh.flatMap((line) => Object.values(JSON.parse(line)) as string[]), '  a  b  ', 'x\ty\nz', ' lead', 'trail ', 'naïve ＡＢＣ ｶﾀｶﾅ', ''];
    for (const text of texts) {
      for (const addSpecialTokens of [true, false]) {
        assert.deepEqual(ids(converted, text, addSpecialTokens), ids(shared, text, addSpecialTokens), JSON.stringify(text.slice(0, 80)));
      }
    }
  });
});
