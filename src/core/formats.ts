/**
 * Preference formats: how each dataset shape maps onto a {@link Pair}. Detection is by shape (which
 * fields a record has), so a file is read the same way whatever its name.
 */
import type { Message, Pair, Preference } from './pair';

/** A record that does not fit the format it is read with; the message says what is wrong. */
export class RecordError extends Error {}

export interface PreferenceFormat {
  /** Stable name, reported by `plens inspect` and shown in the editor. */
  readonly name: string;
  /** Human-readable description for pickers and messages. */
  readonly title: string;
  /** True when the record has this format's shape (cheap: field presence and types only). */
  matches(record: Record<string, unknown>): boolean;
  /** Reads the record; throws {@link RecordError} naming what is missing or wrong. */
  toPair(record: Record<string, unknown>, line: number): Pair;
}

/**
 * A shape that is recognised so it can be explained, but that holds no pairs (for example KTO's
 * unpaired thumbs-up/down records). Reading it as pairs would invent comparisons that are not there.
 */
export interface UnpairedFormat {
  readonly name: string;
  readonly explanation: string;
  matches(record: Record<string, unknown>): boolean;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isMessageList = (value: unknown): value is unknown[] =>
  Array.isArray(value) && value.length > 0 && value.every((m) => typeof m === 'object' && m !== null && 'role' in m);

function field<T>(record: Record<string, unknown>, name: string, check: (v: unknown) => v is T, expected: string): T {
  const value = record[name];
  if (value === undefined) throw new RecordError(`missing field "${name}"`);
  if (!check(value)) throw new RecordError(`field "${name}" should be ${expected}, got ${describe(value)}`);
  return value;
}

/**
 * A text field. Numbers and booleans are accepted as their JSON spelling: real data has them where a
 * pipeline parsed a model's answer "True" or "42" as JSON (PandaLM's test set does), and dropping
 * those records would lose their human labels.
 */
function textField(record: Record<string, unknown>, name: string): string {
  const value = record[name];
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return field(record, name, isString, 'a string');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Message content is a string in most datasets, but LLaMA-Factory v1 and OpenAI-style data use typed
 * parts (`[{type: "text", text|value}]`); only the text parts are kept.
 */
function contentText(content: unknown, where: string): string {
  if (isString(content)) return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        if (isString(part)) return part;
        const p = part as Record<string, unknown>;
        if (p && (p.type === undefined || p.type === 'text')) {
          const text = p.text ?? p.value;
          if (isString(text)) return text;
        }
        throw new RecordError(`${where}: unsupported content part ${JSON.stringify(part).slice(0, 80)}`);
      })
      .join('');
  }
  throw new RecordError(`${where}: content should be a string or a list of text parts, got ${describe(content)}`);
}

function toMessages(list: unknown[], where: string): Message[] {
  return list.map((item, i) => {
    const m = item as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || !isString(m.role)) {
      throw new RecordError(`${where}[${i}] should be a message with a string "role"`);
    }
    return { role: m.role, content: contentText(m.content, `${where}[${i}].content`) };
  });
}

const sameMessage = (x: Message, y: Message) => x.role === y.role && x.content === y.content;

/** Splits two full conversations into their shared prompt and the diverging responses. */
function splitCommonPrefix(chosen: Message[], rejected: Message[]): Pick<Pair, 'prompt' | 'a' | 'b'> {
  let shared = 0;
  while (shared < chosen.length && shared < rejected.length && sameMessage(chosen[shared], rejected[shared])) shared++;
  // Identical conversations (a known HH quirk) still have a response: the last turn of each.
  if (shared === chosen.length && shared === rejected.length) shared = Math.max(0, shared - 1);
  // The responses start at the first assistant turn after the shared part: a diverging user turn is
  // part of the response only when the transcripts differ before the final answer.
  return { prompt: chosen.slice(0, shared), a: chosen.slice(shared), b: rejected.slice(shared) };
}

// ---------------------------------------------------------------------------------------------
// HH-RLHF: whole transcripts as strings, "\n\nHuman: …\n\nAssistant: …".

const HH_TURN = /\n\n(Human|Assistant):[ ]?/g;
const ASSISTANT_MARKER = '\n\nAssistant:';

function parseTranscript(text: string, firstRole: string | undefined, where: string): Message[] {
  const messages: Message[] = [];
  let role = firstRole;
  let start = 0;
  HH_TURN.lastIndex = 0;
  for (let match = HH_TURN.exec(text); match; match = HH_TURN.exec(text)) {
    if (match.index > start || role !== undefined) {
      if (role === undefined) throw new RecordError(`${where}: text before the first "Human:" turn`);
      messages.push({ role, content: text.slice(start, match.index) });
    }
    role = match[1] === 'Human' ? 'user' : 'assistant';
    start = match.index + match[0].length;
  }
  if (role === undefined) throw new RecordError(`${where}: no "\\n\\nHuman:" / "\\n\\nAssistant:" turns`);
  messages.push({ role, content: text.slice(start) });
  return messages;
}

function commonPrefixLength(x: string, y: string): number {
  const n = Math.min(x.length, y.length);
  let i = 0;
  while (i < n && x.charCodeAt(i) === y.charCodeAt(i)) i++;
  return i;
}

export const hhRlhf: PreferenceFormat = {
  name: 'hh-rlhf',
  title: 'HH-RLHF transcripts (chosen / rejected)',
  matches: (r) =>
    isString(r.chosen) && isString(r.rejected) && r.prompt === undefined && r.chosen.includes(ASSISTANT_MARKER),
  toPair(r, line) {
    const chosen = field(r, 'chosen', isString, 'a string');
    const rejected = field(r, 'rejected', isString, 'a string');
    // The prompt is the longest common prefix, cut back to the last assistant marker inside it, so
    // a response that starts with the same words as the other keeps them.
    const prefix = chosen.slice(0, commonPrefixLength(chosen, rejected));
    const marker = prefix.lastIndexOf(ASSISTANT_MARKER);
    if (marker < 0) throw new RecordError('chosen and rejected share no prompt ending in "\\n\\nAssistant:"');
    let cut = marker + ASSISTANT_MARKER.length;
    if (chosen[cut] === ' ' && rejected[cut] === ' ') cut++;
    const prompt = parseTranscript(chosen.slice(0, marker), undefined, 'prompt');
    return {
      line,
      prompt,
      a: parseTranscript(chosen.slice(cut), 'assistant', 'chosen'),
      b: parseTranscript(rejected.slice(cut), 'assistant', 'rejected'),
      label: 'a',
    };
  },
};

// ---------------------------------------------------------------------------------------------
// TRL standard: plain strings, explicit prompt or implicit (prompt inside chosen/rejected).

export const trlStandard: PreferenceFormat = {
  name: 'trl-standard',
  title: 'TRL standard (prompt / chosen / rejected strings)',
  matches: (r) => isString(r.chosen) && isString(r.rejected) && (r.prompt === undefined || isString(r.prompt)),
  toPair(r, line) {
    const chosen = field(r, 'chosen', isString, 'a string');
    const rejected = field(r, 'rejected', isString, 'a string');
    if (r.prompt !== undefined) {
      const prompt = field(r, 'prompt', isString, 'a string');
      return {
        line,
        prompt: [{ role: 'user', content: prompt }],
        a: [{ role: 'assistant', content: chosen }],
        b: [{ role: 'assistant', content: rejected }],
        label: 'a',
      };
    }
    // Implicit prompt: TRL takes the longest common prefix of the two texts as the prompt.
    const shared = commonPrefixLength(chosen, rejected);
    return {
      line,
      prompt: shared > 0 ? [{ role: 'user', content: chosen.slice(0, shared) }] : [],
      a: [{ role: 'assistant', content: chosen.slice(shared) }],
      b: [{ role: 'assistant', content: rejected.slice(shared) }],
      label: 'a',
    };
  },
};

// ---------------------------------------------------------------------------------------------
// TRL conversational (also Tulu 2.5 preference data and UltraFeedback binarized): message lists.

export const trlConversational: PreferenceFormat = {
  name: 'trl-conversational',
  title: 'TRL conversational (chosen / rejected message lists)',
  matches: (r) => isMessageList(r.chosen) && isMessageList(r.rejected),
  toPair(r, line) {
    const chosen = toMessages(field(r, 'chosen', Array.isArray, 'a list of messages'), 'chosen');
    const rejected = toMessages(field(r, 'rejected', Array.isArray, 'a list of messages'), 'rejected');
    // UltraFeedback keeps `prompt` as a string while chosen/rejected hold the whole conversation, so
    // an explicit prompt is used only when the lists do not already start with the user's turn.
    const explicit = isMessageList(r.prompt) && chosen[0]?.role === 'assistant';
    if (explicit) {
      return { line, prompt: toMessages(r.prompt as unknown[], 'prompt'), a: chosen, b: rejected, label: 'a' };
    }
    return { line, ...splitCommonPrefix(chosen, rejected), label: 'a' };
  },
};

// ---------------------------------------------------------------------------------------------
// LLaMA-Factory: ShareGPT-style DPO (conversations + chosen/rejected turns) and v1 message lists.

const SHAREGPT_ROLES: Record<string, string> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  system: 'system',
  observation: 'tool',
  function_call: 'assistant',
};

function shareGptMessage(turn: unknown, where: string): Message {
  const t = turn as Record<string, unknown>;
  if (typeof t !== 'object' || t === null || !isString(t.from) || !isString(t.value)) {
    throw new RecordError(`${where} should be {"from", "value"}`);
  }
  return { role: SHAREGPT_ROLES[t.from] ?? t.from, content: t.value };
}

export const shareGptDpo: PreferenceFormat = {
  name: 'sharegpt-dpo',
  title: 'ShareGPT / LLaMA-Factory DPO (conversations + chosen / rejected)',
  matches: (r) => Array.isArray(r.conversations) && typeof r.chosen === 'object' && typeof r.rejected === 'object',
  toPair(r, line) {
    const conversations = field(r, 'conversations', Array.isArray, 'a list of turns');
    const system = isString(r.system) && r.system ? [{ role: 'system', content: r.system }] : [];
    return {
      line,
      prompt: [...system, ...conversations.map((t, i) => shareGptMessage(t, `conversations[${i}]`))],
      a: [shareGptMessage(r.chosen, 'chosen')],
      b: [shareGptMessage(r.rejected, 'rejected')],
      label: 'a',
    };
  },
};

export const llamaFactoryMessages: PreferenceFormat = {
  name: 'llama-factory-messages',
  title: 'LLaMA-Factory v1 (chosen_messages / rejected_messages)',
  matches: (r) => isMessageList(r.chosen_messages) && isMessageList(r.rejected_messages),
  toPair(r, line) {
    const chosen = toMessages(field(r, 'chosen_messages', Array.isArray, 'a list of messages'), 'chosen_messages');
    const rejected = toMessages(field(r, 'rejected_messages', Array.isArray, 'a list of messages'), 'rejected_messages');
    return { line, ...splitCommonPrefix(chosen, rejected), label: 'a' };
  },
};

// ---------------------------------------------------------------------------------------------
// Pairwise judgement sets: LLMBar / RewardBench style and PandaLM.

export const llmbar: PreferenceFormat = {
  name: 'llmbar',
  title: 'LLMBar / RewardBench style (input, output_1, output_2, label)',
  matches: (r) => 'output_1' in r && 'output_2' in r && 'label' in r,
  toPair(r, line) {
    const label = r.label;
    if (label !== 1 && label !== 2 && label !== '1' && label !== '2') {
      throw new RecordError(`field "label" should be 1 or 2, got ${JSON.stringify(label)}`);
    }
    return {
      line,
      prompt: [{ role: 'user', content: textField(r, 'input') }],
      a: [{ role: 'assistant', content: textField(r, 'output_1') }],
      b: [{ role: 'assistant', content: textField(r, 'output_2') }],
      label: Number(label) === 1 ? 'a' : 'b',
    };
  },
};

/** PandaLM's three annotators vote 1, 2 or 0 (tie); the majority wins, no majority is a tie. */
function pandaLmMajority(r: Record<string, unknown>): Preference {
  const votes = [r.annotator1, r.annotator2, r.annotator3].filter((v) => v !== undefined && v !== null);
  if (votes.length === 0) return null;
  const counts = new Map<Preference, number>();
  for (const vote of votes) {
    const label: Preference = vote === 1 ? 'a' : vote === 2 ? 'b' : vote === 0 ? 'tie' : null;
    if (label === null) throw new RecordError(`annotator votes should be 0, 1 or 2, got ${JSON.stringify(vote)}`);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const [best, bestCount] = [...counts].sort((x, y) => y[1] - x[1])[0];
  return bestCount * 2 > votes.length ? best : 'tie';
}

export const pandaLm: PreferenceFormat = {
  name: 'pandalm',
  title: 'PandaLM (instruction, input, response1, response2, annotator votes)',
  matches: (r) => 'response1' in r && 'response2' in r && 'annotator1' in r,
  toPair(r, line) {
    const instruction = textField(r, 'instruction');
    const input = isString(r.input) ? r.input : '';
    return {
      line,
      // PandaLM's own prompt puts the input after the instruction on a new paragraph.
      prompt: [{ role: 'user', content: input ? `${instruction}\n\n${input}` : instruction }],
      a: [{ role: 'assistant', content: textField(r, 'response1') }],
      b: [{ role: 'assistant', content: textField(r, 'response2') }],
      label: pandaLmMajority(r),
    };
  },
};

// ---------------------------------------------------------------------------------------------

export const trlUnpaired: UnpairedFormat = {
  name: 'trl-unpaired',
  explanation:
    'unpaired (KTO-style) records: each holds one completion with a thumbs up/down label, not two responses ' +
    'to compare, so there are no preference pairs to review',
  matches: (r) => r.completion !== undefined && typeof r.label === 'boolean' && r.chosen === undefined,
};

/**
 * Every pair format, most specific first: detection takes the first format that fits the most
 * sampled records, and HH-RLHF must win over the TRL standard shape it is a special case of.
 */
export const FORMATS: readonly PreferenceFormat[] = [
  hhRlhf,
  trlConversational,
  llamaFactoryMessages,
  shareGptDpo,
  llmbar,
  pandaLm,
  trlStandard,
];

export const UNPAIRED_FORMATS: readonly UnpairedFormat[] = [trlUnpaired];

export function formatByName(name: string): PreferenceFormat | undefined {
  return FORMATS.find((f) => f.name === name);
}
