import { NotFoundError, type Agent } from '../../domain/index.js';
import { CAN_READ, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import type { AgentFilter, Page, PageRequest } from '../ports.js';

/** Live agents are read from the registry (current load); terminated ones from the store. */
export async function getAgent(ctx: MeshContext, caller: Caller, id: string): Promise<Agent> {
  requireRole(caller, CAN_READ, 'read agents');
  const agent = ctx.directory.get(caller.tenantId, id) ?? (await ctx.agents.get(caller.tenantId, id));
  if (!agent) throw new NotFoundError('agent', id);
  return agent;
}

export async function listAgents(ctx: MeshContext, caller: Caller, filter: AgentFilter, page: PageRequest): Promise<Page<Agent>> {
  requireRole(caller, CAN_READ, 'list agents');
  const result = await ctx.agents.list(caller.tenantId, filter, page);
  return { ...result, items: result.items.map((a) => ctx.directory.get(a.tenantId, a.id) ?? a) };
}
