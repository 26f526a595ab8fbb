import { Redis } from 'ioredis';
import pg from 'pg';
import { Agent, AgentMeshClient, type SubmitOptions } from '../../../src/sdk/index.js';
import { ADMIN_KEY } from '../../support/mesh-harness.js';
import { deleteNamespaceStreams, natsUrl, newNamespace } from '../../support/nats.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../support/postgres.js';
import { newKeyPrefix, redisUrl } from '../../support/redis.js';
import { spawnServe, type ServeProcess } from '../../support/serve-process.js';

export const STRATEGIES: NonNullable<SubmitOptions['routing']>['strategy'][] = ['round_robin', 'least_loaded', 'affinity', 'priority'];

/** The services a mesh of many instances runs on; its suites skip (or fail under CI=true) without them. */
export const clusterServicesMissing = natsUrl === null || postgresUrl === null || redisUrl === null;

/**
 * A mesh of `agentmesh serve` processes on a database, a NATS namespace and a Redis key prefix of their own, SDK
 * agents in this process connected to them, and a count of what every agent ran.
 */
export class Cluster {
  readonly instances: ServeProcess[] = [];
  readonly agents: Agent[] = [];
  /** Task id -> agents that ran it (a task run twice shows up with two). */
  readonly runs = new Map<string, string[]>();
  private readonly namespace = newNamespace();
  readonly redisPrefix = newKeyPrefix();

  protected constructor(
    readonly db: TestDatabase,
    private readonly env: Record<string, string>,
  ) {}

  static async create(env: Record<string, string> = {}): Promise<Cluster> {
    const db = await createTestDatabase();
    return new Cluster(db, env);
  }

  /** `env`: settings of this instance only, over the cluster's (e.g. a fixed AGENTMESH_PORT to restart it where it was). */
  async startInstance(env: Record<string, string> = {}): Promise<ServeProcess> {
    const instance = await spawnServe({
      AGENTMESH_DATABASE_URL: this.db.url,
      AGENTMESH_NATS_URL: natsUrl!,
      AGENTMESH_NATS_NAMESPACE: this.namespace,
      AGENTMESH_REDIS_URL: redisUrl!,
      AGENTMESH_REDIS_PREFIX: this.redisPrefix,
      AGENTMESH_ADMIN_KEY: ADMIN_KEY,
      AGENTMESH_DATA_DIR: ':memory:',
      ...this.env,
      ...env,
    });
    this.instances.push(instance);
    return instance;
  }

  client(instance: ServeProcess): AgentMeshClient {
    return new AgentMeshClient({ url: instance.url, apiKey: ADMIN_KEY });
  }

  async startAgent(instance: ServeProcess, id: string, options: { transport: 'stream' | 'poll'; workMs?: number; maxConcurrentTasks?: number }): Promise<Agent> {
    const agent = new Agent({
      url: instance.url,
      apiKey: ADMIN_KEY,
      id,
      name: id,
      capabilities: ['work'],
      transport: options.transport,
      maxConcurrentTasks: options.maxConcurrentTasks ?? 4,
      heartbeatIntervalMs: 500,
      // An instance killed under an agent makes its calls fail until the agent is replaced: expected here.
      onError: () => {},
    }).handle('work', async (input: { n: number }, { task }) => {
      const ran = this.runs.get(task.id) ?? [];
      ran.push(id);
      this.runs.set(task.id, ran);
      if (options.workMs) await new Promise((r) => setTimeout(r, options.workMs));
      return { n: input.n, by: id };
    });
    this.agents.push(agent);
    return agent.start();
  }

  /** Rows straight from the shared database. */
  async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.db.url });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop().catch(() => {})));
    for (const instance of this.instances) instance.kill('SIGTERM');
    await Promise.all(this.instances.map((i) => i.exited));
    await this.db.drop();
    await deleteNamespaceStreams([this.namespace]);
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${this.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
}
