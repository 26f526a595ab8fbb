import { UnavailableError } from '../../domain/index.js';
import { NoResponderError, type BrokerMessage, type ConsumeOptions, type MessageBroker, type Service, type Subscription } from '../../application/ports.js';

interface Stored {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  deliveryCount: number;
  timer?: NodeJS.Timeout;
  /** The push consumer holding it, whose slot a purge must give back. */
  holder?: PushConsumer;
}

interface PushConsumer {
  handler: (message: BrokerMessage) => void;
  ackWaitMs: number;
  maxInFlight: number;
  inFlight: number;
}

interface Puller {
  ackWaitMs: number;
  resolve: (message: BrokerMessage | undefined) => void;
}

class SubjectQueue {
  readonly ready: Stored[] = [];
  readonly inFlight = new Map<number, Stored>();
  readonly consumers: PushConsumer[] = [];
  readonly pullers: Puller[] = [];
  nextConsumer = 0;
  /** Nak'ed messages waiting out their delay: still stored. */
  delayed = 0;
  /** Messages published up to this seq were purged: a delayed one must not come back. */
  purgedAt = 0;

  get stored(): number {
    return this.ready.length + this.inFlight.size + this.delayed;
  }

  get idle(): boolean {
    return this.stored === 0 && this.consumers.length === 0 && this.pullers.length === 0;
  }
}

export interface InMemoryBrokerOptions {
  /** Stored (unacknowledged) messages per subject; publishing past it fails. */
  maxMessagesPerSubject: number;
}

/**
 * The embedded broker, with JetStream's work-queue semantics: a message is stored until acked,
 * given to one consumer at a time, redelivered after ackWait or nak(delay), dropped on term.
 * Lives in this process only: a restart loses what it held (the mesh re-publishes from the store).
 */
export class InMemoryBroker implements MessageBroker {
  private readonly subjects = new Map<string, SubjectQueue>();
  private readonly listeners = new Map<string, Set<(data: Uint8Array) => void>>();
  private readonly servers = new Map<string, Array<(data: Uint8Array) => Promise<Uint8Array>>>();
  private nextServer = 0;
  readonly maxPayloadBytes = undefined;
  private seq = 0;
  private closed = false;
  published = 0;
  redelivered = 0;

  constructor(private readonly options: InMemoryBrokerOptions = { maxMessagesPerSubject: 10_000 }) {}

  /** Messages stored across subjects, ready or awaiting ack. */
  get storedCount(): number {
    let n = 0;
    for (const q of this.subjects.values()) n += q.stored;
    return n;
  }

  private queue(subject: string): SubjectQueue {
    let q = this.subjects.get(subject);
    if (!q) this.subjects.set(subject, (q = new SubjectQueue()));
    return q;
  }

  private dropIfIdle(subject: string, q: SubjectQueue): void {
    if (q.idle && this.subjects.get(subject) === q) this.subjects.delete(subject);
  }

  async publish(subject: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
    if (this.closed) throw new UnavailableError('broker is closed');
    const q = this.queue(subject);
    if (q.stored >= this.options.maxMessagesPerSubject) {
      throw new UnavailableError(`subject '${subject}' holds ${this.options.maxMessagesPerSubject} messages already`);
    }
    this.published++;
    q.ready.push({ seq: ++this.seq, subject, data, headers, deliveryCount: 0 });
    this.pump(subject, q);
  }

  consume(subject: string, options: ConsumeOptions, handler: (message: BrokerMessage) => void): Subscription {
    const q = this.queue(subject);
    const consumer: PushConsumer = { handler, ackWaitMs: options.ackWaitMs, maxInFlight: options.maxInFlight ?? 1, inFlight: 0 };
    q.consumers.push(consumer);
    queueMicrotask(() => this.pump(subject, q));
    return {
      unsubscribe: () => {
        const i = q.consumers.indexOf(consumer);
        if (i >= 0) q.consumers.splice(i, 1);
        this.dropIfIdle(subject, q);
      },
    };
  }

  pull(subject: string, options: ConsumeOptions & { waitMs: number; signal?: AbortSignal }): Promise<BrokerMessage | undefined> {
    const q = this.queue(subject);
    const next = q.ready.shift();
    if (next) return Promise.resolve(this.lend(q, next, options.ackWaitMs, undefined));
    if (options.waitMs <= 0 || options.signal?.aborted) {
      this.dropIfIdle(subject, q);
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const finish = (message: BrokerMessage | undefined) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const i = q.pullers.indexOf(puller);
        if (i >= 0) q.pullers.splice(i, 1);
        if (!message) this.dropIfIdle(subject, q);
        resolve(message);
      };
      const puller: Puller = { ackWaitMs: options.ackWaitMs, resolve: finish };
      const onAbort = () => finish(undefined);
      const timer = setTimeout(() => finish(undefined), options.waitMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      q.pullers.push(puller);
    });
  }

  async purge(subject: string): Promise<void> {
    const q = this.subjects.get(subject);
    if (!q) return;
    for (const m of q.inFlight.values()) {
      clearTimeout(m.timer);
      if (m.holder) m.holder.inFlight--;
    }
    q.inFlight.clear();
    q.ready.length = 0;
    q.purgedAt = this.seq + 1;
    this.dropIfIdle(subject, q);
  }

  notify(subject: string, data: Uint8Array): void {
    const set = this.listeners.get(subject);
    if (set) for (const listener of [...set]) listener(data);
  }

  listen(subject: string, handler: (data: Uint8Array) => void): Subscription {
    let set = this.listeners.get(subject);
    if (!set) this.listeners.set(subject, (set = new Set()));
    set.add(handler);
    return {
      unsubscribe: () => {
        set!.delete(handler);
        if (set!.size === 0) this.listeners.delete(subject);
      },
    };
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) throw new UnavailableError('broker is closed');
    const handlers = this.servers.get(subject);
    if (!handlers || handlers.length === 0) throw new NoResponderError(subject);
    const handler = handlers[this.nextServer++ % handlers.length]!;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError(`no answer on '${subject}' within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      // A copy, as a network would make: neither side may share the other's buffer.
      return await Promise.race([handler(Uint8Array.from(data)).then((reply) => Uint8Array.from(reply)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  serve(subject: string, handler: (data: Uint8Array) => Promise<Uint8Array>): Service {
    let handlers = this.servers.get(subject);
    if (!handlers) this.servers.set(subject, (handlers = []));
    const inFlight = new Set<Promise<unknown>>();
    const tracked = (data: Uint8Array) => {
      const answer = handler(data);
      inFlight.add(answer);
      void answer.catch(() => {}).finally(() => inFlight.delete(answer));
      return answer;
    };
    handlers.push(tracked);
    return {
      stop: async () => {
        const i = handlers!.indexOf(tracked);
        if (i >= 0) handlers!.splice(i, 1);
        if (handlers!.length === 0 && this.servers.get(subject) === handlers) this.servers.delete(subject);
        await Promise.allSettled([...inFlight]);
      },
    };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new UnavailableError('broker is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.subjects.values()) {
      for (const m of q.inFlight.values()) clearTimeout(m.timer);
      for (const p of [...q.pullers]) p.resolve(undefined);
    }
    this.subjects.clear();
    this.listeners.clear();
    this.servers.clear();
  }

  /** Hand ready messages to waiting pullers first, then to push consumers with room, round robin. */
  private pump(subject: string, q: SubjectQueue): void {
    while (q.ready.length > 0) {
      const puller = q.pullers.shift();
      if (puller) {
        puller.resolve(this.lend(q, q.ready.shift()!, puller.ackWaitMs, undefined));
        continue;
      }
      const consumer = this.nextConsumerWithRoom(q);
      if (!consumer) break;
      const message = this.lend(q, q.ready.shift()!, consumer.ackWaitMs, consumer);
      consumer.handler(message);
    }
    this.dropIfIdle(subject, q);
  }

  private nextConsumerWithRoom(q: SubjectQueue): PushConsumer | undefined {
    for (let i = 0; i < q.consumers.length; i++) {
      const c = q.consumers[(q.nextConsumer + i) % q.consumers.length]!;
      if (c.inFlight < c.maxInFlight) {
        q.nextConsumer = (q.nextConsumer + i + 1) % q.consumers.length;
        return c;
      }
    }
    return undefined;
  }

  private lend(q: SubjectQueue, stored: Stored, ackWaitMs: number, consumer: PushConsumer | undefined): BrokerMessage {
    stored.deliveryCount++;
    if (stored.deliveryCount > 1) this.redelivered++;
    q.inFlight.set(stored.seq, stored);
    stored.holder = consumer;
    if (consumer) consumer.inFlight++;
    let settled = false;
    const settle = (): boolean => {
      if (settled || q.inFlight.get(stored.seq) !== stored) return false;
      settled = true;
      clearTimeout(stored.timer);
      q.inFlight.delete(stored.seq);
      stored.holder = undefined;
      if (consumer) consumer.inFlight--;
      return true;
    };
    const requeue = (delayMs: number) => {
      if (!settle()) return;
      const back = () => {
        if (this.closed) return;
        // Keep publish order among ready messages.
        const i = q.ready.findIndex((m) => m.seq > stored.seq);
        q.ready.splice(i < 0 ? q.ready.length : i, 0, stored);
        this.pump(stored.subject, q);
      };
      if (delayMs <= 0) return back();
      q.delayed++;
      const timer = setTimeout(() => {
        q.delayed--;
        if (q.purgedAt <= stored.seq) back();
        else this.dropIfIdle(stored.subject, q);
      }, delayMs);
      timer.unref();
    };
    stored.timer = setTimeout(() => requeue(0), ackWaitMs);
    stored.timer.unref();
    return {
      subject: stored.subject,
      data: stored.data,
      headers: stored.headers,
      deliveryCount: stored.deliveryCount,
      ack: () => {
        if (settle()) this.afterSettle(stored.subject, q);
      },
      nak: (delayMs = 0) => requeue(delayMs),
      term: () => {
        if (settle()) this.afterSettle(stored.subject, q);
      },
    };
  }

  private afterSettle(subject: string, q: SubjectQueue): void {
    if (q.ready.length > 0) this.pump(subject, q);
    else this.dropIfIdle(subject, q);
  }
}
