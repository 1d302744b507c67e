/**
 * The review's header: the file and its format, the figures (pairs, scored, agreement,
 * disagreements, reviewed), the checks' counts, reading and scoring progress with cancel, and which
 * model scores the file — all from the status the host pushes.
 */
import type { ReviewSnapshot, ReviewStatus, RowQuery, WebviewToHost } from '../src/shared/reviewProtocol';
import { renderCheckCounts } from './checks';
import { el } from './dom';
import { keyHint } from './keys';
import { button } from './pairView';
import { EVERY_MODEL_QUEUE } from './toolbar';

/** What the header needs of the rest of the view. */
export interface HeaderView {
  showStats: boolean;
  toggleStats(): void;
  setQuery(change: Partial<RowQuery>): void;
  post(message: WebviewToHost): void;
}

export function renderHeader(snapshot: ReviewSnapshot, s: ReviewStatus, view: HeaderView): HTMLElement {
  const stat = (label: string, testId: string, value: string) =>
    el('div', { class: 'stat' }, el('span', { class: 'stat-label' }, label), el('span', { class: 'stat-value', 'data-testid': testId }, value));
  const scoring = s.scoring;
  const progress =
    scoring.state === 'scoring' || scoring.state === 'loading'
      ? el(
          'div',
          { class: 'scoring' },
          el('progress', { max: String(Math.max(1, scoring.total)), value: String(scoring.done), 'aria-label': 'Scoring progress' }),
          el('span', { 'data-testid': 'scoring-text' }, scoring.state === 'loading' ? ` ${scoring.detail ?? 'Loading model…'} ` : ` ${scoring.model ? `${scoring.model}: ` : ''}Scoring ${scoring.done}/${scoring.total} responses `),
          button('Cancel', () => view.post({ type: 'cancelScoring' }), 'cancel-scoring'),
        )
      : scoring.state === 'error'
        ? el('div', { class: 'error', role: 'alert' }, `Scoring failed: ${scoring.error ?? 'unknown error'} `, button('Retry', () => view.post({ type: 'rescore' })))
        : scoring.state === 'cancelled'
          ? el('div', { class: 'scoring' }, 'Scoring cancelled. ', button('Resume', () => view.post({ type: 'rescore' })))
          : null;
  const model = s.model
    ? el(
        'div',
        { class: 'model', 'data-testid': 'model' },
        `Model: ${s.model.name} · ${s.model.device} · ${s.model.template}${s.model.precision ? ` · ${s.model.precision}` : ''}`,
        s.model.bundled
          ? el(
              'div',
              { class: 'demo-note', 'data-testid': 'baseline-note' },
              `The bundled baseline: ${s.model.bundled} Its disagreements with the labels are not findings. `,
              s.model.recommendation ? button(`Use ${s.model.recommendation}`, () => view.post({ type: 'useRecommendedModel' }), 'use-recommended-model') : null,
              ' ',
              button('Choose reward model…', () => view.post({ type: 'chooseModel' }), 'choose-model'),
            )
          : null,
        s.model.weights ? el('div', { class: 'model-detail', 'data-testid': 'model-weights' }, s.model.weights) : null,
        s.model.padding ? el('div', { class: 'model-detail', 'data-testid': 'model-padding' }, s.model.padding) : null,
        s.model.server ? el('div', { class: 'model-detail', 'data-testid': 'model-server' }, `Served by ${s.model.server}`) : null,
        ...(s.model.notes ?? []).map((note) => el('div', { class: 'model-detail', 'data-testid': 'model-note' }, note)),
        scoring.truncated
          ? el(
              'div',
              { class: 'model-detail', 'data-testid': 'truncated' },
              `${scoring.truncated} response(s) were longer than the model's limit and were scored on their last tokens (the start of the prompt was cut).`,
            )
          : null,
        // The full reason is long (library messages); it stays one click away.
        s.model.fallbackReason
          ? el('details', { class: 'fallback' }, el('summary', {}, `Running on ${s.model.device}: the preferred device is not available`), s.model.fallbackReason)
          : null,
      )
    : null;
  // The further models (preferenceLens.additionalModels) and how far each has scored.
  const others = s.models?.length
    ? el(
        'div',
        { class: 'model-detail', 'data-testid': 'other-models' },
        'Also scored by: ',
        ...s.models.flatMap((m, i) => [i ? ' · ' : '', el('span', { 'data-testid': 'other-model' }, `${m.name} (${m.scored}/${s.pairs})`)]),
        ' ',
        button(`Every model disagrees (${keyHint('everyModelQueue')})`, () => view.setQuery(EVERY_MODEL_QUEUE), 'every-model-queue'),
      )
    : null;
  const reading = s.loading ? el('div', { class: 'scoring', 'data-testid': 'reading' }, `Reading the file… ${s.pairs} pairs so far`) : null;
  const malformed = s.malformed
    ? el(
        'details',
        { class: 'malformed' },
        el('summary', {}, `${s.malformed} record(s) could not be read and are skipped`),
        el('ul', {}, ...snapshot.malformed.map((m) => el('li', {}, `line ${m.line}: ${m.error}`))),
      )
    : null;
  return el(
    'header',
    {},
    el(
      'h1',
      {},
      snapshot.fileName,
      el('span', { class: 'format', title: snapshot.formatTitle }, snapshot.format),
      statsToggle(view.showStats, view.toggleStats),
    ),
    el(
      'div',
      { class: 'stats', role: 'status', 'aria-live': 'polite' },
      stat('Pairs', 'pair-count', s.loading ? `${s.pairs}…` : String(s.pairs)),
      stat('Scored', 'scored-count', String(s.scored)),
      stat('Agreement', 'agreement-rate', s.agreement === null ? '—' : `${(100 * s.agreement).toFixed(1)}%`),
      // With the baseline, "disagreements" would read as evidence; it is only where a length model differs.
      stat(s.model?.bundled ? 'Baseline differs' : 'Disagreements', 'disagreement-count', String(s.disagreements)),
      stat('Reviewed', 'reviewed-count', String(s.reviewed)),
    ),
    renderCheckCounts(s.checks, (check) => view.setQuery({ check })),
    reading,
    progress,
    model,
    others,
    malformed,
  );
}

/** The statistics switch: pressed while the statistics show. */
function statsToggle(shown: boolean, toggle: () => void): HTMLButtonElement {
  const b = button(`${shown ? 'Hide statistics' : 'Statistics'} (${keyHint('stats')})`, toggle, 'toggle-stats');
  b.setAttribute('aria-pressed', String(shown));
  return b;
}
