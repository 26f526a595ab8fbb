import { describe, expect, it } from 'vitest';
import { EventRelay } from '../../../src/application/event-relay.js';
import { silentLogger } from '../../../src/application/logger.js';
import type { MessageBroker, Outbox, StoredEvent } from '../../../src/application/ports.js';

const event = (aggregateId: string, version: number, seq: number): StoredEvent =>
  ({ tenantId: 't', aggregateType: 'task', aggregateId, version, type: version === 1 ? 'TaskSubmitted' : 'TaskAssigned', data: {}, occurredAt: 0, seq }) as StoredEvent;

/** An outbox that hands out one batch, and marks it only when the publish resolved. */
function outboxOf(events: StoredEvent[]): Outbox & { marked: boolean } {
  const outbox = {
    marked: false,
    async relay(_limit: number, publish: (events: StoredEvent[]) => Promise<void>) {
      if (outbox.marked) return 0;
      await publish(events);
      outbox.marked = true;
      return events.length;
    },
    async pendingCount() {
      return outbox.marked ? 0 : events.length;
    },
  };
  return outbox as unknown as Outbox & { marked: boolean };
}

describe('EventRelay', () => {
  it("publishes an aggregate's events one after the other (a slow or retried first one is not overtaken), other aggregates' at once", async () => {
    const stored: string[] = [];
    const sent: string[] = [];
    const slow = new Set(['a:1']);
    const broker = {
      async publish(_subject: string, data: Uint8Array) {
        const e = JSON.parse(Buffer.from(data).toString()) as StoredEvent;
        const id = `${e.aggregateId}:${e.version}`;
        sent.push(id);
        // The first event of task a takes long (a publish retried while the broker comes back).
        if (slow.has(id)) await new Promise((r) => setTimeout(r, 30));
        stored.push(id);
      },
    } as unknown as MessageBroker;
    const outbox = outboxOf([event('a', 1, 1), event('b', 1, 2), event('a', 2, 3), event('b', 2, 4), event('a', 3, 5)]);
    const relay = new EventRelay(outbox, broker, silentLogger, { batch: 500, idleMs: 5, maxBackoffMs: 10 });
    await relay.stop();
    expect(outbox.marked).toBe(true);
    // Task a's events are stored in version order though the first was slow; task b's did not wait for a's.
    expect(stored.filter((s) => s.startsWith('a:'))).toEqual(['a:1', 'a:2', 'a:3']);
    expect(stored.indexOf('b:2')).toBeLessThan(stored.indexOf('a:1'));
    // Nothing of a was sent before its previous version was stored.
    expect(sent.indexOf('a:2')).toBeGreaterThan(stored.indexOf('a:1'));
  });

  it('publishes nothing while held (the events wait in the outbox), and goes on once let go', async () => {
    const published: string[] = [];
    const broker = { async publish(_subject: string, data: Uint8Array) { published.push(JSON.parse(Buffer.from(data).toString()).aggregateId); } } as unknown as MessageBroker;
    const outbox = outboxOf([event('a', 1, 1)]);
    let held = true;
    const relay = new EventRelay(outbox, broker, silentLogger, { batch: 500, idleMs: 5, maxBackoffMs: 10 }, () => held);
    relay.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(published).toEqual([]);
    expect(outbox.marked).toBe(false);
    held = false;
    await new Promise((r) => setTimeout(r, 50));
    await relay.stop();
    expect(published).toEqual(['a']);
    expect(outbox.marked).toBe(true);
  });
});
