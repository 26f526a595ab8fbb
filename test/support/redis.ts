import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** The real Redis's URL, or null when the run skips Redis suites. */
export const redisUrl: string | null = inject('redisUrl');

/** A key prefix no other test run or file shares (AGENTMESH_REDIS_PREFIX). */
export function newKeyPrefix(): string {
  return `amtest-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Deletes every key under these prefixes from the real Redis (what a suite wrote there). */
export async function deleteKeyPrefixes(prefixes: readonly string[]): Promise<void> {
  if (redisUrl === null || prefixes.length === 0) return;
  const redis = new Redis(redisUrl);
  try {
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    await redis.quit();
  }
}
