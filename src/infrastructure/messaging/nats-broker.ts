import { DiscardPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { connect, deadline, headers as natsHeaders, nanos, RequestError } from '@nats-io/transport-node';
import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import { UnavailableError } from '../../domain/index.js';
import { NoResponderError, type BrokerMessage, type ConsumeOptions, type MessageBroker, type Service, type Subscription } from '../../application/ports.js';
import { consumerNameFor, WorkSubject } from './nats-work-subject.js';
import { redactNatsUrl } from './nats-url.js';
import { DependencyPolicy } from '../resilience/dependency-policy.js';
import type { ResilienceRegistry } from '../resilience/observer.js';
import { PLAIN } from '../../domain/plain.js';

/** NATS itself did not answer (down, cut off, JetStream missing): what the broker's breaker counts. A stream refusing a message is not. */
class BrokerUnreachableError extends UnavailableError {}

/**
 * The broker's policies on publish and purge: a run of unanswered calls opens the breaker (they
 * fail fast while NATS is away; the outbox keeps what waits), a publish is tried again only when
 * it carries a message id (JetStream drops the duplicate), and a bulkhead bounds those in flight.
 */
function brokerPolicy(settings: Settings, resilience: ResilienceRegistry | undefined): DependencyPolicy {
  return DependencyPolicy.preset('forMessageBroker', 'message_broker', resilience, {
    breaker: { isFailure: (error) => error instanceof BrokerUnreachableError },
    retry: { isRetryable: (error) => error instanceof BrokerUnreachableError },
    // Past the client's own acknowledgement timeout, so that its error (which says what happened) comes first.
    timeoutMs: settings.requestTimeoutMs + 1_000,
  });
}

export interface NatsBrokerOptions {
  /** Default 'AGENTMESH_WORK', or 'AGENTMESH_WORK_<NAMESPACE>'. */
  streamName?: string;
  /** Subjects the stream stores, as the mesh names them; only these take publish/consume/pull/purge. Default ['agentmesh.*.agent.*']. */
  workSubjects?: string[];
  /** The stream of published domain events. Default 'AGENTMESH_EVENTS', or 'AGENTMESH_EVENTS_<NAMESPACE>'. */
  eventStreamName?: string;
  /** Subjects of domain events, as the mesh names them. Default ['agentmesh.*.events.>']. */
  eventSubjects?: string[];
  /** How long published events are kept (limits retention; oldest dropped first). Default 7 days. */
  eventMaxAgeMs?: number;
  /** Bytes of events kept; past it the oldest are dropped. Default 1 GiB. */
  eventMaxBytes?: number;
  /**
   * Put before every subject on the server ('ci42' makes 'agentmesh.t.agent.a' travel as
   * 'ci42.agentmesh.t.agent.a'), so several meshes can share one NATS. Default: none.
   */
  namespace?: string;
  /** Stored (unacknowledged) messages per subject; publishing past it fails with UnavailableError. Default 10,000. */
  maxMessagesPerSubject?: number;
  /** Bytes the whole stream may hold; publishing past it fails with UnavailableError. Default 1 GiB. */
  maxBytes?: number;
  /** A re-publish of the same task-id and attempt within this window is stored once. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** The server deletes a subject's consumer after this long without pull requests (a departed agent). Default 1 hour. */
  consumerInactiveThresholdMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** JetStream API calls, publish acknowledgements, ping. Default 5 s. */
  requestTimeoutMs?: number;
  /** A pull waits at least this long, so that a message already stored makes the round trip. Default 25 ms. */
  minPullWaitMs?: number;
  /** Shown by the server's monitoring. Default 'agentmesh'. */
  connectionName?: string;
}

type Settings = Required<NatsBrokerOptions>;

const DEFAULTS: Settings = {
  streamName: 'AGENTMESH_WORK',
  workSubjects: ['agentmesh.*.agent.*'],
  eventStreamName: 'AGENTMESH_EVENTS',
  eventSubjects: ['agentmesh.*.events.>'],
  eventMaxAgeMs: 7 * 24 * 3600_000,
  eventMaxBytes: 1024 ** 3,
  namespace: '',
  maxMessagesPerSubject: 10_000,
  maxBytes: 1024 ** 3,
  duplicateWindowMs: 120_000,
  consumerInactiveThresholdMs: 3_600_000,
  connectTimeoutMs: 5_000,
  requestTimeoutMs: 5_000,
  minPullWaitMs: 25,
  connectionName: 'agentmesh',
};

/**
 * What the stream de-duplicates on: the publisher's `message-id`, or for an assignment its task,
 * attempt and time of assignment (a re-published assignment is the same message; a task handed
 * back or requeued is assigned again under the same attempt number, at another time, and within
 * the stream's duplicate window that new assignment must not be dropped as a repeat).
 */
function messageIdOf(headers: Record<string, string>): string | undefined {
  if (headers['message-id'] !== undefined) return headers['message-id'];
  const taskId = headers['task-id'];
  const attempt = headers['attempt'];
  if (taskId === undefined || attempt === undefined) return undefined;
  const assignedAt = headers['assigned-at'];
  return assignedAt === undefined ? `${taskId}:${attempt}` : `${taskId}:${attempt}:${assignedAt}`;
}

/** JSStreamNameExistErr: the stream exists with another configuration. */
const STREAM_EXISTS_CODE = 10058;
/** Idle subjects are forgotten (their consumer handle only: the server keeps the consumer until inactive_threshold). */
const FORGET_IDLE_SUBJECT_MS = 60_000;
const SWEEP_EVERY_MS = 30_000;
/** Past this many cached subjects, idle ones are forgotten at once whatever their age. */
const MAX_CACHED_SUBJECTS = 10_000;

/**
 * A matcher for NATS subject patterns ('*' one token, '>' one or more trailing tokens), compiled
 * once: every publish is checked against it.
 */
export function subjectMatcher(patterns: readonly string[]): (subject: string) => boolean {
  const tokens = patterns.map((pattern) =>
    pattern
      .split('.')
      .map((t) => (t === '*' ? '[^.]+' : t === '>' ? '.+' : t.replace(/[\\^$.|?*+()[\]{}]/gu, '\\$&')))
      .join('\\.'),
  );
  const regex = new RegExp(`^(?:${tokens.join('|')})$`, 'u');
  return (subject) => regex.test(subject);
}


interface ConnectionTarget {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Set when the URLs say tls://: nats.js would otherwise connect in clear text whatever the scheme. */
  tls?: Record<string, never>;
}

/**
 * nats.js takes credentials and TLS as options, not in the URL: 'nats://user:pass@host',
 * 'nats://token@host', 'tls://host' (TLS required, server certificate verified against the
 * system's CAs). Several servers are separated by commas and must agree on tls:// or not.
 */
function connectionTarget(url: string): ConnectionTarget {
  const target: ConnectionTarget = { servers: [] };
  const schemes = new Set<string>();
  for (const part of url.split(',')) {
    const trimmed = part.trim();
    let parsed: URL;
    try {
      parsed = new URL(trimmed.includes('://') ? trimmed : `nats://${trimmed}`);
    } catch {
      throw new Error(`invalid NATS URL '${redactNatsUrl(trimmed)}'`);
    }
    if (parsed.username && parsed.password) {
      target.user = decodeURIComponent(parsed.username);
      target.pass = decodeURIComponent(parsed.password);
    } else if (parsed.username) {
      target.token = decodeURIComponent(parsed.username);
    }
    schemes.add(parsed.protocol);
    target.servers.push(`${parsed.host}`);
  }
  if (schemes.size > 1) throw new Error(`NATS URLs mix ${[...schemes].join(' and ')}: use tls:// for every server or for none`);
  if (schemes.has('tls:')) target.tls = {};
  return target;
}

const onWire = (s: Settings, subject: string) => (s.namespace ? `${s.namespace}.${subject}` : subject);

type NamedStreamConfig = Partial<StreamConfig> & { name: string };

/** What both streams share: file storage, the namespace on their subjects, de-duplication. */
const fileStream = (s: Settings, name: string, subjects: string[]): NamedStreamConfig => ({
  name,
  subjects: subjects.map((subject) => onWire(s, subject)),
  storage: StorageType.File,
  duplicate_window: nanos(s.duplicateWindowMs),
});

/** Work: kept until acknowledged; past its bounds a publish fails rather than drop work. */
const streamConfig = (s: Settings): NamedStreamConfig => ({
  ...PLAIN,
  ...fileStream(s, s.streamName, s.workSubjects),
  retention: RetentionPolicy.Workqueue,
  discard: DiscardPolicy.New,
  discard_new_per_subject: true,
  max_msgs_per_subject: s.maxMessagesPerSubject,
  max_bytes: s.maxBytes,
});

/** Events: a log for any number of readers; past its bounds the oldest go. */
const eventStreamConfig = (s: Settings): NamedStreamConfig => ({
  ...PLAIN,
  ...fileStream(s, s.eventStreamName, s.eventSubjects),
  retention: RetentionPolicy.Limits,
  discard: DiscardPolicy.Old,
  max_age: nanos(s.eventMaxAgeMs),
  max_bytes: s.eventMaxBytes,
});

/** Creates a stream, or brings an existing one to these settings (concurrent instances may both try). */
async function ensureStream(jsm: JetStreamManager, config: NamedStreamConfig): Promise<void> {
  let info;
  try {
    info = await jsm.streams.add(config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== STREAM_EXISTS_CODE) throw error;
    const { name, retention: _r, storage: _s, ...changeable } = config;
    info = await jsm.streams.update(name, changeable);
  }
  if (info.config.retention !== config.retention || info.config.storage !== config.storage) {
    throw new Error(`stream '${config.name}' exists with ${info.config.retention} retention on ${info.config.storage} storage; it must be ${config.retention} on ${config.storage} (delete it, or choose another stream name)`);
  }
}

/**
 * The MessageBroker port on NATS JetStream. Work subjects live in one work-queue stream (file
 * storage, bounded per subject and in bytes, de-duplicated by task-id, attempt and assigned-at); each work
 * subject has one durable pull consumer that every pull and consume on it shares. Notify subjects
 * are core NATS publish/subscribe and must lie outside the stream's subjects.
 */
export class NatsBroker implements MessageBroker {
  private readonly subjects = new Map<string, WorkSubject>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  private readonly isWorkSubject: (subject: string) => boolean;
  private readonly isEventSubject: (subject: string) => boolean;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly settings: Settings,
    private readonly policy: DependencyPolicy,
  ) {
    this.isWorkSubject = subjectMatcher(settings.workSubjects);
    this.isEventSubject = subjectMatcher(settings.eventSubjects);
    this.sweeper = setInterval(() => this.forgetIdleSubjects(FORGET_IDLE_SUBJECT_MS), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  /** Connects (one attempt, then reconnects forever once up) and creates or updates the stream. */
  static async connect(url: string, options: NatsBrokerOptions = {}, resilience?: ResilienceRegistry): Promise<NatsBroker> {
    // A namespaced mesh has streams of its own: AGENTMESH_WORK_<NS>, AGENTMESH_EVENTS_<NS>.
    const suffix = options.namespace ? `_${options.namespace.toUpperCase().replace(/[^A-Z0-9_-]/gu, '_')}` : '';
    const settings: Settings = { ...PLAIN, ...DEFAULTS, streamName: `${DEFAULTS.streamName}${suffix}`, eventStreamName: `${DEFAULTS.eventStreamName}${suffix}`, ...options };
    if (settings.workSubjects.length === 0) throw new Error('workSubjects must name at least one subject');
    if (settings.namespace !== '' && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/u.test(settings.namespace)) {
      throw new Error(`namespace '${settings.namespace}' must be NATS subject tokens (letters, digits, '_' and '-', joined by '.')`);
    }
    const where = redactNatsUrl(url);
    const target = connectionTarget(url);
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...PLAIN,
        ...target,
        name: settings.connectionName,
        timeout: settings.connectTimeoutMs,
        waitOnFirstConnect: false,
        maxReconnectAttempts: -1,
        // Otherwise every publish builds two error objects with stack traces up front, in case it
        // times out: measured at 14 % of the mesh thread under load. Our errors name the subject.
        noAsyncTraces: true,
      });
    } catch (error) {
      throw new UnavailableError(`cannot connect to NATS at ${where}: ${(error as Error).message}`);
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: settings.requestTimeoutMs });
      await ensureStream(jsm, streamConfig(settings));
      await ensureStream(jsm, eventStreamConfig(settings));
      return new NatsBroker(nc, jetstream(nc, { timeout: settings.requestTimeoutMs }), jsm, settings, brokerPolicy(settings, resilience));
    } catch (error) {
      await nc.close().catch(() => {});
      throw new UnavailableError(`NATS at ${where}: JetStream stream '${settings.streamName}' could not be set up: ${(error as Error).message}`);
    }
  }

  async publish(subject: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
    if (this.closed) throw new UnavailableError('broker is closed');
    if (!this.isEventSubject(subject)) this.assertWorkSubject(subject);
    const h = natsHeaders();
    for (const [key, value] of Object.entries(headers)) h.set(key, value);
    const msgID = messageIdOf(headers);
    const onTheWire = onWire(this.settings, subject);
    await this.policy.execute(
      async () => {
        try {
          await this.js.publish(onTheWire, data, { headers: h, ...(msgID !== undefined && { msgID }) });
        } catch (error) {
          throw this.failure(`NATS did not store the message on '${subject}'`, error);
        }
      },
      { retry: msgID !== undefined },
    );
  }

  /** The stream answered and refused (full, no such stream): the caller's 503. Anything else: NATS is unreachable. */
  private failure(what: string, error: unknown): UnavailableError {
    const message = `${what}: ${(error as Error).message}`;
    return error instanceof JetStreamApiError ? new UnavailableError(message) : new BrokerUnreachableError(message);
  }

  consume(subject: string, options: ConsumeOptions, handler: (message: BrokerMessage) => void): Subscription {
    if (this.closed) return { unsubscribe: () => {} };
    return this.workSubject(subject).consume(options, handler);
  }

  pull(subject: string, options: ConsumeOptions & { waitMs: number; signal?: AbortSignal }): Promise<BrokerMessage | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return this.workSubject(subject).pull(options.ackWaitMs, options.waitMs, options.signal);
  }

  /**
   * The agent left for good: drops the subject's stored messages, ends this process's pulls and
   * consumers on it, and deletes its consumer on the server.
   */
  async purge(subject: string): Promise<void> {
    if (this.closed) throw new UnavailableError('broker is closed');
    this.assertWorkSubject(subject);
    await this.policy.execute(async () => {
      try {
        await this.jsm.streams.purge(this.settings.streamName, { filter: onWire(this.settings, subject) });
        this.subjects.get(subject)?.close();
        this.subjects.delete(subject);
        await this.jsm.consumers.delete(this.settings.streamName, consumerNameFor(onWire(this.settings, subject))).catch((error: unknown) => {
          if (!(error instanceof JetStreamApiError && error.status === 404)) throw error;
        });
      } catch (error) {
        throw this.failure(`NATS did not purge '${subject}'`, error);
      }
    });
  }

  notify(subject: string, data: Uint8Array): void {
    this.assertNotifySubject(subject);
    if (this.closed) return;
    try {
      this.nc.publish(onWire(this.settings, subject), data);
    } catch {
      // Fire and forget: a connection closing under us loses the notice, as a missed one would be.
    }
  }

  listen(subject: string, handler: (data: Uint8Array) => void): Subscription {
    this.assertNotifySubject(subject);
    if (this.closed) return { unsubscribe: () => {} };
    const sub: NatsSubscription = this.nc.subscribe(onWire(this.settings, subject), {
      callback: (error, message) => {
        if (error) return;
        try {
          handler(message.data);
        } catch {
          // nats.js calls this from its socket reader: a throw there would break the connection.
        }
      },
    });
    // A round trip to the server after the SUB: once it returns, the server has the interest.
    const ready = this.nc.flush().catch(() => {});
    return { unsubscribe: () => sub.unsubscribe(), ready };
  }

  get maxPayloadBytes(): number | undefined {
    return this.nc.info?.max_payload;
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.assertNotifySubject(subject);
    if (this.closed) throw new UnavailableError('broker is closed');
    try {
      return (await this.nc.request(onWire(this.settings, subject), data, { timeout: timeoutMs })).data;
    } catch (error) {
      if (error instanceof RequestError && error.isNoResponders()) throw new NoResponderError(subject);
      throw new UnavailableError(`NATS request on '${subject}' failed: ${(error as Error).message}`);
    }
  }

  serve(subject: string, handler: (data: Uint8Array) => Promise<Uint8Array>): Service {
    this.assertNotifySubject(subject);
    if (this.closed) return { stop: async () => {} };
    const inFlight = new Set<Promise<void>>();
    // A queue group: with several servers, each request reaches one of them.
    const sub: NatsSubscription = this.nc.subscribe(onWire(this.settings, subject), {
      queue: 'agentmesh',
      callback: (error, message) => {
        if (error) return;
        const answered = handler(message.data)
          .then((reply) => void message.respond(reply))
          // The handler answers its own errors; one that throws leaves the requester to its timeout.
          .catch(() => {})
          .finally(() => inFlight.delete(answered));
        inFlight.add(answered);
      },
    });
    return {
      // Drain: requests the server routed here already are still handed over, then none come.
      stop: async () => {
        await sub.drain().catch(() => {});
        await Promise.allSettled([...inFlight]);
      },
    };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new UnavailableError('broker is closed');
    try {
      await deadline(this.nc.rtt(), this.settings.requestTimeoutMs);
    } catch (error) {
      throw new UnavailableError(`NATS did not answer a ping: ${(error as Error).message}`);
    }
  }

  /** Stops pulls and consumers (what they held and did not ack comes back after ack_wait) and drains the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const work of this.subjects.values()) work.close();
    this.subjects.clear();
    try {
      await deadline(this.nc.drain(), this.settings.requestTimeoutMs);
    } catch {
      await this.nc.close().catch(() => {});
    }
  }

  private workSubject(subject: string): WorkSubject {
    this.assertWorkSubject(subject);
    let work = this.subjects.get(subject);
    if (!work) {
      if (this.subjects.size >= MAX_CACHED_SUBJECTS) this.forgetIdleSubjects(0);
      work = new WorkSubject(
        {
          stream: this.settings.streamName,
          subject: onWire(this.settings, subject),
          portSubject: subject,
          inactiveThresholdMs: this.settings.consumerInactiveThresholdMs,
          minPullWaitMs: this.settings.minPullWaitMs,
        },
        this.js,
        this.jsm,
      );
      this.subjects.set(subject, work);
    }
    return work;
  }

  private forgetIdleSubjects(idleForMs: number): void {
    const before = Date.now() - idleForMs;
    for (const [subject, work] of this.subjects) {
      if (work.idle && work.lastUsed <= before) this.subjects.delete(subject);
    }
  }

  private assertWorkSubject(subject: string): void {
    if (!this.isWorkSubject(subject)) {
      throw new Error(`'${subject}' is not a work subject of stream '${this.settings.streamName}' (${this.settings.workSubjects.join(', ')})`);
    }
  }

  /** A notice on a work or event subject would be stored by a stream (and handed out as work). */
  private assertNotifySubject(subject: string): void {
    if (this.isWorkSubject(subject) || this.isEventSubject(subject)) {
      throw new Error(`'${subject}' is a subject of a stream ('${this.settings.streamName}' or '${this.settings.eventStreamName}'): notifications must use other subjects`);
    }
  }
}
