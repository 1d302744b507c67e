/**
 * Scoring worker (bundled to dist/worker.js). onnxruntime's create() and run() block the thread
 * they run on for the whole inference, so they live here, never on the extension host's thread.
 * One session is created on `load` and kept warm; jobs run one at a time in arrival order. The same
 * bundle started with `workerData.role = 'tokenizer'` is the engine's tokenizer thread instead.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { HostToWorker, LoadOptions, WorkerToHost } from './workerProtocol';
import type { ScoreItem } from './scorer';
import { ScoringEngine } from './scoringEngine';
import { runTokenizerThread, TOKENIZER_ROLE, type TokenizerSetup } from './tokenizerThread';

if (!parentPort) throw new Error('The scoring worker must be started with new Worker(), not run directly');
const port = parentPort;
const setup = workerData as TokenizerSetup | undefined;
if (setup?.role === TOKENIZER_ROLE) void runTokenizerThread(port, setup);
else runScoringWorker();

function runScoringWorker(): void {
  const send = (message: WorkerToHost) => port.postMessage(message);
  const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

  let engine: Promise<ScoringEngine> | undefined;
  const queue: Array<{ jobId: number; items: ScoreItem[] }> = [];
  const cancelled = new Set<number>();
  let runningJob: number | undefined;

  function load(options: LoadOptions): void {
    // The host loads once per worker; a repeated load answers with the model already in memory.
    // This bundle, started again, is the engine's tokenizer thread (see tokenizerThread.ts).
    engine ??= ScoringEngine.load({ ...options, tokenizerScript: options.tokenizerThread === false ? undefined : __filename }, (progress) => send({ type: 'load-progress', ...progress }));
    engine.then(
      (loaded) => send({ type: 'loaded', info: loaded.info }),
      (error: unknown) => send({ type: 'error', message: messageOf(error) }),
    );
  }

  async function drain(): Promise<void> {
    if (runningJob !== undefined) return;
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { jobId, items } = job;
      if (cancelled.delete(jobId)) continue;
      runningJob = jobId;
      try {
        if (!engine) throw new Error('No model loaded: send a load message before scoring');
        const stats = await (
          await engine
        ).score(items, {
          isCancelled: () => cancelled.has(jobId),
          onResults: (results) => send({ type: 'results', jobId, results }),
          onProgress: (done, total) => send({ type: 'progress', jobId, done, total }),
        });
        send({ type: 'done', jobId, stats });
      } catch (error) {
        // The host rejected a cancelled job itself when it asked to cancel; nothing more to say.
        if (!(error instanceof Error && error.name === 'AbortError')) send({ type: 'error', jobId, message: messageOf(error) });
      } finally {
        cancelled.delete(jobId);
        runningJob = undefined;
      }
    }
  }

  port.on('message', (message: HostToWorker) => {
    switch (message.type) {
      case 'load':
        load(message);
        break;
      case 'score':
        queue.push({ jobId: message.jobId, items: message.items });
        void drain();
        break;
      case 'unload':
        // Terminating a worker does not run finalizers, so onnxruntime's native session would stay
        // allocated in the process: release it explicitly first.
        void (engine ?? Promise.resolve(undefined))
          .then((loaded) => loaded?.dispose())
          .catch(() => undefined)
          .then(() => send({ type: 'unloaded' }));
        break;
      case 'cancel':
        // Only remember cancels for jobs still to finish, so late cancels do not accumulate.
        if (runningJob === message.jobId || queue.some((job) => job.jobId === message.jobId)) cancelled.add(message.jobId);
        break;
    }
  });
}
