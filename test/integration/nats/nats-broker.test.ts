import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BrokerMessage } from '../../../src/application/ports.js';
import { UnavailableError } from '../../../src/domain/index.js';
import { NatsBroker, subjectMatcher, type NatsBrokerOptions } from '../../../src/infrastructure/messaging/nats-broker.js';
import { consumerNameFor } from '../../../src/infrastructure/messaging/nats-work-subject.js';
import { messageBrokerContract } from '../../contracts/message-broker.contract.js';
import { eventually } from '../../support/mesh-harness.js';
import { natsUrl } from '../../support/nats.js';
import { CircuitBreakerOpenError } from '../../../src/infrastructure/resilience/errors.js';
import { ResilienceRegistry } from '../../../src/infrastructure/resilience/observer.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

const text = (m: BrokerMessage | undefined) => (m ? Buffer.from(m.data).toString('utf8') : undefined);
const bytes = (s: string) => Buffer.from(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stream and subject prefix of this run's own, so runs and files never see each other's messages. */
function isolated(): { prefix: string; options: NatsBrokerOptions } {
  const id = `${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const prefix = `amtest_${id}`;
  return { prefix, options: { streamName: `AMTEST_${id}`, workSubjects: [`${prefix}.*.*`], eventStreamName: `AMTEST_EV_${id}`, eventSubjects: [`${prefix}_events.>`] } };
}

async function withManager<T>(work: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: natsUrl! });
  try {
    return await work(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

const streamsCreated: string[] = [];
function newStream(extra: NatsBrokerOptions = {}): { prefix: string; options: NatsBrokerOptions } {
  const stream = isolated();
  streamsCreated.push(stream.options.streamName!);
  return { prefix: stream.prefix, options: { ...stream.options, ...extra } };
}

describe('NATS subject matching (no server needed)', () => {
  it('matches work subjects and keeps the mesh notify subjects out of the default stream', () => {
    const work = 'agentmesh.*.agent.*';
    const isWork = subjectMatcher([work]);
    expect(isWork('agentmesh.t1.agent.a%2Fb')).toBe(true);
    expect(isWork('agentmesh.t1.task.x.settled')).toBe(false);
    expect(isWork('agentmesh.t1.agent.a.extra')).toBe(false);
    expect(isWork('agentmeshXt1.agent.a')).toBe(false);
    const anything = subjectMatcher(['agentmesh.>']);
    expect(anything('agentmesh.t1.task.x.settled')).toBe(true);
    expect(anything('agentmesh')).toBe(false);
    const either = subjectMatcher(['a.*.b', 'c.>']);
    expect([either('a.x.b'), either('c.d.e'), either('a.x.c'), either('c')]).toEqual([true, true, false, false]);
  });
});

describe.skipIf(natsUrl === null)('NatsBroker on the real NATS server', () => {
  afterAll(async () => {
    await withManager(async (jsm) => {
      for (const name of streamsCreated) {
        await jsm.streams.delete(name).catch(() => false);
        await jsm.streams.delete(name.replace(/^AMTEST_/u, 'AMTEST_EV_')).catch(() => false);
      }
    });
  });

  const contract = newStream();
  messageBrokerContract('NATS JetStream', () => NatsBroker.connect(natsUrl!, contract.options), {
    subjectPrefix: contract.prefix,
    notifySubjectPrefix: `${contract.prefix}_notify`,
  });

  describe('beyond the contract', () => {
    const { prefix, options } = newStream();
    let n = 0;
    const subject = () => `${prefix}.x${++n}.${Date.now()}`;
    const open: NatsBroker[] = [];
    const broker = async (extra: NatsBrokerOptions = {}) => {
      const b = await NatsBroker.connect(natsUrl!, { ...options, ...extra });
      open.push(b);
      return b;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    it('keeps meshes with different namespaces apart on one server, with the same subjects and the mesh\'s names on messages', async () => {
      const meshSubjects = ['agentmesh.*.agent.*'];
      const ns = (suffix: string) => {
        const s = newStream();
        return { ...s.options, workSubjects: meshSubjects, namespace: `${s.prefix}_${suffix}` };
      };
      const one = await broker(ns('one'));
      const two = await broker(ns('two'));
      const inbox = 'agentmesh.default.agent.same-agent';
      await one.publish(inbox, bytes('for one'));
      expect(await two.pull(inbox, { ackWaitMs: 1000, waitMs: 200 })).toBeUndefined();
      const got = await one.pull(inbox, { ackWaitMs: 1000, waitMs: 2000 });
      expect(text(got)).toBe('for one');
      expect(got!.subject).toBe(inbox);
      got!.ack();
      await expect(NatsBroker.connect(natsUrl!, { ...ns('bad'), namespace: 'has space' })).rejects.toThrow(/namespace/);
    });

    it('creates its stream idempotently, and brings it to changed bounds', async () => {
      const a = await broker();
      const b = await broker();
      const s = subject();
      await a.publish(s, bytes('one'));
      expect(text(await b.pull(s, { ackWaitMs: 5000, waitMs: 1000 }))).toBe('one');
      await broker({ maxMessagesPerSubject: 77 });
      const info = await withManager((jsm) => jsm.streams.info(options.streamName!));
      expect(info.config.max_msgs_per_subject).toBe(77);
      expect(info.config.retention).toBe('workqueue');
      expect(info.config.storage).toBe('file');
      expect(info.config.discard).toBe('new');
    });

    it('stores a re-published assignment (same task-id, attempt and assigned-at) once; another assignment of the same attempt (a hand-back, a requeue) is stored', async () => {
      const b = await broker();
      const s = subject();
      await b.publish(s, bytes('first'), { 'task-id': 't1', attempt: '1', 'assigned-at': '1000' });
      await b.publish(s, bytes('again'), { 'task-id': 't1', attempt: '1', 'assigned-at': '1000' });
      await b.publish(s, bytes('retry'), { 'task-id': 't1', attempt: '2', 'assigned-at': '2000' });
      await b.publish(s, bytes('handed back'), { 'task-id': 't1', attempt: '2', 'assigned-at': '3000' });
      const received: string[] = [];
      for (;;) {
        const message = await b.pull(s, { ackWaitMs: 5000, waitMs: 300 });
        if (message === undefined) break;
        received.push(text(message)!);
        if (received.length === 1) expect(message.headers).toEqual({ 'task-id': 't1', attempt: '1', 'assigned-at': '1000' });
        message.ack();
      }
      expect(received).toEqual(['first', 'retry', 'handed back']);
    });

    it('refuses to publish past the per-subject bound with UnavailableError', async () => {
      const bounded = newStream({ maxMessagesPerSubject: 3 });
      const b = await NatsBroker.connect(natsUrl!, bounded.options);
      open.push(b);
      const s = `${bounded.prefix}.full.1`;
      for (let i = 0; i < 3; i++) await b.publish(s, bytes(`m${i}`));
      await expect(b.publish(s, bytes('too many'))).rejects.toBeInstanceOf(UnavailableError);
      await expect(b.publish(`${bounded.prefix}.other.1`, bytes('another subject'))).resolves.toBeUndefined();
      // A full subject is the stream refusing, not NATS failing: however often, the broker's breaker stays closed.
      for (let i = 0; i < 10; i++) await expect(b.publish(s, bytes('still too many'))).rejects.not.toBeInstanceOf(CircuitBreakerOpenError);
      (await b.pull(s, { ackWaitMs: 5000, waitMs: 1000 }))!.ack();
      await sleep(50);
      await expect(b.publish(s, bytes('room again'))).resolves.toBeUndefined();
    });

    it('keeps a message across closing and reconnecting, and gives back what a closed broker held', async () => {
      const s = subject();
      const first = await broker();
      await first.publish(s, bytes('durable'));
      await first.publish(s, bytes('held'));
      await first.close();
      const second = await broker();
      const m = await second.pull(s, { ackWaitMs: 1000, waitMs: 1000 });
      expect(text(m)).toBe('durable');
      m!.ack();
      expect(text(await second.pull(s, { ackWaitMs: 1000, waitMs: 1000 }))).toBe('held');
      await second.close();
      const third = await broker();
      const back = await third.pull(s, { ackWaitMs: 1000, waitMs: 3000 });
      expect(text(back)).toBe('held');
      expect(back!.deliveryCount).toBe(2);
      back!.ack();
    });

    it('hands a message that reached a given-up pull to the next taker at once, on another instance too', async () => {
      const a = await broker();
      const b = await broker();
      const s = subject();
      // a's pull request stays open on the server for about a second after a gives up.
      expect(await a.pull(s, { ackWaitMs: 30_000, waitMs: 50 })).toBeUndefined();
      const waiting = b.pull(s, { ackWaitMs: 30_000, waitMs: 5000 });
      await sleep(100);
      const started = Date.now();
      await a.publish(s, bytes('bounced'));
      const m = await waiting;
      expect(text(m)).toBe('bounced');
      expect(Date.now() - started).toBeLessThan(1000);
      m!.ack();
    });

    it('hands messages that reach an unsubscribed consumer back at once', async () => {
      const b = await broker();
      const s = subject();
      const got: BrokerMessage[] = [];
      const sub = b.consume(s, { ackWaitMs: 30_000, maxInFlight: 5 }, (m) => got.push(m));
      await sleep(200);
      sub.unsubscribe();
      const started = Date.now();
      await b.publish(s, bytes('after'));
      const m = await b.pull(s, { ackWaitMs: 30_000, waitMs: 5000 });
      expect(text(m)).toBe('after');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(got).toHaveLength(0);
      m!.ack();
    });

    it('shares one consumer between instances, so each message goes to one of them', async () => {
      const [a, b] = [await broker(), await broker()];
      const s = subject();
      const seen: string[] = [];
      const subs = [a, b].map((x) => x.consume(s, { ackWaitMs: 5000, maxInFlight: 4 }, (m) => (seen.push(text(m)!), m.ack())));
      for (let i = 0; i < 30; i++) await a.publish(s, bytes(`y${i}`));
      await sleep(500);
      expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `y${i}`).sort());
      subs.forEach((sub) => sub.unsubscribe());
    });

    it('configures the subject consumer from the consume options, with an inactivity threshold', async () => {
      const b = await broker({ consumerInactiveThresholdMs: 600_000 });
      const s = subject();
      const sub = b.consume(s, { ackWaitMs: 7000, maxInFlight: 3 }, (m) => m.ack());
      await sleep(200);
      const info = await withManager((jsm) => jsm.consumers.info(options.streamName!, consumerNameFor(s)));
      expect(info.config.filter_subject).toBe(s);
      expect(info.config.ack_policy).toBe('explicit');
      expect(info.config.ack_wait).toBe(7000 * 1e6);
      expect(info.config.max_ack_pending).toBe(3);
      expect(info.config.max_deliver).toBe(-1);
      expect(info.config.inactive_threshold).toBe(600_000 * 1e6);
      sub.unsubscribe();
    });

    it('deletes the consumer of a purged subject nobody uses, and forgets it', async () => {
      const b = await broker();
      const s = subject();
      await b.publish(s, bytes('x'));
      (await b.pull(s, { ackWaitMs: 5000, waitMs: 1000 }))!.ack();
      await b.purge(s);
      await expect(withManager((jsm) => jsm.consumers.info(options.streamName!, consumerNameFor(s)))).rejects.toThrow(/consumer not found/);
      expect((b as unknown as { subjects: Map<string, unknown> }).subjects.has(s)).toBe(false);
      await expect(b.purge(subject())).resolves.toBeUndefined();
    });

    it('deletes the consumer of a purged subject even while a consume and a pull are open on it (an agent that stopped)', async () => {
      const b = await broker();
      const s = subject();
      const sub = b.consume(s, { ackWaitMs: 5000, maxInFlight: 1 }, () => {});
      const waiting = b.pull(s, { ackWaitMs: 5000, waitMs: 5000 });
      await sleep(200);
      await b.purge(s);
      expect(await waiting).toBeUndefined();
      await expect(withManager((jsm) => jsm.consumers.info(options.streamName!, consumerNameFor(s)))).rejects.toThrow(/consumer not found/);
      sub.unsubscribe();
    });

    it('keeps published events in the event stream, once per message-id', async () => {
      const b = await broker();
      const eventSubject = `${prefix}_events.t1.task.TaskCompleted`;
      await b.publish(eventSubject, bytes('e1'), { 'message-id': 't1:task:x:4' });
      await b.publish(eventSubject, bytes('e1 again'), { 'message-id': 't1:task:x:4' });
      await b.publish(eventSubject, bytes('e2'), { 'message-id': 't1:task:y:4' });
      const info = await withManager((jsm) => jsm.streams.info(options.eventStreamName!));
      expect(info.config.retention).toBe('limits');
      expect(info.state.messages).toBe(2);
    });

    it('keeps work, event and notify subjects apart', async () => {
      const b = await broker();
      expect(() => b.notify(subject(), bytes('x'))).toThrow(/subject of a stream/);
      expect(() => b.listen(subject(), () => {})).toThrow(/subject of a stream/);
      expect(() => b.notify(`${prefix}_events.t.task.done`, bytes('x'))).toThrow(/subject of a stream/);
      await expect(b.publish(`${prefix}_notify.a.b`, bytes('x'))).rejects.toThrow(/not a work subject/);
    });

    it('reports an outage, and carries on consuming once the server is back', async () => {
      const server = new URL(natsUrl!);
      const proxy = await TcpProxy.start(server.hostname, Number(server.port || 4222));
      try {
        const b = await broker({ requestTimeoutMs: 1000 });
        const viaProxy = await NatsBroker.connect(`nats://127.0.0.1:${proxy.port}`, { ...options, requestTimeoutMs: 1000 });
        open.push(viaProxy);
        const s = subject();
        const seen: string[] = [];
        viaProxy.consume(s, { ackWaitMs: 5000, maxInFlight: 2 }, (m) => (seen.push(text(m)!), m.ack()));
        await b.publish(s, bytes('before'));
        await eventually(() => seen.includes('before'), 3000, 'the message before the outage');
        await proxy.cut();
        await expect(viaProxy.ping()).rejects.toBeInstanceOf(UnavailableError);
        await expect(viaProxy.publish(s, bytes('lost?'))).rejects.toBeInstanceOf(UnavailableError);
        await b.publish(s, bytes('during'));
        await proxy.restore();
        await eventually(() => viaProxy.ping().then(() => true), 10_000, 'the reconnect');
        await b.publish(s, bytes('after'));
        await eventually(() => seen.includes('during') && seen.includes('after'), 10_000, 'the messages of and after the outage');
      } finally {
        await proxy.close();
      }
    });

    it('opens its breaker while NATS is away (publishes fail fast), and closes it once a probe finds NATS again', async () => {
      const server = new URL(natsUrl!);
      const proxy = await TcpProxy.start(server.hostname, Number(server.port || 4222));
      const resilience = new ResilienceRegistry();
      const transitions: string[] = [];
      resilience.listen({ breakerTransition: (_name, from, to) => transitions.push(`${from}>${to}`) });
      try {
        const viaProxy = await NatsBroker.connect(`nats://127.0.0.1:${proxy.port}`, { ...options, requestTimeoutMs: 500 }, resilience);
        open.push(viaProxy);
        const s = subject();
        await viaProxy.publish(s, bytes('before'));
        await proxy.cut();
        // Five unanswered publishes in a row open it. Sent at once, they wait out the 500 ms request timeout together.
        const lost = await Promise.all(Array.from({ length: 5 }, (_, i) => viaProxy.publish(s, bytes(`lost ${i}`)).then(() => 'stored', (e: unknown) => e)));
        for (const outcome of lost) expect(outcome).toBeInstanceOf(UnavailableError);
        expect(resilience.breakerStates()).toEqual([{ name: 'message_broker', state: 'open' }]);
        const refused = await viaProxy.publish(s, bytes('refused')).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(CircuitBreakerOpenError);
        expect((refused as CircuitBreakerOpenError).message).toMatch(/message_broker is unavailable: its circuit breaker is open \(NATS did not store the message/);
        await proxy.restore();
        await eventually(() => viaProxy.ping().then(() => true), 10_000, 'the reconnect');
        // After the cool-down (3 s) one publish probes, and calls flow again.
        await eventually(() => viaProxy.publish(s, bytes('after')).then(() => true, () => false), 10_000, 'a publish to get through');
        expect(resilience.breakerStates()[0]!.state).toBe('closed');
        expect(transitions).toEqual(['closed>open', 'open>half-open', 'half-open>closed']);
      } finally {
        await proxy.close();
      }
    });

    it('survives a listener that throws', async () => {
      const b = await broker();
      const s = `${prefix}_notify.throws.${Date.now()}`;
      const heard: string[] = [];
      b.listen(s, () => {
        throw new Error('listener bug');
      });
      b.listen(s, (d) => heard.push(Buffer.from(d).toString()));
      b.notify(s, bytes('one'));
      b.notify(s, bytes('two'));
      await eventually(() => heard.length === 2, 2000, 'both notices');
      await expect(b.ping()).resolves.toBeUndefined();
    });

    it('refuses everything but notify once closed', async () => {
      const b = await broker();
      await b.close();
      await expect(b.ping()).rejects.toBeInstanceOf(UnavailableError);
      await expect(b.publish(subject(), bytes('x'))).rejects.toBeInstanceOf(UnavailableError);
      expect(await b.pull(subject(), { ackWaitMs: 1000, waitMs: 10 })).toBeUndefined();
    });
  });

  describe('connecting', () => {
    it.each([
      ['a closed port', 'nats://127.0.0.1:1'],
      ['an unknown host', 'nats://agentmesh-no-such-host.invalid:4222'],
      ['an address that never answers', 'nats://10.255.255.1:4222'],
    ])('rejects %s within a few seconds with a clear error', async (_what, url) => {
      const started = Date.now();
      const error = await NatsBroker.connect(url, { connectTimeoutMs: 1000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toMatch(/^cannot connect to NATS at nats:\/\//);
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('requires TLS for tls:// URLs: the machine\'s plain server is refused, not used in clear text', async () => {
      const plain = new URL(natsUrl!.split(',')[0]!);
      const error = await NatsBroker.connect(`tls://${plain.host}`, { connectTimeoutMs: 2000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toMatch(/tls|TLS|secure/);
      await expect(NatsBroker.connect(`nats://${plain.host},tls://${plain.host}`)).rejects.toThrow(/use tls:\/\/ for every server or for none/);
    });

    it('rejects a malformed URL', async () => {
      await expect(NatsBroker.connect('nats://[not-a-host')).rejects.toThrow(/invalid NATS URL/);
    });

    it('hides credentials in its errors', async () => {
      const error = await NatsBroker.connect('nats://user:secret@127.0.0.1:1', { connectTimeoutMs: 1000 }).catch((e: unknown) => e);
      expect((error as Error).message).toContain('nats://***@127.0.0.1:1');
      expect((error as Error).message).not.toContain('secret');
    });
  });
});
