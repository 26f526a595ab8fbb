import { ConflictError, QuotaExceededError, registerAgent, type Agent, type RegisterAgentInput } from '../../domain/index.js';
import { CAN_MANAGE_AGENTS, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';

export async function registerAgentUseCase(
  ctx: MeshContext,
  caller: Caller,
  input: Omit<RegisterAgentInput, 'tenantId' | 'id'> & { id?: string },
): Promise<Agent> {
  requireRole(caller, CAN_MANAGE_AGENTS, 'register agents');
  const id = input.id ?? `agent-${ctx.ids.newId()}`;
  return ctx.agentLocks.run(`${caller.tenantId}\u0000${id}`, async () => {
    const tenant = await ctx.tenants.get(caller.tenantId);
    const count = await ctx.agents.countNotTerminated(caller.tenantId);
    if (tenant && count >= tenant.quotas.maxAgents) {
      throw new QuotaExceededError(`tenant '${caller.tenantId}' has reached its quota of ${tenant.quotas.maxAgents} agents`, {
        quota: 'maxAgents',
        limit: tenant.quotas.maxAgents,
      });
    }
    const { agent, events } = registerAgent({ ...input, id, tenantId: caller.tenantId }, ctx.clock.now(), ctx.settings.agentLimits);
    if (await ctx.agents.get(caller.tenantId, id)) throw new ConflictError(`agent '${id}' already exists`, { id });
    await ctx.agents.insert(agent, events);
    ctx.directory.put(agent);
    ctx.dispatcher.pokeAgent(agent.tenantId, agent.id);
    ctx.logger.info({ tenant_id: agent.tenantId, agent_id: agent.id, capabilities: agent.capabilities.map((c) => c.name) }, 'agent registered');
    return agent;
  });
}
