import { Redis } from 'ioredis';
import { UnavailableError } from '../../domain/index.js';
import type { HealthProbe } from '../../application/ports.js';
import { DependencyPolicy } from '../resilience/dependency-policy.js';
import type { ResilienceRegistry } from '../resilience/observer.js';

export interface RedisConnectOptions {
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** Every key of this mesh starts with it, so several meshes (or test runs) share one Redis. Default 'agentmesh'. */
  keyPrefix?: string;
  /** Where Redis's circuit breaker, bulkhead and timeout report. */
  resilience?: ResilienceRegistry;
}

/**
 * Redis's policies (the cache preset): a run of failures opens the breaker (commands fail fast and
 * the mesh runs on local counts meanwhile), a command gets 1 s (a Redis that hangs is a Redis that
 * is down), a bulkhead bounds those in flight. No retries: an increment tried twice counts twice.
 */
function redisPolicy(resilience: ResilienceRegistry | undefined): DependencyPolicy {
  return DependencyPolicy.preset('forCache', 'redis', resilience, { breaker: { isFailure: (error) => error instanceof UnavailableError } });
}

/** One connection to Redis, shared by the adapters; commands fail at once while it is down (no queue grows). */
export class RedisConnection implements HealthProbe {
  private constructor(
    readonly redis: Redis,
    readonly keyPrefix: string,
    readonly policy: DependencyPolicy,
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
      // A command Redis does not answer (a network that drops packets) fails instead of waiting for ever; the breaker counts it.
      commandTimeout: 1_000,
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
    return new RedisConnection(redis, options.keyPrefix ?? 'agentmesh', redisPolicy(options.resilience));
  }

  /** Runs Redis commands through the policies; a failure of Redis becomes UnavailableError (503). */
  call<T>(commands: () => Promise<T>): Promise<T> {
    return this.policy.execute(async () => {
      try {
        return await commands();
      } catch (error) {
        throw error instanceof UnavailableError ? error : redisUnavailable(error);
      }
    });
  }

  /** A key of one tenant. The braces make a Redis Cluster keep all of a tenant's keys in one slot. */
  tenantKey(tenantId: string, ...parts: Array<string | number>): string {
    return [this.keyPrefix, `{${tenantId}}`, ...parts].join(':');
  }

  /** The readiness probe: straight to Redis, past the breaker, so that it sees Redis return. */
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
