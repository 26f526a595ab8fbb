import { AgentMeshError, errorFromProblem } from './errors.js';

/** One item's answer in a batch reply: the status and body its single request would have had. */
export interface BatchItemReply<T> {
  status: number;
  body: T | { type?: string; detail?: string };
}

export interface CoalescerOptions {
  /** Items per batch request (the server takes at most 100). */
  maxItems: number;
  /** Serialized bytes per batch request; an item over a quarter of it goes alone. */
  maxBytes: number;
}

interface Waiting<R> {
  json: string;
  item: unknown;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Natural batching: calls made in the same tick leave as one batch request, a lone call as its
 * usual single request. Nothing waits for company: a batch is sent on the next turn of the
 * event loop, so a call costs no extra latency.
 */
export class Coalescer<R> {
  private waiting: Array<Waiting<R>> = [];
  private scheduled = false;

  constructor(
    private readonly sendOne: (item: unknown) => Promise<R>,
    /** Sends the items as a JSON array text; answers one reply per item, in order. */
    private readonly sendMany: (itemsJson: string) => Promise<Array<BatchItemReply<R>>>,
    private readonly options: CoalescerOptions = { maxItems: 100, maxBytes: 256 * 1024 },
  ) {}

  push(item: unknown): Promise<R> {
    const json = JSON.stringify(item);
    if (json.length > this.options.maxBytes / 4) return this.sendOne(item);
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ json, item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.waiting;
    this.waiting = [];
    let batch: Array<Waiting<R>> = [];
    let bytes = 0;
    for (const w of all) {
      if (batch.length === this.options.maxItems || bytes + w.json.length > this.options.maxBytes) {
        this.send(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(w);
      bytes += w.json.length + 1;
    }
    if (batch.length > 0) this.send(batch);
  }

  private send(batch: Array<Waiting<R>>): void {
    if (batch.length === 1) {
      const [only] = batch;
      this.sendOne(only!.item).then(only!.resolve, only!.reject);
      return;
    }
    this.sendMany(`[${batch.map((w) => w.json).join(',')}]`).then(
      (replies) =>
        batch.forEach((w, i) => {
          const reply = replies[i];
          if (!reply) return w.reject(new Error('the batch reply has fewer results than items'));
          if (reply.status < 400) return w.resolve(reply.body as R);
          w.reject(errorFromProblem(reply.status, reply.body as Record<string, unknown>, 'error'));
        }),
      (error: unknown) => {
        // Refused as a whole (one item broke the schema, or together they passed the body limit):
        // nothing was applied, so each goes again alone and gets its own answer.
        if (error instanceof AgentMeshError && (error.status === 400 || error.status === 413)) {
          for (const w of batch) this.sendOne(w.item).then(w.resolve, w.reject);
          return;
        }
        batch.forEach((w) => w.reject(error));
      },
    );
  }
}
