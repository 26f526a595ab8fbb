import type { Logger } from '../../application/logger.js';
import type { InvalidationBus } from './invalidation-bus.js';
import { RedisCacheTier } from './redis-cache-tier.js';
import type { RedisConnection } from './redis-client.js';
import { RedisInvalidationBus } from './redis-invalidation-bus.js';
import { TieredCache, type CacheSettings } from './tiered-cache.js';

/** The embedded default: this process's memory only; `bus` carries invalidations when other instances run (NATS). */
export async function inMemoryCache(settings: CacheSettings, options: { bus?: InvalidationBus; logger?: Logger } = {}): Promise<TieredCache> {
  const cache = new TieredCache(settings, undefined, options.bus, options.logger);
  await cache.start();
  return cache;
}

/** With AGENTMESH_REDIS_URL: memory, then Redis shared by every instance, invalidated over Redis pub/sub. */
export async function redisTwoTierCache(connection: RedisConnection, settings: CacheSettings, logger?: Logger): Promise<TieredCache> {
  const cache = new TieredCache(settings, new RedisCacheTier(connection), new RedisInvalidationBus(connection), logger);
  await cache.start();
  return cache;
}
