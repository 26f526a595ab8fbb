import { CachedTaskRepository } from './cached-task-repository.js';
import { DEFAULT_AUDIT_STORE_OPTIONS, SqlAuditStore } from '../security/sql-audit-store.js';
import { systemClock } from '../system/system-clock.js';
import { UuidV7Generator } from '../system/uuid-v7.js';
import { SqlAgentRepository } from './sql-agent-repository.js';
import { SqlApiKeyRepository } from './sql-api-key-repository.js';
import type { SqlClient } from './sql-client.js';
import { SqlEventStore } from './sql-event-store.js';
import { SqlOutbox } from './sql-outbox.js';
import { SqlTaskRepository } from './sql-task-repository.js';
import { SqlTenantRepository } from './sql-tenant-repository.js';
import { SqlSecretRepository } from './sql-secret-repository.js';
import { CachedSecretRepository } from './cached-secret-repository.js';
import type { SecretRepository } from '../../application/ports.js';
import { AUDIT_SUBJECT_KEYS, SqlKeyEncryptionKeyRepository, TENANT_KEYS } from './sql-key-encryption-key-repository.js';
import { DEFAULT_WRITE_BATCHER_OPTIONS, WriteBatcher } from './write-batcher.js';
import { PLAIN } from '../../domain/plain.js';

export interface Store {
  db: SqlClient;
  batcher: WriteBatcher;
  tenants: SqlTenantRepository;
  apiKeys: SqlApiKeyRepository;
  agents: SqlAgentRepository;
  tasks: CachedTaskRepository;
  events: SqlEventStore;
  outbox: SqlOutbox;
  audit: SqlAuditStore;
  /** Cached (sealed) by the only writer of its database. */
  secrets: SecretRepository;
  tenantKeys: SqlKeyEncryptionKeyRepository;
  /** Keys of the audit log's data subjects (their personal data in entries). */
  subjectKeys: SqlKeyEncryptionKeyRepository;
  /** Drains pending writes, then closes the database. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Events wait in the outbox for a relay to the broker; without one, they are marked published as written. */
  relayEvents?: boolean;
}

/** The repositories of the mesh over one SQL database (PGlite or PostgreSQL), sharing one group-commit batcher. */
export function storeOn(
  db: SqlClient,
  options: StoreOptions & {
    /** Until `tasks.startCaching()`, tasks are read from the database every time (a follower: others write them). */
    deferTaskCache?: boolean;
    singleProcess: boolean;
    /** This process alone writes the database (the embedded store, or PostgreSQL held by one instance): audit heads and secrets are cached; default singleProcess. */
    soleAuditWriter?: boolean;
    concurrentFlushes?: number;
    beforeClose?: () => Promise<void>;
  },
): Store {
  const relayEvents = options.relayEvents ?? false;
  const batcher = new WriteBatcher(db, { ...PLAIN, ...DEFAULT_WRITE_BATCHER_OPTIONS, maxConcurrentFlushes: options.concurrentFlushes ?? 1, relayEvents });
  const sqlTasks = new SqlTaskRepository(db, batcher);
  const soleWriter = options.soleAuditWriter ?? options.singleProcess;
  const audit = new SqlAuditStore(db, systemClock, new UuidV7Generator(), { ...PLAIN, ...DEFAULT_AUDIT_STORE_OPTIONS, soleWriter });
  const agents = new SqlAgentRepository(db, relayEvents);
  return {
    db,
    batcher,
    tenants: new SqlTenantRepository(db),
    apiKeys: new SqlApiKeyRepository(db),
    agents,
    tasks: new CachedTaskRepository(sqlTasks, undefined, !(options.deferTaskCache ?? false)),
    events: new SqlEventStore(db),
    outbox: new SqlOutbox(db, options.singleProcess),
    audit,
    secrets: soleWriter ? new CachedSecretRepository(new SqlSecretRepository(db)) : new SqlSecretRepository(db),
    tenantKeys: new SqlKeyEncryptionKeyRepository(db, TENANT_KEYS),
    subjectKeys: new SqlKeyEncryptionKeyRepository(db, AUDIT_SUBJECT_KEYS),
    async close() {
      await batcher.drain();
      await agents.drain();
      await audit.drain();
      await options.beforeClose?.();
      await db.close();
    },
  };
}

