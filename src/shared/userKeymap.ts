/**
 * The review keys as the user has them: the defaults from REVIEW_KEYS, changed by the rules of the
 * user's keybindings.json. VS Code has no API to read keybindings, so without this the review's hints
 * would show keys a user rebound. Pure: the host reads the file (src/editor/keybindingsFile.ts).
 */
import { parse, type ParseError } from 'jsonc-parser';
import { REVIEW_ACTIONS, REVIEW_KEYS, type ReviewAction, type ReviewKeymap } from './reviewProtocol';

const PREFIX = 'preferenceLens.review.';

interface KeybindingRule {
  key?: unknown;
  command?: unknown;
}

/** VS Code compares keys case-insensitively, modifiers in any order ("Shift+Ctrl+K" is "ctrl+shift+k"). */
const normalize = (key: string) =>
  key
    .toLowerCase()
    .trim()
    .split(/\s+/)
    .map((chord) => {
      const parts = chord.split('+');
      const last = parts.pop() ?? '';
      return [...parts.sort(), last].join('+');
    })
    .join(' ');

/**
 * The keys of each review action after the user's rules (keybindings.json text; comments and
 * trailing commas allowed): keys the user added come first, then the defaults the user did not remove
 * (`"command": "-preferenceLens.review.next"`, with or without a key). Unreadable text: the defaults.
 */
export function reviewKeymap(keybindingsJson: string | undefined): ReviewKeymap {
  const keymap = Object.fromEntries(REVIEW_ACTIONS.map((action) => [action, [...REVIEW_KEYS[action].keys]])) as ReviewKeymap;
  if (!keybindingsJson) return keymap;
  const errors: ParseError[] = [];
  const rules = parse(keybindingsJson, errors, { allowTrailingComma: true }) as unknown;
  if (!Array.isArray(rules)) return keymap;
  const added = new Map<ReviewAction, string[]>();
  for (const rule of rules as KeybindingRule[]) {
    if (typeof rule !== 'object' || rule === null || typeof rule.command !== 'string') continue;
    const removal = rule.command.startsWith('-');
    const command = removal ? rule.command.slice(1) : rule.command;
    if (!command.startsWith(PREFIX)) continue;
    const action = command.slice(PREFIX.length) as ReviewAction;
    if (!(action in REVIEW_KEYS)) continue;
    const key = typeof rule.key === 'string' && rule.key.trim() ? rule.key.trim() : undefined;
    if (removal) {
      keymap[action] = key ? keymap[action].filter((k) => normalize(k) !== normalize(key)) : [];
      added.set(action, key ? (added.get(action) ?? []).filter((k) => normalize(k) !== normalize(key)) : []);
    } else if (key) {
      added.set(action, [...(added.get(action) ?? []).filter((k) => normalize(k) !== normalize(key)), key]);
    }
  }
  for (const [action, keys] of added) {
    const defaults = keymap[action].filter((k) => !keys.some((added) => normalize(added) === normalize(k)));
    keymap[action] = [...keys, ...defaults];
  }
  return keymap;
}
