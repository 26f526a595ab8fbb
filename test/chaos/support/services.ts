import type { ChaosBinaries } from './binaries.js';
import type { ManagedServer } from './managed-server.js';
import { sparePorts } from './managed-server.js';
import { NatsServer } from './nats-server.js';
import { PostgresServer } from './postgres-server.js';
import { RedisServer } from './redis-server.js';

export type ServiceName = 'postgres' | 'nats' | 'redis';

/** PostgreSQL, NATS JetStream and Redis of a test's own, on spare ports: the machine's shared ones are never touched. */
export class ChaosServices {
  private constructor(
    readonly postgres: PostgresServer,
    readonly nats: NatsServer,
    readonly redis: RedisServer,
  ) {}

  static async start(bin: ChaosBinaries): Promise<ChaosServices> {
    const [pgPort, natsPort, redisPort] = (await sparePorts(3)) as [number, number, number];
    const services = new ChaosServices(await PostgresServer.create(pgPort, bin), new NatsServer(natsPort, bin.natsServer), new RedisServer(redisPort, bin.redisServer));
    const started = await Promise.allSettled(services.all().map((s) => s.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await services.dispose();
      throw failed.reason;
    }
    return services;
  }

  get(name: ServiceName): ManagedServer {
    return this[name];
  }

  /** What an `agentmesh serve` needs to run on them. */
  env(): Record<string, string> {
    return { AGENTMESH_DATABASE_URL: this.postgres.url(), AGENTMESH_NATS_URL: this.nats.url, AGENTMESH_REDIS_URL: this.redis.url };
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.all().map((s) => s.dispose()));
  }

  private all(): ManagedServer[] {
    return [this.postgres, this.nats, this.redis];
  }
}
