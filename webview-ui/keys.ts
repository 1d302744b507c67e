/**
 * The keys the webview's hints show. The keys themselves are VS Code keybindings of the
 * `preferenceLens.review.*` commands (see REVIEW_KEYS); the webview only shows them.
 */
import { REVIEW_KEYS, type ReviewAction } from '../src/shared/reviewProtocol';

const NAMES: Record<string, string> = { down: '↓', up: '↑', pagedown: 'PgDn', pageup: 'PgUp', home: 'Home', end: 'End' };

/** VS Code keybinding syntax ("shift+b") as people write it ("Shift+B"). */
export function prettyKey(binding: string): string {
  return binding
    .split('+')
    .map((part) => NAMES[part] ?? (part.length === 1 ? part.toUpperCase() : part[0].toUpperCase() + part.slice(1)))
    .join('+')
    .replace(/^([A-Z])$/, (letter) => letter.toLowerCase());
}

export function keyHint(action: ReviewAction): string {
  return prettyKey(REVIEW_KEYS[action].keys[0]);
}
