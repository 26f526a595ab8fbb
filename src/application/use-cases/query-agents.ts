import { isLiveStatus, NotFoundError, type Agent } from '../../domain/index.js';
import { CAN_READ, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import type { AgentFilter, AgentLiveState, Page, PageRequest } from '../ports.js';
import { PLAIN } from '../../domain/plain.js';

/**
 * Live agents are read from the registry (current load) where this instance keeps it; on a
 * follower, the stored agent gets its live state from the shared view when there is one.
 */
export async function getAgent(ctx: MeshContext, caller: Caller, id: string): Promise<Agent> {
  requireRole(caller, CAN_READ, 'read agents');
  const live = ctx.directory.get(caller.tenantId, id);
  if (live) return live;
  const stored = await ctx.agents.get(caller.tenantId, id);
  if (!stored) throw new NotFoundError('agent', id);
  return (await withLiveState(ctx, caller.tenantId, [stored]))[0]!;
}

export async function listAgents(ctx: MeshContext, caller: Caller, filter: AgentFilter, page: PageRequest): Promise<Page<Agent>> {
  requireRole(caller, CAN_READ, 'list agents');
  const result = await ctx.agents.list(caller.tenantId, filter, page);
  const items = result.items.map((a) => ctx.directory.get(a.tenantId, a.id) ?? a);
  return { ...PLAIN, ...result, items: await withLiveState(ctx, caller.tenantId, items) };
}

/** Agents not in this instance's registry take their load and counters from the shared view, when it has fresher ones. */
async function withLiveState(ctx: MeshContext, tenantId: string, agents: Agent[]): Promise<Agent[]> {
  const stale = agents.filter((a) => a.status !== 'terminated' && ctx.directory.get(tenantId, a.id) === undefined);
  if (!ctx.liveAgents || stale.length === 0) return agents;
  const states = await ctx.liveAgents.read(tenantId, stale.map((a) => a.id)).catch((error: unknown) => {
    // The stored counters are at most one sweep old: answer with them rather than fail the read.
    ctx.logger.warn({ err: error }, "agents' live state unavailable; answering with the stored state");
    return new Map<string, AgentLiveState>();
  });
  return agents.map((a) => {
    const state = states.get(a.id);
    return state && state.updatedAt >= a.updatedAt ? { ...PLAIN, ...a, ...state, status: liveStatus(a.status, state.status) } : a;
  });
}

/**
 * The view carries load, and load only moves an agent between available and busy: a lifecycle
 * status in the store (paused, unhealthy, terminated), or one the view still shows after the
 * store left it, is the store's to say. The same rule as the stored counters' write.
 */
function liveStatus(stored: Agent['status'], live: Agent['status']): Agent['status'] {
  return isLiveStatus(stored) && isLiveStatus(live) ? live : stored;
}

const LIVE_STATUSES = ['available', 'busy'] as const;
const CAPABILITY_SCAN_PAGES = 20;

/**
 * The capabilities that have a live agent (available or busy) in the caller's tenant, sorted, at
 * most `max` of them. The scan reads at most 20 pages of 500 agents per status: a tenant beyond
 * that is described by its first 10,000 live agents.
 */
export async function liveCapabilities(ctx: MeshContext, caller: Caller, max: number): Promise<string[]> {
  requireRole(caller, CAN_READ, 'list agents');
  const names = new Set<string>();
  for (const status of LIVE_STATUSES) {
    let cursor: string | undefined;
    for (let page = 0; page < CAPABILITY_SCAN_PAGES; page++) {
      const result = await ctx.agents.list(caller.tenantId, { status }, { limit: 500, ...(cursor !== undefined && { cursor }) });
      for (const agent of result.items) for (const { name } of agent.capabilities) names.add(name);
      cursor = result.nextCursor;
      if (cursor === undefined) break;
    }
  }
  return [...names].sort().slice(0, max);
}
