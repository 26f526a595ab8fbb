import type { Cluster } from '../../integration/cluster/cluster-support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = ['completed', 'dead_lettered', 'failed', 'canceled'];

/** What became of the submitted tasks, counted from the database. */
export interface Tally {
  submitted: number;
  completed: number;
  /** Doomed tasks (they always fail) that ended dead-lettered: for cause. */
  deadLettered: number;
  /** Submitted, and neither completed nor dead-lettered for cause: missing, still open, or ended otherwise. */
  lost: number;
  /** Tasks with more than one TaskCompleted event. */
  twice: number;
  /** The lost, by what the database says of them ('missing': no row). */
  lostByStatus: Record<string, number>;
  /** A few lost keys with their rows, to look into. */
  lostSample: Array<{ key: string; status: string; attempts?: number; agent?: string | null }>;
  /** Rows whose key the client never had acknowledged (should be none). */
  unexpected: number;
  /** Tasks an agent started more than once (at-least-once delivery: allowed, shown). */
  rerun: number;
}

interface Row {
  k: string;
  status: string;
  attempts: number | null;
  agent_id: string | null;
  cause: string | null;
}

/** Waits (polling the database) until every submitted task has ended, or `timeoutMs` passes; true when all ended. */
export async function waitSettled(cluster: Cluster, count: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ended = await cluster
      .query<{ n: number }>('SELECT count(*)::int AS n FROM tasks WHERE status = ANY($1)', [TERMINAL])
      .then((r) => r[0]!.n)
      .catch(() => -1);
    if (ended >= count) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}

export async function tally(cluster: Cluster, submitted: ReadonlySet<string>, doomed: ReadonlySet<string>): Promise<Tally> {
  const rows = await cluster.query<Row>(
    `SELECT idempotency_key AS k, status, (doc->>'attempts')::int AS attempts, agent_id, doc->'error'->>'message' AS cause FROM tasks WHERE idempotency_key IS NOT NULL`,
  );
  const twice = await cluster.query<{ id: string }>("SELECT aggregate_id AS id FROM events WHERE type = 'TaskCompleted' GROUP BY aggregate_id HAVING count(*) > 1");
  const byKey = new Map(rows.map((r) => [r.k, r]));
  let completed = 0;
  let deadLettered = 0;
  const lostByStatus: Record<string, number> = {};
  const lostSample: Tally['lostSample'] = [];
  for (const key of submitted) {
    const row = byKey.get(key);
    if (row?.status === 'completed' && !doomed.has(key)) completed++;
    else if (row?.status === 'dead_lettered' && doomed.has(key) && row.cause !== null) deadLettered++;
    else {
      const status = row === undefined ? 'missing' : doomed.has(key) ? `doomed task ${row.status}` : row.status;
      lostByStatus[status] = (lostByStatus[status] ?? 0) + 1;
      if (lostSample.length < 5) lostSample.push({ key, status, ...(row && { attempts: row.attempts ?? 0, agent: row.agent_id }) });
    }
  }
  return {
    submitted: submitted.size,
    completed,
    deadLettered,
    lost: submitted.size - completed - deadLettered,
    twice: twice.length,
    lostByStatus,
    lostSample,
    unexpected: rows.filter((r) => !submitted.has(r.k)).length,
    rerun: [...cluster.runs.values()].filter((agents) => agents.length > 1).length,
  };
}
