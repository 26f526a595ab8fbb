import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoResponderError, type BrokerMessage, type MessageBroker } from '../../src/application/ports.js';
import { UnavailableError } from '../../src/domain/index.js';

const text = (m: BrokerMessage | undefined) => (m ? Buffer.from(m.data).toString('utf8') : undefined);
const bytes = (s: string) => Buffer.from(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The MessageBroker contract: JetStream work-queue semantics. Every broker adapter (the in-memory
 * default and NATS JetStream) runs this same suite.
 */
export function messageBrokerContract(
  name: string,
  create: () => Promise<MessageBroker>,
  options: {
    /** Work subjects (publish, consume, pull, purge). */
    subjectPrefix?: string;
    /** Notify subjects; a broker whose stream would capture work-prefixed notices needs them elsewhere. Default: subjectPrefix. */
    notifySubjectPrefix?: string;
  } = {},
): void {
  describe(`MessageBroker contract: ${name}`, () => {
    let broker: MessageBroker;
    let n = 0;
    const subject = () => `${options.subjectPrefix ?? 'agentmesh.contract'}.s${++n}.${Date.now()}`;
    const notifySubject = () => `${options.notifySubjectPrefix ?? options.subjectPrefix ?? 'agentmesh.contract'}.s${++n}.${Date.now()}`;
    beforeEach(async () => {
      broker = await create();
    });
    afterEach(async () => broker.close());

    it('keeps a message until a consumer pulls it, with its headers', async () => {
      const s = subject();
      await broker.publish(s, bytes('hello'), { 'task-id': 't1' });
      const m = await broker.pull(s, { ackWaitMs: 1000, waitMs: 500 });
      expect(text(m)).toBe('hello');
      expect(m!.headers['task-id']).toBe('t1');
      expect(m!.deliveryCount).toBe(1);
      m!.ack();
      expect(await broker.pull(s, { ackWaitMs: 1000, waitMs: 50 })).toBeUndefined();
    });

    it('wakes a waiting pull as soon as a message is published', async () => {
      const s = subject();
      const started = Date.now();
      const waiting = broker.pull(s, { ackWaitMs: 1000, waitMs: 3000 });
      await sleep(50);
      await broker.publish(s, bytes('late'));
      expect(text(await waiting)).toBe('late');
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('gives up a pull when its signal aborts', async () => {
      const controller = new AbortController();
      const waiting = broker.pull(subject(), { ackWaitMs: 1000, waitMs: 5000, signal: controller.signal });
      controller.abort();
      expect(await waiting).toBeUndefined();
    });

    it('redelivers an unacknowledged message after ackWait, counting deliveries', async () => {
      const s = subject();
      await broker.publish(s, bytes('again'));
      const first = await broker.pull(s, { ackWaitMs: 100, waitMs: 500 });
      expect(first!.deliveryCount).toBe(1);
      const second = await broker.pull(s, { ackWaitMs: 100, waitMs: 2000 });
      expect(text(second)).toBe('again');
      expect(second!.deliveryCount).toBe(2);
      second!.ack();
    });

    it('redelivers after nak with a delay, and never after term', async () => {
      const s = subject();
      await broker.publish(s, bytes('nak-me'));
      await broker.publish(s, bytes('term-me'));
      const a = await broker.pull(s, { ackWaitMs: 5000, waitMs: 500 });
      const b = await broker.pull(s, { ackWaitMs: 5000, waitMs: 500 });
      expect([text(a), text(b)]).toEqual(['nak-me', 'term-me']);
      a!.nak(150);
      b!.term();
      expect(await broker.pull(s, { ackWaitMs: 5000, waitMs: 50 })).toBeUndefined();
      const again = await broker.pull(s, { ackWaitMs: 5000, waitMs: 2000 });
      expect(text(again)).toBe('nak-me');
      again!.ack();
      expect(await broker.pull(s, { ackWaitMs: 5000, waitMs: 100 })).toBeUndefined();
    });

    it('pushes to a consumer no more than maxInFlight unacknowledged messages at once, in order', async () => {
      const s = subject();
      for (let i = 0; i < 5; i++) await broker.publish(s, bytes(`m${i}`));
      const got: BrokerMessage[] = [];
      const sub = broker.consume(s, { ackWaitMs: 5000, maxInFlight: 2 }, (m) => got.push(m));
      await sleep(100);
      expect(got.map(text)).toEqual(['m0', 'm1']);
      got[0]!.ack();
      await sleep(100);
      expect(got.map(text)).toEqual(['m0', 'm1', 'm2']);
      for (const m of got) m.ack();
      await sleep(100);
      expect(got.map(text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      sub.unsubscribe();
    });

    it('gives each message to one consumer only', async () => {
      const s = subject();
      const seen: string[] = [];
      const subs = [1, 2].map(() => broker.consume(s, { ackWaitMs: 5000, maxInFlight: 10 }, (m) => (seen.push(text(m)!), m.ack())));
      for (let i = 0; i < 20; i++) await broker.publish(s, bytes(`x${i}`));
      await sleep(200);
      expect(seen.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `x${i}`).sort());
      subs.forEach((sub) => sub.unsubscribe());
    });

    it('drops every stored message of a subject on purge', async () => {
      const s = subject();
      await broker.publish(s, bytes('a'));
      await broker.publish(s, bytes('b'));
      await broker.purge(s);
      expect(await broker.pull(s, { ackWaitMs: 1000, waitMs: 50 })).toBeUndefined();
    });

    it('drops on purge a message that was waiting out a nak delay', async () => {
      const s = subject();
      await broker.publish(s, bytes('delayed'));
      (await broker.pull(s, { ackWaitMs: 5000, waitMs: 500 }))!.nak(100);
      await broker.purge(s);
      expect(await broker.pull(s, { ackWaitMs: 5000, waitMs: 300 })).toBeUndefined();
    });

    it('keeps subjects apart', async () => {
      const a = subject();
      const b = subject();
      await broker.publish(a, bytes('for-a'));
      expect(await broker.pull(b, { ackWaitMs: 1000, waitMs: 50 })).toBeUndefined();
      expect(text(await broker.pull(a, { ackWaitMs: 1000, waitMs: 500 }))).toBe('for-a');
    });

    it('fans notifications out to every listener of the subject', async () => {
      const s = notifySubject();
      const heard: string[] = [];
      const subs = [1, 2].map((i) => broker.listen(s, (d) => heard.push(`${i}:${Buffer.from(d).toString()}`)));
      broker.notify(s, bytes('ping'));
      await sleep(50);
      expect(heard.sort()).toEqual(['1:ping', '2:ping']);
      subs.forEach((sub) => sub.unsubscribe());
      broker.notify(s, bytes('unheard'));
      await sleep(50);
      expect(heard).toHaveLength(2);
    });

    it('sends each request to one of the servers of its subject and returns its answer', async () => {
      const s = notifySubject();
      const served: number[] = [];
      const subs = [1, 2].map((i) =>
        broker.serve(s, async (d) => {
          served.push(i);
          return bytes(`${i} got ${Buffer.from(d).toString()}`);
        }),
      );
      const answers = await Promise.all([1, 2, 3, 4].map((k) => broker.request(s, bytes(`q${k}`), 2000)));
      expect(answers.map((a) => Buffer.from(a).toString().split(' got ')[1])).toEqual(['q1', 'q2', 'q3', 'q4']);
      // Each request was answered once, by one server.
      expect(served).toHaveLength(4);
      await Promise.all(subs.map((sub) => sub.stop()));
    });

    it('says nobody serves a subject, and times out a server that does not answer', async () => {
      const s = notifySubject();
      await expect(broker.request(s, bytes('anyone?'), 1000)).rejects.toBeInstanceOf(NoResponderError);
      let release!: () => void;
      const service = broker.serve(s, () => new Promise<Uint8Array>((resolve) => (release = () => resolve(bytes('late')))));
      await expect(broker.request(s, bytes('hello?'), 200)).rejects.toBeInstanceOf(UnavailableError);
      release();
      await service.stop();
      await expect(broker.request(s, bytes('gone?'), 1000)).rejects.toBeInstanceOf(NoResponderError);
    });

    it('answers, when a server stops, the requests it took before it resolves', async () => {
      const s = notifySubject();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const service = broker.serve(s, async (d) => {
        await gate;
        return bytes(`done ${Buffer.from(d).toString()}`);
      });
      const answer = broker.request(s, bytes('work'), 2000);
      await sleep(50);
      let stopped = false;
      const stopping = service.stop().then(() => (stopped = true));
      await sleep(50);
      expect(stopped).toBe(false);
      release();
      expect(Buffer.from(await answer).toString()).toBe('done work');
      await stopping;
    });

    it('answers ping while open', async () => {
      await expect(broker.ping()).resolves.toBeUndefined();
    });
  });
}
