/**
 * Conversation → token ids, ready for padding: prompt format, tokenizer, BOS handling and left
 * truncation. @huggingface/tokenizers does no truncation or padding itself.
 */
import type { Tokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import type { Message } from '../core/pair';
import type { TokenizerFolder, TokenSpec } from './modelFolder';
import { createPromptFormat, type PromptFormat, type SpecialTokens } from './promptFormat';

/** Used when config.json does not say: Llama-2's context, the seed model's limit. */
export const DEFAULT_MAX_LENGTH = 4096;

export interface Encoded {
  ids: number[];
  /** True when the front of the conversation was cut to fit `maxLength`. */
  truncated: boolean;
}

export interface Encoder {
  format: PromptFormat['name'];
  maxLength: number;
  padId: number;
  /** The exact text the model reads (the score cache keys on it); cheap next to tokenizing it. */
  render(messages: readonly Message[]): string;
  /** Tokens of rendered text, left-truncated to `maxLength`. */
  encodeText(text: string): Encoded;
  encode(messages: readonly Message[]): Encoded;
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

export async function createEncoder(folder: TokenizerFolder, options: { maxLength?: number } = {}): Promise<Encoder> {
  // ESM-only package: see promptFormat.ts.
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tokenizer = new Tokenizer(folder.tokenizerJson, folder.tokenizerConfig);
  const tokens: SpecialTokens = {
    bos: tokenText(folder.tokenizerConfig.bos_token),
    eos: tokenText(folder.tokenizerConfig.eos_token),
    unk: tokenText(folder.tokenizerConfig.unk_token),
    pad: tokenText(folder.tokenizerConfig.pad_token),
  };
  const format = await createPromptFormat(folder.chatTemplate, tokens);
  const maxLength = resolveMaxLength(folder, options.maxLength);
  const padId = resolvePadId(folder, tokenizer, tokens);
  const bos = tokens.bos;

  const toIds = specialAwareEncoder(tokenizer);

  const encodeText = (text: string): Encoded => {
    // Chat templates often emit the BOS themselves; letting the post-processor add another would
    // give `<s><s>`, a sequence the model never saw in training.
    const ids = toIds(text, !(bos && text.startsWith(bos)));
    // Left truncation (RewardBench's truncation_side="left"): the end of the response is what is judged.
    if (ids.length <= maxLength) return { ids, truncated: false };
    return { ids: ids.slice(ids.length - maxLength), truncated: true };
  };

  return {
    format: format.name,
    maxLength,
    padId,
    render: (messages) => format.render(messages),
    encodeText,
    encode: (messages) => encodeText(format.render(messages)),
  };
}
