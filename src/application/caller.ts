import { ForbiddenError } from '../domain/index.js';
import type { Role } from './ports.js';

/** Who is calling: resolved from an API key by the authenticate use case. */
export interface Caller {
  keyId: string;
  tenantId: string;
  role: Role;
  platform: boolean;
}

export function requireRole(caller: Caller, allowed: readonly Role[], action: string): void {
  if (!allowed.includes(caller.role)) {
    throw new ForbiddenError(`role '${caller.role}' may not ${action}`, { role: caller.role, action, allowed });
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
export const CAN_MANAGE_DEAD_LETTERS: readonly Role[] = ['admin', 'orchestrator'];
