import { assertIdentifier, assertIntegerInRange, assertStorableText } from './validation.js';
import { ValidationError } from './errors.js';
import { PLAIN } from './plain.js';

export interface TenantQuotas {
  maxAgents: number;
  maxTasksPerHour: number;
}

export interface Tenant {
  id: string;
  name: string;
  quotas: TenantQuotas;
  createdAt: number;
}

export const DEFAULT_QUOTAS: TenantQuotas = { maxAgents: 100, maxTasksPerHour: 10_000 };

export function createTenant(input: { id: string; name?: string; quotas?: Partial<TenantQuotas> }, now: number): Tenant {
  assertIdentifier(input.id, 'id');
  const name = (input.name ?? input.id).trim();
  if (name.length === 0 || name.length > 256) throw new ValidationError('name must be 1-256 characters', 'name');
  assertStorableText(name, 'name');
  const quotas = { ...PLAIN, ...DEFAULT_QUOTAS, ...input.quotas };
  assertIntegerInRange(quotas.maxAgents, 1, 1_000_000, 'quotas.maxAgents');
  assertIntegerInRange(quotas.maxTasksPerHour, 1, 1_000_000_000, 'quotas.maxTasksPerHour');
  return { id: input.id, name, quotas, createdAt: now };
}
