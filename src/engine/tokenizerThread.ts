/**
 * Tokenization on a thread of its own, beside the thread that runs the model. onnxruntime-node's
 * `run()` blocks the JavaScript thread it is called on for the whole inference (its promise is a
 * `setImmediate` around a synchronous call), so on one thread tokenizing and inference take turns
 * and the cores inference does not use sit idle while the tokenizer runs. With the tokenizer here,
 * the engine has the next window tokenized while the current window's batches run.
 *
 * The thread is the scoring worker's own bundle started again with `workerData.role` set (see
 * worker.ts), so there is no second bundle to build, ship or find.
 */
import { Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { Message } from '../core/pair';
import { createItemEncoder, type ItemEncoder } from './encoder';
import { readModelFolder } from './modelFolder';
import type { ModelVariant, TemplateChoice } from './workerProtocol';

export const TOKENIZER_ROLE = 'tokenizer';

/** What the thread needs to build the same encoder as the engine's. */
export interface TokenizerSetup {
  role: typeof TOKENIZER_ROLE;
  modelDir: string;
  variant?: ModelVariant;
  maxLength?: number;
  template?: TemplateChoice;
}

export interface EncodedItem {
  ids: number[];
  typeIds?: number[];
  truncated: boolean;
}

type Request = { id: number; items: Array<{ prompt: Message[]; response: Message[] }> };
type Reply =
  | { type: 'ready' }
  | { type: 'encoded'; id: number; items: Array<{ ids: Int32Array; typeIds?: Int32Array; truncated: boolean }> }
  | { type: 'error'; id?: number; message: string };

/** The engine's side: sends windows of items, gets their token ids back in the same order. */
export class TokenizerThread {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (items: EncodedItem[]) => void; reject: (error: Error) => void }>();
  private failure?: Error;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      if (reply.type !== 'encoded' && reply.type !== 'error') return;
      const waiting = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (reply.id !== undefined) this.settled(reply.id);
      if (reply.type === 'error') return waiting ? waiting.reject(new Error(reply.message)) : this.fail(new Error(reply.message));
      waiting?.resolve(reply.items.map(({ ids, typeIds, truncated }) => ({ ids: Array.from(ids), typeIds: typeIds && Array.from(typeIds), truncated })));
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`the tokenizer thread exited (code ${code})`)));
    // An idle thread must not keep a finished run alive; one with work does (see encode).
    worker.unref();
  }

  /** Starts `script` (the worker bundle) as a tokenizer; resolves once its encoder is built. */
  static start(script: string, setup: Omit<TokenizerSetup, 'role'>): Promise<TokenizerThread> {
    const worker = new Worker(script, { workerData: { ...setup, role: TOKENIZER_ROLE } satisfies TokenizerSetup });
    return new Promise((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if (reply.type === 'ready') {
          cleanup();
          resolve(new TokenizerThread(worker));
        } else if (reply.type === 'error') {
          cleanup();
          void worker.terminate();
          reject(new Error(reply.message));
        }
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
  }

  /** Token ids of each item, as the engine's own encoder would give them. */
  encode(items: ReadonlyArray<{ prompt: Message[]; response: Message[] }>): Promise<EncodedItem[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, items: items.map(({ prompt, response }) => ({ prompt, response })) } satisfies Request);
    });
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    this.worker.unref();
  }

  async dispose(): Promise<void> {
    this.failure ??= new Error('the tokenizer thread was stopped');
    await this.worker.terminate();
  }
}

/** The thread's side: builds the encoder, then answers each window in arrival order. */
export async function runTokenizerThread(port: MessagePort, setup: TokenizerSetup): Promise<void> {
  let encoder: ItemEncoder;
  try {
    const folder = await readModelFolder(setup.modelDir, setup.variant);
    encoder = await createItemEncoder(folder, { maxLength: setup.maxLength, template: setup.template });
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message } satisfies Reply);
    return;
  }
  port.on('message', ({ id, items }: Request) => {
    let index = 0;
    try {
      const encoded = items.map(({ prompt, response }, i) => {
        index = i;
        const { ids, typeIds, truncated } = encoder.input(prompt, response).encode();
        return { ids: Int32Array.from(ids), typeIds: typeIds && Int32Array.from(typeIds), truncated };
      });
      const buffers = encoded.flatMap(({ ids, typeIds }) => (typeIds ? [ids.buffer, typeIds.buffer] : [ids.buffer]));
      port.postMessage({ type: 'encoded', id, items: encoded } satisfies Reply, buffers);
    } catch (error) {
      port.postMessage({ type: 'error', id, message: `item ${index + 1} of the window: ${(error as Error).message}` } satisfies Reply);
    }
  });
  port.postMessage({ type: 'ready' } satisfies Reply);
}
