import { Redis } from 'ioredis';
import { UnavailableError } from '../../domain/index.js';
import type { HealthProbe } from '../../application/ports.js';

export interface RedisConnectOptions {
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** Every key of this mesh starts with it, so several meshes (or test runs) share one Redis. Default 'agentmesh'. */
  keyPrefix?: string;
}

/** One connection to Redis, shared by the adapters; commands fail at once while it is down (no queue grows). */
export class RedisConnection implements HealthProbe {
  private constructor(
    readonly redis: Redis,
    readonly keyPrefix: string,
  ) {}

  /** Connects and checks the server answers; rejects with the reason when it does not. */
  static async connect(url: string, options: RedisConnectOptions = {}): Promise<RedisConnection> {
    const timeout = options.connectTimeoutMs ?? 5_000;
    const redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: timeout,
      // While the server is away, a command fails now instead of waiting in a queue without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Reconnect for ever, at most every 2 s: the mesh degrades meanwhile and recovers when Redis returns.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // Without a listener, a lost connection would be an uncaught 'error' event. The last one says
    // why a connection failed (ECONNREFUSED, ENOTFOUND...), where connect() only says it closed.
    let lastError: Error | undefined;
    redis.on('error', (error: Error) => (lastError = error));
    try {
      await redis.connect();
      // ioredis selects the URL's database quietly; ask again so that a wrong index is said at start.
      if (redis.options.db) await redis.select(redis.options.db);
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw new Error(lastError?.message ?? ((error as Error).message || 'connection refused'));
    }
    return new RedisConnection(redis, options.keyPrefix ?? 'agentmesh');
  }

  /** A key of one tenant. The braces make a Redis Cluster keep all of a tenant's keys in one slot. */
  tenantKey(tenantId: string, ...parts: Array<string | number>): string {
    return [this.keyPrefix, `{${tenantId}}`, ...parts].join(':');
  }

  async ping(): Promise<void> {
    try {
      await this.redis.ping();
    } catch (error) {
      throw new UnavailableError(`Redis did not answer a ping: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A Redis error as the mesh reports it: 503, try again. */
export function redisUnavailable(error: unknown): UnavailableError {
  return new UnavailableError(`Redis is unavailable: ${(error as Error).message}`);
}
