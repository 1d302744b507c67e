/**
 * Conversation → token ids, ready for padding: prompt format, tokenizer, BOS handling and left
 * truncation. @huggingface/tokenizers does no truncation or padding itself.
 */
import path from 'node:path';
import type { Tokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import type { Message } from '../core/pair';
import { ModelFolderError, type TokenizerFolder, type TokenSpec } from './modelFolder';
import type { TemplateChoice } from './workerProtocol';
import { createPromptFormat, textPairFormat, type PromptFormat, type SpecialTokens, type TextFormat, type TextTemplateChoice } from './promptFormat';

/** Used when config.json does not say: Llama-2's context, the seed model's limit. */
export const DEFAULT_MAX_LENGTH = 4096;

export interface Encoded {
  ids: number[];
  /** Segment ids (`token_type_ids`), one per id; only text-pair inputs have them. */
  typeIds?: number[];
  /** True when the front of the conversation was cut to fit `maxLength`. */
  truncated: boolean;
}

/**
 * One item's model input: what the model reads, as text (the score cache keys on it; rendering is
 * cheap), and its tokens, computed only when called (a cache hit skips the tokenizer).
 */
export interface ModelInput {
  text: string;
  encode(): Encoded;
}

/** What the scoring engine needs of an encoder, whatever the format. */
export interface ItemEncoder {
  format: PromptFormat['name'];
  maxLength: number;
  padId: number;
  input(prompt: readonly Message[], response: readonly Message[]): ModelInput;
}

/** An encoder for formats that render the conversation as one text (tulu, chat templates). */
export interface Encoder extends ItemEncoder {
  format: TextFormat['name'];
  /**
   * Whether `encodeText` tokenizes a shared prompt prefix once (see promptSplitBlocker); when not,
   * why, for benchmarks and tests.
   */
  promptReuse: { enabled: true } | { enabled: false; reason: string };
  /** The exact text the model reads (the score cache keys on it); cheap next to tokenizing it. */
  render(messages: readonly Message[]): string;
  /** The text every rendering of `prompt` + a response starts with (TextFormat.promptPrefix). */
  promptPrefix(prompt: readonly Message[], response: readonly Message[]): string;
  /**
   * Tokens of rendered text, left-truncated to `maxLength`. With `promptPrefix`, the part of the
   * text up to the split point is tokenized once and remembered for the next responses to the same
   * prompt; the ids are the same as without it.
   */
  encodeText(text: string, promptPrefix?: string): Encoded;
  encode(messages: readonly Message[]): Encoded;
  /**
   * For a server that tokenizes itself: the text of what `encodeText` keeps when it truncates
   * (the kept tokens decoded, without the special tokens the server's tokenizer adds back), so
   * the server reads what this engine would; undefined when the text fits.
   */
  keptText(text: string): string | undefined;
}

/** An encoder for `text-pair`: (prompt, response) joined by the tokenizer's post-processor. */
export interface PairEncoder extends ItemEncoder {
  format: 'text-pair';
  /**
   * The ids and segment ids `tokenizer.encode(first, { text_pair: second })` gives, truncated to
   * `maxLength` by dropping from the start of `first` (then of `second`): the special tokens stay,
   * and the end of the response, which is what is judged, is kept.
   */
  encodePair(first: string, second: string): Encoded;
  /** The two texts of what `encodePair` keeps, decoded, when it truncates (see Encoder.keptText). */
  keptPair(first: string, second: string): [string, string] | undefined;
}

function tokenText(spec: TokenSpec): string | undefined {
  if (typeof spec === 'string') return spec;
  return spec?.content;
}

function firstId(value: number | number[] | null | undefined): number | undefined {
  return Array.isArray(value) ? value[0] : (value ?? undefined);
}

/**
 * Effective limit: the smallest of the caller's cap, the model's position table and the tokenizer's
 * declared maximum (RoBERTa-style configs say 514 positions but take 512 tokens; Llama's tokenizer
 * declares 1e30, which the min ignores).
 */
function resolveMaxLength(folder: TokenizerFolder, requested: number | undefined): number {
  const limits = [requested, folder.config.max_position_embeddings ?? DEFAULT_MAX_LENGTH, folder.tokenizerConfig.model_max_length];
  const maxLength = Math.min(...limits.filter((limit): limit is number => typeof limit === 'number' && limit > 0));
  return Math.floor(maxLength);
}

/**
 * The id the export was made with comes first (config.json): reward heads read the last non-pad
 * token, so padding with any other id would move the scored position.
 */
function resolvePadId(folder: TokenizerFolder, tokenizer: Tokenizer, tokens: SpecialTokens): number {
  const fromConfig = folder.config.pad_token_id;
  if (typeof fromConfig === 'number') return fromConfig;
  const fromTokenizer = tokens.pad === undefined ? undefined : tokenizer.token_to_id(tokens.pad);
  if (fromTokenizer !== undefined) return fromTokenizer;
  const eos = firstId(folder.config.eos_token_id) ?? (tokens.eos === undefined ? undefined : tokenizer.token_to_id(tokens.eos));
  return eos ?? 0;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Text → ids such that special-token strings in the text (the `</s>` the tulu template writes after
 * every response) become their ids. Llama-2 tokenizer.json files converted from SentencePiece mark
 * `<s>`/`</s>` as `normalized`, so @huggingface/tokenizers only matches them after the Prepend("▁")
 * normalizer, i.e. as "▁</s>" (measured): `4</s>` comes out as `4`,`</`,`s`,`>` and the reward
 * head, which reads the last token, would score `>` instead of EOS. For tokens the tokenizer misses
 * in running text, split the text at them ourselves and encode the pieces separately — what the
 * SentencePiece (slow, legacy) Llama tokenizer does. Tokenizers that find them keep the plain path.
 * Assumes the post-processor only prefixes (BOS), as for every tokenizer with this quirk.
 */
function specialAwareEncoder(tokenizer: Tokenizer): (text: string, addSpecialTokens: boolean) => number[] {
  const missed = new Map<string, number>();
  for (const [id, token] of tokenizer.get_added_tokens_decoder()) {
    if (token.special && tokenizer.encode(`a${token.content}`, { add_special_tokens: false }).ids.at(-1) !== id) missed.set(token.content, id);
  }
  const plain = (text: string, addSpecialTokens: boolean) => tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  if (missed.size === 0) return plain;
  // Longest first, so a token that contains another is matched whole.
  const pattern = new RegExp(`(${[...missed.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')})`);
  return (text, addSpecialTokens) => {
    // split() with a capture group alternates text and separator: odd indices are the special tokens.
    const parts = text.split(pattern);
    const ids = plain(parts[0], addSpecialTokens);
    for (let i = 1; i < parts.length; i++) {
      if (i % 2 === 1) ids.push(missed.get(parts[i]) as number);
      else if (parts[i].length > 0) ids.push(...plain(parts[i], false));
    }
    return ids;
  };
}

/**
 * How many special tokens the tokenizer's post-processor puts before and after one text (Llama:
 * `<s>` before, nothing after), learned by encoding a probe with and without them.
 */
function postProcessorSpecials(tokenizer: Tokenizer): { prefix: number; suffix: number; prefixIds: number[]; suffixIds: number[] } {
  const bare = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const full = tokenizer.encode('a', { add_special_tokens: true }).ids;
  const start = bare.length === 0 ? -1 : indexOfRun(full, bare, 0);
  if (start < 0) return { prefix: 0, suffix: 0, prefixIds: [], suffixIds: [] };
  return { prefix: start, suffix: full.length - start - bare.length, prefixIds: full.slice(0, start), suffixIds: full.slice(start + bare.length) };
}

/**
 * Texts longer than this many characters per token of the limit are cut before they are tokenized
 * (a 5 MB response took minutes and gigabytes to tokenize, for 4096 tokens kept).
 */
export const PRECUT_CHARS_PER_TOKEN = 16;
/** Tokens past the kept ones on which two cuts must agree before the cut is trusted. */
const PRECUT_MARGIN = 64;

/** How far back from a nominal cut a word boundary is looked for. */
const PRECUT_BOUNDARY_SEARCH = 4096;

/**
 * Where a cut near `position` is safe: just before a whitespace character that follows a
 * non-whitespace one. No tokenizer here joins across such a point — pre-tokenizers split there
 * (ByteLevel, Whitespace, Metaspace), and SentencePiece pieces only ever start with "▁" — so
 * what follows it tokenizes the same whatever precedes it. -1 when the text has no such point
 * nearby (a run of one character, a wall of spaces), where the start of the text could decide
 * every token.
 */
function wordBoundaryAtOrBefore(text: string, position: number): number {
  const isSpace = (code: number) => code === 32 || code === 9 || code === 10 || code === 13;
  for (let p = position; p > 0 && p > position - PRECUT_BOUNDARY_SEARCH; p--) {
    if (isSpace(text.charCodeAt(p)) && !isSpace(text.charCodeAt(p - 1))) return p;
  }
  return -1;
}

/**
 * The last `count` ids of `toIds(text)` without tokenizing all of `text`. The end of the text is
 * tokenized from two word boundaries (about c and 2c characters from the end); the ids after a
 * boundary do not depend on what precedes it, and as a second guard the last `count +
 * PRECUT_MARGIN` ids of both cuts must agree. Grows c until they do; undefined (tokenize the
 * whole text) when c reaches the whole text or no boundary is near a cut.
 */
function tailIds(toContentIds: (text: string) => number[], text: string, count: number): number[] | undefined {
  const needed = count + PRECUT_MARGIN;
  const cutFrom = (chars: number) => {
    const start = wordBoundaryAtOrBefore(text, text.length - chars);
    return start < 0 ? undefined : toContentIds(text.slice(start));
  };
  let shorter: number[] | undefined;
  for (let chars = Math.max(1024, count * 4); 2 * chars < text.length; chars *= 2) {
    shorter ??= cutFrom(chars);
    const longer = cutFrom(2 * chars);
    if (shorter === undefined || longer === undefined) return undefined;
    if (shorter.length >= needed && longer.length >= needed) {
      const a = shorter.slice(shorter.length - needed);
      const b = longer.slice(longer.length - needed);
      if (a.every((id, i) => id === b[i])) return longer.slice(longer.length - count);
    }
    shorter = longer;
  }
  return undefined;
}

/** Where a prompt may be split from its response: after a newline, which every format ends a turn header with. */
export const PROMPT_BOUNDARY = '\n';
/** Prompt encodings remembered; the responses of a pair arrive next to each other, so a few suffice. */
const PROMPT_MEMO_SIZE = 32;

/** `compute`, remembering the last PROMPT_MEMO_SIZE answers (first in, first out). */
function memoized(compute: (text: string) => number[]): (text: string) => number[] {
  const memo = new Map<string, number[]>();
  return (text) => {
    let ids = memo.get(text);
    if (ids === undefined) {
      ids = compute(text);
      if (memo.size >= PROMPT_MEMO_SIZE) memo.delete(memo.keys().next().value as string);
      memo.set(text, ids);
    }
    return ids;
  };
}

/** The fields of tokenizer.json the split proof reads; the rest of the file is not looked at here. */
interface TokenizerJsonShape {
  normalizer?: NormalizerJson | null;
  pre_tokenizer?: unknown;
  model?: {
    type?: string;
    dropout?: number | null;
    end_of_word_suffix?: string | null;
    continuing_subword_suffix?: string | null;
    byte_fallback?: boolean;
    vocab?: Record<string, number>;
    merges?: Array<string | [string, string]>;
  };
  added_tokens?: Array<{ content: string; lstrip?: boolean; rstrip?: boolean; single_word?: boolean }>;
}
interface NormalizerJson {
  type: string;
  normalizers?: NormalizerJson[];
  prepend?: string;
  pattern?: { String?: string; Regex?: string };
  content?: string;
}

/**
 * Why tokenizing `prompt + response` as `ids(prompt) ++ tail(response)` could differ from
 * tokenizing the text whole, for a prompt that ends with PROMPT_BOUNDARY (`\n`); undefined when it
 * cannot. The argument, step by step through @huggingface/tokenizers' encode:
 * - added-token splitting (ours for missed special tokens, then the library's before and after
 *   normalization) cannot match across the boundary when no added token contains `\n`, and with
 *   no lstrip/rstrip/single_word no section trims into its neighbour;
 * - the normalizer is made of Prepend (only the start of a section changes, and `ids(\n)` carries
 *   the same start, which the tail drops) and literal Replace rules that do not involve `\n` (no
 *   match can straddle it), so the boundary's section normalizes piecewise;
 * - no pre-tokenizer, so the section is one BPE word, and BPE merges only pairs listed in the
 *   merges; with no merge involving `\n`, the newline symbol never joins a neighbour, each side
 *   evolves on its own in the same rank (then left-to-right) order, and no suffix rules depend on
 *   where a word ends;
 * - the newline maps to a real id (itself or its byte-fallback `<0x0A>`), never to an unknown id that
 *   fuse_unk could join with unknowns on the other side.
 * Llama-2's tokenizer.json meets all of these (a test checks the consequence on every HH-RLHF test
 * conversation); anything else is tokenized whole.
 */
export function promptSplitBlocker(json: object, tokenizerConfig: object): string | undefined {
  const { normalizer, pre_tokenizer: preTokenizer, model, added_tokens: addedTokens = [] } = json as TokenizerJsonShape;
  const config = tokenizerConfig as { remove_space?: boolean; do_lowercase_and_remove_accent?: boolean };
  const boundary = PROMPT_BOUNDARY;
  if (config.remove_space || config.do_lowercase_and_remove_accent) return 'the tokenizer config rewrites whitespace or case across the text';
  if (model?.type !== 'BPE') return `the tokenizer model is ${model?.type ?? 'unknown'}, not BPE`;
  if (model.dropout || model.end_of_word_suffix || model.continuing_subword_suffix) return 'the BPE model uses dropout or word-position suffixes';
  if (preTokenizer !== null && preTokenizer !== undefined) return 'the tokenizer has a pre-tokenizer';
  const normalizerBlocker = (n: NormalizerJson | null | undefined): string | undefined => {
    if (!n) return undefined;
    if (n.type === 'Sequence') return (n.normalizers ?? []).map(normalizerBlocker).find((reason) => reason !== undefined);
    if (n.type === 'Prepend' && !(n.prepend ?? '').includes(boundary)) return undefined;
    const pattern = n.pattern?.String;
    if (n.type === 'Replace' && pattern !== undefined && !pattern.includes(boundary) && !(n.content ?? '').includes(boundary)) return undefined;
    return `the normalizer ${n.type} may act across a newline`;
  };
  const normalizerReason = normalizerBlocker(normalizer);
  if (normalizerReason) return normalizerReason;
  const merge = (model.merges ?? []).find((m) => (Array.isArray(m) ? m.join(' ') : m).includes(boundary));
  if (merge !== undefined) return `the BPE merge ${JSON.stringify(merge)} joins a newline with its neighbour`;
  const vocab = model.vocab ?? {};
  if (!(boundary in vocab) && !(model.byte_fallback && '<0x0A>' in vocab)) return 'a newline is an unknown token';
  const token = addedTokens.find((t) => t.content.includes(boundary) || t.lstrip || t.rstrip || t.single_word);
  if (token) return `the added token ${JSON.stringify(token.content)} can match or strip across a newline`;
  return undefined;
}

/**
 * Length of the part of `text` that may be tokenized apart from the rest: the text it shares with
 * `promptPrefix`, cut back to just after its last PROMPT_BOUNDARY; 0 when there is none.
 */
export function promptSplitPoint(text: string, promptPrefix: string): number {
  const limit = Math.min(text.length, promptPrefix.length);
  let common = 0;
  while (common < limit && text.charCodeAt(common) === promptPrefix.charCodeAt(common)) common++;
  return common === 0 ? 0 : text.lastIndexOf(PROMPT_BOUNDARY, common - 1) + 1;
}

/** The tokenizer and the settings every format shares. */
async function loadTokenizer(folder: TokenizerFolder, requestedMaxLength: number | undefined) {
  // ESM-only package: see promptFormat.ts.
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(folder.tokenizerJson, folder.tokenizerConfig);
  } catch (error) {
    // The library's message ("must contain a "model" property") does not say which file is at fault.
    const file = path.join(folder.dir, 'tokenizer.json');
    throw new ModelFolderError(
      `${file} is not a tokenizer the scorer can read (${(error as Error).message}). Re-save it with Python transformers: ` +
        '`AutoTokenizer.from_pretrained(<model id>).save_pretrained(<folder>)`.',
      file,
    );
  }
  const tokens: SpecialTokens = {
    bos: tokenText(folder.tokenizerConfig.bos_token),
    eos: tokenText(folder.tokenizerConfig.eos_token),
    unk: tokenText(folder.tokenizerConfig.unk_token),
    pad: tokenText(folder.tokenizerConfig.pad_token),
  };
  return { tokenizer, tokens, maxLength: resolveMaxLength(folder, requestedMaxLength), padId: resolvePadId(folder, tokenizer, tokens) };
}

export async function createEncoder(folder: TokenizerFolder, options: { maxLength?: number; template?: TextTemplateChoice; precutCharsPerToken?: number } = {}): Promise<Encoder> {
  const { tokenizer, tokens, maxLength, padId } = await loadTokenizer(folder, options.maxLength);
  const format = await createPromptFormat(folder.chatTemplate, tokens, options.template);
  const bos = tokens.bos;

  const toIds = specialAwareEncoder(tokenizer);
  const specials = postProcessorSpecials(tokenizer);
  if (maxLength <= specials.prefix + specials.suffix) throw new Error(`A maximum length of ${maxLength} tokens leaves no room for text next to the tokenizer's ${specials.prefix + specials.suffix} special tokens`);
  // A BOS string containing the boundary could be cut in two, and the prompt part would then decide BOS differently.
  const blocker =
    promptSplitBlocker(folder.tokenizerJson, folder.tokenizerConfig) ??
    (bos?.includes(PROMPT_BOUNDARY) ? 'the BOS token contains a newline' : undefined) ??
    (specials.suffix > 0 ? 'the tokenizer appends special tokens (they would land after the prompt part)' : undefined);
  const boundaryIds = toIds(PROMPT_BOUNDARY, false).length;
  // Keyed by text alone: whether the BOS is added depends on how the text starts, which a prompt decides.
  const promptIds = memoized((prompt) => toIds(prompt, !(bos && prompt.startsWith(bos))));

  /** `toIds(text)` as `ids(prompt) ++ tail`, the prompt's ids remembered (see promptSplitBlocker for why they agree). */
  const splitIds = (text: string, cut: number): number[] =>
    // The tail is tokenized behind a boundary of its own, which carries whatever the normalizer puts
    // at the start of a section, and those leading ids are dropped.
    promptIds(text.slice(0, cut)).concat(toIds(PROMPT_BOUNDARY + text.slice(cut), false).slice(boundaryIds));

  const precutChars = maxLength * (options.precutCharsPerToken ?? PRECUT_CHARS_PER_TOKEN);
  const encodeText = (text: string, promptPrefix?: string): Encoded => {
    // Chat templates often emit the BOS themselves; letting the post-processor add another would
    // give `<s><s>`, a sequence the model never saw in training.
    const addSpecialTokens = !(bos && text.startsWith(bos));
    if (text.length > precutChars) {
      const prefixIds = addSpecialTokens ? specials.prefixIds : [];
      const suffixIds = addSpecialTokens ? specials.suffixIds : [];
      const tail = tailIds((part) => toIds(part, false), text, maxLength - prefixIds.length - suffixIds.length);
      if (tail) return { ids: [...prefixIds, ...tail, ...suffixIds], truncated: true };
    }
    const cut = promptPrefix === undefined || blocker !== undefined ? 0 : promptSplitPoint(text, promptPrefix);
    const ids = cut > 0 ? splitIds(text, cut) : toIds(text, addSpecialTokens);
    if (ids.length <= maxLength) return { ids, truncated: false };
    // Left truncation (RewardBench's truncation_side="left": the end of the response is what is
    // judged), the Hugging Face way: the content is cut and the special tokens the tokenizer adds
    // stay, so the model still sees BOS + the last `max − 1` tokens, not a sequence with no BOS.
    const prefix = addSpecialTokens ? specials.prefix : 0;
    const suffix = addSpecialTokens ? specials.suffix : 0;
    const content = ids.slice(prefix, ids.length - suffix);
    return { ids: [...ids.slice(0, prefix), ...content.slice(content.length - (maxLength - prefix - suffix)), ...ids.slice(ids.length - suffix)], truncated: true };
  };

  return {
    format: format.name,
    maxLength,
    padId,
    promptReuse: blocker === undefined ? { enabled: true } : { enabled: false, reason: blocker },
    render: (messages) => format.render(messages),
    promptPrefix: (prompt, response) => format.promptPrefix(prompt, response),
    encodeText,
    encode: (messages) => encodeText(format.render(messages)),
    keptText(text) {
      const encoded = encodeText(text);
      if (!encoded.truncated) return undefined;
      const addSpecialTokens = !(bos && text.startsWith(bos));
      const prefix = addSpecialTokens ? specials.prefix : 0;
      const suffix = addSpecialTokens ? specials.suffix : 0;
      return tokenizer.decode(encoded.ids.slice(prefix, encoded.ids.length - suffix), { skip_special_tokens: false });
    },
    input(prompt, response) {
      const text = format.render([...prompt, ...response]);
      return { text, encode: () => encodeText(text, format.promptPrefix(prompt, response)) };
    },
  };
}

interface Segment {
  ids: number[];
  typeIds: number[];
}

/** How the post-processor joins a pair: `before` A `between` B `after`, and the segment id of each text. */
interface PairLayout {
  before: Segment;
  between: Segment;
  after: Segment;
  typeA: number;
  typeB: number;
}

function indexOfRun(haystack: readonly number[], needle: readonly number[], from: number): number {
  for (let start = from; start + needle.length <= haystack.length; start++) {
    if (needle.every((id, offset) => haystack[start + offset] === id)) return start;
  }
  return -1;
}

/**
 * Learns the pair layout from the tokenizer itself, by joining two one-token probes: whatever the
 * post-processor (BERT, RoBERTa, a template, none) adds around and between the texts is what is
 * left. Each text of a pair is tokenized on its own before post-processing, so the layout holds for
 * any pair, and truncation can then cut the texts without touching the special tokens.
 */
function pairLayout(tokenizer: Tokenizer): PairLayout {
  const alone = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).ids;
  const [a, b] = [alone('a'), alone('b')];
  const joined = tokenizer.encode('a', { text_pair: 'b', return_token_type_ids: true });
  const startA = a.length === 0 ? -1 : indexOfRun(joined.ids, a, 0);
  const startB = startA < 0 || b.length === 0 ? -1 : indexOfRun(joined.ids, b, startA + a.length);
  if (startB < 0) {
    throw new Error(`The tokenizer's post-processor does not join a text pair as <special tokens> A <special tokens> B <special tokens>; the text-pair template cannot be used with it.`);
  }
  const segment = (from: number, to: number): Segment => ({ ids: joined.ids.slice(from, to), typeIds: joined.token_type_ids.slice(from, to) });
  return {
    before: segment(0, startA),
    between: segment(startA + a.length, startB),
    after: segment(startB + b.length, joined.ids.length),
    typeA: joined.token_type_ids[startA],
    typeB: joined.token_type_ids[startB],
  };
}

export async function createPairEncoder(folder: TokenizerFolder, options: { maxLength?: number; precutCharsPerToken?: number } = {}): Promise<PairEncoder> {
  const { tokenizer, maxLength, padId } = await loadTokenizer(folder, options.maxLength);
  const layout = pairLayout(tokenizer);
  const { before, between, after } = layout;
  const specials = before.ids.length + between.ids.length + after.ids.length;
  if (specials >= maxLength) throw new Error(`A maximum length of ${maxLength} tokens leaves no room for text next to the ${specials} special tokens of a pair`);
  const toIds = specialAwareEncoder(tokenizer);
  // Truncation keeps at most the last maxLength ids of either text, so a very long one is cut first.
  const precutChars = maxLength * (options.precutCharsPerToken ?? PRECUT_CHARS_PER_TOKEN);
  const textIds = (text: string) => (text.length > precutChars ? tailIds((part) => toIds(part, false), text, maxLength) : undefined) ?? toIds(text, false);
  // Both responses of a pair share the prompt: tokenize it once.
  const promptIds = memoized(textIds);

  const cut = (first: string, second: string) => {
    const a = promptIds(first);
    const b = textIds(second);
    const excess = Math.max(0, specials + a.length + b.length - maxLength);
    return { keptA: a.slice(Math.min(excess, a.length)), keptB: b.slice(Math.max(0, excess - a.length)), excess };
  };
  const encodePair = (first: string, second: string): Encoded => {
    const { keptA, keptB, excess } = cut(first, second);
    return {
      ids: [...before.ids, ...keptA, ...between.ids, ...keptB, ...after.ids],
      typeIds: [
        ...before.typeIds,
        ...new Array<number>(keptA.length).fill(layout.typeA),
        ...between.typeIds,
        ...new Array<number>(keptB.length).fill(layout.typeB),
        ...after.typeIds,
      ],
      truncated: excess > 0,
    };
  };

  return {
    format: textPairFormat.name,
    maxLength,
    padId,
    encodePair,
    keptPair(first, second) {
      const { keptA, keptB, excess } = cut(first, second);
      if (excess === 0) return undefined;
      const decode = (ids: number[]) => (ids.length === 0 ? '' : tokenizer.decode(ids, { skip_special_tokens: false }));
      return [decode(keptA), decode(keptB)];
    },
    input(prompt, response) {
      const [first, second] = textPairFormat.renderPair(prompt, response);
      // JSON keeps the two texts apart, so no other pair has the same cache text.
      return { text: JSON.stringify([first, second]), encode: () => encodePair(first, second) };
    },
  };
}

/** The encoder for a template choice: text-pair, or a format that renders one text. */
export function createItemEncoder(folder: TokenizerFolder, options: { maxLength?: number; template?: TemplateChoice } = {}): Promise<ItemEncoder> {
  const { template, ...rest } = options;
  return template === 'text-pair' ? createPairEncoder(folder, rest) : createEncoder(folder, { ...rest, template });
}
