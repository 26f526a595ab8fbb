import { DomainError, NotFoundError, type Agent, type DeliveredTask, type Task, type TraceContext } from '../domain/index.js';
import { carrierOf, contextFrom, inSpan, SpanKind } from './tracing.js';
import { CAN_WORK_TASKS, requireActingAs, requireRole, type Caller } from './caller.js';
import type { MeshCommands } from './mesh-commands.js';
import type { MeshContext } from './mesh-context.js';
import type { BrokerMessage, Subscription } from './ports.js';
import { agentInboxSubject } from './subjects.js';
import type { AssignmentMessage } from './task-lifecycle.js';

/** What the agent gets; `trace` (the delivery's span) replaces the task's own trace context when tracing is on. */
export function toDelivered(task: Task, trace: TraceContext | undefined = task.traceContext): DeliveredTask {
  return {
    id: task.id,
    capability: task.capability,
    input: task.input,
    priority: task.priority,
    attempt: task.attempts,
    assignedAt: task.assignedAt!,
    maxAttempts: task.maxAttempts,
    leaseMs: task.leaseMs,
    leaseExpiresAt: task.leaseExpiresAt!,
    ...(task.deadline !== undefined && { deadline: task.deadline }),
    ...(task.parentId !== undefined && { parentId: task.parentId }),
    ...(trace !== undefined && trace),
    ...(task.secrets !== undefined && { secrets: task.secrets }),
  };
}

/**
 * Hands assignment messages from an agent's inbox to its connection (SSE push or long poll).
 * A message whose assignment is stale (lease moved on, task canceled) is dropped, not delivered.
 */
export class AgentDelivery {
  constructor(
    private readonly ctx: MeshContext,
    /** Where "the task is running" is committed: this instance, or the leader. */
    private readonly commands: () => MeshCommands,
  ) {}

  /** The agent whose tasks the caller may receive; refused (403, 404) otherwise. */
  async receiver(caller: Caller, agentId: string): Promise<Agent> {
    requireRole(caller, CAN_WORK_TASKS, 'receive tasks');
    requireActingAs(caller, agentId, 'receive tasks');
    const known = this.ctx.directory.get(caller.tenantId, agentId) ?? (await this.ctx.agents.get(caller.tenantId, agentId));
    if (!known) throw new NotFoundError('agent', agentId);
    return known;
  }

  private ackWaitMs(): number {
    return this.ctx.settings.taskLimits.defaultLeaseMs;
  }

  /** Validates the message; returns the running task as the agent gets it, or undefined (message terminated) when stale. */
  private async accept(tenantId: string, agentId: string, message: BrokerMessage): Promise<DeliveredTask | undefined> {
    let parsed: AssignmentMessage;
    try {
      parsed = JSON.parse(Buffer.from(message.data).toString('utf8')) as AssignmentMessage;
    } catch {
      message.term();
      return undefined;
    }
    const attributes = { 'agentmesh.tenant': tenantId, 'agentmesh.task_id': parsed.taskId, 'agentmesh.agent_id': agentId, 'agentmesh.attempt': parsed.attempt };
    return inSpan('agentmesh.deliver', { kind: SpanKind.CONSUMER, attributes }, contextFrom(message.headers), async (_span, ctx) => {
      try {
        const task = await this.commands().startTask(tenantId, parsed.taskId, agentId, parsed.attempt);
        return toDelivered(task, carrierOf(ctx) ?? task.traceContext);
      } catch (error) {
        if (error instanceof DomainError) {
          message.term();
          return undefined;
        }
        message.nak(1000);
        throw error;
      }
    });
  }

  async stream(caller: Caller, agentId: string, deliver: (task: DeliveredTask) => Promise<void>): Promise<Subscription> {
    const agent = await this.receiver(caller, agentId);
    const subject = agentInboxSubject(caller.tenantId, agentId);
    return this.ctx.broker.consume(subject, { ackWaitMs: this.ackWaitMs(), maxInFlight: agent.maxConcurrentTasks }, (message) => {
      void this.accept(caller.tenantId, agentId, message)
        .then(async (task) => {
          if (!task) return;
          try {
            await deliver(task);
            message.ack();
          } catch {
            // The connection is going away: let the next connection have it, not this one again at once.
            message.nak(1000);
          }
        })
        .catch((error: unknown) => this.ctx.logger.error({ err: error, agent_id: agentId }, 'delivery failed'));
    });
  }

  /**
   * Long poll. The wait is cut into slices of a third of the heartbeat timeout; `keepAlive` runs
   * before each (a heartbeat, a key check), so a long wait never makes the agent look silent and
   * a revoked key ends the wait.
   */
  async next(
    caller: Caller,
    agentId: string,
    waitMs: number,
    options: { signal?: AbortSignal; keepAlive?: () => Promise<void>; admitted?: () => void } = {},
  ): Promise<DeliveredTask | undefined> {
    const { signal, keepAlive } = options;
    await this.receiver(caller, agentId);
    // The caller may receive this agent's tasks: only now does its wait count as the agent's.
    options.admitted?.();
    const subject = agentInboxSubject(caller.tenantId, agentId);
    const until = this.ctx.clock.now() + waitMs;
    const slice = Math.max(100, Math.floor(this.ctx.settings.heartbeatTimeoutMs / 3));
    for (;;) {
      await keepAlive?.();
      const remaining = Math.max(0, until - this.ctx.clock.now());
      const message = await this.ctx.broker.pull(subject, { ackWaitMs: this.ackWaitMs(), waitMs: Math.min(remaining, slice), ...(signal && { signal }) });
      if (!message) {
        if (remaining <= slice || signal?.aborted) return undefined;
        continue;
      }
      const task = await this.accept(caller.tenantId, agentId, message);
      if (task) {
        message.ack();
        return task;
      }
      if (remaining === 0 || signal?.aborted) return undefined;
    }
  }
}
