import { agentRosterCacheKey } from '../../application/cache-keys.js';
import type { AgentFilter, AgentRepository, Cache, Page, PageRequest } from '../../application/ports.js';
import type { Agent, DomainEvent } from '../../domain/index.js';
import { AGENT_ID_PATTERN, decodeCursor } from '../persistence/rows.js';
import { pageOf } from '../persistence/sql-page.js';

/** A roster longer than this is not kept: its listings go to the store (the entry only says so). */
export const MAX_ROSTER = 500;

interface Roster {
  /** False when the tenant has more agents (of the capability) than MAX_ROSTER. */
  complete: boolean;
  agents: Agent[];
}

/**
 * Agent listings (`GET /v1/agents`, answered by any instance from the store) through the cache:
 * the tenant's roster of each capability, and of all its agents, paged here. An agent's
 * registration and each lifecycle change (a write with domain events: pause, resume, terminate,
 * heartbeat missed, recovered, registered again with other capabilities) deletes exactly the
 * rosters it was or is in, on every instance. Load-only changes (in flight, counters, and the
 * available/busy flip that follows them) carry no event: they do not invalidate, so listings
 * filtered on `available` or `busy` go to the store, and the live view supplies current load.
 * Single reads (`get`) pass through: the mesh's own changes read the agent before writing it.
 */
export class CachedAgentRepository implements AgentRepository {
  constructor(
    private readonly agents: AgentRepository,
    private readonly cache: Cache,
  ) {}

  async insert(agent: Agent, events: DomainEvent[]): Promise<void> {
    await this.agents.insert(agent, events);
    await this.forget(agent, []);
  }

  async save(agent: Agent, events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return this.agents.save(agent, []);
    // Registered again, perhaps with other capabilities: the rosters it leaves depend on it too.
    const before = events.some((e) => e.type === 'AgentRegistered') ? await this.agents.get(agent.tenantId, agent.id) : undefined;
    await this.agents.save(agent, events);
    await this.forget(agent, before?.capabilities.map((c) => c.name) ?? []);
  }

  get(tenantId: string, id: string): Promise<Agent | undefined> {
    return this.agents.get(tenantId, id);
  }

  async list(tenantId: string, filter: AgentFilter, page: PageRequest): Promise<Page<Agent>> {
    if (filter.status === 'available' || filter.status === 'busy') return this.agents.list(tenantId, filter, page);
    const after = decodeCursor(page.cursor, AGENT_ID_PATTERN);
    const roster = await this.cache.getOrLoad(agentRosterCacheKey(tenantId, filter.capability), () => this.loadRoster(tenantId, filter.capability));
    // The roster is in the store's order (its collation); a cursor of an agent it lacks is the store's to place.
    const start = after === undefined ? 0 : roster!.agents.findIndex((a) => a.id === after) + 1;
    if (!roster!.complete || (start === 0 && after !== undefined)) return this.agents.list(tenantId, filter, page);
    const matching: Agent[] = [];
    for (let i = start; i < roster!.agents.length && matching.length <= page.limit; i++) {
      const agent = roster!.agents[i]!;
      if (filter.status === undefined || agent.status === filter.status) matching.push(agent);
    }
    return pageOf(matching, page.limit);
  }

  listNotTerminated(): Promise<Agent[]> {
    return this.agents.listNotTerminated();
  }

  countNotTerminated(tenantId: string): Promise<number> {
    return this.agents.countNotTerminated(tenantId);
  }

  private async loadRoster(tenantId: string, capability: string | undefined): Promise<Roster> {
    const first = await this.agents.list(tenantId, capability === undefined ? {} : { capability }, { limit: MAX_ROSTER });
    return first.nextCursor === undefined ? { complete: true, agents: first.items } : { complete: false, agents: [] };
  }

  /** The rosters `agent` is in now, and those of `formerCapabilities`. */
  private forget(agent: Agent, formerCapabilities: string[]): Promise<void> {
    const capabilities = new Set([...agent.capabilities.map((c) => c.name), ...formerCapabilities]);
    return this.cache.deleteMany([agentRosterCacheKey(agent.tenantId), ...[...capabilities].map((c) => agentRosterCacheKey(agent.tenantId, c))]);
  }
}
