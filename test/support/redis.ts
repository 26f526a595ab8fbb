import { inject } from 'vitest';

/** The real Redis's URL, or null when the run skips Redis suites. */
export const redisUrl: string | null = inject('redisUrl');

/** A key prefix no other test run or file shares (AGENTMESH_REDIS_PREFIX). */
export function newKeyPrefix(): string {
  return `amtest-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
