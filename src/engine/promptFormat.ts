/**
 * Turns a conversation into the exact text the reward model was trained on. A wrong newline or a
 * missing EOS shifts every score, so the format is a faithful copy of the training-time template.
 */
import type { Message } from '../core/pair';
import type { TemplateChoice } from './workerProtocol';

export interface SpecialTokens {
  bos?: string;
  eos?: string;
  unk?: string;
  pad?: string;
}

/** A format that renders the whole conversation as one text (a decoder RM's chat transcript). */
export interface TextFormat {
  kind: 'text';
  /** Shown to the user as ScorerInfo.template. */
  name: 'tulu' | 'chat_template';
  render(messages: readonly Message[]): string;
  /**
   * Text that `render([...prompt, ...response])` starts with and that depends on the prompt only, so
   * every response to one prompt shares it (the encoder tokenizes it once). It may run past the
   * point where the renderings diverge — the encoder only uses the part the full text starts with —
   * and is '' when the format cannot say.
   */
  promptPrefix(prompt: readonly Message[], response: readonly Message[]): string;
}

/**
 * A format whose input is two texts, joined by the tokenizer's post-processor (`[CLS] A [SEP] B
 * [SEP]`), as cross-encoder reward models (OpenAssistant's DeBERTa RMs) were trained on.
 */
export interface PairFormat {
  kind: 'pair';
  name: 'text-pair';
  renderPair(prompt: readonly Message[], response: readonly Message[]): [string, string];
}

export type PromptFormat = TextFormat | PairFormat;

/** `<|role|>\n`: how the tulu template opens every turn. */
function tuluHeader(role: string): string {
  if (role !== 'system' && role !== 'user' && role !== 'assistant') {
    // The template has no slot for other roles; dropping the turn would score a different conversation.
    throw new Error(`The tulu prompt format has no role "${role}" (only system, user, assistant)`);
  }
  return `<|${role}|>\n`;
}

function tuluTurn(message: Message, eosToken: string, last: boolean): string {
  const header = tuluHeader(message.role);
  if (message.role !== 'assistant') return `${header}${message.content}\n`;
  return `${header}${message.content}${eosToken}${last ? '' : '\n'}`;
}

/**
 * open-instruct's "tulu" template, which the Tulu 2/2.5 reward models were trained with:
 * `<|system|>\n…\n`, `<|user|>\n…\n`, and `<|assistant|>\n…</s>` with a `\n` after every assistant
 * turn but the last. (The model card's `<|user|>\n{message}\n<|assistant|>\n{response}` is the same
 * shape; the EOS comes from the template.) The BOS is the tokenizer's to add.
 */
export function renderTulu(messages: readonly Message[], eosToken: string): string {
  return messages.map((message, index) => tuluTurn(message, eosToken, index === messages.length - 1)).join('');
}

/**
 * The start of `renderTulu([...prompt, ...response])` that the prompt alone decides: every prompt
 * turn (none of them is the last) and the header of the first response turn, i.e. the text up to
 * and including `<|assistant|>\n`.
 */
export function tuluPromptPrefix(prompt: readonly Message[], response: readonly Message[], eosToken: string): string {
  if (response.length === 0) return '';
  return prompt.map((message) => tuluTurn(message, eosToken, false)).join('') + tuluHeader(response[0].role);
}

export function tuluFormat(eosToken: string): TextFormat {
  return {
    kind: 'text',
    name: 'tulu',
    render: (messages) => renderTulu(messages, eosToken),
    promptPrefix: (prompt, response) => tuluPromptPrefix(prompt, response, eosToken),
  };
}

/**
 * Text-pair input for DeBERTa-style reward models (OpenAssistant's), which were trained on
 * (question, answer) pairs rather than a chat transcript: the prompt turns' contents, then the
 * response turns' contents, each joined by a blank line.
 */
export function renderTextPair(prompt: readonly Message[], response: readonly Message[]): [string, string] {
  const join = (messages: readonly Message[]) => messages.map((message) => message.content).join('\n\n');
  return [join(prompt), join(response)];
}

export const textPairFormat: PairFormat = { kind: 'pair', name: 'text-pair', renderPair: renderTextPair };

/**
 * The model's own chat template, rendered as transformers' `apply_chat_template(tokenize=False)` does
 * for a finished conversation (no generation prompt).
 */
export async function chatTemplateFormat(source: string, tokens: SpecialTokens): Promise<TextFormat> {
  // @huggingface/jinja is ESM-only; a dynamic import keeps this CommonJS module loadable (esbuild inlines it).
  const { Template } = await import('@huggingface/jinja');
  const template = new Template(source);
  const render = (messages: readonly Message[], addGenerationPrompt: boolean) =>
    template.render({
      messages: messages.map(({ role, content }) => ({ role, content })),
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokens.bos ?? '',
      eos_token: tokens.eos ?? '',
      unk_token: tokens.unk ?? '',
      pad_token: tokens.pad ?? '',
    });
  return {
    kind: 'text',
    name: 'chat_template',
    render: (messages) => render(messages, false),
    // The generation prompt is how a template opens the reply, so it is usually where the response
    // starts; the encoder checks that the full text really begins with it.
    promptPrefix: (prompt) => {
      try {
        return render(prompt, true);
      } catch {
        // Templates may refuse a prompt on its own (e.g. one ending with an assistant turn) although
        // they render the whole conversation: then the text is simply tokenized whole.
        return '';
      }
    },
  };
}

/** Formats that render one text; `auto` is the model's chat template when it ships one, else tulu. */
export type TextTemplateChoice = Exclude<TemplateChoice, 'text-pair'>;

export async function createPromptFormat(chatTemplate: string | undefined, tokens: SpecialTokens, choice: TextTemplateChoice = 'auto'): Promise<TextFormat> {
  if (choice === 'chat_template' && chatTemplate === undefined) {
    throw new Error(
      'The template "chat_template" was asked for, but the model folder has no chat template (neither chat_template.jinja ' +
        'nor a "chat_template" in tokenizer_config.json). Choose "tulu" or "text-pair", or add the template to the folder.',
    );
  }
  if (chatTemplate !== undefined && choice !== 'tulu') return chatTemplateFormat(chatTemplate, tokens);
  const eos = tokens.eos;
  if (eos === undefined) {
    throw new Error(
      'The model has no chat template and no EOS token, so the tulu format cannot be rendered: add "eos_token" to ' +
        'tokenizer_config.json, or a chat_template.jinja to the model folder.',
    );
  }
  return tuluFormat(eos);
}
