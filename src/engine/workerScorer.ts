/**
 * Host side of the scoring worker: implements Scorer over worker_threads messages. Every pending
 * call settles — with results, an AbortError, or a clear error if the worker dies — never hangs.
 */
import { Worker } from 'node:worker_threads';
import type { HostToWorker, LoadOptions, WorkerToHost } from '../shared/workerProtocol';
import type { ScoreItem, ScoreOptions, ScoreResult, ScoreStats, Scorer, ScorerInfo } from './scorer';
import { abortError } from './abort';

export interface WorkerScorerOptions extends LoadOptions {
  /** The bundled worker, dist/worker.js. */
  workerPath: string;
}

interface Job {
  resolve(stats: ScoreStats): void;
  reject(error: Error): void;
  onResults(results: ScoreResult[]): void;
  onProgress?(done: number, total: number): void;
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

  constructor(private readonly options: WorkerScorerOptions) {}

  load(): Promise<ScorerInfo> {
    if (this.pendingLoad) return this.pendingLoad.promise;
    let resolve!: (info: ScorerInfo) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<ScorerInfo>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const pending: PendingLoad = { promise, resolve, reject, settled: false };
    this.pendingLoad = pending;
    const { workerPath, ...loadOptions } = this.options;
    const worker = new Worker(workerPath);
    this.worker = worker;
    worker.on('message', (message: WorkerToHost) => this.handle(worker, message));
    worker.on('error', (error) => this.crashed(worker, `the scoring worker crashed: ${error.message}`));
    worker.on('exit', (code) => this.crashed(worker, `the scoring worker exited unexpectedly (exit code ${code})`));
    this.post({ type: 'load', ...loadOptions });
    this.updateRef();
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
      this.jobs.set(jobId, {
        resolve: settle(resolve),
        reject: settle(reject),
        onResults: options.onResults,
        onProgress: options.onProgress,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.post({ type: 'score', jobId, items });
      this.updateRef();
    });
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    this.fail(new Error('The scorer was disposed'));
    await worker?.terminate();
  }

  private post(message: HostToWorker): void {
    this.worker?.postMessage(message);
  }

  private handle(worker: Worker, message: WorkerToHost): void {
    if (worker !== this.worker) return;
    switch (message.type) {
      case 'loaded':
        this.settleLoad(() => this.pendingLoad?.resolve(message.info));
        break;
      case 'error':
        if (message.jobId === undefined) {
          // A failed load leaves nothing worth keeping: drop the worker so the next load() retries
          // (e.g. after the user fixed the model folder).
          this.fail(new Error(message.message));
          void worker.terminate();
        } else {
          this.finishJob(message.jobId, (job) => job.reject(new Error(message.message)));
        }
        break;
      case 'results': {
        const job = this.jobs.get(message.jobId);
        try {
          job?.onResults(message.results);
        } catch (error) {
          // A throwing consumer ends its own job; the worker stops at the next batch.
          this.post({ type: 'cancel', jobId: message.jobId });
          this.finishJob(message.jobId, (failed) => failed.reject(error instanceof Error ? error : new Error(String(error))));
        }
        break;
      }
      case 'progress':
        this.jobs.get(message.jobId)?.onProgress?.(message.done, message.total);
        break;
      case 'done':
        this.finishJob(message.jobId, (job) => job.resolve(message.stats));
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
    if (worker !== this.worker) return; // a worker we already let go of (terminated after a failed load)
    this.fail(new Error(`Scoring failed: ${reason}. The model is reloaded on the next request.`));
  }

  /** Rejects everything pending and forgets the worker, so the next call starts a fresh one. */
  private fail(error: Error): void {
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

  /** An idle worker must not keep a CLI process alive; a busy one must. */
  private updateRef(): void {
    const busy = this.jobs.size > 0 || (this.pendingLoad !== undefined && !this.pendingLoad.settled);
    if (busy) this.worker?.ref();
    else this.worker?.unref();
  }
}

export function createWorkerScorer(options: WorkerScorerOptions): Scorer {
  return new WorkerScorer(options);
}
