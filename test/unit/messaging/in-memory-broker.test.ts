import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../src/domain/index.js';
import { InMemoryBroker } from '../../../src/infrastructure/messaging/in-memory-broker.js';
import { messageBrokerContract } from '../../contracts/message-broker.contract.js';

messageBrokerContract('in-memory', async () => new InMemoryBroker());

describe('InMemoryBroker bounds', () => {
  it('refuses to store more than maxMessagesPerSubject unacknowledged messages', async () => {
    const broker = new InMemoryBroker({ maxMessagesPerSubject: 3 });
    for (let i = 0; i < 3; i++) await broker.publish('s', Buffer.from(String(i)));
    await expect(broker.publish('s', Buffer.from('x'))).rejects.toBeInstanceOf(UnavailableError);
    const m = await broker.pull('s', { ackWaitMs: 1000, waitMs: 0 });
    m!.ack();
    await expect(broker.publish('s', Buffer.from('y'))).resolves.toBeUndefined();
    expect(broker.storedCount).toBe(3);
    await broker.close();
  });

  it('forgets a subject once it holds nothing and nobody listens', async () => {
    const broker = new InMemoryBroker();
    await broker.publish('gone', Buffer.from('a'));
    (await broker.pull('gone', { ackWaitMs: 1000, waitMs: 0 }))!.ack();
    expect(broker.storedCount).toBe(0);
    expect((broker as unknown as { subjects: Map<string, unknown> }).subjects.size).toBe(0);
    await broker.close();
  });

  it('refuses to publish once closed', async () => {
    const broker = new InMemoryBroker();
    await broker.close();
    await expect(broker.publish('s', Buffer.from('a'))).rejects.toBeInstanceOf(UnavailableError);
    await expect(broker.ping()).rejects.toBeInstanceOf(UnavailableError);
  });
});
