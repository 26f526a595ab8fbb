import { ForbiddenError } from '../domain/index.js';
import type { Role } from './ports.js';

/** Who is calling: resolved from an API key by the authenticate use case. */
export interface Caller {
  keyId: string;
  tenantId: string;
  role: Role;
  platform: boolean;
  /** An agent key's agent, the only one it may act as. */
  agentId?: string;
  /** The key's own requests per minute, when it has one. */
  rateLimitPerMinute?: number;
}

export function requireRole(caller: Caller, allowed: readonly Role[], action: string): void {
  if (!allowed.includes(caller.role)) {
    throw new ForbiddenError(`role '${caller.role}' may not ${action}`, { role: caller.role, action, allowed });
  }
}

/**
 * An agent key acts only as its own agent; admins act as any agent of their tenant. Refused
 * (403) otherwise, which the API audits as UNAUTHORIZED_ACCESS.
 */
export function requireActingAs(caller: Caller, agentId: string, action: string): void {
  if (caller.role !== 'agent') return;
  if (caller.agentId === undefined) {
    throw new ForbiddenError(`this agent key is bound to no agent (it was made before keys were bound): create a key with agentId to ${action}`, { action });
  }
  if (caller.agentId !== agentId) {
    throw new ForbiddenError(`this key acts for agent '${caller.agentId}' only, not '${agentId}'`, { action, agentId, keyAgentId: caller.agentId });
  }
}

export function requirePlatform(caller: Caller, action: string): void {
  if (!caller.platform) throw new ForbiddenError(`only the platform admin key may ${action}`, { action });
}

export const CAN_MANAGE_KEYS: readonly Role[] = ['admin'];
export const CAN_MANAGE_AGENTS: readonly Role[] = ['admin', 'agent'];
export const CAN_WORK_TASKS: readonly Role[] = ['admin', 'agent'];
export const CAN_SUBMIT_TASKS: readonly Role[] = ['admin', 'orchestrator'];
export const CAN_READ: readonly Role[] = ['admin', 'orchestrator', 'agent', 'observer'];
export const CAN_READ_TENANTS: readonly Role[] = ['admin', 'orchestrator', 'observer'];
export const CAN_MANAGE_DEAD_LETTERS: readonly Role[] = ['admin', 'orchestrator'];
export const CAN_MANAGE_SECRETS: readonly Role[] = ['admin', 'orchestrator'];
export const CAN_SEE_SECRETS: readonly Role[] = ['admin', 'orchestrator', 'observer'];
/** Values are read only by an agent key, for a task assigned to its agent. */
export const CAN_READ_SECRET_VALUES: readonly Role[] = ['agent'];
export const CAN_DESTROY_TENANT_KEYS: readonly Role[] = ['admin'];
export const CAN_ADMINISTER_CACHE: readonly Role[] = ['admin'];
