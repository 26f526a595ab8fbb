import { QuotaExceededError, registerAgent, reregisterAgent, type Agent, type RegisterAgentInput } from '../../domain/index.js';
import { CAN_MANAGE_AGENTS, requireActingAs, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import { releaseAgentTasks } from '../sweeper.js';
import { PLAIN } from '../../domain/plain.js';

/** Registers a new agent, or re-registers an id whose agent was terminated or went silent (409 while it lives). */
export async function registerAgentUseCase(
  ctx: MeshContext,
  caller: Caller,
  input: Omit<RegisterAgentInput, 'tenantId' | 'id'> & { id?: string },
): Promise<Agent> {
  requireRole(caller, CAN_MANAGE_AGENTS, 'register agents');
  // An agent key registers its own agent, named or not.
  const id = input.id ?? caller.agentId ?? `agent-${ctx.ids.newId()}`;
  requireActingAs(caller, id, 'register agents');
  // One registration per tenant at a time keeps the agent quota exact; then the agent's own lock.
  return ctx.agentLocks.run(`${caller.tenantId}\u0000:register`, () =>
    ctx.agentLocks.run(`${caller.tenantId}\u0000${id}`, async () => {
      const existing = ctx.directory.get(caller.tenantId, id) ?? (await ctx.agents.get(caller.tenantId, id));
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
      const request = { ...PLAIN, ...input, id, tenantId: caller.tenantId };
      const now = ctx.clock.now();
      const { agent, events } = existing
        ? reregisterAgent(existing, request, now, ctx.settings.agentLimits, ctx.settings.heartbeatTimeoutMs)
        : registerAgent(request, now, ctx.settings.agentLimits);
      // Whatever the old incarnation still holds goes back to the queue before the new one starts empty.
      if (existing && existing.status !== 'terminated') await releaseAgentTasks(ctx, caller.tenantId, id, 'agent_stopped');
      if (existing) await ctx.agents.save(agent, events);
      else await ctx.agents.insert(agent, events);
      if (!existing) ctx.metrics.agentRegistered(agent);
      ctx.directory.put(agent);
      ctx.dispatcher.membershipChanged(agent.tenantId, [...new Set([...agent.capabilities, ...(existing?.capabilities ?? [])].map((c) => c.name))]);
      ctx.logger.info({ tenant_id: agent.tenantId, agent_id: agent.id, capabilities: agent.capabilities.map((c) => c.name) }, 'agent registered');
      return agent;
    }),
  );
}
