/**
 * The pair view: one pair whole, its prompt turns and the two responses side by side (stacked on
 * narrow panels), rewards, margin, P(A ≻ B), the labels and the annotation buttons. Dataset text is
 * inserted as text nodes or as markdown made inert by ./markdown.ts; never as HTML.
 */
import type { Message, Preference } from '../src/core/pair';
import type { FieldValues, ReviewLabel } from '../src/core/annotationTypes';
import type { PairRow } from '../src/shared/reviewProtocol';
import { checkBadges } from './checks';
import { el } from './dom';
import { keyHint } from './keys';
import { renderMarkdown } from './markdown';

/** What the pair view needs from the page around it. */
export interface PairViewContext {
  /** Show message text as written instead of rendered markdown. */
  raw: boolean;
  /** Messages the reviewer unfolded, by "pair index/part/turn". */
  unfolded: Set<string>;
  rerender(): void;
  setLabel(row: PairRow, label: ReviewLabel): void;
  annotate(row: PairRow, values: FieldValues): void;
  editNote(row: PairRow): void;
}

/** Text longer than this is folded; markdown is not rendered past the markdown limit. */
const FOLD_CHARS = 4000;
const MARKDOWN_LIMIT = 100_000;

export const fmtReward = (x: number) => (Math.abs(x) >= 1000 ? x.toExponential(3) : x.toFixed(3));
export const fmtSigned = (x: number) => (x > 0 ? '+' : x < 0 ? '−' : '±') + fmtReward(Math.abs(x));
export const sideName = (p: Preference) => (p === 'a' ? 'A' : p === 'b' ? 'B' : p === 'tie' ? 'tie' : 'none');
export const reviewLabelName = (label: ReviewLabel) => (label === 'both-bad' ? 'both bad' : sideName(label));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Response shown on the left (blind mode may show B first). */
const leftSide = (row: PairRow): 'a' | 'b' => (row.blind?.swapped ? 'b' : 'a');
const otherSide = (side: 'a' | 'b'): 'a' | 'b' => (side === 'a' ? 'b' : 'a');

/** What "left is better" / "right is better" mean for this row: blind mode may swap the sides. */
export function sideLabel(row: PairRow, label: ReviewLabel): ReviewLabel {
  if (label === 'a') return leftSide(row);
  if (label === 'b') return otherSide(leftSide(row));
  return label;
}

export function button(label: string, onClick: () => void, testId?: string): HTMLButtonElement {
  const b = el('button', testId ? { 'data-testid': testId } : {}, label);
  b.addEventListener('click', onClick);
  return b;
}

/** One message's text: markdown or as written, folded when long, always inert (see markdown.ts). */
function renderText(context: PairViewContext, content: string, key: string): HTMLElement {
  const folded = content.length > FOLD_CHARS && !context.unfolded.has(key);
  const shown = folded ? content.slice(0, FOLD_CHARS) : content;
  const body =
    context.raw || content.length > MARKDOWN_LIMIT
      ? el('pre', { class: 'text' }, shown)
      : el('div', { class: 'text markdown' }, renderMarkdown(shown));
  if (!folded) return body;
  const more = button(`Show all ${content.length.toLocaleString()} characters`, () => {
    context.unfolded.add(key);
    context.rerender();
  });
  return el('div', { class: 'folded' }, body, more);
}

function renderMessages(context: PairViewContext, messages: Message[], key: string): HTMLElement {
  return el(
    'div',
    { class: 'messages' },
    ...messages.map((m, i) =>
      el('div', { class: `turn role-${m.role.replace(/[^a-z]/gi, '')}` }, el('div', { class: 'role' }, m.role), renderText(context, m.content, `${key}/${i}`)),
    ),
  );
}

const characters = (messages: Message[]) => messages.reduce((n, m) => n + m.content.length, 0);

function renderResponse(context: PairViewContext, row: PairRow, side: 'a' | 'b'): HTMLElement {
  // In blind mode the sides are named by position, so the name does not reveal the stored order.
  const name = row.blind ? (side === leftSide(row) ? 'Left response' : 'Right response') : `Response ${side.toUpperCase()}`;
  const score = row.score;
  const reward = score ? (side === 'a' ? score.rewardA : score.rewardB) : undefined;
  const preferred = score?.prefers === side;
  return el(
    'section',
    { class: `response${preferred ? ' preferred' : ''}`, 'aria-label': name },
    el(
      'div',
      { class: 'response-head' },
      el('span', { class: 'side' }, name),
      row.label === side ? el('span', { class: 'human-pick', title: 'The label in the file prefers this response' }, 'label ✓') : null,
      row.annotation?.label === side ? el('span', { class: 'reviewer-pick', title: 'You chose this response' }, 'you ✓') : null,
      preferred ? el('span', { class: 'model-pick', 'data-testid': `preferred-${side}`, title: 'The reward model prefers this response' }, '★ model') : null,
      row.blind ? null : el('span', { class: 'reward', 'data-testid': `reward-${side}` }, reward === undefined ? '…' : fmtReward(reward)),
    ),
    el('div', { class: 'length' }, `${characters(side === 'a' ? row.a : row.b)} chars`),
    renderMessages(context, side === 'a' ? row.a : row.b, `${row.index}/${side}`),
  );
}

/** The label buttons, by the side they name on screen. */
const LABEL_BUTTONS: [ReviewLabel, 'labelLeft' | 'labelRight' | 'labelTie' | 'labelBothBad', string][] = [
  ['a', 'labelLeft', 'A is better'],
  ['b', 'labelRight', 'B is better'],
  ['tie', 'labelTie', 'Tie'],
  ['both-bad', 'labelBothBad', 'Both bad'],
];

function toggle(label: string, key: string, pressed: boolean, onClick: () => void, testId: string): HTMLButtonElement {
  const b = button(`${label} (${key})`, onClick, testId);
  b.setAttribute('aria-pressed', String(pressed));
  b.setAttribute('aria-keyshortcuts', key);
  return b;
}

function renderAnnotationBar(context: PairViewContext, row: PairRow): HTMLElement {
  const a = row.annotation ?? {};
  const title = (label: ReviewLabel, plain: string) => (row.blind && (label === 'a' || label === 'b') ? (label === 'a' ? 'Left is better' : 'Right is better') : plain);
  return el(
    'div',
    { class: 'annotation-bar', role: 'toolbar', 'aria-label': 'Annotate this pair' },
    ...LABEL_BUTTONS.map(([label, action, plain]) =>
      toggle(title(label, plain), keyHint(action), a.label === sideLabel(row, label), () => context.setLabel(row, sideLabel(row, label)), `label-${label}`),
    ),
    toggle('Flag', keyHint('flag'), a.flagged === true, () => context.annotate(row, { flagged: a.flagged ? null : true }), 'flag'),
    toggle('Reviewed', keyHint('reviewed'), a.reviewed === true, () => context.annotate(row, { reviewed: a.reviewed ? null : true }), 'reviewed'),
    toggle('Note', keyHint('note'), Boolean(a.note), () => context.editNote(row), 'note'),
    a.note ? el('span', { class: 'note', 'data-testid': 'note-text' }, a.note) : null,
  );
}

/** Who the pair is assigned to, each annotator's label and the adjudicator's decision: what an adjudicator weighs. */
function renderTeamLine(row: PairRow): HTMLElement | null {
  if (!row.annotators && !row.assignees && !row.adjudication) return null;
  const parts: (HTMLElement | string)[] = [];
  if (row.assignees) parts.push(el('span', { 'data-testid': 'assignees' }, `Assigned to ${row.assignees.join(', ')}`));
  if (row.annotators) {
    const labels = row.annotators.length ? row.annotators.map((a) => `${a.name}: ${reviewLabelName(a.label)}`).join(' · ') : 'no one yet';
    parts.push(el('span', { 'data-testid': 'annotator-labels' }, `Annotators: ${labels}`));
  }
  if (row.adjudication) parts.push(el('span', { 'data-testid': 'adjudication' }, `Adjudicated: ${reviewLabelName(row.adjudication.label)} by ${row.adjudication.by}`));
  const joined = parts.flatMap((part, i) => (i ? [' — ', part] : [part]));
  return el('div', { class: 'team-line', 'data-testid': 'team-line' }, ...joined);
}

/** The probability the label is wrong (src/core/noiseScore.ts), its parts on hover. */
function noiseBadge(noise: NonNullable<PairRow['noise']>): HTMLElement {
  const parts = [
    ...(noise.model === undefined ? [] : [`model (calibrated, length-controlled): ${(100 * noise.model).toFixed(0)}%`]),
    ...noise.checks.map((c) => `${c.check.replace(/_/g, ' ')}: ${(100 * c.prior).toFixed(0)}%`),
  ];
  return el(
    'span',
    { class: 'margin', 'data-testid': 'noise-score', title: `P(label wrong), combined by noisy-OR from ${parts.join('; ') || 'no evidence'}` },
    `Noise ${(100 * noise.score).toFixed(0)}%`,
  );
}

/**
 * With several models: each model's rewards, margin and verdict, and their consensus margin
 * (src/core/modelConsensus.ts), as a small table the keyboard and screen readers reach like text.
 */
function renderModels(row: PairRow): HTMLElement {
  const models = row.models!;
  const verdictOf = (agrees: boolean | null | undefined) => (agrees === undefined ? '' : agrees === null ? '—' : agrees ? 'agrees' : 'disagrees');
  return el(
    'table',
    { class: 'numbers models', 'data-testid': 'pair-models' },
    el('caption', {}, 'Every model\'s scores of this pair'),
    el('thead', {}, el('tr', {}, ...['model', 'reward A', 'reward B', 'margin', 'with the label'].map((h) => el('th', { scope: 'col' }, h)))),
    el(
      'tbody',
      {},
      ...models.map((m) =>
        el(
          'tr',
          { 'data-testid': 'pair-model' },
          el('td', {}, m.name),
          ...(m.score
            ? [el('td', {}, fmtReward(m.score.rewardA)), el('td', {}, fmtReward(m.score.rewardB)), el('td', {}, fmtSigned(m.score.margin)), el('td', { class: m.score.agrees === false ? 'disagree' : '' }, verdictOf(m.score.agrees))]
            : [el('td', { colspan: '4', class: 'pending' }, 'not scored yet')]),
        ),
      ),
      el(
        'tr',
        { 'data-testid': 'pair-consensus' },
        el('td', { title: "Mean of the models' margins, each divided by that model's median |margin|" }, 'consensus'),
        el('td', {}, ''),
        el('td', {}, ''),
        el('td', {}, row.consensusMargin === undefined ? '—' : fmtSigned(row.consensusMargin)),
        el('td', {}, ''),
      ),
    ),
  );
}

/** The whole pair. `position` is its place in the list (1-based in the text), `total` the list's length. */
export function renderPair(context: PairViewContext, row: PairRow, position: number, total: number): HTMLElement {
  const score = row.score;
  const reviewerLabel = row.annotation?.label;
  const badge =
    score && score.agrees !== null
      ? el('span', { class: `badge ${score.agrees ? 'agree' : 'disagree'}`, 'data-testid': score.agrees ? 'agree-badge' : 'disagree-badge' }, score.agrees ? 'agrees' : 'disagrees')
      : null;
  return el(
    'article',
    {
      class: `pair${score?.agrees === false ? ' is-disagreement' : ''}${row.annotation?.flagged ? ' is-flagged' : ''}`,
      'data-index': String(row.index),
      'data-position': String(position),
      tabindex: '-1',
      'aria-label': `Pair ${row.index + 1}, line ${row.line}`,
    },
    el(
      'div',
      { class: 'pair-head' },
      el('span', { class: 'pair-id' }, `#${row.index + 1} · line ${row.line}`),
      el('span', { class: 'position', 'data-testid': 'position' }, `${position + 1} of ${total} shown`),
      el(
        'span',
        { class: 'label', 'data-testid': 'label' },
        row.blind
          ? 'Blind: scores and label hidden until you decide'
          : row.adjudication
            ? `Label: ${reviewLabelName(row.adjudication.label)} (adjudicated by ${row.adjudication.by}; file: ${sideName(row.label)})`
            : reviewerLabel
            ? `Label: ${reviewLabelName(reviewerLabel)} (${!row.labelBy || row.labelBy.yours ? 'yours' : `${row.labelBy.name}'s`}; file: ${sideName(row.label)})`
            : `Label: ${sideName(row.label)}`,
      ),
      score
        ? el('span', { class: 'margin', 'data-testid': 'margin', title: 'reward A − reward B' }, `Margin ${fmtSigned(score.margin)} · P(A≻B) ${(100 * sigmoid(score.margin)).toFixed(0)}%`)
        : row.blind
          ? null
          : el('span', { class: 'margin pending' }, 'not scored yet'),
      score?.lengthControlledMargin !== undefined
        ? el(
            'span',
            { class: 'margin', 'data-testid': 'length-controlled-margin', title: 'The margin with the length effect fitted on this file taken out (Theil–Sen fit on ln length ratio)' },
            `Length-controlled ${fmtSigned(score.lengthControlledMargin)}`,
          )
        : null,
      badge,
      row.noise ? noiseBadge(row.noise) : null,
      ...checkBadges(row.checks),
    ),
    renderTeamLine(row),
    row.models ? renderModels(row) : null,
    el(
      'details',
      { class: 'prompt', open: '' },
      el('summary', {}, `Prompt (${row.prompt.length} turn${row.prompt.length === 1 ? '' : 's'})`),
      renderMessages(context, row.prompt, `${row.index}/prompt`),
    ),
    el('div', { class: 'responses' }, renderResponse(context, row, leftSide(row)), renderResponse(context, row, otherSide(leftSide(row)))),
    renderAnnotationBar(context, row),
  );
}
