import { AuditAction, AuditStatus, SYSTEM_ACTOR, type AuditRecord, type DomainEvent } from '../domain/index.js';
import { PLAIN } from '../domain/plain.js';

/** The event types that may make an entry (systemAuditOf answers undefined for every other). */
export const SYSTEM_AUDITED_EVENT_TYPES: readonly DomainEvent['type'][] = [
  'TaskAssigned',
  'TaskStarted',
  'TaskRetried',
  'TaskDeadLettered',
  'TaskFailed',
  'TaskCanceled',
  'AgentHeartbeatMissed',
  'AgentRecovered',
  'AgentCircuitOpened',
  'AgentCircuitHalfOpened',
  'AgentCircuitClosed',
];

/**
 * The audit entry of a change the mesh made on its own, from its event; undefined for a change
 * made through the API, which the API's entry records with who asked for it.
 */
export function systemAuditOf(event: DomainEvent): AuditRecord | undefined {
  const base = { tenantId: event.tenantId, at: event.occurredAt, actor: SYSTEM_ACTOR, resourceType: event.aggregateType, resourceId: event.aggregateId };
  const d = event.data;
  const agent = typeof d.agentId === 'string' ? { agentId: d.agentId } : {};
  switch (event.type) {
    case 'TaskAssigned':
      return { ...PLAIN, ...base, action: AuditAction.TASK_ASSIGNED, status: AuditStatus.SUCCESS, details: { ...PLAIN, ...agent, ...(d.attempt !== undefined && { attempt: d.attempt }), ...(Array.isArray(d.copies) && { copies: d.copies.length }) } };
    case 'TaskStarted':
      return { ...PLAIN, ...base, action: AuditAction.MESSAGE_DELIVERED, status: AuditStatus.SUCCESS, details: { ...PLAIN, ...agent, attempt: d.attempt } };
    case 'TaskRetried':
      return { ...PLAIN, ...base, action: AuditAction.TASK_RETRIED, status: AuditStatus.FAILURE, details: { attempt: d.attempt, reason: d.reason, backoffMs: d.backoffMs } };
    case 'TaskDeadLettered':
      return { ...PLAIN, ...base, action: AuditAction.TASK_DEAD_LETTERED, status: AuditStatus.FAILURE, details: { attempts: d.attempts, error: d.error } };
    case 'TaskFailed':
      // An agent's failure report carries its attempt and comes through the API; the mesh fails a task itself on a deadline or when it cannot be routed.
      return d.attempt === undefined ? { ...PLAIN, ...base, action: AuditAction.TASK_FAILED, status: AuditStatus.FAILURE, details: { ...PLAIN, ...agent, error: d.error } } : undefined;
    case 'TaskCanceled':
      return d.reason !== 'canceled by request' ? { ...PLAIN, ...base, action: AuditAction.TASK_CANCELLED, status: AuditStatus.SUCCESS, details: { reason: d.reason } } : undefined;
    case 'AgentHeartbeatMissed':
      return { ...PLAIN, ...base, action: AuditAction.AGENT_UPDATED, status: AuditStatus.FAILURE, details: { change: 'unhealthy: heartbeats stopped', lastHeartbeatAt: d.lastHeartbeatAt } };
    case 'AgentRecovered':
      return { ...PLAIN, ...base, action: AuditAction.AGENT_UPDATED, status: AuditStatus.SUCCESS, details: { change: 'recovered: heartbeating again' } };
    case 'AgentCircuitOpened':
      return {
        ...PLAIN,
        ...base,
        action: AuditAction.AGENT_UPDATED,
        status: AuditStatus.FAILURE,
        details: {
          change:
            d.reason === 'failure_rate'
              ? d.probeFailed
                ? 'unhealthy: circuit breaker opened again: its probe task failed'
                : `unhealthy: circuit breaker opened: it failed ${percent(d.failureRatio)} of its last tasks, its peers ${percent(d.peerFailureRatio)}`
              : `unhealthy: circuit breaker opened after ${String(d.consecutiveFailures)} failures in a row`,
          cooldownMs: d.cooldownMs,
          probeFailed: d.probeFailed,
        },
      };
    case 'AgentCircuitHalfOpened':
      return { ...PLAIN, ...base, action: AuditAction.AGENT_UPDATED, status: AuditStatus.SUCCESS, details: { change: 'half-open: one probe task' } };
    case 'AgentCircuitClosed':
      return { ...PLAIN, ...base, action: AuditAction.AGENT_UPDATED, status: AuditStatus.SUCCESS, details: { change: 'recovered: its probe task succeeded' } };
    default:
      return undefined;
  }
}

const percent = (ratio: unknown) => `${Math.round(Number(ratio) * 100)}%`;
