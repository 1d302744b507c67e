/**
 * Reading a conversation out of free text a user selected in an editor: an HH-RLHF transcript
 * ("Human: … Assistant: …") or a Tulu-formatted one ("<|user|>\n…\n<|assistant|>\n…"). Anything
 * else is a bare response.
 */
import type { Message } from './pair';

export interface SelectedConversation {
  prompt: Message[];
  response: Message[];
  /** How the text was read, for the result message. */
  form: 'hh-rlhf' | 'tulu' | 'response';
}

const HH_MARKER = /(?:^|\n\n)(Human|Assistant):[ ]?/g;
const TULU_MARKER = /(?:^|\n)<\|(system|user|assistant)\|>\n/g;

function splitTurns(text: string, marker: RegExp, role: (name: string) => string): Message[] {
  const turns: Message[] = [];
  const matches = [...text.matchAll(marker)];
  matches.forEach((match, i) => {
    const start = match.index! + match[0].length;
    const end = i + 1 < matches.length ? matches[i + 1].index! : text.length;
    turns.push({ role: role(match[1]), content: text.slice(start, end) });
  });
  return turns;
}

export function readSelectedConversation(selected: string): SelectedConversation {
  const text = selected.replace(/\r\n/g, '\n');
  const trimmed = text.replace(/^\s+/, '');
  const readAs = (form: 'hh-rlhf' | 'tulu', turns: Message[]): SelectedConversation | undefined => {
    // A conversation ends with the answer being scored; the turns before it are its prompt.
    if (turns.length < 2 || turns[turns.length - 1].role !== 'assistant') return undefined;
    return { prompt: turns.slice(0, -1), response: turns.slice(-1), form };
  };
  if (/^(Human|Assistant):/.test(trimmed)) {
    const read = readAs('hh-rlhf', splitTurns(trimmed, HH_MARKER, (name) => (name === 'Human' ? 'user' : 'assistant')));
    if (read) return read;
  }
  if (trimmed.startsWith('<|')) {
    const turns = splitTurns(trimmed, TULU_MARKER, (name) => name).map((turn) => ({
      ...turn,
      // The Tulu format ends assistant turns with EOS and separates turns by a newline.
      content: turn.content.replace(/\n$/, '').replace(/<\/s>$/, ''),
    }));
    const read = readAs('tulu', turns);
    if (read) return read;
  }
  return { prompt: [], response: [{ role: 'assistant', content: text }], form: 'response' };
}
