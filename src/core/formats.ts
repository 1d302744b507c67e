/**
 * Preference formats: how each dataset shape maps onto a {@link Pair}. Detection is by shape (which
 * fields a record has), so a file is read the same way whatever its name.
 */
import type { ReviewLabel } from './annotationTypes';
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
  /**
   * The record rewritten so that it reads back with `label` (relative to the pair's a / b), the way
   * this format records a judgement; fields are kept in their order. Undefined when the format has no
   * way to say it (a tie in chosen / rejected data): the caller keeps or drops the record and says why.
   * Absent when the format's label cannot be rewritten at all.
   */
  relabel?(record: Record<string, unknown>, label: ReviewLabel): Record<string, unknown> | undefined;
}

/**
 * A shape that is recognised so it can be explained, but that holds no pairs to review: KTO's
 * unpaired thumbs-up/down records, or arena battle outcomes without the text. Reading it as pairs
 * would invent comparisons that are not there, or show empty ones.
 */
export interface UnpairedFormat {
  readonly name: string;
  readonly explanation: string;
  matches(record: Record<string, unknown>): boolean;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
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

/**
 * A short, safe rendering of a bad value for an error message: a value nested too deep to stringify
 * must not turn one bad line into a failed file, and a huge one must not become a huge message.
 */
export function preview(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = Array.isArray(value) ? '[…]' : typeof value === 'object' && value !== null ? '{…}' : String(value);
  }
  text ??= String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
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
        throw new RecordError(`${where}: unsupported content part ${preview(part)}`);
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

/** Metadata without the keys the record lacks, or undefined when it has none, so pairs stay small. */
function meta(entries: Record<string, unknown>): Record<string, unknown> | undefined {
  const kept = Object.entries(entries).filter(([, value]) => value !== undefined && value !== null);
  return kept.length ? Object.fromEntries(kept) : undefined;
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

/** The record with the values of each pair of fields exchanged, each key left where it was. */
function swapFields(record: Record<string, unknown>, fields: readonly (readonly [string, string])[]): Record<string, unknown> {
  const swapped = { ...record };
  for (const [x, y] of fields) [swapped[x], swapped[y]] = [record[y], record[x]];
  return swapped;
}

/**
 * Chosen / rejected data says only which response is better, and response A is the chosen one: A
 * better is the record as it is, B better exchanges the two sides (and whatever else belongs to a
 * side); a tie or "both bad" has no chosen response to write.
 */
function chosenRejectedRelabel(fields: readonly (readonly [string, string])[]): NonNullable<PreferenceFormat['relabel']> {
  return (record, label) => (label === 'a' ? { ...record } : label === 'b' ? swapFields(record, fields) : undefined);
}

/**
 * TRL conversational lists; UltraFeedback binarized also keeps the chosen conversation as
 * `messages` (its SFT view), which must follow the chosen side or it would contradict the label.
 */
/** Deep equality of two JSON values; values too deep to compare count as different. */
function sameJson(x: unknown, y: unknown): boolean {
  try {
    return JSON.stringify(x) === JSON.stringify(y);
  } catch {
    return false;
  }
}

function conversationalRelabel(fields: readonly (readonly [string, string])[]): NonNullable<PreferenceFormat['relabel']> {
  const relabel = chosenRejectedRelabel(fields);
  return (record, label) => {
    const relabelled = relabel(record, label);
    if (label === 'b' && relabelled && sameJson(record.messages, record.chosen)) {
      relabelled.messages = record.rejected;
    }
    return relabelled;
  };
}

const CHOSEN_REJECTED = [['chosen', 'rejected']] as const;

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
  relabel: chosenRejectedRelabel(CHOSEN_REJECTED),
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
  relabel: chosenRejectedRelabel(CHOSEN_REJECTED),
};

// ---------------------------------------------------------------------------------------------
// TRL conversational (also Tulu 2.5 preference data): message lists.

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
  relabel: conversationalRelabel(CHOSEN_REJECTED),
};

/**
 * UltraFeedback binarized is TRL conversational plus the ratings that chose the pair. It has its own
 * name so `plens inspect` and the editor say which dataset shape was recognised, and the ratings
 * are kept: a pair whose chosen response was rated only slightly higher is a weak label.
 */
export const ultraFeedbackBinarized: PreferenceFormat = {
  name: 'ultrafeedback-binarized',
  title: 'UltraFeedback binarized (chosen / rejected messages with score_chosen / score_rejected)',
  matches: (r) => trlConversational.matches(r) && typeof r.score_chosen === 'number' && typeof r.score_rejected === 'number',
  toPair(r, line) {
    const scoreA = field(r, 'score_chosen', isNumber, 'a number');
    const scoreB = field(r, 'score_rejected', isNumber, 'a number');
    const pair = trlConversational.toPair(r, line);
    return { ...pair, meta: meta({ scoreA, scoreB, promptId: isString(r.prompt_id) ? r.prompt_id : undefined }) };
  },
  // The ratings belong to the responses, so they change sides with them.
  relabel: conversationalRelabel([...CHOSEN_REJECTED, ['score_chosen', 'score_rejected']]),
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
  relabel: chosenRejectedRelabel(CHOSEN_REJECTED),
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
  relabel: chosenRejectedRelabel([['chosen_messages', 'rejected_messages']]),
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
      throw new RecordError(`field "label" should be 1 or 2, got ${preview(label)}`);
    }
    return {
      line,
      prompt: [{ role: 'user', content: textField(r, 'input') }],
      a: [{ role: 'assistant', content: textField(r, 'output_1') }],
      b: [{ role: 'assistant', content: textField(r, 'output_2') }],
      label: Number(label) === 1 ? 'a' : 'b',
    };
  },
  relabel(r, label) {
    if (label !== 'a' && label !== 'b') return undefined;
    const value = label === 'a' ? 1 : 2;
    // Some exports spell the label as a string; the rewritten record keeps the file's spelling.
    return { ...r, label: isString(r.label) ? String(value) : value };
  },
};

/** PandaLM's three annotators vote 1, 2 or 0 (tie); the majority wins, no majority is a tie. */
function pandaLmMajority(r: Record<string, unknown>): Preference {
  const votes = [r.annotator1, r.annotator2, r.annotator3].filter((v) => v !== undefined && v !== null);
  if (votes.length === 0) return null;
  const counts = new Map<Preference, number>();
  for (const vote of votes) {
    const label: Preference = vote === 1 ? 'a' : vote === 2 ? 'b' : vote === 0 ? 'tie' : null;
    if (label === null) throw new RecordError(`annotator votes should be 0, 1 or 2, got ${preview(vote)}`);
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
  relabel(r, label) {
    if (label === 'both-bad') return undefined;
    const vote = label === 'a' ? 1 : label === 'b' ? 2 : 0;
    // The label is the annotators' majority, so the reviewer's verdict becomes every annotator's
    // vote: changing fewer could leave a majority that says otherwise.
    const relabelled = { ...r };
    for (const name of ['annotator1', 'annotator2', 'annotator3']) if (name in r) relabelled[name] = vote;
    return relabelled;
  },
};

// ---------------------------------------------------------------------------------------------
// Arena battles: Chatbot Arena / MT-bench human judgments, and the Kaggle competition's variant.

const ARENA_WINNERS: Readonly<Record<string, Preference>> = {
  model_a: 'a',
  model_b: 'b',
  tie: 'tie',
  'tie (bothbad)': 'tie',
};

const ARENA_WINNER_OF: Readonly<Record<ReviewLabel, string>> = {
  a: 'model_a',
  b: 'model_b',
  tie: 'tie',
  'both-bad': 'tie (bothbad)',
};

function arenaLabel(winner: string): Preference {
  if (!Object.hasOwn(ARENA_WINNERS, winner)) {
    throw new RecordError(`field "winner" should be model_a, model_b, tie or "tie (bothbad)", got ${preview(winner)}`);
  }
  return ARENA_WINNERS[winner];
}

/**
 * The conversation up to the answer to user turn `turn`. MT-bench human judgments judge turn 1 or
 * turn 2 of a two-turn conversation; cutting there keeps a turn-1 verdict from being shown against
 * the second answer too. For Chatbot Arena `turn` counts all turns, so nothing is cut.
 */
function throughTurn(messages: Message[], turn: number): Message[] {
  let users = 0;
  const end = messages.findIndex((m) => m.role === 'user' && ++users > turn);
  return end < 0 ? messages : messages.slice(0, end);
}

export const chatbotArena: PreferenceFormat = {
  name: 'chatbot-arena',
  title: 'Chatbot Arena / MT-bench judgments (conversation_a / conversation_b, winner)',
  matches: (r) => isMessageList(r.conversation_a) && isMessageList(r.conversation_b),
  toPair(r, line) {
    const winner = field(r, 'winner', isString, 'a string');
    let a = toMessages(field(r, 'conversation_a', Array.isArray, 'a list of messages'), 'conversation_a');
    let b = toMessages(field(r, 'conversation_b', Array.isArray, 'a list of messages'), 'conversation_b');
    if (isNumber(r.turn) && r.turn >= 1) [a, b] = [throughTurn(a, r.turn), throughTurn(b, r.turn)];
    return {
      line,
      ...splitCommonPrefix(a, b),
      label: arenaLabel(winner),
      meta: meta({
        modelA: r.model_a,
        modelB: r.model_b,
        judge: r.judge,
        questionId: r.question_id,
        turn: r.turn,
        bothBad: winner === 'tie (bothbad)' || undefined,
      }),
    };
  },
  relabel: (r, label) => ({ ...r, winner: ARENA_WINNER_OF[label] }),
};

/**
 * Kaggle's arena data stores each side as a JSON-encoded list of turns ('["turn 1", "turn 2"]'), with
 * null where a model gave no answer; later variants store plain strings. A string is taken as a list
 * only when it decodes to one made of strings and nulls.
 */
function kaggleTurns(r: Record<string, unknown>, name: string): string[] {
  const value = textField(r, name);
  if (value.startsWith('[')) {
    try {
      const list: unknown = JSON.parse(value);
      if (Array.isArray(list) && list.length > 0 && list.every((t) => t === null || isString(t))) {
        return list.map((t: string | null) => t ?? '');
      }
    } catch {
      // Not JSON: a single turn that happens to start with "[".
    }
  }
  return [value];
}

function kaggleLabel(r: Record<string, unknown>): Preference {
  // The WSDM Cup variant names the winner instead of one-hot columns.
  if (isString(r.winner)) return arenaLabel(r.winner);
  const columns = { winner_model_a: 'a', winner_model_b: 'b', winner_tie: 'tie' } as const;
  const hot = Object.entries(columns).filter(([name]) => r[name] === 1 || r[name] === true || r[name] === '1');
  if (hot.length !== 1) throw new RecordError('exactly one of winner_model_a, winner_model_b and winner_tie should be 1');
  return hot[0][1];
}

export const arenaKaggle: PreferenceFormat = {
  name: 'arena-kaggle',
  title: 'Chatbot Arena, Kaggle variant (prompt, response_a, response_b, winner_model_a / _b / _tie)',
  matches: (r) => 'response_a' in r && 'response_b' in r && ('winner_model_a' in r || isString(r.winner)),
  toPair(r, line) {
    const prompts = kaggleTurns(r, 'prompt');
    const conversation = (side: 'response_a' | 'response_b'): Message[] => {
      const answers = kaggleTurns(r, side);
      if (answers.length !== prompts.length) {
        throw new RecordError(`"prompt" has ${prompts.length} turns but "${side}" has ${answers.length}`);
      }
      return prompts.flatMap((content, i) => [
        { role: 'user', content },
        { role: 'assistant', content: answers[i] },
      ]);
    };
    return {
      line,
      ...splitCommonPrefix(conversation('response_a'), conversation('response_b')),
      label: kaggleLabel(r),
      meta: meta({ modelA: r.model_a, modelB: r.model_b, id: r.id, bothBad: r.winner === 'tie (bothbad)' || undefined }),
    };
  },
  relabel(r, label) {
    if (isString(r.winner)) return { ...r, winner: ARENA_WINNER_OF[label] };
    // The one-hot columns have no "both bad".
    if (label === 'both-bad') return undefined;
    const hot = { a: 'winner_model_a', b: 'winner_model_b', tie: 'winner_tie' }[label];
    // Written in the file's own spelling of "1" (a number, a boolean or a string).
    const on = [r.winner_model_a, r.winner_model_b, r.winner_tie].find((v) => v === 1 || v === true || v === '1') ?? 1;
    const off = on === true ? false : on === '1' ? '0' : 0;
    const relabelled = { ...r };
    for (const column of ['winner_model_a', 'winner_model_b', 'winner_tie']) relabelled[column] = column === hot ? on : off;
    return relabelled;
  },
};

// ---------------------------------------------------------------------------------------------
// OpenAI summarize-from-feedback comparisons.

/** The post as the paper's policies saw it (its TL;DR query, without the trailing "TL;DR:"). */
function summarizeQuery(info: Record<string, unknown>): string {
  const body = isString(info.post) ? ['POST', info.post] : isString(info.article) ? ['ARTICLE', info.article] : undefined;
  if (!body) throw new RecordError('field "info" should have a "post" (Reddit) or "article" (CNN/DM) string');
  const parts = [
    isString(info.subreddit) ? `SUBREDDIT: r/${info.subreddit}` : undefined,
    isString(info.title) ? `TITLE: ${info.title}` : undefined,
    `${body[0]}: ${body[1]}`,
  ];
  return parts.filter(isString).join('\n\n');
}

function summaryText(summary: unknown, where: string): string {
  if (!isObject(summary) || !isString(summary.text)) throw new RecordError(`${where} should be {"text": …}`);
  return summary.text;
}

export const summarizeFromFeedback: PreferenceFormat = {
  name: 'summarize-from-feedback',
  title: 'OpenAI summarize-from-feedback (info, summaries, choice)',
  matches: (r) => isObject(r.info) && Array.isArray(r.summaries) && 'choice' in r,
  toPair(r, line) {
    const info = field(r, 'info', isObject, 'an object');
    const summaries = field(r, 'summaries', Array.isArray, 'a list of two summaries');
    if (summaries.length !== 2) throw new RecordError(`field "summaries" should hold 2 summaries, got ${summaries.length}`);
    if (r.choice !== 0 && r.choice !== 1) throw new RecordError(`field "choice" should be 0 or 1, got ${preview(r.choice)}`);
    const [first, second] = summaries as Record<string, unknown>[];
    return {
      line,
      prompt: [{ role: 'user', content: summarizeQuery(info) }],
      a: [{ role: 'assistant', content: summaryText(first, 'summaries[0]') }],
      b: [{ role: 'assistant', content: summaryText(second, 'summaries[1]') }],
      label: r.choice === 0 ? 'a' : 'b',
      meta: meta({
        policyA: first.policy,
        policyB: second.policy,
        worker: r.worker,
        confidence: isObject(r.extra) ? r.extra.confidence : undefined,
        postId: info.id,
      }),
    };
  },
  relabel: (r, label) => (label === 'a' || label === 'b' ? { ...r, choice: label === 'a' ? 0 : 1 } : undefined),
};

// ---------------------------------------------------------------------------------------------
// HelpSteer3 preference: a signed strength instead of a chosen side.

export const helpSteer3: PreferenceFormat = {
  name: 'helpsteer3',
  title: 'HelpSteer3 preference (context, response1, response2, overall_preference)',
  matches: (r) => isMessageList(r.context) && 'response1' in r && 'response2' in r && 'overall_preference' in r,
  toPair(r, line) {
    const strength = field(r, 'overall_preference', isNumber, 'a number from -3 to 3');
    if (!Number.isInteger(strength) || Math.abs(strength) > 3) {
      throw new RecordError(`field "overall_preference" should be an integer from -3 to 3, got ${strength}`);
    }
    return {
      line,
      prompt: toMessages(field(r, 'context', Array.isArray, 'a list of messages'), 'context'),
      a: [{ role: 'assistant', content: textField(r, 'response1') }],
      b: [{ role: 'assistant', content: textField(r, 'response2') }],
      // Negative means response1 is better; the magnitude is how much (kept as `strength`).
      label: strength < 0 ? 'a' : strength > 0 ? 'b' : 'tie',
      meta: meta({ strength, domain: r.domain, language: r.language }),
    };
  },
  relabel(r, label) {
    if (label === 'both-bad') return undefined;
    if (label === 'tie') return { ...r, overall_preference: 0 };
    // The sign says which response is better, the magnitude by how much. A reviewer's verdict has no
    // strength: a flipped preference keeps the file's, a former tie claims the least there is (1).
    const magnitude = Math.abs(isNumber(r.overall_preference) ? r.overall_preference : 0) || 1;
    return { ...r, overall_preference: label === 'a' ? -magnitude : magnitude };
  },
};

// ---------------------------------------------------------------------------------------------
// Label Studio JSON export of a pairwise task.

/**
 * Label Studio names task fields after the project's labelling config, which the export does not
 * include; these are the names its pairwise and RLHF templates and common setups use, left first.
 */
const LABEL_STUDIO_SIDES: readonly (readonly [string, string])[] = [
  ['answer1', 'answer2'],
  ['text1', 'text2'],
  ['response1', 'response2'],
  ['response_a', 'response_b'],
  ['output_1', 'output_2'],
  ['left', 'right'],
];
const LABEL_STUDIO_PROMPTS = ['prompt', 'instruction', 'question', 'input', 'context'];

function labelStudioVotes(annotations: unknown[]): { left: number; right: number } {
  const votes = { left: 0, right: 0 };
  for (const annotation of annotations) {
    if (!isObject(annotation) || annotation.was_cancelled === true || !Array.isArray(annotation.result)) continue;
    for (const result of annotation.result) {
      const selected = isObject(result) && result.type === 'pairwise' && isObject(result.value) ? result.value.selected : undefined;
      if (selected === 'left' || selected === 'right') votes[selected]++;
    }
  }
  return votes;
}

/**
 * No `relabel`: the label is the count of annotators' pairwise votes, and rewriting them would put
 * the reviewer's verdict in other people's names; export to TRL instead.
 */
export const labelStudioPairwise: PreferenceFormat = {
  name: 'label-studio-pairwise',
  title: 'Label Studio export of pairwise tasks (data, annotations with a pairwise result)',
  matches: (r) => isObject(r.data) && Array.isArray(r.annotations),
  toPair(r, line) {
    const data = field(r, 'data', isObject, 'an object');
    const sides = LABEL_STUDIO_SIDES.find(([left, right]) => left in data && right in data);
    if (!sides) {
      const known = LABEL_STUDIO_SIDES.map((pair) => pair.join('/')).join(', ');
      throw new RecordError(`"data" has no pair of answer fields (${known}); it has ${Object.keys(data).join(', ')}`);
    }
    const promptField = LABEL_STUDIO_PROMPTS.find((name) => isString(data[name]));
    const votes = labelStudioVotes(field(r, 'annotations', Array.isArray, 'a list'));
    // Unannotated tasks have no label; annotators who split evenly have none either, and the votes say so.
    const label: Preference = votes.left > votes.right ? 'a' : votes.right > votes.left ? 'b' : null;
    return {
      line,
      prompt: promptField ? [{ role: 'user', content: data[promptField] as string }] : [],
      a: [{ role: 'assistant', content: textField(data, sides[0]) }],
      b: [{ role: 'assistant', content: textField(data, sides[1]) }],
      label,
      meta: meta({ votes: votes.left + votes.right > 1 ? votes : undefined, taskId: r.id }),
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

export const arenaBattles: UnpairedFormat = {
  name: 'arena-battles',
  explanation:
    'arena battle outcomes without text: each record names two models (model_a, model_b) and a winner for a ' +
    'question_id, but holds neither the prompt nor the two answers, so there is nothing to review; join it with ' +
    'the questions and the models\' answers first (arena-hard-auto keeps them in question.jsonl and model_answer/)',
  matches: (r) =>
    isString(r.model_a) && isString(r.model_b) && r.winner !== undefined && !chatbotArena.matches(r) && !arenaKaggle.matches(r),
};

/**
 * Every pair format, most specific first: detection takes the first format that fits the most
 * sampled records, and HH-RLHF must win over the TRL standard shape it is a special case of.
 */
export const FORMATS: readonly PreferenceFormat[] = [
  hhRlhf,
  ultraFeedbackBinarized,
  trlConversational,
  llamaFactoryMessages,
  shareGptDpo,
  chatbotArena,
  arenaKaggle,
  summarizeFromFeedback,
  helpSteer3,
  labelStudioPairwise,
  llmbar,
  pandaLm,
  trlStandard,
];

export const UNPAIRED_FORMATS: readonly UnpairedFormat[] = [trlUnpaired, arenaBattles];

export function formatByName(name: string): PreferenceFormat | undefined {
  return FORMATS.find((f) => f.name === name);
}

/** The name of the first known shape, pair or not, that a record has: says what a misfit looks like. */
export function shapeOf(record: Record<string, unknown>): string | undefined {
  return [...FORMATS, ...UNPAIRED_FORMATS].find((f) => f.matches(record))?.name;
}
