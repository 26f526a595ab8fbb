import { expect } from 'vitest';
import type { ChaosCluster, InstanceExit } from './chaos-cluster.js';
import type { ScenarioResult } from './scenario.js';

/**
 * No instance died, or (`leaderMayAbdicate`) only the leader, by design: docs/deployment.md says a
 * leader whose lock connection drops exits with code 1 so that two never lead, and its
 * orchestrator (here the cluster) restarts it.
 */
export function expectNoCrash(result: ScenarioResult, options: { leaderMayAbdicate?: boolean } = {}): void {
  const abdication = (e: InstanceExit) => options.leaderMayAbdicate === true && e.code === 1 && e.fatal.some((l) => l.includes('lost the leader lock'));
  const crashes = result.exits.filter((e) => !abdication(e));
  const report = result.exits.map((e) => `--- instance on port ${e.port} (pid ${e.pid}) exited with ${e.code}: ${e.reason}\n${e.output}`).join('\n');
  expect.soft(crashes.map((e) => `pid ${e.pid} exited with ${e.code}: ${e.reason}`), report).toEqual([]);
  expect.soft(result.exits.length, report).toBeLessThanOrEqual(1);
}

/**
 * Work resumed soon after the harm ended: from the kill on, no stretch without a task ending (while
 * some were open) lasted more than the downtime plus `graceMs`. Re-routing here takes seconds
 * (2 s leases, 3 s heartbeat timeout), so a longer stall is the mesh holding work back by itself.
 */
export function expectPromptRecovery(result: ScenarioResult, graceMs = 15_000): void {
  expect
    .soft(result.stallMs, `longest stall ${(result.stallMs / 1000).toFixed(1)} s after a downtime of ${(result.downtimeMs / 1000).toFixed(1)} s`)
    .toBeLessThanOrEqual(result.downtimeMs + graceMs);
}

/** submitted = completed + dead-lettered for cause, nothing lost, nothing completed twice; otherwise says what is known. */
export function expectNothingLost(cluster: ChaosCluster, result: ScenarioResult, tasks: number): void {
  const t = result.tally;
  const diagnosis = [
    `lost by status: ${JSON.stringify(t.lostByStatus)}; sample: ${JSON.stringify(t.lostSample)}`,
    `unexpected rows: ${t.unexpected}; instance exits: ${JSON.stringify(result.exits.map(({ output: _o, ...e }) => e))}`,
    cluster.output(),
  ].join('\n');
  if (result.loadError || t.lost > 0 || t.twice > 0 || t.unexpected > 0) console.error(`chaos: what went wrong\n${result.loadError?.message ?? ''}\n${diagnosis}`);
  expect.soft(result.loadError?.message, diagnosis).toBeUndefined();
  expect.soft(t.submitted).toBe(tasks);
  expect.soft({ lost: t.lost, twice: t.twice, unexpected: t.unexpected }, diagnosis).toEqual({ lost: 0, twice: 0, unexpected: 0 });
  expect.soft(t.completed + t.deadLettered).toBe(t.submitted);
  expect.soft(t.deadLettered).toBe(result.load.doomed.size);
}
