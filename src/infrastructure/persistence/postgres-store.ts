import { InstanceLock, type InstanceLockEvent } from './instance-lock.js';
import { liveMeshLeader, recordMeshLeader, type MeshLeaderRecord } from './mesh-leader-record.js';
import { migrate } from './migrate.js';
import { PostgresClient } from './postgres-client.js';
import type { ResilienceRegistry } from '../resilience/observer.js';
import { storeOn, type Store, type StoreOptions } from './store.js';
import { PLAIN } from '../../domain/plain.js';

export { DatabaseInUseError, type InstanceLockEvent } from './instance-lock.js';
export type { MeshLeaderRecord } from './mesh-leader-record.js';

export interface PostgresStoreOptions extends StoreOptions {
  maxConnections?: number;
  /** Where the database's resilience policies report. */
  resilience?: ResilienceRegistry;
  /**
   * true: this instance alone runs the mesh on the database (start fails if another does).
   * false: several instances share it and elect a leader with `campaign`.
   */
  exclusive?: boolean;
  /** What happens to the lock after it is held: lost with the connection, regained, or stolen. */
  onLockEvent?: (event: InstanceLockEvent) => void;
}

export interface PostgresStore extends Store {
  /**
   * Stands for leader among the instances sharing the database: resolves true when this one leads
   * now; otherwise it asks again every `pollMs` and reports `elected` through `onLockEvent`.
   */
  campaign(pollMs: number): Promise<boolean>;
  /** Says, as the leader, which namespace it serves (with the session of its lock). */
  recordLeader(leader: MeshLeaderRecord): Promise<void>;
  /** The leader's own record, while its lock is held; undefined when none says. */
  liveLeader(): Promise<MeshLeaderRecord | undefined>;
}

/** PostgreSQL at `url`: connected and migrated under an advisory lock; held by this instance alone when `exclusive`. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const db = await PostgresClient.connect(url, { maxConnections: options.maxConnections ?? 10, applicationName: 'agentmesh', ...(options.resilience && { resilience: options.resilience }) });
  const exclusive = options.exclusive ?? true;
  let lock: InstanceLock | undefined;
  try {
    if (exclusive) lock = await InstanceLock.acquire(db, options.onLockEvent);
    await migrate(db);
    const store = storeOn(db, {
      relayEvents: options.relayEvents ?? false,
      // Tasks are cached only by the one instance that writes them: the exclusive one, or the leader once elected.
      deferTaskCache: !exclusive,
      singleProcess: false,
      // Alone on its database (its instance lock held for life), this instance is the audit log's only writer.
      soleAuditWriter: exclusive,
      // Several commits in flight on the pool: a server commits them in parallel (and flushes its WAL once for them).
      concurrentFlushes: 4,
      beforeClose: async () => lock?.release(),
    });
    const onLockEvent = (event: InstanceLockEvent) => {
      if (event.kind === 'elected') store.tasks.startCaching();
      options.onLockEvent?.(event);
    };
    return {
      ...PLAIN,
      ...store,
      async campaign(pollMs) {
        if (lock) throw new Error('this store has its lock already');
        const result = await InstanceLock.campaign(db, onLockEvent, pollMs);
        lock = result.lock;
        if (result.leading) store.tasks.startCaching();
        return result.leading;
      },
      async recordLeader(leader) {
        const pid = lock?.pid;
        if (pid === undefined) throw new Error('this instance does not hold the leader lock');
        await recordMeshLeader(db, leader, pid);
      },
      liveLeader: () => liveMeshLeader(db),
    };
  } catch (error) {
    await lock?.release();
    await db.close();
    throw error;
  }
}
