import type pino from 'pino';
import type { Logger } from '../application/logger.js';
import type { MessageBroker } from '../application/ports.js';
import { inMemoryCache, redisTwoTierCache } from '../infrastructure/caching/caches.js';
import { BrokerInvalidationBus } from '../infrastructure/caching/invalidation-bus.js';
import type { RedisConnection } from '../infrastructure/caching/redis-client.js';
import type { CacheSettings, TieredCache } from '../infrastructure/caching/tiered-cache.js';
import { PLAIN } from '../domain/plain.js';

/**
 * The cache of hot reads, chosen from what is configured: memory and Redis (invalidated over
 * Redis pub/sub) with AGENTMESH_REDIS_URL; else memory alone, invalidated over the broker when
 * other instances run (`broker`: PostgreSQL and NATS without Redis).
 */
export async function openCache(settings: CacheSettings, options: { redis: RedisConnection | undefined; broker: MessageBroker | undefined; logger: pino.Logger }): Promise<TieredCache> {
  const logger = options.logger.child({ component: 'cache' }) as unknown as Logger;
  if (options.redis) return redisTwoTierCache(options.redis, settings, logger);
  return inMemoryCache(settings, { ...PLAIN, ...(options.broker && { bus: new BrokerInvalidationBus(options.broker) }), logger });
}
