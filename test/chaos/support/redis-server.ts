import { Redis } from 'ioredis';
import { ManagedServer, type Launch } from './managed-server.js';

/**
 * A Redis of a test's own, without persistence: the mesh keeps only what it can rebuild there (the
 * agents' live load, sliding-window counters, caches), so production runs it as a cache, and a
 * restart comes back empty. That is the harder case for the mesh: every key is gone at once.
 */
export class RedisServer extends ManagedServer {
  constructor(
    port: number,
    private readonly bin: string,
  ) {
    super('redis', port);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected launch(): Launch {
    return { command: this.bin, args: ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--protected-mode', 'no'] };
  }

  protected async probe(): Promise<void> {
    const redis = new Redis(this.url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    redis.on('error', () => {});
    try {
      await redis.connect();
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    } finally {
      redis.disconnect();
    }
  }
}
