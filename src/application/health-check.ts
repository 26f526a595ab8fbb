import type { HealthProbe } from './ports.js';

/** A probe that hangs counts as down: checks answer within this bound. */
export const PROBE_TIMEOUT_MS = 2_000;

export interface DependencyStatus {
  status: 'up' | 'down';
  error?: string;
}

/** Pings one dependency, giving up after PROBE_TIMEOUT_MS. */
export async function checkDependency(probe: HealthProbe): Promise<DependencyStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Every dependency at once, by name. */
export async function checkDependencies(probes: Record<string, HealthProbe>): Promise<Record<string, DependencyStatus>> {
  const names = Object.keys(probes);
  const results = await Promise.all(names.map((name) => checkDependency(probes[name]!)));
  return Object.fromEntries(names.map((name, i) => [name, results[i]!]));
}
