import { expireDeadline, heartbeatMissed, isLive, releaseLease } from '../domain/index.js';
import type { MeshContext } from './mesh-context.js';

/**
 * Periodic duties: lapsed leases go back to the queue, silent agents become unhealthy and lose
 * their tasks, passed deadlines fail their tasks, agents whose breaker cooled down get a probe
 * task, and agents' counters are persisted.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly ctx: MeshContext) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.ctx.settings.sweepIntervalMs);
    this.timer.unref();
  }

  /** No new sweep starts; resolves once the one under way (if any) has finished its writes. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  sweep(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.sweepOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweepOnce(): Promise<void> {
    const now = this.ctx.clock.now();
    // Settle every duty before the next sweep may start, whichever of them fails.
    const results = await Promise.allSettled([this.expireLeases(now), this.expireDeadlines(now), this.checkHeartbeats(now), this.ctx.breakers.probeDue(now), this.flushAgentCounters()]);
    for (const r of results) if (r.status === 'rejected') this.ctx.logger.error({ err: r.reason }, 'sweep duty failed');
  }

  private async expireLeases(now: number): Promise<void> {
    const lapsed = [...this.ctx.lifecycle.leases.values()].filter((l) => l.expiresAt <= now);
    await Promise.all(lapsed.map((l) => releaseTask(this.ctx, l.tenantId, l.taskId, 'lease_expired')));
  }

  private async expireDeadlines(now: number): Promise<void> {
    const { ctx } = this;
    const passed = [...ctx.lifecycle.deadlines.values()].filter((d) => d.deadline <= now);
    await Promise.all(
      passed.map((d) =>
        ctx.taskLocks.run(d.taskId, async () => {
          const task = await ctx.tasks.get(d.tenantId, d.taskId);
          if (task) await ctx.lifecycle.commit(task, expireDeadline(task, ctx.clock.now()));
        }),
      ),
    );
  }

  private async checkHeartbeats(now: number): Promise<void> {
    const { ctx } = this;
    const silent = [...ctx.directory.all()].filter((a) => isLive(a) && now - a.lastHeartbeatAt > ctx.settings.heartbeatTimeoutMs);
    for (const stale of silent) {
      const marked = await ctx.agentLocks.run(`${stale.tenantId}\u0000${stale.id}`, async () => {
        // It may have heartbeated, paused or left since the list was taken.
        const agent = ctx.directory.get(stale.tenantId, stale.id);
        const at = ctx.clock.now();
        if (!agent || at - agent.lastHeartbeatAt <= ctx.settings.heartbeatTimeoutMs) return false;
        const change = heartbeatMissed(agent, at);
        if (change.events.length === 0) return false;
        await ctx.agents.save(change.agent, change.events);
        ctx.directory.applyLifecycle(change.agent);
        ctx.dispatcher.membershipChanged(agent.tenantId, agent.capabilities.map((c) => c.name));
        ctx.logger.warn({ tenant_id: agent.tenantId, agent_id: agent.id }, 'agent missed its heartbeat; re-routing its tasks');
        return true;
      });
      if (marked) await releaseAgentTasks(ctx, stale.tenantId, stale.id, 'agent_lost');
    }
  }

  async flushAgentCounters(): Promise<void> {
    const { ctx } = this;
    const dirty = ctx.directory.takeDirty();
    // The shared view only shows the moment: when it cannot be written, the next change writes it again.
    const published = ctx.liveAgents?.publish(dirty).catch((error: unknown) => ctx.logger.warn({ err: error }, "agents' live state not published"));
    try {
      await Promise.all(dirty.map((a) => ctx.agents.save(a, [])));
    } catch (error) {
      // Try again at the next sweep.
      for (const a of dirty) ctx.directory.markDirty(a.tenantId, a.id);
      throw error;
    } finally {
      await published;
    }
  }
}

export async function releaseTask(
  ctx: MeshContext,
  tenantId: string,
  taskId: string,
  reason: 'lease_expired' | 'agent_lost' | 'agent_stopped',
  onlyFromAgent?: string,
): Promise<void> {
  await ctx.taskLocks.run(taskId, async () => {
    const task = await ctx.tasks.get(tenantId, taskId);
    if (!task) return;
    if (onlyFromAgent !== undefined && task.agentId !== onlyFromAgent) return;
    const now = ctx.clock.now();
    if (reason === 'lease_expired' && (task.leaseExpiresAt === undefined || task.leaseExpiresAt > now)) return;
    await ctx.lifecycle.commit(task, releaseLease(task, reason, ctx.lifecycle.backoffFor(task), now));
  });
}

/** Every task the agent holds goes back for another attempt. */
export async function releaseAgentTasks(
  ctx: MeshContext,
  tenantId: string,
  agentId: string,
  reason: 'agent_lost' | 'agent_stopped',
): Promise<number> {
  const held = [...ctx.lifecycle.leases.values()].filter((l) => l.tenantId === tenantId && l.agentId === agentId);
  await Promise.all(held.map((l) => releaseTask(ctx, tenantId, l.taskId, reason, agentId)));
  return held.length;
}
