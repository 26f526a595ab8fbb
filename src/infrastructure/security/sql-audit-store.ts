import type { AuditEvidence, AuditFilter, AuditStore, AuditVerifyRange, Clock, IdGenerator, Page, PageRequest, VerifyReport } from '../../application/ports.js';
import { boundedDetails, boundedText, UnavailableError, type AuditEntry, type AuditRecord } from '../../domain/index.js';
import { isUniqueViolation, jsonParam, named, type SqlClient, type SqlExecutor } from '../persistence/sql-client.js';
import { decodeCursor, encodeCursor } from '../persistence/rows.js';
import { SqlWhere } from '../persistence/sql-page.js';
import { GENESIS_HASH, rowHash } from './audit-chain.js';
import { entryFromRow, rowOf, type AuditRow, type StoredAuditRow } from './audit-rows.js';
import { verifyAuditLog } from './audit-verifier.js';
import { auditEvidence } from './sql-audit-evidence.js';
import { pruneTenant, retentionOf, setRetention, tenantsWithRetention } from './sql-audit-retention.js';
import { PLAIN } from '../../domain/plain.js';

export interface AuditStoreOptions {
  /** Entries per transaction. */
  maxBatch: number;
  /** Entries waiting for a transaction; past it, appends are refused (the caller fails closed). */
  maxPending: number;
  /**
   * This process is the only one writing the log (the embedded store, or PostgreSQL held by one
   * instance): the chains' heads are kept in memory and a batch is one statement. Otherwise every
   * batch locks the heads it extends in a transaction.
   */
  soleWriter: boolean;
}

export const DEFAULT_AUDIT_STORE_OPTIONS: AuditStoreOptions = { maxBatch: 2000, maxPending: 50_000, soleWriter: false };

/** Heads a sole writer keeps in memory; past it, the least recently used is read again when needed. */
const MAX_CACHED_HEADS = 100_000;

type Head = { seq: number; hash: string };
/** Appends entries inside a transaction that commits them with whatever else it wrote. */
export type AppendInTransaction = (records: readonly AuditRecord[]) => Promise<AuditEntry[]>;

const SEQ_CURSOR = /^\d{1,19}$/u;

const LOCK_HEADS = named('audit_lock_heads', `
INSERT INTO audit_heads AS h (tenant_id, seq, hash, updated_at)
SELECT t, 0, $2, $3 FROM unnest($1::text[]) WITH ORDINALITY AS u(t, ord) ORDER BY ord
ON CONFLICT (tenant_id) DO UPDATE SET tenant_id = h.tenant_id
RETURNING h.tenant_id, h.seq, h.hash`);

/** The columns of an entry row, in the order of `rowOf` and of the statements below. */
const COLUMNS = [
  'tenant_id', 'seq', 'id', 'at', 'actor_type', 'actor_key_id', 'actor_role', 'actor_agent_id', 'action', 'resource_type', 'resource_id',
  'status', 'source_ip', 'user_agent', 'trace_id', 'details', 'subject_id', 'personal', 'prev_hash', 'hash',
] as const satisfies readonly (keyof AuditRow)[];

const COLUMN_TYPES: Record<(typeof COLUMNS)[number], string> = {
  tenant_id: 'text', seq: 'bigint', id: 'text', at: 'bigint', actor_type: 'text', actor_key_id: 'text', actor_role: 'text', actor_agent_id: 'text',
  action: 'text', resource_type: 'text', resource_id: 'text', status: 'text', source_ip: 'text', user_agent: 'text', trace_id: 'text',
  details: 'json', subject_id: 'text', personal: 'text', prev_hash: 'text', hash: 'text',
};

/**
 * Inserts the entry rows of the JSON array in $1 (`rowOf`) into `table`. The details arrive as a
 * string, their canonical text, and are stored as that text (json keeps its input as written), so
 * verification hashes them as read instead of parsing and re-encoding them.
 */
export const insertEntries = (table: string) => `INSERT INTO ${table} (${COLUMNS.join(', ')})
SELECT ${COLUMNS.map((c) => (c === 'details' ? 'r.details::json' : `r.${c}`)).join(', ')}
FROM json_to_recordset($1::json) AS r(${COLUMNS.map((c) => `${c} ${c === 'details' ? 'text' : COLUMN_TYPES[c]}`).join(', ')})`;

/** One entry as parameters $1..$20 (then the heads' time): one row needs no JSON for the database to parse, which halves its cost. */
const INSERT_ONE = `INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}`).join(', ')})`;
const ONE_TENANT = '$1';
const ONE_SEQ = '$2';
const ONE_HASH = `$${COLUMNS.length}`;
const ONE_NOW = `$${COLUMNS.length + 1}::bigint`;

function paramsOfOne(row: StoredAuditRow, now: number): unknown[] {
  return [...COLUMNS.map((c) => row[c]), now];
}

/** A sole writer's batch: the entries, and the heads made or moved to their last ones, in one statement. */
const APPEND_SOLE = named(
  'audit_append_sole',
  `
WITH appended AS (
${insertEntries('audit_log')}
)
INSERT INTO audit_heads AS h (tenant_id, seq, hash, updated_at)
SELECT r.tenant_id, r.seq, r.hash, r.at FROM json_to_recordset($2::json) AS r(tenant_id text, seq bigint, hash text, at bigint)
ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at`,
);

const APPEND_ONE_SOLE = named(
  'audit_append_one_sole',
  `WITH appended AS (${INSERT_ONE})
INSERT INTO audit_heads AS h (tenant_id, seq, hash, updated_at) VALUES (${ONE_TENANT}, ${ONE_SEQ}, ${ONE_HASH}, ${ONE_NOW})
ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at`,
);

/** The entries, and the heads moved to their last ones, in one statement (a WITH that writes always runs to completion). */
const APPEND = named(
  'audit_append',
  `
WITH appended AS (
${insertEntries('audit_log')}
)
UPDATE audit_heads AS h SET seq = r.seq, hash = r.hash, updated_at = r.at
FROM json_to_recordset($2::json) AS r(tenant_id text, seq bigint, hash text, at bigint)
WHERE h.tenant_id = r.tenant_id`,
);

const APPEND_ONE = named(
  'audit_append_one',
  `WITH appended AS (${INSERT_ONE})
UPDATE audit_heads SET seq = ${ONE_SEQ}, hash = ${ONE_HASH}, updated_at = ${ONE_NOW} WHERE tenant_id = ${ONE_TENANT}`,
);

interface Pending {
  records: readonly AuditRecord[];
  resolve: (entries: AuditEntry[]) => void;
  reject: (error: Error) => void;
}

/** The record as it may be stored: texts and details bounded, details redacted. */
function bounded(record: AuditRecord): AuditRecord {
  // Assigned one by one, absent fields left out: this runs for every entry.
  const actor: AuditRecord['actor'] = { type: record.actor.type };
  if (record.actor.keyId !== undefined) actor.keyId = boundedText(record.actor.keyId, 128);
  if (record.actor.role !== undefined) actor.role = boundedText(record.actor.role, 32);
  if (record.actor.agentId !== undefined) actor.agentId = boundedText(record.actor.agentId, 256);
  const out: AuditRecord = { tenantId: record.tenantId, actor, action: record.action, resourceType: boundedText(record.resourceType, 64), status: record.status };
  if (record.at !== undefined) out.at = record.at;
  if (record.resourceId !== undefined) out.resourceId = boundedText(record.resourceId, 256);
  if (record.sourceIp !== undefined) out.sourceIp = boundedText(record.sourceIp, 64);
  if (record.userAgent !== undefined) out.userAgent = boundedText(record.userAgent, 256);
  if (record.traceId !== undefined) out.traceId = boundedText(record.traceId, 64);
  const details = boundedDetails(record.details);
  if (details !== undefined) out.details = details;
  // The sealed form of the personal data (AuditLogger seals it; a record without a subject keeps none).
  if (record.subjectId !== undefined && record.personal !== undefined) {
    out.subjectId = boundedText(record.subjectId, 256);
    out.personal = record.personal;
  }
  return out;
}

/**
 * The audit log on PostgreSQL or PGlite. Group commit: appends made in the same tick share one
 * batch. Among many instances, a batch is a transaction that locks the heads of the chains it
 * extends (so appends from any number of instances form one sequence per tenant), hashes each
 * entry onto its chain, inserts the entries and moves the heads. A sole writer keeps the heads in
 * memory and writes a batch in one statement.
 */
export class SqlAuditStore implements AuditStore {
  private pending: Pending[] = [];
  private pendingEntries = 0;
  private flushing = false;
  private scheduled = false;
  /** A sole writer's heads, as committed. */
  private readonly heads = new Map<string, Head>();
  get headsHeld(): number {
    return this.heads.size;
  }
  /** A sole writer's writes, one at a time (batches and the projector's transactions). */
  private writing: Promise<unknown> = Promise.resolve();
  appended = 0;
  failed = 0;

  constructor(
    private readonly db: SqlClient,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly options: AuditStoreOptions = DEFAULT_AUDIT_STORE_OPTIONS,
  ) {}

  get pendingCount(): number {
    return this.pendingEntries;
  }

  load(): number {
    return this.pendingEntries / this.options.maxPending;
  }

  append(records: readonly AuditRecord[]): Promise<AuditEntry[]> {
    if (records.length === 0) return Promise.resolve([]);
    if (this.pendingEntries + records.length > this.options.maxPending) {
      return Promise.reject(new UnavailableError(`the audit log's write queue is full (${this.options.maxPending} entries); retry shortly`));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      this.pendingEntries += records.length;
      this.schedule();
    });
  }

  /** Resolves when everything appended so far is committed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing) await new Promise((r) => setTimeout(r, 1));
  }

  /**
   * Runs `work` in a transaction in which `append` adds entries to the chains: they commit with
   * whatever else `work` writes, or not at all.
   */
  transaction<T>(work: (tx: SqlExecutor, append: AppendInTransaction) => Promise<T>): Promise<T> {
    if (!this.options.soleWriter) return this.db.transaction((tx) => work(tx, (records) => this.appendLocked(tx, records)));
    return this.exclusively(async () => {
      const staged = new Map<string, Head>();
      const result = await this.db.transaction((tx) => work(tx, (records) => this.appendSole(tx, records, staged)));
      this.remember(staged);
      return result;
    });
  }

  private exclusively<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writing.then(work, work);
    this.writing = run.catch(() => {
      // A failed write may leave the cache ahead of the database or behind it: read the heads again.
      this.heads.clear();
    });
    return run;
  }

  private remember(staged: Map<string, Head>): void {
    for (const [tenant, head] of staged) {
      this.heads.delete(tenant);
      if (this.heads.size >= MAX_CACHED_HEADS) this.heads.delete(this.heads.keys().next().value!);
      this.heads.set(tenant, head);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let entries = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (batch.length > 0 && entries + next.records.length > this.options.maxBatch) break;
      batch.push(this.pending.shift()!);
      entries += next.records.length;
    }
    this.pendingEntries -= entries;
    return batch;
  }

  private writeBatch(records: AuditRecord[]): Promise<AuditEntry[]> {
    if (!this.options.soleWriter) return this.db.transaction((tx) => this.appendLocked(tx, records));
    return this.exclusively(async () => {
      const attempt = async () => {
        const staged = new Map<string, Head>();
        const entries = await this.appendSole(this.db, records, staged);
        this.remember(staged);
        return entries;
      };
      try {
        return await attempt();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Someone else appended (agentmesh audit report, at the database): read the heads again, once.
        this.heads.clear();
        return attempt();
      }
    });
  }

  private settle(batch: Pending[], entries: AuditEntry[]): void {
    this.appended += entries.length;
    let offset = 0;
    for (const p of batch) {
      p.resolve(entries.slice(offset, offset + p.records.length));
      offset += p.records.length;
    }
  }

  private reject(pending: Pending, cause: Error): void {
    const failure = new UnavailableError(`the audit log could not be written: ${cause.message}`);
    (failure as Error).cause = cause;
    this.failed += pending.records.length;
    pending.reject(failure);
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.takeBatch();
    try {
      this.settle(batch, await this.writeBatch(batch.flatMap((p) => p.records)));
    } catch (error) {
      if (batch.length === 1) this.reject(batch[0]!, error as Error);
      else {
        // One caller's records must not sink the others': each again on its own.
        for (const p of batch) {
          try {
            this.settle([p], await this.writeBatch([...p.records]));
          } catch (own) {
            this.reject(p, own as Error);
          }
        }
      }
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.schedule();
    }
  }

  /** Hashes `records` onto their chains from `heads`, moving the heads; `rows` gets each entry's row, to store. */
  private seal(records: readonly AuditRecord[], heads: Map<string, Head>, now: number, rows: StoredAuditRow[]): AuditEntry[] {
    return records.map((record) => {
      const head = heads.get(record.tenantId)!;
      const entry: AuditEntry = { ...PLAIN, ...record, id: this.ids.newId(), seq: head.seq + 1, at: record.at ?? now, prevHash: head.hash, hash: '' };
      // The row holds the details' canonical text, which the hash covers as it is and the log stores.
      const row = rowOf(entry);
      entry.hash = row.hash = rowHash(row, row.details);
      rows.push(row);
      head.seq = entry.seq;
      head.hash = entry.hash;
      return entry;
    });
  }

  private static headRows(heads: Map<string, Head>, now: number): Buffer {
    return jsonParam([...heads].map(([tenant_id, h]) => ({ tenant_id, seq: h.seq, hash: h.hash, at: now })));
  }

  /** Among many writers: lock the heads of the chains, hash on, insert and move the heads (in the caller's transaction). */
  private async appendLocked(tx: SqlExecutor, unbounded: readonly AuditRecord[]): Promise<AuditEntry[]> {
    if (unbounded.length === 0) return [];
    const records = unbounded.map(bounded);
    const tenants = [...new Set(records.map((r) => r.tenantId))].sort();
    const now = this.clock.now();
    // One statement makes the missing heads and locks them all (a conflicting insert locks the row it
    // hits), in sorted order, so that two instances locking overlapping sets of heads cannot deadlock.
    const { rows } = await tx.query<{ tenant_id: string; seq: string | number; hash: string }>(LOCK_HEADS, [tenants, GENESIS_HASH, now]);
    const heads = new Map(rows.map((h) => [h.tenant_id, { seq: Number(h.seq), hash: h.hash }]));
    const stored: StoredAuditRow[] = [];
    const entries = this.seal(records, heads, now, stored);
    if (entries.length === 1) await tx.query(APPEND_ONE, paramsOfOne(stored[0]!, now));
    else await tx.query(APPEND, [jsonParam(stored), SqlAuditStore.headRows(heads, now)]);
    return entries;
  }

  /** The sole writer: heads from memory (read once), one statement; `staged` gets the moved heads. */
  private async appendSole(executor: SqlExecutor, unbounded: readonly AuditRecord[], staged: Map<string, Head>): Promise<AuditEntry[]> {
    if (unbounded.length === 0) return [];
    const records = unbounded.map(bounded);
    const now = this.clock.now();
    const heads = new Map<string, Head>();
    const unknown: string[] = [];
    for (const { tenantId } of records) {
      if (heads.has(tenantId)) continue;
      const known = staged.get(tenantId) ?? this.heads.get(tenantId);
      if (known) heads.set(tenantId, { ...known });
      else if (!unknown.includes(tenantId)) unknown.push(tenantId);
    }
    if (unknown.length > 0) {
      const { rows } = await executor.query<{ tenant_id: string; seq: string | number; hash: string }>('SELECT tenant_id, seq, hash FROM audit_heads WHERE tenant_id = ANY($1::text[])', [unknown]);
      for (const r of rows) heads.set(r.tenant_id, { seq: Number(r.seq), hash: r.hash });
      for (const tenant of unknown) if (!heads.has(tenant)) heads.set(tenant, { seq: 0, hash: GENESIS_HASH });
    }
    const stored: StoredAuditRow[] = [];
    const entries = this.seal(records, heads, now, stored);
    if (entries.length === 1) await executor.query(APPEND_ONE_SOLE, paramsOfOne(stored[0]!, now));
    else await executor.query(APPEND_SOLE, [jsonParam(stored), SqlAuditStore.headRows(heads, now)]);
    for (const [tenant, head] of heads) staged.set(tenant, head);
    return entries;
  }

  retention(tenantId: string): Promise<number | undefined> {
    return retentionOf(this.db, tenantId);
  }

  setRetention(tenantId: string, days: number | undefined, now: number): Promise<void> {
    return setRetention(this.db, tenantId, days, now);
  }

  tenantsWithRetention(): Promise<string[]> {
    return tenantsWithRetention(this.db);
  }

  prune(tenantId: string): Promise<{ entries: number; uptoSeq: number } | undefined> {
    return pruneTenant(this.db, tenantId);
  }

  evidence(tenantId: string, from: number, to: number): Promise<AuditEvidence> {
    return auditEvidence(this.db, tenantId, from, to);
  }

  verify(range: AuditVerifyRange): Promise<VerifyReport> {
    return verifyAuditLog(this.db, range);
  }

  async query(tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEntry>> {
    const where = new SqlWhere().add('tenant_id = ?', tenantId);
    const before = decodeCursor(page.cursor, SEQ_CURSOR);
    if (before !== undefined) where.add('seq < ?', before);
    if (filter.action !== undefined) where.add('action = ?', filter.action);
    if (filter.status !== undefined) where.add('status = ?', filter.status);
    if (filter.resourceType !== undefined) where.add('resource_type = ?', filter.resourceType);
    if (filter.resourceId !== undefined) where.add('resource_id = ?', filter.resourceId);
    if (filter.actorKeyId !== undefined) where.add('actor_key_id = ?', filter.actorKeyId);
    if (filter.from !== undefined) where.add('at >= ?', filter.from);
    if (filter.to !== undefined) where.add('at < ?', filter.to);
    const limit = where.param(page.limit + 1);
    const { rows } = await this.db.query<AuditRow>(`SELECT * FROM audit_log WHERE ${where.sql} ORDER BY seq DESC LIMIT ${limit}`, where.params);
    const items = rows.slice(0, page.limit).map(entryFromRow);
    return rows.length > page.limit ? { items, nextCursor: encodeCursor(String(items.at(-1)!.seq)) } : { items };
  }
}
