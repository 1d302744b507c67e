/**
 * The model-free label-noise checks in the review: counts in the header (each a button that shows
 * only those pairs), a "Check" filter for the toolbar, and badges on a pair and on its list row.
 */
import { CHECK_NAMES, CHECK_TITLES, type CheckName } from '../src/core/checkNames';
import { el } from './dom';

/** Short marks for the list rows, so a column of them reads at a glance. */
const MARKS: Record<CheckName, string> = {
  identical_responses: '≡',
  conflicting_duplicates: '⧉',
  near_duplicate_conflicts: '≈',
  empty_responses: '∅',
  diverging_transcripts: '⑂',
};

/** The header's line of check counts; only the checks that flag something, each a filter. */
export function renderCheckCounts(counts: Record<CheckName, number> | undefined, onShow: (check: CheckName) => void): HTMLElement | null {
  if (!counts) return null;
  const found = CHECK_NAMES.filter((name) => counts[name] > 0);
  return el(
    'div',
    { class: 'checks', 'data-testid': 'checks' },
    'Checks (no model): ',
    ...(found.length === 0
      ? ['nothing found']
      : found.map((name) => {
          const link = el('button', { class: 'link', 'data-testid': `check-count-${name}`, title: `Show only: ${CHECK_TITLES[name]}` }, `${MARKS[name]} ${CHECK_TITLES[name]}: ${counts[name]}`);
          link.addEventListener('click', () => onShow(name));
          return link;
        })),
  );
}

/** Options of the toolbar's "Check" filter: '' is every pair. */
export const CHECK_FILTERS: [CheckName | '', string][] = [['', 'Any'], ...CHECK_NAMES.map((name): [CheckName, string] => [name, CHECK_TITLES[name]])];

/** The badges of a pair's failed checks (pair view). */
export function checkBadges(checks: readonly CheckName[] | undefined): HTMLElement[] {
  return (checks ?? []).map((name) => el('span', { class: 'badge check', 'data-testid': `check-badge-${name}`, title: CHECK_TITLES[name] }, `${MARKS[name]} ${CHECK_TITLES[name]}`));
}

/** The marks of a list row's failed checks. */
export function checkMarks(checks: readonly CheckName[] | undefined): string {
  return (checks ?? []).map((name) => MARKS[name]).join('');
}
