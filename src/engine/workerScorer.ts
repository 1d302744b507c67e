/**
 * Host side of the scoring worker: implements Scorer over worker_threads messages. Every pending
 * call settles — with results, an AbortError, or a clear error — never hangs.
 *
 * A worker that dies (an uncaught exception, out of memory, terminated) is restarted after a
 * backoff and the pending calls resume on the new one with the items that had no result yet. The
 * worker reports a batch only once it has finished, and messages from a worker already declared
 * dead are ignored, so no item is reported twice and no score of a failed run is reported. After
 * `maxRestarts` crashes in a row, the pending calls reject with a message that says so.
 *
 * With `idleUnloadMs`, a worker with nothing to do for that long is terminated, giving back the
 * model's memory (gigabytes for a Llama RM); the next call loads it again on a fresh worker.
 *
 * (A worker thread shares the process: a native abort inside onnxruntime still ends the process,
 * which no restart here can catch.)
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { HostToWorker, LoadOptions, LoadProgress, WorkerToHost } from './workerProtocol';
import type { ScoreItem, ScoreOptions, ScoreStats, Scorer, ScorerInfo } from './scorer';
import { abortError } from './abort';

/** First wait before a restart; doubled after each further crash in a row (0.5 s, 1 s, 2 s…). */
export const DEFAULT_RESTART_BACKOFF_MS = 500;
/** Crashes in a row that are still followed by a restart; one more and scoring gives up. */
export const DEFAULT_MAX_RESTARTS = 3;

export interface WorkerScorerOptions extends LoadOptions {
  /** The bundled worker, dist/worker.js. */
  workerPath: string;
  /** Default DEFAULT_RESTART_BACKOFF_MS. */
  restartBackoffMs?: number;
  /** Default DEFAULT_MAX_RESTARTS; 0 gives up at the first crash. */
  maxRestarts?: number;
  /**
   * Caps on the worker's JavaScript heap. Without them a worker that runs out of heap aborts the
   * whole process; with them only the worker dies (ERR_WORKER_OUT_OF_MEMORY) and is restarted.
   * onnxruntime's tensors live outside this heap and are not limited by it.
   */
  resourceLimits?: ResourceLimits;
  /**
   * Terminate the worker (and so its session) after this long without a pending call; the next
   * call starts and loads a new one. 0 or absent: keep it for the scorer's lifetime.
   */
  idleUnloadMs?: number;
  /** Told while a Hugging Face checkpoint's graph is built during a load (the first load of a model). */
  onLoadProgress?: (progress: LoadProgress) => void;
}

interface Job {
  items: ScoreItem[];
  options: ScoreOptions;
  /** Ids whose result reached the caller: never reported again, never re-run. */
  delivered: Set<number>;
  /** `delivered.size` when the current attempt was posted; the worker counts progress from there. */
  offset: number;
  restarts: number;
  resolve(stats: ScoreStats): void;
  reject(error: Error): void;
}

interface PendingLoad {
  promise: Promise<ScorerInfo>;
  resolve(info: ScorerInfo): void;
  reject(error: Error): void;
  settled: boolean;
}

class WorkerScorer implements Scorer {
  private worker: Worker | undefined;
  private pendingLoad: PendingLoad | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextJobId = 1;
  /** Crashes since the last sign of progress (a result, or a finished job). */
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleUnloadMs: number;
  private readonly workerPath: string;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly loadOptions: LoadOptions;
  private readonly restartBackoffMs: number;
  private readonly maxRestarts: number;
  private readonly onLoadProgress: ((progress: LoadProgress) => void) | undefined;

  constructor(options: WorkerScorerOptions) {
    const { workerPath, restartBackoffMs, maxRestarts, resourceLimits, idleUnloadMs, onLoadProgress, ...loadOptions } = options;
    this.onLoadProgress = onLoadProgress;
    this.workerPath = workerPath;
    this.resourceLimits = resourceLimits;
    this.loadOptions = loadOptions;
    this.restartBackoffMs = restartBackoffMs ?? DEFAULT_RESTART_BACKOFF_MS;
    this.maxRestarts = maxRestarts ?? DEFAULT_MAX_RESTARTS;
    this.idleUnloadMs = idleUnloadMs ?? 0;
  }

  load(): Promise<ScorerInfo> {
    if (this.pendingLoad) return this.pendingLoad.promise;
    let resolve!: (info: ScorerInfo) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<ScorerInfo>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.pendingLoad = { promise, resolve, reject, settled: false };
    this.startWorker();
    return promise;
  }

  async score(items: ScoreItem[], options: ScoreOptions): Promise<ScoreStats> {
    const { signal } = options;
    if (signal?.aborted) throw abortError();
    await this.load();
    if (signal?.aborted) throw abortError();
    const jobId = this.nextJobId++;
    return new Promise<ScoreStats>((resolve, reject) => {
      const onAbort = () => {
        if (!this.jobs.delete(jobId)) return;
        this.post({ type: 'cancel', jobId });
        this.updateRef();
        reject(abortError());
      };
      const settle = <T>(finish: (value: T) => void) => (value: T) => {
        signal?.removeEventListener('abort', onAbort);
        finish(value);
      };
      const job: Job = { items, options, delivered: new Set(), offset: 0, restarts: 0, resolve: settle(resolve), reject: settle(reject) };
      this.jobs.set(jobId, job);
      signal?.addEventListener('abort', onAbort, { once: true });
      // While a restart is pending there is no worker: the restart posts every job still pending.
      if (this.worker) this.post({ type: 'score', jobId, items });
      this.updateRef();
    });
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    this.fail(new Error('The scorer was disposed'));
    if (worker) await release(worker);
  }

  /** A new worker, loaded with the model, given every pending job's items that have no result yet. */
  private startWorker(): void {
    const worker = new Worker(this.workerPath, { resourceLimits: this.resourceLimits });
    this.worker = worker;
    worker.on('message', (message: WorkerToHost) => this.handle(worker, message));
    // 'error' (an uncaught exception, out of memory) is always followed by 'exit', and only 'exit'
    // comes after every message the worker posted has been handled: results it finished before
    // dying still count, and the restart does not redo them.
    let failure: string | undefined;
    worker.on('error', (error) => (failure ??= `it crashed: ${error.message}`));
    worker.on('exit', (code) => this.crashed(worker, failure ?? `it exited unexpectedly (exit code ${code})`));
    this.post({ type: 'load', ...this.loadOptions });
    for (const [jobId, job] of this.jobs) {
      job.offset = job.delivered.size;
      this.post({ type: 'score', jobId, items: job.offset === 0 ? job.items : job.items.filter((item) => !job.delivered.has(item.id)) });
    }
    this.updateRef();
  }

  private post(message: HostToWorker): void {
    this.worker?.postMessage(message);
  }

  private handle(worker: Worker, message: WorkerToHost): void {
    // A worker already declared dead may still have messages in flight; its work is redone instead.
    if (worker !== this.worker) return;
    switch (message.type) {
      case 'loaded':
        this.settleLoad(() => this.pendingLoad?.resolve(message.info));
        break;
      case 'load-progress':
        this.onLoadProgress?.({ stage: message.stage, done: message.done, total: message.total });
        break;
      case 'error':
        if (message.jobId === undefined) {
          // A failed load leaves nothing worth keeping: drop the worker so the next load() retries
          // (e.g. after the user fixed the model folder). Not a crash: a restart would fail alike.
          this.fail(new Error(message.message));
          void worker.terminate();
        } else {
          this.finishJob(message.jobId, (job) => job.reject(new Error(message.message)));
        }
        break;
      case 'results': {
        const job = this.jobs.get(message.jobId);
        if (!job) break; // cancelled by the caller
        this.crashes = 0;
        const fresh = message.results.filter((result) => !job.delivered.has(result.id));
        for (const result of fresh) job.delivered.add(result.id);
        try {
          if (fresh.length > 0) job.options.onResults(fresh);
        } catch (error) {
          // A throwing consumer ends its own job; the worker stops at the next batch.
          this.post({ type: 'cancel', jobId: message.jobId });
          this.finishJob(message.jobId, (failed) => failed.reject(error instanceof Error ? error : new Error(String(error))));
        }
        break;
      }
      case 'progress': {
        const job = this.jobs.get(message.jobId);
        job?.options.onProgress?.(job.offset + message.done, job.items.length);
        break;
      }
      case 'done':
        this.crashes = 0;
        this.finishJob(message.jobId, (job) =>
          job.resolve(job.restarts === 0 ? message.stats : { ...message.stats, items: job.delivered.size, restarts: job.restarts }),
        );
        break;
    }
  }

  private settleLoad(settle: () => void): void {
    if (!this.pendingLoad || this.pendingLoad.settled) return;
    this.pendingLoad.settled = true;
    settle();
    this.updateRef();
  }

  private finishJob(jobId: number, settle: (job: Job) => void): void {
    const job = this.jobs.get(jobId);
    if (!job) return; // already cancelled by the caller
    this.jobs.delete(jobId);
    settle(job);
    this.updateRef();
  }

  private crashed(worker: Worker, reason: string): void {
    if (worker !== this.worker) return; // one we already let go of (terminated, or its crash handled)
    this.worker = undefined;
    const loading = this.pendingLoad !== undefined && !this.pendingLoad.settled;
    if (this.jobs.size === 0 && !loading) {
      // Nobody is waiting: the next call starts a fresh worker.
      this.pendingLoad = undefined;
      return;
    }
    this.crashes++;
    if (this.crashes > this.maxRestarts) {
      const times = this.crashes === 1 ? 'once' : `${this.crashes} times in a row`;
      this.fail(
        new Error(
          `Scoring stopped: the scoring worker crashed ${times} (last: ${reason}). If the model is too big for this ` +
            'machine, try a smaller or quantized export, or a remote endpoint; scoring again starts a new worker.',
        ),
      );
      return;
    }
    const delayMs = this.restartBackoffMs * 2 ** (this.crashes - 1);
    const notice = {
      kind: 'worker-restart' as const,
      message: `The scoring worker stopped (${reason}); restarting it in ${delayMs / 1000} s (attempt ${this.crashes} of ${this.maxRestarts}).`,
      attempt: this.crashes,
      maxAttempts: this.maxRestarts,
      delayMs,
    };
    for (const job of this.jobs.values()) {
      job.restarts++;
      job.options.onNotice?.(notice);
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      // Everything may have been cancelled meanwhile; then the next call starts the worker.
      if (this.jobs.size > 0 || (this.pendingLoad !== undefined && !this.pendingLoad.settled)) this.startWorker();
      else this.pendingLoad = undefined;
    }, delayMs);
  }

  /** Rejects everything pending and forgets the worker, so the next call starts a fresh one. */
  private fail(error: Error): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.crashes = 0;
    const load = this.pendingLoad;
    this.worker = undefined;
    this.pendingLoad = undefined;
    if (load && !load.settled) {
      load.settled = true;
      load.reject(error);
    }
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) job.reject(error);
  }

  private get busy(): boolean {
    return this.jobs.size > 0 || (this.pendingLoad !== undefined && !this.pendingLoad.settled);
  }

  /**
   * An idle worker must not keep a CLI process alive; a busy one must. Called on every change of
   * state, so it also (re)arms the idle unload: any call stops the clock, and it starts again from
   * the moment the last pending call settles.
   */
  private updateRef(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.busy) {
      this.worker?.ref();
      return;
    }
    this.worker?.unref();
    if (this.worker && this.idleUnloadMs > 0) {
      this.idleTimer = setTimeout(() => this.unloadIdle(), this.idleUnloadMs);
      // Waiting to unload is no reason to keep the process alive either.
      this.idleTimer.unref();
    }
  }

  /** Lets the idle worker go as if it had never been started: the next load() or score() starts one. */
  private unloadIdle(): void {
    this.idleTimer = undefined;
    const worker = this.worker;
    if (!worker || this.busy) return;
    // Forgotten before terminating, so its 'exit' is not taken for a crash.
    this.worker = undefined;
    this.pendingLoad = undefined;
    void release(worker);
  }
}

/** How long a worker gets to release its session before it is terminated anyway. */
const RELEASE_TIMEOUT_MS = 2000;

/** Lets the worker free onnxruntime's native memory (see worker.ts 'unload'), then terminates it. */
async function release(worker: Worker): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', done);
      resolve();
    };
    const onMessage = (message: WorkerToHost) => {
      if (message.type === 'unloaded') done();
    };
    const timer = setTimeout(done, RELEASE_TIMEOUT_MS);
    worker.on('message', onMessage);
    worker.once('exit', done);
    worker.postMessage({ type: 'unload' } satisfies HostToWorker);
  });
  await worker.terminate();
}

export function createWorkerScorer(options: WorkerScorerOptions): Scorer {
  return new WorkerScorer(options);
}
