/**
 * The keys the webview's hints show. The keys themselves are VS Code keybindings of the
 * `preferenceLens.review.*` commands; the host tells the webview which keys they are now (the
 * defaults in REVIEW_KEYS as changed by the user's keybindings.json), so a rebound key shows as such.
 */
import { REVIEW_ACTIONS, REVIEW_KEYS, type ReviewAction, type ReviewKeymap } from '../src/shared/reviewProtocol';

const NAMES: Record<string, string> = { down: '↓', up: '↑', pagedown: 'PgDn', pageup: 'PgUp', home: 'Home', end: 'End' };

let keymap: ReviewKeymap = Object.fromEntries(REVIEW_ACTIONS.map((action) => [action, [...REVIEW_KEYS[action].keys]])) as ReviewKeymap;

export function setKeymap(next: ReviewKeymap): void {
  keymap = next;
}

/** VS Code keybinding syntax ("shift+b", "ctrl+k j") as people write it ("Shift+B", "Ctrl+K J"); a lone letter stays lower case. */
export function prettyKey(binding: string): string {
  const chords = binding.trim().split(/\s+/);
  return chords
    .map((chord) =>
      chord
        .split('+')
        .map((part) => NAMES[part.toLowerCase()] ?? (part.length === 1 ? (chords.length === 1 && !chord.includes('+') ? part.toLowerCase() : part.toUpperCase()) : part[0].toUpperCase() + part.slice(1).toLowerCase()))
        .join('+'),
    )
    .join(' ');
}

/** Every key of `action`, for the key help ("j / ↓"); "no key" when the user unbound it. */
export function keysOf(action: ReviewAction): string {
  return keymap[action]?.length ? keymap[action].map(prettyKey).join(' / ') : 'no key';
}

/** The first key of `action`, for a button's hint. */
export function keyHint(action: ReviewAction): string {
  const first = keymap[action]?.[0];
  return first ? prettyKey(first) : 'no key';
}
