import { assertSecretName, GoneError, NotFoundError, policyAllows } from '../../domain/index.js';
import { CAN_READ_SECRET_VALUES, requireRole, type Caller } from '../caller.js';
import type { MeshContext } from '../mesh-context.js';
import { secretAad } from './manage-secrets.js';

/**
 * Every refusal of a secret read looks the same to the caller (404: nothing about whether the
 * task or the secret exists leaks); `reason` says why, for the audit entry only.
 */
export class SecretDeniedError extends NotFoundError {
  constructor(
    name: string,
    taskId: string,
    readonly reason: string,
  ) {
    super('secret', name);
    this.message = `secret '${name}' is not available to this agent for task '${taskId}'`;
    this.name = 'SecretDeniedError';
  }
}

export interface SecretValue {
  name: string;
  version: number;
  value: string;
}

/**
 * A secret's newest value, for the agent working a task: only with its own agent key, for a task
 * of its tenant assigned to it whose lease it holds, that lists the secret, whose policy allows
 * the task's capability. The API records the read (or the refusal) before answering.
 */
export async function readTaskSecret(ctx: MeshContext, caller: Caller, taskId: string, name: string): Promise<SecretValue> {
  requireRole(caller, CAN_READ_SECRET_VALUES, 'read secret values');
  assertSecretName(name);
  const deny = (reason: string) => {
    ctx.metrics.secretAccessed(caller.tenantId, 'denied');
    return new SecretDeniedError(name, taskId, reason);
  };
  const task = await ctx.tasks.get(caller.tenantId, taskId);
  if (!task) throw deny('no such task in the tenant');
  if (caller.agentId === undefined || task.agentId !== caller.agentId) throw deny('the task is not assigned to this agent');
  if ((task.status !== 'assigned' && task.status !== 'running') || (task.leaseExpiresAt ?? 0) <= ctx.clock.now()) throw deny('the agent does not hold the task\'s lease');
  if (!task.secrets?.includes(name)) throw deny('the task does not list this secret');
  const current = await ctx.secrets.current(caller.tenantId, name);
  if (!current) throw deny('no such secret');
  if (!policyAllows(current.policy, task.capability)) throw deny(`the secret's policy does not allow capability '${task.capability}'`);
  try {
    const value = await ctx.vault.open(caller.tenantId, secretAad(caller.tenantId, name, current.versionId), current.sealed, current.tenantKey);
    ctx.metrics.secretAccessed(caller.tenantId, 'granted');
    return { name, version: current.version, value: value.toString('utf8') };
  } catch (error) {
    ctx.metrics.secretAccessed(caller.tenantId, error instanceof GoneError ? 'destroyed' : 'error');
    throw error;
  }
}
