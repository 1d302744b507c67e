/**
 * The list's rows, fetched from the host a block at a time as the list scrolls: the webview never
 * holds the whole file. Each request remembers the list it was made for (a token that grows whenever
 * the rows may have changed), so a late answer never undoes a newer one or fills another query's list.
 */
import type { RowQuery, RowSummary } from '../src/shared/reviewProtocol';
import { host } from './host';

/** List rows per request. */
export const BLOCK = 100;
/**
 * Requests go out at most this often, for what is wanted then: dragging the scrollbar through 100k
 * rows asks for where it stops, not for every block it passed.
 */
const REQUEST_INTERVAL_MS = 50;
/** While scores stream in, a filtered or sorted list is fetched again at most this often. */
const SCORE_REFRESH_MS = 400;

export interface RowBlocksOwner {
  query(): RowQuery;
  /** The focused position: its block is always fetched. */
  focus(): number;
  /** A block arrived; `current`: it answers the latest request for it. */
  arrived(block: number, current: boolean): void;
}

export class RowBlocks {
  /** Length of the query's list, as last heard. */
  total = 0;
  /** Grows whenever the list's rows may have changed. */
  private listToken = 0;
  /** The token of the last query change: answers from before it belong to another list. */
  private queryToken = 0;
  /** The token of the answer `total` came from: an older answer must not undo a newer length. */
  private totalToken = 0;
  private readonly blocks = new Map<number, { token: number; rows: RowSummary[] }>();
  private readonly asked = new Map<number, number>();
  private wanted: { from: number; to: number } | undefined;
  private requestTimer: ReturnType<typeof setTimeout> | undefined;
  private lastRequestAt = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly owner: RowBlocksOwner) {}

  rowAt(position: number): RowSummary | undefined {
    return this.blocks.get(Math.floor(position / BLOCK))?.rows[position % BLOCK];
  }

  /** The list is about to show positions `from`…`to`. */
  need(from: number, to: number): void {
    this.wanted = { from, to };
    this.schedule();
  }

  schedule(): void {
    if (this.requestTimer) return;
    const wait = this.lastRequestAt + REQUEST_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.requestWanted();
    this.requestTimer = setTimeout(() => this.requestWanted(), wait);
  }

  /** The rows may have changed (scores, annotations): fetch what is in view again; the old rows show meanwhile. */
  invalidate(): void {
    this.listToken++;
    this.schedule();
  }

  invalidateSoon(): void {
    this.refreshTimer ??= setTimeout(() => {
      this.refreshTimer = undefined;
      this.invalidate();
    }, SCORE_REFRESH_MS);
  }

  /** Another query: nothing held belongs to its list. */
  reset(total: number | undefined): void {
    this.blocks.clear();
    this.asked.clear();
    this.listToken++;
    this.queryToken = this.listToken;
    this.totalToken = this.listToken;
    if (total !== undefined) this.total = total;
  }

  /** More pairs were read: the last block, short while the file was still being read, is fetched again. */
  grew(total: number): void {
    this.total = total;
    for (const [block, { rows }] of this.blocks) {
      if (rows.length < BLOCK) {
        this.blocks.delete(block);
        this.asked.delete(block);
      }
    }
  }

  /** Scores the host pushed: rows held take them (a list in file order needs nothing more). */
  applyScores(scores: ReadonlyArray<{ index: number; score?: RowSummary['score'] }>): void {
    const byIndex = new Map(scores.map(({ index, score }) => [index, score]));
    for (const { rows } of this.blocks.values()) {
      rows.forEach((row, i) => {
        if (!byIndex.has(row.index) || row.blind) return;
        // A new row object: the list redraws the rows that are not the ones it drew.
        const { score: _old, ...rest } = row;
        const score = byIndex.get(row.index);
        rows[i] = score ? { ...rest, score } : rest;
      });
    }
  }

  private requestWanted(): void {
    this.requestTimer = undefined;
    this.lastRequestAt = Date.now();
    const focus = this.owner.focus();
    const blocks = new Set([Math.floor(focus / BLOCK)]);
    if (this.wanted) for (let block = Math.floor(this.wanted.from / BLOCK); block <= Math.floor(this.wanted.to / BLOCK); block++) blocks.add(block);
    this.wanted = undefined;
    for (const block of blocks) {
      const have = this.blocks.get(block);
      if ((have && have.token === this.listToken) || this.asked.get(block) === this.listToken) continue;
      this.request(block);
    }
  }

  private request(block: number): void {
    const token = this.listToken;
    this.asked.set(block, token);
    host.request('rows', { offset: block * BLOCK, count: BLOCK, query: this.owner.query() }).then(
      (reply) => this.receive(block, token, reply),
      // The host has told the user why; the block is asked for again when the list next changes.
      () => undefined,
    );
  }

  private receive(block: number, token: number, reply: { total: number; rows: RowSummary[] }): void {
    if (token < this.queryToken) return; // Another query's list.
    if (token >= this.totalToken) {
      this.total = reply.total;
      this.totalToken = token;
    }
    const have = this.blocks.get(block);
    if (have && have.token >= token) return;
    if (this.asked.get(block) === token) this.asked.delete(block);
    this.blocks.set(block, { token, rows: reply.rows });
    this.owner.arrived(block, token === this.listToken);
  }
}
