import { QuotaExceededError, registerAgent, reregisterAgent, type Agent, type RegisterAgentInput } from '../../domain/index.js';
import { CAN_MANAGE_AGENTS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';

/** Registers a new agent, or re-registers an id whose agent was terminated or went silent (409 while it lives). */
export async function registerAgentUseCase(
  ctx: MeshContext,
  caller: Caller,
  input: Omit<RegisterAgentInput, 'tenantId' | 'id'> & { id?: string },
): Promise<Agent> {
  requireRole(caller, CAN_MANAGE_AGENTS, 'register agents');
  const id = input.id ?? `agent-${ctx.ids.newId()}`;
  return ctx.agentLocks.run(`${caller.tenantId}\u0000${id}`, async () => {
    const existing = await ctx.agents.get(caller.tenantId, id);
    const tenant = await ctx.tenants.get(caller.tenantId);
    const count = await ctx.agents.countNotTerminated(caller.tenantId);
    // A silent agent rejoining takes back its own slot.
    const taken = existing && existing.status !== 'terminated' ? count - 1 : count;
    if (tenant && taken >= tenant.quotas.maxAgents) {
      throw new QuotaExceededError(`tenant '${caller.tenantId}' has reached its quota of ${tenant.quotas.maxAgents} agents`, {
        quota: 'maxAgents',
        limit: tenant.quotas.maxAgents,
      });
    }
    const request = { ...input, id, tenantId: caller.tenantId };
    const now = ctx.clock.now();
    const { agent, events } = existing
      ? reregisterAgent(ctx.directory.get(caller.tenantId, id) ?? existing, request, now, ctx.settings.agentLimits, ctx.settings.heartbeatTimeoutMs)
      : registerAgent(request, now, ctx.settings.agentLimits);
    if (existing) await ctx.agents.save(agent, events);
    else await ctx.agents.insert(agent, events);
    ctx.directory.put(agent);
    ctx.dispatcher.pokeAgent(agent.tenantId, agent.id);
    ctx.logger.info({ tenant_id: agent.tenantId, agent_id: agent.id, capabilities: agent.capabilities.map((c) => c.name) }, 'agent registered');
    return agent;
  });
}
