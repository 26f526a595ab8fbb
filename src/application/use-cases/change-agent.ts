import { heartbeat, NotFoundError, pause, resume, terminate, type Agent, type DomainEvent } from '../../domain/index.js';
import { CAN_MANAGE_AGENTS, requireActingAs, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import { releaseAgentTasks } from '../sweeper.js';
import { agentInboxSubject } from '../subjects.js';
import { PLAIN } from '../../domain/plain.js';

type Transition = (agent: Agent, now: number) => { agent: Agent; events: DomainEvent[] };

/** Read-modify-write of one agent under its lock; the registry follows the store. */
async function changeAgent(ctx: MeshContext, caller: Caller, id: string, action: string, transition: Transition): Promise<{ agent: Agent; changed: boolean }> {
  requireRole(caller, CAN_MANAGE_AGENTS, action);
  requireActingAs(caller, id, action);
  return ctx.agentLocks.run(`${caller.tenantId}\u0000${id}`, async () => {
    const current = ctx.directory.get(caller.tenantId, id) ?? (await ctx.agents.get(caller.tenantId, id));
    if (!current) throw new NotFoundError('agent', id);
    const { agent, events } = transition(current, ctx.clock.now());
    if (events.length > 0) await ctx.agents.save(agent, events);
    // Load may have moved during the save: merge, do not overwrite.
    const stored = ctx.directory.applyLifecycle(agent);
    if (events.length > 0) {
      ctx.logger.info({ tenant_id: agent.tenantId, agent_id: agent.id, status: agent.status }, `agent ${events[0]!.type}`);
      ctx.dispatcher.membershipChanged(agent.tenantId, agent.capabilities.map((c) => c.name));
    }
    return { agent: stored, changed: events.length > 0 };
  });
}

export async function heartbeatAgent(ctx: MeshContext, caller: Caller, id: string): Promise<Agent> {
  return (await changeAgent(ctx, caller, id, 'heartbeat agents', heartbeat)).agent;
}

/** A paused agent keeps its in-flight tasks but gets no new ones. */
export async function pauseAgent(ctx: MeshContext, caller: Caller, id: string): Promise<Agent> {
  return (await changeAgent(ctx, caller, id, 'pause agents', pause)).agent;
}

export async function resumeAgent(ctx: MeshContext, caller: Caller, id: string): Promise<Agent> {
  return (await changeAgent(ctx, caller, id, 'resume agents', resume)).agent;
}

/** The agent leaves for good: its tasks go back to the queue and its inbox is dropped. */
export async function terminateAgent(ctx: MeshContext, caller: Caller, id: string): Promise<Agent> {
  const { agent } = await changeAgent(ctx, caller, id, 'terminate agents', terminate);
  await releaseAgentTasks(ctx, agent.tenantId, agent.id, 'agent_stopped');
  await ctx.broker.purge(agentInboxSubject(agent.tenantId, agent.id));
  // The view only mirrors the registry: a Redis outage must not fail a termination that has happened.
  await ctx.liveAgents?.forget(agent.tenantId, agent.id).catch((error: unknown) => ctx.logger.warn({ err: error, agent_id: agent.id }, "terminated agent's live state not removed"));
  const left = { ...PLAIN, ...agent, inFlight: 0 };
  await ctx.agents.save(left, []);
  return left;
}
