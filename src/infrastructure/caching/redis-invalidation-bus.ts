import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { othersInvalidation, type Invalidation, type InvalidationBus } from './invalidation-bus.js';
import type { RedisConnection } from './redis-client.js';

/**
 * Over Redis pub/sub, on the channel `<prefix>:cache:invalidated`, with a connection of its own
 * to listen. Pub/sub keeps nothing for a listener that is away: when it reconnects, `onGap` tells
 * the cache to drop what it holds in memory.
 */
export class RedisInvalidationBus implements InvalidationBus {
  private readonly self = randomUUID();
  private readonly channel: string;
  private subscriber: Redis | undefined;

  constructor(private readonly connection: RedisConnection) {
    this.channel = `${connection.keyPrefix}:cache:invalidated`;
  }

  async publish(invalidation: Invalidation): Promise<void> {
    const message = JSON.stringify({ from: this.self, ...invalidation });
    await this.connection.call(() => this.connection.redis.publish(this.channel, message));
  }

  async subscribe(onMessage: (invalidation: Invalidation) => void, onGap: () => void): Promise<void> {
    const subscriber = this.connection.redis.duplicate();
    this.subscriber = subscriber;
    // Errors show as reconnections (and gaps); the main connection's breaker reports Redis down.
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      const invalidation = othersInvalidation(raw, this.self);
      if (invalidation) onMessage(invalidation);
    });
    await subscriber.connect();
    await subscriber.subscribe(this.channel);
    // Every later 'ready' is a reconnection (ioredis subscribes again by itself): what was sent meanwhile is lost.
    subscriber.on('ready', onGap);
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
