/**
 * Requests and their replies over a message channel (webview ↔ host), tied together in the types:
 * a request map names each request's parameters and its reply, the client's `request()` returns a
 * promise of exactly that reply, and the answering side must give one handler per request. A reply
 * names the request it answers (`inReplyTo`), the pattern of vscode-hexeditor's MessageHandler, so
 * no caller matches answers to questions by hand. Plain TypeScript: the webview and the host both
 * use it.
 */

/** A map of request kinds to their parameters and replies. */
export type RequestMap = Record<string, { params: unknown; reply: unknown }>;

export type RequestMessage<R extends RequestMap> = {
  [K in keyof R & string]: { type: 'request'; id: number; kind: K; params: R[K]['params'] };
}[keyof R & string];

export type ReplyMessage = { type: 'reply'; inReplyTo: number; reply: unknown } | { type: 'reply'; inReplyTo: number; error: string };

export class RequestClient<R extends RequestMap> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: never) => void; reject: (error: Error) => void }>();

  constructor(private readonly send: (message: RequestMessage<R>) => void) {}

  request<K extends keyof R & string>(kind: K, params: R[K]['params']): Promise<R[K]['reply']> {
    const id = this.nextId++;
    return new Promise<R[K]['reply']>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (reply: never) => void, reject });
      this.send({ type: 'request', id, kind, params } as RequestMessage<R>);
    });
  }

  /** Settles the request `message` answers; false when it answers none of ours. */
  receive(message: ReplyMessage): boolean {
    const waiting = this.pending.get(message.inReplyTo);
    if (!waiting) return false;
    this.pending.delete(message.inReplyTo);
    if ('error' in message) waiting.reject(new Error(message.error));
    else waiting.resolve(message.reply as never);
    return true;
  }

  /** Requests still waiting for their reply (for tests). */
  get waiting(): number {
    return this.pending.size;
  }
}

export type RequestHandlers<R extends RequestMap> = { [K in keyof R & string]: (params: R[K]['params']) => Promise<R[K]['reply']> | R[K]['reply'] };

/**
 * The answering side: runs the handler of each request and sends its reply, or the error it threw.
 * Every request gets exactly one reply, so a client never waits forever on a failure.
 */
export function answerRequests<R extends RequestMap>(handlers: RequestHandlers<R>, send: (message: ReplyMessage) => void): (message: RequestMessage<R>) => Promise<void> {
  return async (message) => {
    const handler = handlers[message.kind] as ((params: unknown) => unknown) | undefined;
    try {
      if (!handler) throw new Error(`unknown request "${String(message.kind)}"`);
      send({ type: 'reply', inReplyTo: message.id, reply: await handler(message.params) });
    } catch (error) {
      send({ type: 'reply', inReplyTo: message.id, error: error instanceof Error ? error.message : String(error) });
    }
  };
}
