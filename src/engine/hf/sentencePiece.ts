/**
 * Many reward models (the Tulu 2 / 2.5 reward models and other Llama-2 fine-tunes, DeBERTa-v3 reward
 * models) ship only a SentencePiece `tokenizer.model` / `spm.model`, while @huggingface/tokenizers
 * reads only tokenizer.json. Python transformers converts such a file when it loads the folder; this
 * rebuilds, in process, the tokenizer.json that transformers v4.49 builds there, so that the ids are
 * the ones the model was trained and evaluated with:
 * - `convert_slow_tokenizer.py`: LlamaConverter (BPE with byte fallback, or Unigram), T5Converter and
 *   DebertaV2Converter (Unigram, Precompiled normalizer, Metaspace);
 * - what `PreTrainedTokenizerFast.__init__` then adds: the config's `added_tokens_decoder` and the
 *   special tokens, registered through the Rust `AddedVocabulary` rules;
 * - the post-processor `LlamaTokenizerFast` builds from `add_bos_token` / `add_eos_token`.
 * Other tokenizer classes are refused by name rather than converted approximately.
 */
import protobuf from 'protobufjs';
import { ModelFolderError } from '../modelFolderError';

/**
 * The fields of google/sentencepiece's `src/sentencepiece_model.proto` that the conversion reads,
 * with upstream's field numbers and defaults (proto2: an absent field reads as its default).
 */
const SENTENCEPIECE_MODEL_PROTO = `
syntax = "proto2";
package sentencepiece;
message TrainerSpec {
  enum ModelType { UNIGRAM = 1; BPE = 2; WORD = 3; CHAR = 4; }
  optional ModelType model_type = 3 [default = UNIGRAM];
  optional int32 unk_id = 40 [default = 0];
  optional string unk_piece = 45 [default = "<unk>"];
}
message NormalizerSpec {
  optional string name = 1;
  optional bytes precompiled_charsmap = 2;
}
message ModelProto {
  message SentencePiece {
    enum Type { NORMAL = 1; UNKNOWN = 2; CONTROL = 3; USER_DEFINED = 4; BYTE = 6; UNUSED = 5; }
    optional string piece = 1;
    optional float score = 2;
    optional Type type = 3 [default = NORMAL];
  }
  repeated SentencePiece pieces = 1;
  optional TrainerSpec trainer_spec = 2;
  optional NormalizerSpec normalizer_spec = 3;
}
`;

const PIECE_CONTROL = 3;
const PIECE_USER_DEFINED = 4;
const MODEL_UNIGRAM = 1;
const MODEL_BPE = 2;
const METASPACE = '\u2581';

/** What the conversion needs of a SentencePiece model file. */
interface SentencePieceModel {
  pieces: Array<{ piece: string; score: number; type: number }>;
  /** 1 Unigram, 2 BPE (the others are refused while parsing). */
  modelType: number;
  unkId: number;
  unkPiece: string;
  /** Empty when the model normalizes with the identity rule (Llama). */
  precompiledCharsmap: Uint8Array;
}

let modelProtoType: protobuf.Type | undefined;
const modelProto = () => (modelProtoType ??= protobuf.parse(SENTENCEPIECE_MODEL_PROTO).root.lookupType('sentencepiece.ModelProto'));

const SAVE_TOKENIZER_JSON = 'save a tokenizer.json beside it with Python transformers: `AutoTokenizer.from_pretrained(<model id>).save_pretrained(<folder>)`';
const FETCH_AGAIN = `Fetch it again, or ${SAVE_TOKENIZER_JSON}.`;

/** Llama 3 and some others name a tiktoken ranks file (lines of `<base64> <rank>`) tokenizer.model. */
function looksLikeTiktoken(model: Uint8Array): boolean {
  const head = new TextDecoder('utf-8', { fatal: false }).decode(model.subarray(0, 256));
  return /^[A-Za-z0-9+/=]+ \d+\r?\n/.test(head);
}

/** Decodes `model`; every failure names `file` and says what to do. */
function parseSentencePieceModel(model: Uint8Array, file: string): SentencePieceModel {
  const fail = (why: string, remedy = FETCH_AGAIN): never => {
    throw new ModelFolderError(`${file} ${why}. ${remedy}`, file);
  };
  if (model.length === 0) fail('is empty (0 bytes), probably an interrupted download');
  if (looksLikeTiktoken(model)) fail('is a tiktoken ranks file, not a SentencePiece model', `Use the tokenizer.json such models ship, or ${SAVE_TOKENIZER_JSON}.`);
  let decoded: {
    pieces?: Array<{ piece?: string; score?: number; type?: number }>;
    trainerSpec?: { modelType: number; unkId: number; unkPiece: string } | null;
    normalizerSpec?: { precompiledCharsmap?: Uint8Array } | null;
  };
  try {
    // A plain view, not a Buffer: protobufjs builds an empty bytes field of a Buffer with the
    // deprecated `new Buffer(0)`, which warns (DEP0005) once bundled outside node_modules.
    decoded = modelProto().decode(new Uint8Array(model.buffer, model.byteOffset, model.byteLength)) as typeof decoded;
  } catch (error) {
    return fail(`is not a readable SentencePiece model (${(error as Error).message}): it is truncated or corrupted`);
  }
  const pieces = decoded.pieces ?? [];
  if (pieces.length === 0) fail('has no vocabulary pieces: it is not a SentencePiece model, or is truncated');
  // The trainer writes trainer_spec and normalizer_spec after the pieces: a file cut at a piece boundary
  // parses, but lacks them, and would otherwise be read as a Unigram model with defaults.
  if (!decoded.trainerSpec || !decoded.normalizerSpec) fail('ends before its trainer and normalizer settings: it is truncated');
  const trainer = decoded.trainerSpec!;
  if (trainer.modelType !== MODEL_UNIGRAM && trainer.modelType !== MODEL_BPE) {
    const kind = trainer.modelType === 3 ? 'word' : trainer.modelType === 4 ? 'char' : `type ${trainer.modelType}`;
    fail(`is a SentencePiece ${kind} model`, 'Only Unigram and BPE models have a tokenizer.json form; transformers cannot convert it either.');
  }
  const emptyPiece = pieces.findIndex((p) => !p.piece);
  if (emptyPiece >= 0) fail(`has an empty piece at id ${emptyPiece}, which SentencePiece never writes: it is corrupted`);
  return {
    pieces: pieces.map((p) => ({ piece: p.piece as string, score: p.score ?? 0, type: p.type ?? 1 })),
    modelType: trainer.modelType,
    unkId: trainer.unkId,
    unkPiece: trainer.unkPiece,
    precompiledCharsmap: decoded.normalizerSpec!.precompiledCharsmap ?? new Uint8Array(0),
  };
}

/** Python's truth value of a JSON value: what `if config_value:` sees. */
const truthy = (value: unknown): boolean =>
  !(value === undefined || value === null || value === false || value === 0 || value === '' || (Array.isArray(value) && value.length === 0) ||
    (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0));

/** A config key transformers passes on when present (even as null), else the class default. */
const setting = (config: Record<string, unknown>, key: string, fallback: unknown): unknown => (key in config ? config[key] : fallback);

/**
 * merges in the order transformers' `generate_merges` lists them: for each piece in vocabulary order,
 * every split whose halves are pieces (ordered by the halves' ids), then all of them sorted by the
 * piece's score, then by the halves' lengths, all descending, ties kept in that order. Lengths and
 * splits are in code points, as Python's strings count them.
 */
function sentencePieceMerges(vocabIds: ReadonlyMap<string, number>, vocabScores: ReadonlyArray<readonly [string, number]>): Array<[string, string]> {
  // dict(vocab_scores): the first position of a piece, its last score.
  const scoreByPiece = new Map<string, number>();
  for (const [piece, score] of vocabScores) scoreByPiece.set(piece, score);
  const candidates: Array<{ left: string; right: string; score: number; leftLength: number; rightLength: number }> = [];
  for (const [piece, score] of scoreByPiece) {
    const codePoints = Array.from(piece);
    const local: typeof candidates = [];
    for (let index = 1; index < codePoints.length; index++) {
      const left = codePoints.slice(0, index).join('');
      const right = codePoints.slice(index).join('');
      if (vocabIds.has(left) && vocabIds.has(right)) local.push({ left, right, score, leftLength: index, rightLength: codePoints.length - index });
    }
    local.sort((a, b) => vocabIds.get(a.left)! - vocabIds.get(b.left)! || vocabIds.get(a.right)! - vocabIds.get(b.right)!);
    candidates.push(...local);
  }
  candidates.sort((a, b) => b.score - a.score || b.leftLength - a.leftLength || b.rightLength - a.rightLength);
  return candidates.map((m) => [m.left, m.right]);
}

/** tokenizers' AddedToken, as Python's `AddedToken(**fields)` makes it; `normalized` unset means `not special`. */
interface AddedToken {
  content: string;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized?: boolean;
  special: boolean;
}

const resolvedNormalized = (token: AddedToken) => token.normalized ?? !token.special;
const sameAddedToken = (a: AddedToken, b: AddedToken) =>
  a.content === b.content && a.singleWord === b.singleWord && a.lstrip === b.lstrip && a.rstrip === b.rstrip &&
  resolvedNormalized(a) === resolvedNormalized(b) && a.special === b.special;

function addedTokenFromJson(value: Record<string, unknown>): AddedToken {
  return {
    content: String(value.content ?? ''),
    singleWord: truthy(value.single_word),
    lstrip: truthy(value.lstrip),
    rstrip: truthy(value.rstrip),
    normalized: value.normalized === undefined || value.normalized === null ? undefined : truthy(value.normalized),
    special: truthy(value.special),
  };
}

/** A special token as tokenizer_config.json gives it: a string, an AddedToken object, or absent / null. */
type SpecialToken = string | AddedToken | undefined;
const specialTokenContent = (token: SpecialToken) => (typeof token === 'string' ? token : token?.content);

function specialTokenFromConfig(value: unknown): SpecialToken {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && 'content' in value) return addedTokenFromJson(value as Record<string, unknown>);
  return undefined;
}

/**
 * The Rust `AddedVocabulary`, as far as conversion reaches it. Re-adding a token with other flags
 * replaces what a saved tokenizer.json lists, but special tokens keep matching text with the flags
 * they were first added with (tokenizers never updates its special-token list). For Llama-2's
 * old-style config (`<s>` as `normalized: true`) transformers therefore matches `</s>` in running
 * text, while the tokenizer.json it saves no longer does; the flags written here are the ones it
 * tokenizes with.
 */
class AddedVocabulary {
  private readonly tokenById = new Map<number, AddedToken>();
  private readonly idByContent = new Map<string, number>();
  private readonly matchedAs = new Map<string, AddedToken>();

  constructor(private readonly modelVocab: ReadonlyMap<string, number>, private readonly modelVocabSize: number) {}

  idOf(content: string): number | undefined {
    return this.idByContent.get(content) ?? this.modelVocab.get(content);
  }

  contents(): string[] {
    return [...this.idByContent.keys()];
  }

  add(tokens: AddedToken[]): void {
    for (const token of tokens) {
      if (token.special && token.content !== '' && !this.matchedAs.has(token.content)) this.matchedAs.set(token.content, token);
    }
    for (const token of tokens) {
      if (token.content === '') continue;
      // A content has one id, so only the token listed there can be identical.
      const listedId = this.idByContent.get(token.content);
      if (listedId !== undefined && sameAddedToken(this.tokenById.get(listedId)!, token)) continue;
      let id = this.idOf(token.content);
      if (id === undefined) {
        const highest = Math.max(-1, ...this.tokenById.keys());
        id = highest >= this.modelVocabSize || this.modelVocabSize === 0 ? highest + 1 : this.modelVocabSize;
      }
      this.idByContent.set(token.content, id);
      this.tokenById.set(id, token);
      if (!token.special && !this.matchedAs.has(token.content)) this.matchedAs.set(token.content, token);
    }
  }

  toJson(): object[] {
    return [...this.tokenById.entries()]
      .sort(([a], [b]) => a - b)
      .map(([id, listed]) => {
        const matched = this.matchedAs.get(listed.content) ?? listed;
        return {
          id,
          content: listed.content,
          single_word: matched.singleWord,
          lstrip: matched.lstrip,
          rstrip: matched.rstrip,
          normalized: resolvedNormalized(matched),
          special: listed.special || matched.special,
        };
      });
  }
}

const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];

/** How one transformers tokenizer class converts; the parts differ per class, the set-up around them does not. */
interface TokenizerClassRecipe {
  /** The `__init__` defaults of the special tokens this class declares. */
  defaults: Partial<Record<SpecialTokenKey, string>>;
  /** The slow class's `__init__` rewrites string special tokens into AddedTokens with these flags. */
  stringTokenFlags: Partial<Record<SpecialTokenKey, Pick<AddedToken, 'normalized'>>>;
  build(context: ConversionContext): TokenizerJsonParts;
  postProcessor(context: ConversionContext, vocabulary: AddedVocabulary, specials: Map<SpecialTokenKey, SpecialToken>): object | null;
  /** Tokens appended to the model vocabulary after the pieces (T5's sentinels). */
  extraVocab(context: ConversionContext): Array<[string, number]>;
}

interface ConversionContext {
  model: SentencePieceModel;
  config: Record<string, unknown>;
  file: string;
  /** The converter's vocabulary: pieces (with the class's rewrites) and scores, in id order. */
  vocabScores: Array<[string, number]>;
}

interface TokenizerJsonParts {
  normalizer: object | null;
  pre_tokenizer: object | null;
  decoder: object | null;
  model: object;
}

const replaceString = (pattern: string, content: string) => ({ type: 'Replace', pattern: { String: pattern }, content });
const replaceRegex = (pattern: string, content: string) => ({ type: 'Replace', pattern: { Regex: pattern }, content });
const metaspace = (prependScheme: string, split = true) => ({ type: 'Metaspace', replacement: METASPACE, prepend_scheme: prependScheme, split });
const precompiled = (charsmap: Uint8Array) => ({ type: 'Precompiled', precompiled_charsmap: Buffer.from(charsmap).toString('base64') });

/** transformers' `_get_prepend_scheme`. */
const prependScheme = (addPrefixSpace: boolean, legacy: boolean) => (addPrefixSpace ? (legacy ? 'always' : 'first') : 'never');

/** `SpmConverter.tokenizer`: the model part, Unigram or BPE. */
function spmModel(context: ConversionContext, unkId: number, handleByteFallback: boolean): object {
  const { model, vocabScores, file } = context;
  if (model.modelType === MODEL_UNIGRAM) {
    if (unkId < 0 || unkId >= vocabScores.length) {
      throw new ModelFolderError(`${file} names unk id ${unkId}, outside its ${vocabScores.length} pieces: it is corrupted. ${FETCH_AGAIN}`, file);
    }
    return { type: 'Unigram', unk_id: unkId, vocab: vocabScores.map(([piece, score]) => [piece, score]), byte_fallback: handleByteFallback };
  }
  // BPE, the only other type parseSentencePieceModel lets through. The extractor's vocabulary is
  // SentencePiece's own pieces; the BPE vocabulary is the converter's.
  const pieceIds = new Map(model.pieces.map((p, id) => [p.piece, id]));
  const vocab: Record<string, number> = {};
  vocabScores.forEach(([piece], id) => (vocab[piece] = id));
  return {
    type: 'BPE',
    dropout: null,
    unk_token: model.unkPiece,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: handleByteFallback,
    ignore_merges: false,
    vocab,
    merges: sentencePieceMerges(pieceIds, vocabScores),
  };
}

function templateProcessing(single: object[], pair: object[], tokens: Array<[string, number]>): object {
  const specialTokens: Record<string, object> = {};
  for (const [content, id] of tokens) specialTokens[content] = { id: content, ids: [id], tokens: [content] };
  return { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens };
}
const special = (content: string, typeId: number) => ({ SpecialToken: { id: content, type_id: typeId } });
const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });

/** `convert_tokens_to_ids` of the converted tokenizer: the id, else the unknown token's. */
function tokenId(vocabulary: AddedVocabulary, content: string, specials: Map<SpecialTokenKey, SpecialToken>): number {
  const id = vocabulary.idOf(content);
  if (id !== undefined) return id;
  const unk = specialTokenContent(specials.get('unk_token'));
  return unk === undefined ? 0 : (vocabulary.idOf(unk) ?? 0);
}

const LLAMA: TokenizerClassRecipe = {
  defaults: { unk_token: '<unk>', bos_token: '<s>', eos_token: '</s>' },
  stringTokenFlags: { unk_token: { normalized: false }, bos_token: { normalized: false }, eos_token: { normalized: false }, pad_token: { normalized: false } },
  extraVocab: () => [],
  build(context) {
    // LlamaTokenizer: `legacy` None means True; `add_prefix_space` defaults to True.
    const legacy = 'legacy' in context.config && context.config.legacy !== null ? truthy(context.config.legacy) : true;
    const addPrefixSpace = truthy(setting(context.config, 'add_prefix_space', true));
    return {
      normalizer: legacy
        ? { type: 'Sequence', normalizers: [...(addPrefixSpace ? [{ type: 'Prepend', prepend: METASPACE }] : []), replaceString(' ', METASPACE)] }
        : null,
      pre_tokenizer: legacy ? null : metaspace(prependScheme(addPrefixSpace, false), false),
      decoder: {
        type: 'Sequence',
        decoders: [
          replaceString(METASPACE, ' '),
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(addPrefixSpace ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: spmModel(context, 0, true),
    };
  },
  postProcessor(context, vocabulary, specials) {
    // LlamaTokenizerFast.update_post_processor.
    const addBos = truthy(setting(context.config, 'add_bos_token', true));
    const addEos = truthy(setting(context.config, 'add_eos_token', false));
    const bos = specialTokenContent(specials.get('bos_token'));
    const eos = specialTokenContent(specials.get('eos_token'));
    const refuse = (what: string) => {
      throw new ModelFolderError(
        `${context.file}: the tokenizer adds ${what === 'eos' ? 'an' : 'a'} ${what}_token (add_${what}_token is ${what === 'bos' ? 'true unless set to false' : 'set'}), ` +
          `but tokenizer_config.json has none, which transformers refuses too. Set ${what}_token, or add_${what}_token: false.`,
        context.file,
      );
    };
    if (addBos && bos === undefined) refuse('bos');
    if (addEos && eos === undefined) refuse('eos');
    const single = [...(addBos ? [special(bos!, 0)] : []), sequence('A', 0), ...(addEos ? [special(eos!, 0)] : [])];
    const pair = [...single, ...(addBos ? [special(bos!, 1)] : []), sequence('B', 1), ...(addEos ? [special(eos!, 1)] : [])];
    const tokens: Array<[string, number]> = [];
    if (addBos) tokens.push([bos!, tokenId(vocabulary, bos!, specials)]);
    if (addEos) tokens.push([eos!, tokenId(vocabulary, eos!, specials)]);
    return templateProcessing(single, pair, tokens);
  },
};

/** SpmConverter's normalizer: Precompiled (when the model has a charsmap), then right strip and runs of spaces as one ▁. */
function spmNormalizer(model: SentencePieceModel): object {
  const rules = [{ type: 'Strip', strip_left: false, strip_right: true }, replaceRegex(' {2,}', METASPACE)];
  return { type: 'Sequence', normalizers: model.precompiledCharsmap.length > 0 ? [precompiled(model.precompiledCharsmap), ...rules] : rules };
}

const T5: TokenizerClassRecipe = {
  defaults: { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' },
  stringTokenFlags: { eos_token: {}, unk_token: {}, pad_token: {} },
  extraVocab(context) {
    const extraIds = t5ExtraIds(context.config);
    return Array.from({ length: extraIds }, (_, i): [string, number] => [`<extra_id_${extraIds - 1 - i}>`, 0]);
  },
  build(context) {
    const legacy = 'legacy' in context.config && context.config.legacy !== null ? truthy(context.config.legacy) : true;
    const scheme = prependScheme(truthy(setting(context.config, 'add_prefix_space', true)), legacy);
    return {
      normalizer: spmNormalizer(context.model),
      pre_tokenizer: metaspace(scheme),
      decoder: metaspace(scheme),
      model: spmModel(context, context.model.unkId, false),
    };
  },
  postProcessor(_context, vocabulary, specials) {
    const eosId = tokenId(vocabulary, '</s>', specials);
    return templateProcessing([sequence('A', 0), special('</s>', 0)], [sequence('A', 0), special('</s>', 0), sequence('B', 0), special('</s>', 0)], [['</s>', eosId]]);
  },
};

const t5ExtraIds = (config: Record<string, unknown>) => {
  const value = setting(config, 'extra_ids', 100);
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 100;
};

const DEBERTA_V2: TokenizerClassRecipe = {
  defaults: { bos_token: '[CLS]', eos_token: '[SEP]', unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  // DebertaV2Tokenizer makes only its unknown token an AddedToken, a normalized one.
  stringTokenFlags: { unk_token: { normalized: true } },
  extraVocab: () => [],
  build(context) {
    const { model, config } = context;
    const normalizers: object[] = [];
    if (truthy(setting(config, 'do_lower_case', false))) normalizers.push({ type: 'Lowercase' });
    normalizers.push({ type: 'Strip', strip_left: true, strip_right: true });
    if (model.precompiledCharsmap.length > 0) normalizers.push(precompiled(model.precompiledCharsmap));
    normalizers.push(replaceRegex(' {2,}', ' '));
    const preTokenizers: object[] = [];
    if (truthy(setting(config, 'split_by_punct', false))) preTokenizers.push({ type: 'Punctuation', behavior: 'Isolated' });
    // The slow DeBERTa-v2 tokenizer has neither add_prefix_space nor legacy, so the converter's defaults hold.
    preTokenizers.push(metaspace('always'));
    return {
      normalizer: { type: 'Sequence', normalizers },
      pre_tokenizer: { type: 'Sequence', pretokenizers: preTokenizers },
      decoder: metaspace('always'),
      model: spmModel(context, model.unkId, false),
    };
  },
  postProcessor(_context, vocabulary, specials) {
    const cls = tokenId(vocabulary, '[CLS]', specials);
    const sep = tokenId(vocabulary, '[SEP]', specials);
    return templateProcessing(
      [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
      [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
      [['[CLS]', cls], ['[SEP]', sep]],
    );
  },
};

const RECIPES: Record<string, TokenizerClassRecipe> = { LlamaTokenizer: LLAMA, T5Tokenizer: T5, DebertaV2Tokenizer: DEBERTA_V2 };

function recipeFor(config: Record<string, unknown>, model: SentencePieceModel, file: string): { name: string; recipe: TokenizerClassRecipe } {
  const named = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : undefined;
  if (named === undefined) {
    // Llama-family folders are the ones that ship tokenizer.model without a config; a Unigram model
    // could be T5, DeBERTa, ALBERT…, each tokenized differently, so guessing would give wrong ids.
    if (model.modelType === MODEL_BPE) return { name: 'LlamaTokenizer', recipe: LLAMA };
    throw new ModelFolderError(
      `${file} is a SentencePiece Unigram model, and no tokenizer_config.json tokenizer_class says which tokenizer ` +
        `uses it (supported: ${Object.keys(RECIPES).join(', ')}). Put the model's tokenizer_config.json beside it, or ${SAVE_TOKENIZER_JSON}.`,
      file,
    );
  }
  const recipe = RECIPES[named];
  if (recipe === undefined) {
    throw new ModelFolderError(
      `${file}: tokenizer_config.json names tokenizer_class ${config.tokenizer_class}, which is not converted here ` +
        `(supported: ${Object.keys(RECIPES).join(', ')}). ${SAVE_TOKENIZER_JSON[0].toUpperCase()}${SAVE_TOKENIZER_JSON.slice(1)}.`,
      file,
    );
  }
  return { name: named, recipe };
}

/** The special tokens after transformers' loading and the slow class's `__init__`, by attribute. */
function resolveSpecialTokens(config: Record<string, unknown>, recipe: TokenizerClassRecipe, decoderByContent: Map<string, AddedToken>) {
  const specials = new Map<SpecialTokenKey, SpecialToken>();
  for (const key of SPECIAL_TOKEN_KEYS) {
    let token: SpecialToken;
    if (key in config) {
      token = specialTokenFromConfig(config[key]);
      // Loading swaps a configured special token for the added_tokens_decoder entry of the same content;
      // the class's own defaults come later and are not swapped.
      const content = specialTokenContent(token);
      if (content !== undefined && decoderByContent.has(content)) token = decoderByContent.get(content);
    } else {
      token = recipe.defaults[key];
    }
    const flags = recipe.stringTokenFlags[key];
    if (typeof token === 'string' && flags !== undefined) token = { content: token, singleWord: false, lstrip: false, rstrip: false, special: true, ...flags };
    specials.set(key, token);
  }
  return specials;
}

function additionalSpecialTokens(config: Record<string, unknown>, className: string, file: string): SpecialToken[] {
  const listed = Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens.map(specialTokenFromConfig).filter((t) => t !== undefined) : [];
  if (className !== 'T5Tokenizer') return listed;
  // T5Tokenizer's sentinels: listed in the config, or made from extra_ids.
  const extraIds = t5ExtraIds(config);
  const sentinels = listed.filter((t) => specialTokenContent(t)!.includes('<extra_id_'));
  if (sentinels.length === 0) return [...listed, ...Array.from({ length: extraIds }, (_, i) => `<extra_id_${i}>`)];
  if (extraIds > 0 && extraIds !== sentinels.length) {
    throw new ModelFolderError(
      `${file}: tokenizer_config.json lists ${sentinels.length} <extra_id_…> tokens but extra_ids is ${extraIds}; transformers refuses this too. Make them agree.`,
      file,
    );
  }
  return listed;
}

/**
 * The tokenizer.json object that transformers v4.49 builds when it loads a folder holding this
 * SentencePiece `model` (`tokenizer.model`, `spm.model`, `spiece.model`) and `tokenizerConfig`
 * (the folder's tokenizer_config.json, `{}` when it has none; see tokenizerConfigWithSpecialTokensMap
 * for folders whose special tokens are in special_tokens_map.json). The class comes from
 * `tokenizer_config.tokenizer_class`: LlamaTokenizer (also the default for a BPE model without one),
 * T5Tokenizer or DebertaV2Tokenizer. Throws a ModelFolderError naming `file` for an unreadable model
 * and for classes it does not convert.
 */
export function tokenizerJsonFromSentencePiece(model: Uint8Array, tokenizerConfig: object, file: string): object {
  const config = tokenizerConfig as Record<string, unknown>;
  const parsed = parseSentencePieceModel(model, file);
  const { name, recipe } = recipeFor(config, parsed, file);

  const pieceScores = parsed.pieces.map((p): [string, number] => [p.piece, p.score]);
  // LlamaConverter.vocab: the first three pieces (unk, bos, eos) with score 0.
  const vocabScores =
    recipe === LLAMA ? pieceScores.map(([piece, score], id): [string, number] => [piece, id < 3 ? 0 : score]) : pieceScores;
  const context: ConversionContext = { model: parsed, config, file, vocabScores };
  context.vocabScores = [...vocabScores, ...recipe.extraVocab(context)];
  const parts = recipe.build(context);

  const modelVocab = new Map<string, number>();
  context.vocabScores.forEach(([piece], id) => modelVocab.set(piece, id));
  const vocabulary = new AddedVocabulary(modelVocab, context.vocabScores.length);
  // SpmConverter: control pieces are special tokens, user-defined ones plain added tokens, neither normalized.
  vocabulary.add(
    parsed.pieces.flatMap((p) =>
      p.type === PIECE_CONTROL || p.type === PIECE_USER_DEFINED
        ? [{ content: p.piece, singleWord: false, lstrip: false, rstrip: false, normalized: false, special: p.type === PIECE_CONTROL }]
        : [],
    ),
  );

  // PreTrainedTokenizerFast.__init__: the config's added_tokens_decoder entries, then every special
  // token (AddedTokens always, strings when no added token has that content yet).
  const decoderEntries = Object.entries(
    config.added_tokens_decoder !== null && typeof config.added_tokens_decoder === 'object' ? (config.added_tokens_decoder as Record<string, unknown>) : {},
  )
    .filter(([, value]) => value !== null && typeof value === 'object')
    .map(([id, value]) => [Number(id), addedTokenFromJson(value as Record<string, unknown>)] as const)
    .sort(([a], [b]) => a - b)
    .map(([, token]) => token);
  const decoderByContent = new Map(decoderEntries.map((t) => [t.content, t]));
  const specials = resolveSpecialTokens(config, recipe, decoderByContent);
  const additional = additionalSpecialTokens(config, name, file);

  // transformers means to skip entries already there, but compares their repr with the ids
  // (iterating a dict), so it offers them all; the vocabulary ignores the identical ones.
  const toAdd: Array<string | AddedToken> = [...decoderEntries];
  const known = new Set([...vocabulary.contents(), ...decoderEntries.map((t) => t.content)]);
  const seen = new Set<string>();
  const allSpecial: Array<string | AddedToken> = [];
  for (const token of [...SPECIAL_TOKEN_KEYS.map((key) => specials.get(key)), ...additional]) {
    const content = specialTokenContent(token);
    if (token === undefined || !content || seen.has(content)) continue;
    seen.add(content);
    allSpecial.push(token);
  }
  for (const token of allSpecial) {
    // Python compares a string with the added contents, but an AddedToken with nothing there
    // (AddedToken == str is False), so AddedTokens are always offered again.
    if (typeof token === 'string' ? known.has(token) : toAdd.some((t) => typeof t !== 'string' && sameAddedToken(t, token))) continue;
    toAdd.push(token);
  }
  const specialContents = new Set(allSpecial.map((t) => specialTokenContent(t)!));
  vocabulary.add(
    toAdd.map((token) =>
      typeof token === 'string'
        ? { content: token, singleWord: false, lstrip: false, rstrip: false, special: specialContents.has(token) }
        : { ...token, special: token.special || specialContents.has(token.content) },
    ),
  );

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: vocabulary.toJson(),
    normalizer: parts.normalizer,
    pre_tokenizer: parts.pre_tokenizer,
    post_processor: recipe.postProcessor(context, vocabulary, specials),
    decoder: parts.decoder,
    model: parts.model,
  };
}

/**
 * tokenizer_config.json as transformers sees it in a folder whose config has no
 * `added_tokens_decoder` (written before transformers 4.34): special_tokens_map.json's tokens
 * replace the config's, as special AddedTokens, and its additional special tokens join the config's.
 */
export function tokenizerConfigWithSpecialTokensMap(tokenizerConfig: object, specialTokensMap: object): object {
  const config = { ...(tokenizerConfig as Record<string, unknown>) };
  if ('added_tokens_decoder' in config) return config;
  for (const [key, value] of Object.entries(specialTokensMap as Record<string, unknown>)) {
    if (key === 'additional_special_tokens' && Array.isArray(value)) {
      const merged = Array.isArray(config.additional_special_tokens) ? [...config.additional_special_tokens] : [];
      const contents = new Set(merged.map((t) => specialTokenContent(specialTokenFromConfig(t))));
      for (const token of value) {
        const withSpecial = token !== null && typeof token === 'object' ? { ...token, special: true } : token;
        if (!contents.has(specialTokenContent(specialTokenFromConfig(withSpecial)))) merged.push(withSpecial);
      }
      config[key] = merged;
    } else {
      config[key] = value !== null && typeof value === 'object' ? { ...value, special: true } : value;
    }
  }
  return config;
}
