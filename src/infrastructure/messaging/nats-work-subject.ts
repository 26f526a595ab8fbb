import { createHash } from 'node:crypto';
import { AckPolicy, DeliverPolicy, JetStreamApiError } from '@nats-io/jetstream';
import type { Consumer, ConsumerConfig, ConsumerInfo, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { UnavailableError } from '../../domain/index.js';
import type { BrokerMessage, ConsumeOptions, Subscription } from '../../application/ports.js';

/** nats.js refuses pull requests that expire sooner than this. */
const MIN_FETCH_EXPIRES_MS = 1_000;
/** An open pull request is renewed this often; it also bounds how long one outlives its last taker. */
const MAX_FETCH_EXPIRES_MS = 30_000;
/** max_ack_pending while only pulls use the subject: each pull holds one message, and the mesh acks it at once. */
const PULL_MAX_ACK_PENDING = 1_000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;
/** "consumer name already in use" / "already exists": servers >= 2.10 refuse to change a consumer through "create". */
const CONSUMER_EXISTS_CODES = new Set([10013, 10105, 10148]);

export interface WorkSubjectSettings {
  stream: string;
  /** The subject on the server (with the broker's namespace, if any). */
  subject: string;
  /** The subject as the mesh names it, reported on each message. */
  portSubject: string;
  /** The server deletes the durable consumer after this long without pull requests. */
  inactiveThresholdMs: number;
  /** A pull waits at least this long, so that a message already stored makes the round trip. */
  minPullWaitMs: number;
}

/** Subjects may hold characters consumer names may not ('.', '*', '%'), so the name is a hash of the subject. */
export function consumerNameFor(subject: string): string {
  return `am_${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
}

function nakQuietly(m: JsMsg): void {
  try {
    m.nak();
  } catch {
    // The connection is gone: the server redelivers after ack_wait.
  }
}

/** The message as the port sees it; `onSettle` runs once, on the first ack, nak or term. */
function toBrokerMessage(m: JsMsg, subject: string, onSettle?: () => void): BrokerMessage {
  const headers: Record<string, string> = {};
  for (const key of m.headers?.keys() ?? []) {
    // Nats-Msg-Id and the like are JetStream's own, not the publisher's.
    if (!/^nats-/iu.test(key)) headers[key] = m.headers!.get(key);
  }
  let settled = false;
  const settle = (reply: () => void) => {
    if (settled) return;
    settled = true;
    try {
      reply();
    } catch {
      // Closed connection: the server redelivers after ack_wait, which is what an unsettled message gets.
    }
    onSettle?.();
  };
  return {
    subject,
    data: m.data,
    headers,
    deliveryCount: m.info.deliveryCount,
    ack: () => settle(() => m.ack()),
    nak: (delayMs = 0) => settle(() => m.nak(delayMs > 0 ? delayMs : undefined)),
    term: () => settle(() => m.term()),
  };
}

interface PullWaiter {
  deadline: number;
  settle(message: BrokerMessage | undefined, error?: Error): void;
}

/** One consume() call: holds at most maxInFlight unsettled messages; a slot frees on settle or after ackWait. */
class ConsumeSession {
  held = 0;
  active = true;

  constructor(
    readonly ackWaitMs: number,
    readonly maxInFlight: number,
    private readonly portSubject: string,
    private readonly handler: (message: BrokerMessage) => void,
    private readonly onSlotFreed: () => void,
  ) {}

  get credit(): number {
    return this.active ? Math.max(0, this.maxInFlight - this.held) : 0;
  }

  deliver(m: JsMsg): void {
    this.held++;
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      clearTimeout(timer);
      this.held--;
      this.onSlotFreed();
    };
    // The server redelivers it after ack_wait; the slot is no longer this session's then.
    const timer = setTimeout(free, this.ackWaitMs);
    timer.unref();
    try {
      this.handler(toBrokerMessage(m, this.portSubject, free));
    } catch {
      // A throwing handler leaves the message unsettled: it comes back after ack_wait.
    }
  }
}

/**
 * One work subject: its durable pull consumer (shared by every pull and consume on the subject, so
 * each message goes to one of them) and at most one open pull request, sized to what the local
 * takers want. A message that arrives when nobody wants it any more is nak'ed at once, so it is
 * redelivered promptly instead of after ack_wait; a taker that comes while the request is still
 * open is served by it, so short pulls in a loop do not pile up requests on the server.
 */
export class WorkSubject {
  private consumer: Consumer | undefined;
  private applied: { ackWaitMs: number; maxAckPending: number } | undefined;
  private ensuredAt = 0;
  private ackWaitMs = 30_000;
  private readonly waiters: PullWaiter[] = [];
  private readonly sessions: ConsumeSession[] = [];
  private nextSession = 0;
  private fetching = false;
  private closed = false;
  private cancelRetry: (() => void) | undefined;
  lastUsed = Date.now();

  constructor(
    private readonly settings: WorkSubjectSettings,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  get consumerName(): string {
    return consumerNameFor(this.settings.subject);
  }

  /** Nobody waits, consumes or has a pull request open: safe to forget. */
  get idle(): boolean {
    return !this.fetching && this.waiters.length === 0 && this.sessions.length === 0;
  }

  pull(ackWaitMs: number, waitMs: number, signal?: AbortSignal): Promise<BrokerMessage | undefined> {
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    this.ackWaitMs = ackWaitMs;
    this.lastUsed = Date.now();
    const waitFor = Math.max(waitMs, this.settings.minPullWaitMs);
    return new Promise((resolve, reject) => {
      let done = false;
      const waiter: PullWaiter = {
        deadline: Date.now() + waitFor,
        settle: (message, error) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          this.lastUsed = Date.now();
          if (error) reject(error);
          else resolve(message);
        },
      };
      const onAbort = () => waiter.settle(undefined);
      const timer = setTimeout(onAbort, waitFor);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  consume(options: ConsumeOptions, handler: (message: BrokerMessage) => void): Subscription {
    this.ackWaitMs = options.ackWaitMs;
    this.lastUsed = Date.now();
    const session = new ConsumeSession(options.ackWaitMs, Math.max(1, options.maxInFlight ?? 1), this.settings.portSubject, handler, () => this.pump());
    this.sessions.push(session);
    this.pump();
    return {
      unsubscribe: () => {
        session.active = false;
        const i = this.sessions.indexOf(session);
        if (i >= 0) this.sessions.splice(i, 1);
        this.lastUsed = Date.now();
      },
    };
  }

  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.settle(undefined);
    for (const session of this.sessions) session.active = false;
    this.sessions.length = 0;
    this.cancelRetry?.();
  }

  private demand(): number {
    let n = this.waiters.length;
    for (const session of this.sessions) n += session.credit;
    return n;
  }

  private pump(): void {
    if (this.fetching || this.closed || this.demand() === 0) return;
    this.fetching = true;
    void this.fetchWhileWanted().finally(() => {
      this.fetching = false;
      this.lastUsed = Date.now();
      this.pump();
    });
  }

  private async fetchWhileWanted(): Promise<void> {
    let failures = 0;
    while (!this.closed && this.demand() > 0) {
      let consumer: Consumer;
      try {
        consumer = await this.ensureConsumer();
      } catch (error) {
        const problem = new UnavailableError(`JetStream consumer for '${this.settings.subject}' could not be set up: ${(error as Error).message}`);
        for (const waiter of [...this.waiters]) waiter.settle(undefined, problem);
        await this.pause(++failures);
        continue;
      }
      try {
        const batch = Math.max(1, Math.min(this.demand(), this.applied!.maxAckPending));
        const messages = await consumer.fetch({ max_messages: batch, expires: this.fetchExpiresMs() });
        // The request stays open until it expires or its batch is full, even if its takers leave:
        // whoever comes next is served by it, and what nobody wants is nak'ed in dispatch.
        for await (const m of messages) this.dispatch(m);
        failures = 0;
      } catch {
        // Consumer deleted (purge elsewhere, inactivity), heartbeats missed, or the connection dropped:
        // set it up again before the next pull request.
        this.consumer = undefined;
        await this.pause(++failures);
      }
    }
  }

  private dispatch(m: JsMsg): void {
    this.lastUsed = Date.now();
    const waiter = this.waiters.shift();
    if (waiter) return waiter.settle(toBrokerMessage(m, this.settings.portSubject));
    const session = this.sessionWithCredit();
    if (session) return session.deliver(m);
    nakQuietly(m);
  }

  /** Round robin among consume() calls that have room. */
  private sessionWithCredit(): ConsumeSession | undefined {
    const n = this.sessions.length;
    for (let i = 0; i < n; i++) {
      const session = this.sessions[(this.nextSession + i) % n]!;
      if (session.credit > 0) {
        this.nextSession = (this.nextSession + i + 1) % n;
        return session;
      }
    }
    return undefined;
  }

  private fetchExpiresMs(): number {
    if (this.sessions.length > 0) return MAX_FETCH_EXPIRES_MS;
    const now = Date.now();
    const longest = Math.max(0, ...this.waiters.map((w) => w.deadline - now));
    return Math.min(MAX_FETCH_EXPIRES_MS, Math.max(MIN_FETCH_EXPIRES_MS, longest));
  }

  private wantedMaxAckPending(): number {
    if (this.sessions.length === 0) return PULL_MAX_ACK_PENDING;
    return Math.max(...this.sessions.map((s) => s.maxInFlight));
  }

  private async ensureConsumer(): Promise<Consumer> {
    const wanted = { ackWaitMs: this.ackWaitMs, maxAckPending: this.wantedMaxAckPending() };
    // Re-assert well inside the server's inactivity window, in case it deleted an idle consumer.
    const fresh = Date.now() - this.ensuredAt < this.inactiveThresholdMs() / 2;
    if (this.consumer && fresh && this.applied?.ackWaitMs === wanted.ackWaitMs && this.applied.maxAckPending === wanted.maxAckPending) {
      return this.consumer;
    }
    const info = await this.createOrUpdate({
      durable_name: this.consumerName,
      filter_subject: this.settings.subject,
      deliver_policy: DeliverPolicy.All,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(wanted.ackWaitMs),
      max_ack_pending: wanted.maxAckPending,
      max_deliver: -1,
      inactive_threshold: nanos(this.inactiveThresholdMs()),
    });
    this.consumer = this.js.consumers.getConsumerFromInfo(info);
    this.applied = wanted;
    this.ensuredAt = Date.now();
    return this.consumer;
  }

  /** Never shorter than twice ack_wait, so a consumer is not deleted under a message it handed out. */
  private inactiveThresholdMs(): number {
    return Math.max(this.settings.inactiveThresholdMs, 2 * this.ackWaitMs);
  }

  /** 2.9 servers update a durable through "create"; later ones refuse a changed config there, so update it. */
  private async createOrUpdate(config: Partial<ConsumerConfig>): Promise<ConsumerInfo> {
    try {
      return await this.jsm.consumers.add(this.settings.stream, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || !CONSUMER_EXISTS_CODES.has(error.code)) throw error;
      const { ack_wait, max_ack_pending, inactive_threshold } = config;
      return this.jsm.consumers.update(this.settings.stream, this.consumerName, { ack_wait, max_ack_pending, inactive_threshold });
    }
  }

  private pause(failures: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    const ms = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1));
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.cancelRetry = done;
    });
  }
}
