/**
 * The statistics panel: agreement by model confidence (calibration), the margin histogram, length
 * bias and review progress. Charts are SVG coloured by theme variables through CSS classes; each has
 * a table beside it with the same numbers for screen readers and copying.
 */
import type { CalibrationBin, DatasetStats, HistogramBin } from '../src/core/stats';
import type { TeamReport } from '../src/core/team';
import type { ModelAgreementStats } from '../src/core/modelConsensus';
import { CHECK_NAMES, CHECK_TITLES } from '../src/core/checkNames';
import { el, svg } from './dom';

const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);
/** A figure inside running text, marked so tests can read it (`plens review` prints the same figures). */
const figure = (testId: string, text: string) => el('span', { 'data-testid': testId }, text);
const WIDTH = 360;
const HEIGHT = 160;
const PAD = { left: 36, right: 8, top: 8, bottom: 24 };

function calibrationChart(bins: CalibrationBin[]): SVGElement {
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const barWidth = plotWidth / bins.length;
  const y = (fraction: number) => PAD.top + plotHeight * (1 - fraction);
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', 'aria-hidden': 'true' });
  for (const tick of [0, 0.5, 1]) {
    chart.append(svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: 'grid' }));
    chart.append(svg('text', { x: PAD.left - 4, y: y(tick) + 4, class: 'axis', 'text-anchor': 'end' }, `${tick * 100}%`));
  }
  bins.forEach((bin, i) => {
    const x = PAD.left + i * barWidth;
    if (bin.agreement !== null) {
      chart.append(svg('rect', { x: x + 4, y: y(bin.agreement), width: barWidth - 8, height: plotHeight * bin.agreement, class: 'bar' }));
    }
    if (bin.confidence !== null) {
      // Where a calibrated model's bar would reach.
      chart.append(svg('line', { x1: x + 2, x2: x + barWidth - 2, y1: y(bin.confidence), y2: y(bin.confidence), class: 'expected' }));
    }
    chart.append(svg('text', { x: x + barWidth / 2, y: HEIGHT - 8, class: 'axis', 'text-anchor': 'middle' }, `${Math.round(bin.low * 100)}–${Math.round(bin.high * 100)}%`));
  });
  return chart;
}

function histogramChart(bins: HistogramBin[]): SVGElement {
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const barWidth = plotWidth / Math.max(1, bins.length);
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', 'aria-hidden': 'true' });
  bins.forEach((bin, i) => {
    const height = (plotHeight * bin.count) / max;
    chart.append(
      svg('rect', {
        x: PAD.left + i * barWidth + 1,
        y: PAD.top + plotHeight - height,
        width: barWidth - 2,
        height,
        class: bin.high <= 0 ? 'bar negative' : 'bar',
        'data-testid': 'histogram-bar',
      }),
    );
  });
  const zero = PAD.left + plotWidth / 2;
  chart.append(svg('line', { x1: zero, x2: zero, y1: PAD.top, y2: PAD.top + plotHeight, class: 'zero' }));
  if (bins.length) {
    chart.append(svg('text', { x: PAD.left, y: HEIGHT - 8, class: 'axis', 'data-testid': 'histogram-min' }, bins[0].low.toFixed(2)));
    chart.append(svg('text', { x: zero, y: HEIGHT - 8, class: 'axis', 'text-anchor': 'middle' }, '0 (B ≻ A | A ≻ B)'));
    chart.append(
      svg('text', { x: WIDTH - PAD.right, y: HEIGHT - 8, class: 'axis', 'text-anchor': 'end', 'data-testid': 'histogram-max' }, bins[bins.length - 1].high.toFixed(2)),
    );
  }
  chart.append(svg('text', { x: PAD.left - 4, y: PAD.top + 10, class: 'axis', 'text-anchor': 'end', 'data-testid': 'histogram-peak' }, String(max)));
  return chart;
}

function table(caption: string, head: string[], rows: string[][], testId: string): HTMLTableElement {
  return el(
    'table',
    { class: 'numbers', 'data-testid': testId },
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))),
  );
}

const fixed = (x: number | null) => (x === null ? '—' : x.toFixed(3));

/** Each annotator's progress and agreement, and how far they agree: the figures `plens review` prints. */
function teamSection(team: TeamReport): HTMLElement {
  const { interAnnotator: inter } = team;
  return el(
    'section',
    { class: 'team', 'data-testid': 'team' },
    el('h3', {}, 'Annotators'),
    table(
      'Each annotator: labels, agreement, share',
      ['annotator', 'labelled', 'agrees with the file', 'agrees with the model', ...(team.overlap !== undefined ? ['assigned', 'done of assigned'] : [])],
      team.annotators.map((a) => [
        a.name,
        String(a.labelled),
        pct(a.agreementWithFile),
        pct(a.agreementWithModel),
        ...(team.overlap !== undefined ? [String(a.assigned ?? 0), `${a.done ?? 0} (${pct(a.assigned ? (a.done ?? 0) / a.assigned : null)})`] : []),
      ]),
      'annotators-table',
    ),
    team.overlap !== undefined ? el('p', {}, 'Shares from the team file: each pair assigned to ', figure('team-overlap', String(team.overlap)), ' annotator(s).') : null,
    el(
      'p',
      {},
      figure('team-conflicts', String(team.conflicts)),
      ' pairs with conflicting labels; ',
      figure('team-adjudicated', String(team.adjudicated)),
      ' of them adjudicated.',
    ),
    el(
      'p',
      {},
      figure('team-multiply-labelled', String(inter.unitsMultiplyLabelled)),
      ' pairs labelled by two or more; they agree on ',
      figure('team-percent-agreement', pct(inter.percentAgreement)),
      " of label pairs; Krippendorff's α ",
      figure('team-alpha', fixed(inter.krippendorffAlpha)),
      '.',
    ),
    inter.pairwise.length
      ? table(
          "Cohen's κ between annotators",
          ['annotators', 'pairs both labelled', 'agreement', 'κ'],
          inter.pairwise.map((p) => [`${p.a} · ${p.b}`, String(p.units), pct(p.percentAgreement), fixed(p.cohenKappa)]),
          'kappa-table',
        )
      : null,
  );
}

/**
 * Several models (preferenceLens.additionalModels): each model's agreement with the labels, how often
 * each two agree with each other, and their consensus — the figures `plens review --model A --model B`
 * prints, from the same function (src/core/modelConsensus.ts).
 */
function modelsSection(models: ModelAgreementStats): HTMLElement {
  return el(
    'section',
    { class: 'models', 'data-testid': 'models' },
    el('h3', {}, 'Models'),
    table(
      'Each model against the labels',
      ['model', 'scored', 'agreement', 'disagreements'],
      models.agreement.map((m) => [m.model, String(m.scored), pct(m.agreement), String(m.disagreements)]),
      'model-agreement-table',
    ),
    table(
      'Model against model: how often two models prefer the same response',
      ['models', 'pairs both scored', 'agreement'],
      models.pairwise.map((p) => [`${p.a} · ${p.b}`, String(p.pairs), pct(p.agreement)]),
      'model-pairwise-table',
    ),
    el(
      'p',
      {},
      'Consensus (mean standardised margin) agrees with ',
      figure('consensus-agreement', pct(models.consensus.agreement)),
      ' of ',
      figure('consensus-scored', String(models.consensus.scored)),
      ' scored pairs (',
      figure('consensus-disagreements', String(models.consensus.disagreements)),
      ' disagreements); every model disagrees with the label on ',
      figure('every-model-disagrees', String(models.everyModelDisagrees)),
      ' pairs.',
    ),
  );
}

/** How much of the agreement length explains (src/core/lengthControl.ts; `plens review` prints the same). */
function lengthControlParagraph(stats: DatasetStats): HTMLElement | null {
  const lc = stats.lengthControl;
  if (!lc || lc.slope === null) return null;
  return el(
    'p',
    { 'data-testid': 'length-control' },
    'Length control (Theil–Sen fit of margin on ln length ratio, slope ',
    figure('length-slope', lc.slope.toFixed(3)),
    '): agreement ',
    figure('length-agreement-raw', pct(lc.agreement)),
    ' raw, ',
    figure('length-agreement-controlled', pct(lc.agreementLengthControlled)),
    ' with length taken out, ',
    figure('length-agreement-only', pct(lc.agreementLengthOnly)),
    ' from length alone; length explains ',
    figure('length-explained', pct(lc.explainedByLength)),
    ' of the agreement above chance',
    // The share is a ratio, not a fraction: it leaves 0–100% when taking length out crosses chance.
    lc.explainedByLength !== null && lc.explainedByLength > 1
      ? ' (over 100%: with length taken out the model agrees less often than chance would)'
      : lc.explainedByLength !== null && lc.explainedByLength < 0
        ? ' (below 0%: with length taken out the model agrees more often; length worked against the labels)'
        : '',
    '. ',
    figure('length-only-count', String(lc.preferredOnlyForLength)),
    ' pairs are preferred only for their length.',
  );
}

/** The model-free checks' counts and the noise score's suspects (`plens review` prints the same). */
function noiseParagraph(stats: DatasetStats): HTMLElement | null {
  if (!stats.checks) return null;
  return el(
    'p',
    { 'data-testid': 'noise-summary' },
    'Checks (no model): ',
    ...CHECK_NAMES.flatMap((name, i) => [i ? ' · ' : '', `${CHECK_TITLES[name].toLowerCase()} `, figure(`stats-check-${name}`, String(stats.checks![name]))]),
    '. Pairs more likely mislabelled than not (noise score ≥ 50%): ',
    figure('stats-noise-suspects', String(stats.noiseSuspects ?? 0)),
    '.',
  );
}

export function renderStats(stats: DatasetStats | undefined): HTMLElement {
  if (!stats) return el('section', { class: 'stats-panel', 'aria-busy': 'true' }, 'Computing statistics…');
  const labelled = stats.calibration.reduce((n, b) => n + b.pairs, 0);
  return el(
    'section',
    { class: 'stats-panel', 'data-testid': 'stats-panel', 'aria-label': 'Statistics' },
    el(
      'div',
      { class: 'stats-summary' },
      el(
        'p',
        {},
        'Agreement ',
        figure('stats-agreement', pct(stats.agreement)),
        ' over ',
        figure('stats-labelled', String(labelled)),
        ' scored, labelled pairs; ',
        figure('stats-disagreements', String(stats.disagreements)),
        ' disagreements.',
      ),
      el(
        'p',
        {},
        'The chosen response is the longer one in ',
        figure('human-prefers-longer', pct(stats.length.humanPrefersLonger)),
        ' of labelled pairs; the model prefers the longer one in ',
        figure('model-prefers-longer', pct(stats.length.modelPrefersLonger)),
        '.',
      ),
      lengthControlParagraph(stats),
      noiseParagraph(stats),
      el(
        'p',
        { 'data-testid': 'review-progress' },
        'Reviewed ',
        figure('review-reviewed', String(stats.review.reviewed)),
        ' of ',
        figure('review-pairs', String(stats.pairs)),
        ' · relabelled ',
        figure('review-relabelled', String(stats.review.relabelled)),
        ' · both bad ',
        figure('review-both-bad', String(stats.review.bothBad)),
        ' · flagged ',
        figure('review-flagged', String(stats.review.flagged)),
        ' · notes ',
        figure('review-notes', String(stats.review.notes)),
      ),
    ),
    el(
      'div',
      { class: 'charts' },
      el(
        'figure',
        {},
        calibrationChart(stats.calibration),
        el('figcaption', {}, 'Human agreement by model confidence σ(|margin|); the line marks what a calibrated model would get'),
        table(
          'Calibration',
          ['confidence', 'pairs', 'mean confidence', 'agreement'],
          stats.calibration.map((b) => [`${Math.round(b.low * 100)}–${Math.round(b.high * 100)}%`, String(b.pairs), pct(b.confidence), pct(b.agreement)]),
          'calibration-table',
        ),
      ),
      el(
        'figure',
        {},
        histogramChart(stats.marginHistogram),
        el('figcaption', {}, 'Margins (reward A − reward B) of scored pairs'),
      ),
    ),
    stats.team ? teamSection(stats.team) : null,
    stats.models ? modelsSection(stats.models) : null,
  );
}
