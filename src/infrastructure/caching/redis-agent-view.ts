import type { Agent } from '../../domain/index.js';
import type { AgentLiveState, LiveAgentView } from '../../application/ports.js';
import { liveStateOf } from './agent-live-state.js';
import { redisUnavailable, type RedisConnection } from './redis-client.js';

/** A tenant's hash outlives a leader that stopped writing it by this long, then goes. */
const VIEW_TTL_MS = 24 * 3600_000;

/** The agents' live state in one Redis hash per tenant: field = agent id, value = JSON. */
export class RedisAgentView implements LiveAgentView {
  constructor(private readonly connection: RedisConnection) {}

  private key(tenantId: string): string {
    return this.connection.tenantKey(tenantId, 'agents');
  }

  async publish(agents: readonly Agent[]): Promise<void> {
    if (agents.length === 0) return;
    const byTenant = new Map<string, string[]>();
    for (const a of agents) {
      let fields = byTenant.get(a.tenantId);
      if (!fields) byTenant.set(a.tenantId, (fields = []));
      fields.push(a.id, JSON.stringify(liveStateOf(a)));
    }
    const pipeline = this.connection.redis.pipeline();
    for (const [tenantId, fields] of byTenant) pipeline.hset(this.key(tenantId), ...fields).pexpire(this.key(tenantId), VIEW_TTL_MS);
    await this.connection.call(() => run(pipeline.exec()));
  }

  async forget(tenantId: string, agentId: string): Promise<void> {
    await this.connection.call(() => this.connection.redis.hdel(this.key(tenantId), agentId));
  }

  async read(tenantId: string, agentIds: readonly string[]): Promise<Map<string, AgentLiveState>> {
    const found = new Map<string, AgentLiveState>();
    if (agentIds.length === 0) return found;
    const values = await this.connection.call(() => this.connection.redis.hmget(this.key(tenantId), ...agentIds));
    values.forEach((v, i) => v !== null && found.set(agentIds[i]!, JSON.parse(v) as AgentLiveState));
    return found;
  }
}

/** A pipeline fails as a whole when any command in it failed. */
async function run(results: Promise<Array<[Error | null, unknown]> | null>): Promise<void> {
  let settled: Array<[Error | null, unknown]> | null;
  try {
    settled = await results;
  } catch (error) {
    throw redisUnavailable(error);
  }
  const failed = settled?.find(([error]) => error !== null);
  if (failed) throw redisUnavailable(failed[0]);
}
