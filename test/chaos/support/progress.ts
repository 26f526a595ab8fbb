import type { ChaosCluster } from './chaos-cluster.js';

/** CHAOS_VERBOSE=1: task counts by status every 2 s, and at the end the instances' logs and the agents' errors. */
export const verbose = process.env.CHAOS_VERBOSE === '1';

/** Samples the tasks' statuses every second: the longest time without a task ending while some were open. */
export function watchProgress(cluster: ChaosCluster, began: number): { stop(): void; longestStallMs(from: number): number } {
  const samples: Array<{ at: number; ended: number; open: number }> = [];
  let tick = 0;
  const timer = setInterval(() => {
    void cluster
      .query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM tasks GROUP BY status ORDER BY status')
      .then((rows) => {
        const count = (statuses: string[]) => rows.filter((r) => statuses.includes(r.status)).reduce((sum, r) => sum + r.n, 0);
        samples.push({ at: Date.now(), ended: count(['completed', 'dead_lettered', 'failed', 'canceled']), open: count(['queued', 'assigned', 'running']) });
        if (verbose && tick++ % 2 === 0) console.log(`${((Date.now() - began) / 1000).toFixed(1)} s: ${rows.map((r) => `${r.status} ${r.n}`).join(', ')}`);
      })
      .catch((error: Error) => verbose && console.log(`${((Date.now() - began) / 1000).toFixed(1)} s: (database: ${error.message})`));
  }, 1_000);
  return {
    stop: () => clearInterval(timer),
    longestStallMs: (from) => {
      let longest = 0;
      let since = from;
      let last = -1;
      for (const s of samples.filter((s) => s.at >= from)) {
        if (s.ended > last || s.open === 0) since = s.at;
        last = Math.max(last, s.ended);
        longest = Math.max(longest, s.at - since);
      }
      return longest;
    },
  };
}
