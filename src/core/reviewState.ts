/**
 * The review state of one open dataset: its pair table (columns, text read on demand), the
 * reviewer's annotations, and how scoring is going. Authoritative state lives here, in the host; the
 * webview asks for pages and receives status.
 */
import { AnnotationLog, type Annotation, type ReviewLabel } from './annotations';
import type { Preference } from './pair';
import { fitLengthEffect, lengthControlledMargin, lengthControlStats, preferredOnlyForLength, type LengthFit } from './lengthControl';
import { consensusMargins, consensusReport, type ConsensusReport, type ModelAgreementStats, type ModelColumn } from './modelConsensus';
import { noiseModel, type NoiseModel } from './noiseScore';
import type { PairTable } from './pairTable';
import { datasetStats, type DatasetStats } from './stats';
import { summarize, verdict } from './verdict';
import { annotatorsDisagree, teamReport } from './team';
import { assignees, type Team } from './assignment';
import {
  DEFAULT_QUERY,
  isPlainQuery,
  MAX_ROWS_PER_REQUEST,
  type PairRow,
  type RowSummary,
  type ReviewStatus,
  type RowFilter,
  type RowQuery,
  type ScoringState,
} from './reviewView';

/** Pairs read per step when searching text: bounds memory on huge files. */
const SEARCH_CHUNK = 2000;
/** Characters of the prompt a list row previews. */
const PREVIEW_CHARS = 160;
/** List-row previews kept (about 2 MB): many screens of scrolling back and forth. */
const MAX_CACHED_PREVIEWS = 10_000;

export class ReviewState {
  scoring: ReviewStatus['scoring'] = { state: 'idle', done: 0, total: 0 };
  model: ReviewStatus['model'];
  /** Blind review: scores and file labels are withheld from rows the reviewer has not decided. */
  blind = false;
  /** Whose labels this review records; shown in the header. */
  annotator: string | undefined;
  /** The team file's annotators and overlap (./assignment), when the dataset has one. */
  team: Team | undefined;
  /** Why the team file could not be read, when it could not (shown; the review goes on without it). */
  teamError: string | undefined;
  /** Adjudication: the label keys record the adjudicator's decision, and the pair view shows each annotator's label. */
  adjudicating = false;
  /**
   * Each pair's assignees as a bit mask over the team's names, computed once per team and pair: the
   * assignment hashes every name for every pair, too slow to redo at each filter or stats refresh.
   */
  private assignment?: { team: Team; masks: number[] };
  /** The last text search: its matches stay valid until the table grows. */
  private searched?: { text: string; count: number; matches: Set<number> };
  /**
   * The last selection and what it was computed from: a scrolling list asks for many windows of
   * the same query, and a sort over every pair per window would make each scroll step O(n log n).
   */
  private selected?: { fingerprint: string; annotationsLog: AnnotationLog; indices: number[] };

  /** Previews of list rows by table index, least recently used first (see previews()). */
  private readonly previewCache = new Map<number, string>();

  /** The length effect fitted on the scores as they stand (./lengthControl). */
  private fitted?: { count: number; scoreVersion: number; scored: number; generation: number; fit: LengthFit | null };

  constructor(
    readonly table: PairTable,
    public annotations: AnnotationLog = AnnotationLog.empty(),
  ) {}

  private noiseFitted?: { key: string; log: AnnotationLog; model: NoiseModel };
  /**
   * Further reward models' scores of the same pairs (plens review of a several-model score file, the
   * editor's `preferenceLens.additionalModels`); the table holds the first's. Whoever fills them
   * calls modelsChanged, so what is derived from them is computed again.
   */
  otherModels: ModelColumn[] = [];
  /** The first model's name in the several-model figures (plens review names each by its --model). */
  firstModelName = 'model 1';
  private modelsVersion = 0;
  private consensusCache?: { key: string; log: AnnotationLog; report: ConsensusReport; everyModel: Set<number>; margins: (number | undefined)[] };

  /** The further models' scores (or the list of models) changed. */
  modelsChanged(): void {
    this.modelsVersion++;
  }

  /**
   * With further models: the figures `plens review` prints about several models (./modelConsensus),
   * over every model's column, the table's first; undefined with one model.
   */
  consensus(): { report: ConsensusReport; everyModel: Set<number>; margins: (number | undefined)[] } | undefined {
    if (this.otherModels.length === 0) return undefined;
    // While the first model's scores stream in, recomputed with the length fit (every 5% more
    // scored pairs, and once all are: see lengthFit), as the noise score is, not at every score.
    this.lengthFit();
    const key = `${this.table.count}/${this.fitted!.generation}/${this.annotations.version}/${this.modelsVersion}/${this.otherModels.length}`;
    if (this.consensusCache?.key !== key || this.consensusCache.log !== this.annotations) {
      const columns: ModelColumn[] = [{ name: this.firstModelName, score: (index) => this.table.score(index) }, ...this.otherModels];
      const report = consensusReport(columns, this.table.count, (index) => this.label(index), (index) => this.table.fileLabel(index), (index) => this.table.identical(index));
      this.consensusCache = { key, log: this.annotations, report, everyModel: new Set(report.everyModelDisagrees), margins: consensusMargins(columns, this.table.count) };
    }
    return this.consensusCache;
  }

  /** The noise score's model (./noiseScore), refitted when pairs, scores or labels change. */
  noise(): NoiseModel {
    const fit = this.lengthFit();
    // Refitted with the length fit (see lengthFit), not at every score that streams in.
    const key = `${this.table.count}/${this.fitted!.generation}/${this.annotations.version}/${this.otherModels.length}/${this.modelsVersion}`;
    if (this.noiseFitted?.key !== key || this.noiseFitted.log !== this.annotations) {
      this.noiseFitted = { key, log: this.annotations, model: noiseModel(this.table, this.table.checks, (index) => this.label(index), fit, this.otherModels) };
    }
    return this.noiseFitted.model;
  }

  lengthFit(): LengthFit | null {
    const { count, scoreVersion } = this.table;
    const { scored } = this.table;
    const previous = this.fitted;
    if (previous?.count === count && previous.scoreVersion === scoreVersion) return previous.fit;
    // While scores stream in, every new score would refit (a sort of up to 400k slopes, and the
    // noise score's calibration after it) for each page the webview asks for: the fit is kept
    // until 5% more pairs are scored, and redone once every pair is.
    const streaming = previous !== undefined && scored >= previous.scored && scored < previous.scored * 1.05 && scored < count && previous.fit !== null;
    if (streaming) return previous.fit;
    this.fitted = { count, scoreVersion, scored, generation: (previous?.generation ?? 0) + 1, fit: fitLengthEffect(this.table) };
    return this.fitted.fit;
  }

  /** The margin with the fitted length effect taken out; undefined while unscored. */
  lengthControlledMargin(index: number): number | undefined {
    return lengthControlledMargin(this.lengthFit(), this.table.score(index), this.table.lengths(index));
  }

  annotation(index: number): Annotation | undefined {
    return this.annotations.get(this.table.keys[index]);
  }

  /** The human label as it stands: the reviewer's when they set one ("both bad" compares nothing). */
  label(index: number): Preference {
    const reviewed = this.annotation(index)?.label;
    if (reviewed === undefined || reviewed === null) return this.table.fileLabel(index);
    return reviewed === 'both-bad' ? null : reviewed;
  }

  private matches(index: number, filter: RowFilter): boolean {
    const agrees = () => {
      const score = this.table.score(index);
      return score === undefined ? undefined : verdict(this.label(index), score, this.table.identical(index)).agrees;
    };
    switch (filter) {
      case 'all':
        return true;
      case 'disagreements':
        return agrees() === false;
      case 'agreements':
        return agrees() === true;
      case 'unlabelled':
        return this.label(index) === null && this.annotation(index)?.label !== 'both-bad';
      case 'ties':
        return this.label(index) === 'tie';
      case 'flagged':
        return this.annotation(index)?.flagged === true;
      case 'reviewed':
        return this.annotation(index)?.reviewed === true;
      case 'unreviewed':
        return !this.annotation(index)?.reviewed;
      case 'length-only':
        return preferredOnlyForLength(this.lengthFit(), this.table.score(index), this.table.lengths(index));
      case 'my-share':
        return this.assignedToMe(index) && !this.mine(index);
      case 'annotators-disagree':
        return this.annotatorsDisagree(index) && !this.annotations.adjudicationOf(this.table.keys[index]);
      case 'adjudicated':
        return this.annotations.adjudicationOf(this.table.keys[index]) !== undefined;
      case 'every-model-disagrees':
        return this.consensus()?.everyModel.has(index) ?? false;
    }
  }

  /** Whether the team file assigns pair `index` to this annotator (no team file: every pair is everyone's). */
  assignedToMe(index: number): boolean {
    const { team, annotator } = this;
    if (!team) return true;
    const bit = annotator === undefined ? -1 : team.annotators.indexOf(annotator);
    if (bit < 0) return false;
    // A mask holds 31 names; a larger team is hashed each time.
    if (team.annotators.length > 31) return assignees(this.table.keys[index], team).includes(annotator!);
    return (this.assignedMask(index) & (1 << bit)) !== 0;
  }

  /** The team members pair `index` is assigned to. */
  assigneesAt(index: number): string[] {
    const team = this.team;
    if (!team) return [];
    if (team.annotators.length > 31) return assignees(this.table.keys[index], team);
    const mask = this.assignedMask(index);
    return team.annotators.filter((_, bit) => (mask & (1 << bit)) !== 0);
  }

  /** For teams of up to 31. */
  private assignedMask(index: number): number {
    const team = this.team!;
    if (this.assignment?.team !== team) this.assignment = { team, masks: [] };
    const { masks } = this.assignment;
    for (let i = masks.length; i <= index; i++) {
      const names = assignees(this.table.keys[i], team);
      masks.push(team.annotators.reduce((mask, name, bit) => (names.includes(name) ? mask | (1 << bit) : mask), 0));
    }
    return masks[index];
  }

  /** Two or more annotators labelled pair `index`, not all alike. */
  annotatorsDisagree(index: number): boolean {
    const labels = this.annotations.labelsOf(this.table.keys[index]);
    return labels.length > 1 && annotatorsDisagree(new Map(labels));
  }

  /** Pairs whose prompt or responses contain `text` (case-insensitive), read from the file in chunks. */
  private async search(text: string): Promise<Set<number>> {
    const needle = text.toLowerCase();
    if (this.searched?.text === needle && this.searched.count === this.table.count) return this.searched.matches;
    const matches = new Set<number>();
    const count = this.table.count;
    for (let from = 0; from < count; from += SEARCH_CHUNK) {
      const indices = Array.from({ length: Math.min(SEARCH_CHUNK, count - from) }, (_, k) => from + k);
      const pairs = await this.table.pairs(indices);
      pairs.forEach((pair, k) => {
        const found = [...pair.prompt, ...pair.a, ...pair.b].some((m) => m.content.toLowerCase().includes(needle));
        if (found) matches.add(indices[k]);
      });
    }
    this.searched = { text: needle, count, matches };
    return matches;
  }

  /** The pairs a query keeps, in its order (a fresh array: callers may keep it). */
  async select(query: RowQuery = DEFAULT_QUERY): Promise<number[]> {
    return [...(await this.selection(query))];
  }

  /** Everything a selection depends on: the query, the table's size and scores, the annotations and the mode. */
  private fingerprint(query: RowQuery): string {
    return JSON.stringify([query, this.table.count, this.table.scoreVersion, this.annotations.version, this.blind, this.annotator, this.team, this.modelsVersion, this.otherModels.length]);
  }

  private async selection(query: RowQuery): Promise<readonly number[]> {
    const fingerprint = this.fingerprint(query);
    const annotationsLog = this.annotations;
    if (this.selected?.fingerprint === fingerprint && this.selected.annotationsLog === annotationsLog) return this.selected.indices;
    const indices = await this.computeSelection(query);
    // Kept under the state it was computed from: an edit (or a new log: revert, reload) made while a
    // search read the file makes the next call compute again, not take these indices as current.
    this.selected = { fingerprint, annotationsLog, indices };
    return indices;
  }

  private async computeSelection(query: RowQuery): Promise<number[]> {
    const matches = query.search ? await this.search(query.search) : undefined;
    const margin = (i: number) => {
      const score = this.table.score(i);
      return score ? score.rewardA - score.rewardB : undefined;
    };
    const bounded = query.marginMin !== undefined || query.marginMax !== undefined;
    const indices: number[] = [];
    for (let i = 0; i < this.table.count; i++) {
      if (!this.matches(i, query.filter) || (matches && !matches.has(i))) continue;
      if (query.check && !this.table.checks.has(i, query.check)) continue;
      if (bounded) {
        const m = margin(i);
        if (m === undefined || (query.marginMin !== undefined && m < query.marginMin) || (query.marginMax !== undefined && m > query.marginMax)) continue;
      }
      indices.push(i);
    }
    const by = (key: (i: number) => number | undefined) => {
      // Unscored pairs go last whatever the order; ties keep file order.
      const keys = new Map(indices.map((i) => [i, key(i)]));
      indices.sort((x, y) => {
        const kx = keys.get(x);
        const ky = keys.get(y);
        if (kx === undefined || ky === undefined) return kx === ky ? x - y : kx === undefined ? 1 : -1;
        return kx - ky || x - y;
      });
    };
    switch (query.sort) {
      case 'file':
        break;
      case 'confidence':
        by((i) => {
          const m = margin(i);
          return m === undefined ? undefined : -Math.abs(m);
        });
        break;
      case 'margin':
        by(margin);
        break;
      case 'margin-desc':
        by((i) => {
          const m = margin(i);
          return m === undefined ? undefined : -m;
        });
        break;
      case 'length-controlled':
        by((i) => {
          // The label-signed length-controlled margin: most negative = the label most contradicted.
          const label = this.label(i);
          const m = this.lengthControlledMargin(i);
          return m === undefined || (label !== 'a' && label !== 'b') ? undefined : label === 'a' ? m : -m;
        });
        break;
      case 'consensus': {
        // The label-signed consensus margin: most negative = the label the models together contradict most.
        const margins = this.consensus()?.margins;
        by((i) => {
          const label = this.label(i);
          const m = margins?.[i];
          return m === undefined || (label !== 'a' && label !== 'b') ? undefined : label === 'a' ? m : -m;
        });
        break;
      }
      case 'noise': {
        const noise = this.noise();
        by((i) => -noise.evidence(i).score);
        break;
      }
      case 'length-difference':
        by((i) => {
          const [a, b] = this.table.lengths(i);
          return -Math.abs(a - b);
        });
        break;
    }
    return indices;
  }

  /** Positions `offset`… of the query's list (at most MAX_ROWS_PER_REQUEST), and the list's length. */
  private async window(offset: number, count: number, query: RowQuery): Promise<{ total: number; indices: number[] }> {
    const selected = isPlainQuery(query) ? undefined : await this.selection(query);
    const total = selected ? selected.length : this.table.count;
    const start = Math.max(0, Math.min(Math.floor(offset) || 0, total));
    const end = Math.min(total, start + Math.max(0, Math.min(Math.floor(count) || 0, MAX_ROWS_PER_REQUEST)));
    const indices: number[] = [];
    for (let i = start; i < end; i++) indices.push(selected ? selected[i] : i);
    return { total, indices };
  }

  /** The label the current annotator gave pair `index` (without an annotator: the pair's label). */
  mine(index: number): ReviewLabel | undefined {
    return this.annotator === undefined ? this.annotation(index)?.label ?? undefined : this.annotations.labelOf(this.table.keys[index], this.annotator);
  }

  /**
   * Blind review withholds what could anchor a decision — scores, the file's label, colleagues' labels — until you decide:
   * by your own label, or, adjudicating, by your decision.
   */
  private hidden(index: number): boolean {
    return this.blind && !this.mine(index) && !(this.annotator !== undefined && this.annotations.adjudicationOf(this.table.keys[index])?.by === this.annotator);
  }

  /** Who set the label of `annotation` (pair `index`'s, as shown), and whether that is you; undefined without a label. */
  private labelAuthor(index: number, annotation: Annotation | undefined): { name: string; yours: boolean } | undefined {
    const name = annotation?.label ? this.annotations.labelSetBy(this.table.keys[index]) : undefined;
    return name === undefined ? undefined : { name, yours: this.annotator === undefined || name === this.annotator };
  }

  /** The annotation as this annotator may see it: in blind review, a colleague's label stays hidden until you decide. */
  private visibleAnnotation(index: number): Annotation | undefined {
    const annotation = this.annotation(index);
    if (!annotation?.label || !this.hidden(index)) return annotation;
    const { label: _hidden, ...rest } = annotation;
    return Object.keys(rest).length ? rest : undefined;
  }

  /** List rows `offset`… of the query's list, and the list's length. */
  async rows(offset: number, count: number, query: RowQuery = DEFAULT_QUERY): Promise<{ total: number; rows: RowSummary[] }> {
    // Edits made while the previews are read (keys typed fast) may change which pairs the list
    // holds: read again until the window and its rows are of one state, never the old list with its
    // rows' new annotations (each read after the first takes the previews from the cache).
    let state = this.fingerprint(query);
    let { total, indices } = await this.window(offset, count, query);
    let previews = await this.previews(indices);
    for (let tries = 0; tries < 3 && this.fingerprint(query) !== state; tries++) {
      state = this.fingerprint(query);
      ({ total, indices } = await this.window(offset, count, query));
      previews = await this.previews(indices);
    }
    const rows = indices.map((index, k): RowSummary => {
      const annotation = this.visibleAnnotation(index);
      const row: RowSummary = { index, line: this.table.line(index), label: this.table.fileLabel(index), preview: previews[k] };
      // The label the verdict is of, and whose it is: "you:" only when it is yours.
      const author = this.labelAuthor(index, annotation);
      if (annotation?.label && author) row.decided = { label: annotation.label, by: author.name, yours: author.yours };
      if (annotation?.flagged) row.flagged = true;
      if (annotation?.reviewed) row.reviewed = true;
      if (annotation?.note) row.noted = true;
      const checks = this.table.checks.of(index);
      if (checks.length) row.checks = checks;
      if (this.hidden(index)) return { ...row, label: null, decided: undefined, blind: true };
      if (this.annotations.adjudicationOf(this.table.keys[index])) row.adjudicated = true;
      const score = this.rowScore(index);
      if (score) row.score = score;
      return row;
    });
    return { total, rows };
  }

  /**
   * Pair `index`'s verdict as a list row shows it; undefined while unscored, and while blind review
   * withholds it. The host pushes these as scores arrive, so a list in file order needs no new rows.
   */
  rowScore(index: number): RowSummary['score'] {
    const score = this.table.score(index);
    if (!score || this.hidden(index)) return undefined;
    const { margin, prefers, agrees } = verdict(this.label(index), score, this.table.identical(index));
    return { margin, prefers, agrees };
  }

  /**
   * The list rows' previews (the start of the last prompt turn, whitespace collapsed), from a cache:
   * a row's text is read from the file once, not each time the list is fetched again as scores or
   * labels change. A state belongs to one reading of the file, so its cache never goes stale.
   */
  private async previews(indices: readonly number[]): Promise<string[]> {
    const missing = indices.filter((index) => !this.previewCache.has(index));
    const pairs = await this.table.pairs(missing);
    missing.forEach((index, k) => {
      const lastTurn = pairs[k].prompt.at(-1)?.content ?? '';
      this.previewCache.set(index, lastTurn.slice(0, 4 * PREVIEW_CHARS).replace(/\s+/g, ' ').trim().slice(0, PREVIEW_CHARS));
    });
    const previews = indices.map((index) => {
      const preview = this.previewCache.get(index) as string;
      // Refreshed as used, so the rows in view stay while the oldest go.
      this.previewCache.delete(index);
      this.previewCache.set(index, preview);
      return preview;
    });
    for (const oldest of this.previewCache.keys()) {
      if (this.previewCache.size <= MAX_CACHED_PREVIEWS) break;
      this.previewCache.delete(oldest);
    }
    return previews;
  }

  /** The pairs at these table positions, whole, as the pair view shows them (invalid ones skipped). */
  async pairRows(requested: readonly number[]): Promise<PairRow[]> {
    const indices = [...new Set(requested)].filter((i) => Number.isInteger(i) && i >= 0 && i < this.table.count).slice(0, MAX_ROWS_PER_REQUEST);
    const pairs = await this.table.pairs(indices);
    return indices.map((index, k): PairRow => {
      const annotation = this.visibleAnnotation(index);
      const mine = this.mine(index);
      const key = this.table.keys[index];
      const labelBy = this.labelAuthor(index, annotation);
      const row: PairRow = { index, ...pairs[k], annotation, ...(mine ? { mine } : {}), ...(labelBy ? { labelBy } : {}) };
      const checks = this.table.checks.of(index);
      if (checks.length) row.checks = checks;
      if (this.team) row.assignees = this.assigneesAt(index);
      const decision = this.annotations.adjudicationOf(key);
      // What an adjudicator weighs: everyone's label, and the decision — not before you decide, in blind review.
      if (!this.hidden(index)) {
        const labels = this.annotations.labelsOf(key);
        if (labels.length > 1 || decision || this.adjudicating) row.annotators = labels.map(([name, label]) => ({ name, label }));
        if (decision) row.adjudication = { label: decision.label, by: decision.by };
      }
      if (this.hidden(index)) {
        // Nothing that could anchor the decision: no scores, no file label; sides shuffled per pair.
        return { ...row, label: null, blind: { swapped: parseInt(this.table.keys[index].slice(0, 2), 16) % 2 === 1 } };
      }
      const score = this.table.score(index);
      const consensus = this.consensus();
      const label = this.label(index);
      const identical = this.table.identical(index);
      return {
        ...row,
        score: score && { ...verdict(label, score, identical), lengthControlledMargin: this.lengthControlledMargin(index) },
        noise: this.noise().evidence(index),
        ...(consensus
          ? {
              models: consensus.report.models.map((name, k) => {
                const s = k === 0 ? score : this.otherModels[k - 1].score(index);
                return { name, ...(s ? { score: verdict(label, s, identical) } : {}) };
              }),
              consensusMargin: consensus.margins[index],
            }
          : {}),
      };
    });
  }

  status(): ReviewStatus {
    let reviewed = 0;
    for (let i = 0; i < this.table.count; i++) if (this.annotation(i)?.reviewed) reviewed++;
    return {
      ...summarize(this.table, (index) => this.label(index)),
      loading: !this.table.complete,
      malformed: this.table.malformed.length,
      reviewed,
      blind: this.blind,
      ...(this.annotator ? { annotator: this.annotator } : {}),
      adjudicating: this.adjudicating,
      ...(this.team ? { team: this.team } : {}),
      ...(this.teamError ? { teamError: this.teamError } : {}),
      checks: this.table.checks.summary(),
      ...(this.otherModels.length ? { models: this.otherModels.map((m) => ({ name: m.name, scored: scoredBy(m, this.table.count) })) } : {}),
      scoring: { ...this.scoring },
      model: this.model,
    };
  }

  stats(): DatasetStats {
    const labelOf = (index: number) => this.label(index);
    const labels = this.annotations.labelsByAnnotator();
    // The team figures are those plens review prints, from each annotator's own labels.
    const team =
      labels.size === 0 && !this.team
        ? undefined
        : teamReport({
            keys: this.table.keys,
            fileLabel: (index) => this.table.fileLabel(index),
            modelPrefers: (index) => {
              const score = this.table.score(index);
              return score === undefined || this.table.identical(index) ? undefined : (verdict(null, score).prefers as Preference);
            },
            labels,
            team: this.team,
            assigneesAt: (index) => this.assigneesAt(index),
            adjudicated: (key) => this.annotations.adjudicationOf(key) !== undefined,
          });
    return {
      ...datasetStats({ pairs: this.table, labelOf, annotationOf: (index) => this.annotation(index) }),
      lengthControl: lengthControlStats(this.table, labelOf, this.lengthFit()),
      checks: this.table.checks.summary(),
      noiseSuspects: this.noiseSuspects(),
      ...(team ? { team } : {}),
      ...(this.consensus() ? { models: modelAgreementStats(this.consensus()!.report) } : {}),
    };
  }

  /** Pairs more likely mislabelled than not: noise score ≥ 0.5 (./noiseScore). */
  noiseSuspects(): number {
    const noise = this.noise();
    let suspects = 0;
    for (let i = 0; i < this.table.count; i++) if (noise.evidence(i).score >= 0.5) suspects++;
    return suspects;
  }

  setScoring(state: ScoringState, error?: string): void {
    this.scoring = { ...this.scoring, state, error };
  }

  /** Up to `limit` pairs from `from` on that have no score yet, in file order. */
  unscored(from = 0, limit = Infinity): number[] {
    const indices: number[] = [];
    for (let i = from; i < this.table.count && indices.length < limit; i++) if (!this.table.score(i)) indices.push(i);
    return indices;
  }
}

/** How many pairs a further model has scored (its own count when it keeps one). */
function scoredBy(model: ModelColumn, count: number): number {
  if ('scored' in model && typeof model.scored === 'number') return model.scored;
  let scored = 0;
  for (let i = 0; i < count; i++) if (model.score(i)) scored++;
  return scored;
}

/** The consensus report for the stats view: the pairs every model disagrees with, counted (the queue lists them). */
function modelAgreementStats(report: ConsensusReport): ModelAgreementStats {
  const { everyModelDisagrees, ...rest } = report;
  return { ...rest, everyModelDisagrees: everyModelDisagrees.length };
}
