import { INSTANCE_LOCK_KEY } from './instance-lock.js';
import type { SqlClient } from './sql-client.js';

/** What the elected leader of a mesh of many instances says of itself in the shared database. */
export interface MeshLeaderRecord {
  natsNamespace: string;
  /** Its Redis key prefix; '' without Redis; undefined when a leader of an earlier build did not say. */
  redisPrefix?: string;
  /** Where it runs (host and process), for the operator looking for it. */
  instance: string;
}

/** Written by a leader once elected, naming the session that holds its lock. */
export async function recordMeshLeader(db: SqlClient, leader: MeshLeaderRecord, lockPid: number): Promise<void> {
  await db.query(
    `INSERT INTO mesh_leader (singleton, nats_namespace, redis_prefix, instance, backend_pid, elected_at) VALUES (true, $1, $2, $3, $4, now())
     ON CONFLICT (singleton) DO UPDATE SET nats_namespace = EXCLUDED.nats_namespace, redis_prefix = EXCLUDED.redis_prefix, instance = EXCLUDED.instance,
       backend_pid = EXCLUDED.backend_pid, elected_at = EXCLUDED.elected_at`,
    [leader.natsNamespace, leader.redisPrefix ?? null, leader.instance, lockPid],
  );
}

/**
 * The leader now: the record whose session holds the instance lock at this moment. A record left by
 * a leader gone (or none yet: a leader of a build before the record, or one just elected) is undefined.
 */
export async function liveMeshLeader(db: SqlClient): Promise<MeshLeaderRecord | undefined> {
  const { rows } = await db.query<{ nats_namespace: string; redis_prefix: string | null; instance: string }>(
    `SELECT m.nats_namespace, m.redis_prefix, m.instance FROM mesh_leader m
     WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = m.backend_pid
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = 0 AND l.objid = $1::bigint::oid AND l.objsubid = 1)`,
    [INSTANCE_LOCK_KEY],
  );
  const row = rows[0];
  return row && { natsNamespace: row.nats_namespace, ...(row.redis_prefix !== null && { redisPrefix: row.redis_prefix }), instance: row.instance };
}
