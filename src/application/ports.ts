import type { Agent, AgentStatus, AuditAction, AuditEntry, AuditRecord, AuditStatus, DeliveredTask, DomainEvent, SecretMetadata, SecretPolicy, Task, TaskError, TaskStatus, Tenant } from '../domain/index.js';

/** Interfaces the use cases need; infrastructure/ implements them. */

export interface Clock {
  now(): number;
}

export interface IdGenerator {
  /** Unique, roughly time-ordered ids. */
  newId(): string;
}

export interface RandomSource {
  /** Uniform in [0, 1). */
  next(): number;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface TenantRepository {
  /** Rejects with ConflictError when the id exists. */
  create(tenant: Tenant): Promise<void>;
  get(id: string): Promise<Tenant | undefined>;
  count(): Promise<number>;
  listIds(): Promise<string[]>;
}

export type Role = 'admin' | 'orchestrator' | 'agent' | 'observer';
export const ROLES: readonly Role[] = ['admin', 'orchestrator', 'agent', 'observer'];

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  /** Platform keys may manage tenants. Only the bootstrap key is one. */
  platform: boolean;
  /** An agent key's agent: the only one it may act as. */
  agentId?: string;
  /** SHA-256 of the secret, hex. The secret itself is never stored. */
  secretHash: string;
  createdAt: number;
  revokedAt?: number;
  /** This key's own requests per minute, in place of AGENTMESH_RATE_LIMIT_PER_KEY. */
  rateLimitPerMinute?: number;
}

export interface ApiKeyRepository {
  create(record: ApiKeyRecord): Promise<void>;
  findBySecretHash(secretHash: string): Promise<ApiKeyRecord | undefined>;
  list(tenantId: string): Promise<ApiKeyRecord[]>;
  /** Returns false when no such live key of the tenant exists. */
  revoke(tenantId: string, id: string, now: number): Promise<boolean>;
  /** Replaces a live key's secret; the old one stops working. Returns false when no such live key of the tenant exists. */
  replaceSecret(tenantId: string, id: string, secretHash: string): Promise<boolean>;
  /** Sets (or with undefined, clears) a live key's own rate limit. Returns false when no such live key of the tenant exists. */
  setRateLimit(tenantId: string, id: string, perMinute: number | undefined): Promise<boolean>;
}

export interface AgentFilter {
  capability?: string;
  status?: AgentStatus;
}

export interface AgentRepository {
  /** New agent and its events, atomically. ConflictError when the id is taken in the tenant. */
  insert(agent: Agent, events: DomainEvent[]): Promise<void>;
  /** Lifecycle change: optimistic on version (ConcurrencyError). Counter-only changes pass no events. */
  save(agent: Agent, events: DomainEvent[]): Promise<void>;
  get(tenantId: string, id: string): Promise<Agent | undefined>;
  list(tenantId: string, filter: AgentFilter, page: PageRequest): Promise<Page<Agent>>;
  /** Every agent not terminated, across tenants: the registry is rebuilt from it at start. */
  listNotTerminated(): Promise<Agent[]>;
  countNotTerminated(tenantId: string): Promise<number>;
}

export interface TaskFilter {
  status?: TaskStatus;
  capability?: string;
  agentId?: string;
}

export interface TaskRepository {
  /** New task and its events. ConflictError when the id, or the tenant's idempotency key, is taken. */
  insert(task: Task, events: DomainEvent[]): Promise<void>;
  /** Several new tasks in one transaction (broadcast copies). */
  insertMany(tasks: Array<{ task: Task; events: DomainEvent[] }>): Promise<void>;
  /** State change with its events, optimistic on version: ConcurrencyError when it moved. */
  save(task: Task, events: DomainEvent[]): Promise<void>;
  /** The latest state, including a change of this process still waiting for its commit: for the mesh's own state changes. */
  get(tenantId: string, id: string): Promise<Task | undefined>;
  /** Only what has committed (possibly a moment old): for readers outside the mesh, who must never see a change that may yet fail. */
  getCommitted(tenantId: string, id: string): Promise<Task | undefined>;
  findByIdempotencyKey(tenantId: string, key: string): Promise<Task | undefined>;
  list(tenantId: string, filter: TaskFilter, page: PageRequest): Promise<Page<Task>>;
  /** Tasks queued, assigned or running, across tenants, oldest first: the queues are rebuilt from them at start. */
  listActive(): Promise<Task[]>;
  listCopies(tenantId: string, parentId: string): Promise<Task[]>;
  /** Tasks submitted since a time (broadcast copies aside), counted per minute: `minute` is the minute's start. */
  submittedPerMinuteSince(tenantId: string, since: number): Promise<Array<{ minute: number; count: number }>>;
}

export interface StoredEvent extends DomainEvent {
  /** Global, gap-tolerant order of append. */
  seq: number;
}

export interface EventStore {
  readStream(tenantId: string, aggregateType: DomainEvent['aggregateType'], aggregateId: string): Promise<StoredEvent[]>;
  readAfter(seq: number, limit: number): Promise<StoredEvent[]>;
}

/**
 * Events not yet published to the broker (the outbox): state changes and their events commit
 * together, and a relay publishes them afterwards.
 */
export interface Outbox {
  /**
   * Hands the oldest unpublished events (at most `limit`, in order) to `publish`, and marks them
   * published once it resolves; if it throws, they stay for the next turn. One relay runs at a
   * time across every instance on the database. Returns how many were published (0 when none
   * waited, or another relay had the turn).
   */
  relay(limit: number, publish: (events: StoredEvent[]) => Promise<void>): Promise<number>;
  /** Events waiting to be published. */
  pendingCount(): Promise<number>;
}

export interface BrokerMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  /** 1 on first delivery. */
  deliveryCount: number;
  ack(): void;
  /** Redeliver after `delayMs`. */
  nak(delayMs?: number): void;
  /** Never redeliver. */
  term(): void;
}

export interface ConsumeOptions {
  /** Unacknowledged messages are redelivered after this long. */
  ackWaitMs: number;
  /** Unacknowledged messages one consumer may hold. */
  maxInFlight?: number;
}

export interface Subscription {
  unsubscribe(): void;
  /** Resolves once the broker's server knows of the subscription (what is published after it is heard). */
  ready?: Promise<void>;
}

/** What serves requests: stopping takes no new ones and resolves once those taken are answered. */
export interface Service {
  stop(): Promise<void>;
}

/**
 * Work subjects have JetStream semantics: a message is kept until acknowledged, delivered to one
 * consumer at a time, redelivered after ackWait or nak. Notify subjects are fire-and-forget fan-out.
 */
export interface MessageBroker {
  publish(subject: string, data: Uint8Array, headers?: Record<string, string>): Promise<void>;
  consume(subject: string, options: ConsumeOptions, handler: (message: BrokerMessage) => void): Subscription;
  /** Pull one message, waiting up to `waitMs`; undefined when none arrived. */
  pull(subject: string, options: ConsumeOptions & { waitMs: number; signal?: AbortSignal }): Promise<BrokerMessage | undefined>;
  /** Drop every stored message of a subject (an agent left for good). */
  purge(subject: string): Promise<void>;
  notify(subject: string, data: Uint8Array): void;
  listen(subject: string, handler: (data: Uint8Array) => void): Subscription;
  /**
   * Request/reply between mesh instances: one of those serving `subject` answers. Rejects with
   * NoResponderError when nobody serves it, UnavailableError when the answer does not come in time.
   */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Answers requests on `subject`; when several instances serve it, each request goes to one. */
  serve(subject: string, handler: (data: Uint8Array) => Promise<Uint8Array>): Service;
  /** The largest message the broker carries (NATS max_payload); undefined when unbounded. */
  readonly maxPayloadBytes: number | undefined;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What changes from moment to moment about an agent: its load, counters and last sign of life. */
export type AgentLiveState = Pick<Agent, 'status' | 'inFlight' | 'assignedCount' | 'completedCount' | 'failedCount' | 'avgLatencyMs' | 'lastHeartbeatAt' | 'updatedAt'>;

/**
 * Every instance's view of the agents' live state (Redis): the leader, which routes, writes it as
 * load changes; the other instances answer agent reads from it. Keys carry the tenant.
 */
export interface LiveAgentView {
  publish(agents: readonly Agent[]): Promise<void>;
  forget(tenantId: string, agentId: string): Promise<void>;
  /** The live state of those of `agentIds` that have one. */
  read(tenantId: string, agentIds: readonly string[]): Promise<Map<string, AgentLiveState>>;
}

/**
 * Counters every instance shares (Redis; in memory on one instance), over a sliding window kept
 * in 60 buckets: rate limits and quotas. Keys carry the tenant.
 */
export interface SharedCounters {
  /** Adds `amount` now and returns the total over the last `windowMs`, this addition included. */
  add(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<number>;
  /** The total over the last `windowMs`. */
  total(tenantId: string, name: string, windowMs: number, now: number): Promise<number>;
  /** Like `add`, with the window's buckets, oldest first (the last is the current one), to tell when counts leave it. */
  addInWindow(tenantId: string, name: string, windowMs: number, amount: number, now: number): Promise<CountWindow>;
  /** Several `addInWindow`s of one tenant at once, in one atomic step (one round trip to Redis); windows in the order asked. */
  addInWindows(tenantId: string, additions: readonly WindowAddition[], now: number): Promise<CountWindow[]>;
}

export interface WindowAddition {
  name: string;
  windowMs: number;
  amount: number;
}

/** A sliding window as counted: `buckets[i]` is bucket number `current - buckets.length + 1 + i`, each `bucketMs` long. */
export interface CountWindow {
  total: number;
  buckets: number[];
  bucketMs: number;
  current: number;
}

/** What a cached entry is: each kind has its own TTL, and metrics count hits and misses by kind. */
export type CacheKind = 'agent' | 'message' | 'tenant_config' | 'api_key' | 'skill_result';
export const CACHE_KINDS: readonly CacheKind[] = ['agent', 'message', 'tenant_config', 'api_key', 'skill_result'];

/** Where an entry belongs. Built only by `cacheKey` (application/cache-keys.ts): the tenant is always part of it. */
export interface CacheKey {
  readonly tenantId: string;
  readonly kind: CacheKind;
  readonly id: string;
  /** The key as one string (`{tenant}:kind:id`, percent-encoded): what adapters store it under. */
  readonly encoded: string;
}

/** The tiers a read can be answered from: this process's memory, then the shared one (Redis). */
export type CacheTier = 'l1' | 'l2';

/** Counts since the cache was made: reads answered or missed per tier and kind, and L1's size now. */
export interface CacheStats {
  hits: Record<CacheTier, Record<CacheKind, number>>;
  misses: Record<CacheTier, Record<CacheKind, number>>;
  /**
   * Hits / (hits + misses) of each tier and kind over the last minute (see HIT_RATE_WINDOW_MS);
   * null when that tier had no read of that kind in the window.
   */
  hitRate: Record<CacheTier, Record<CacheKind, number | null>>;
  /** Entries L1 dropped to stay within its bounds (not those that expired or were deleted). */
  evictions: Record<CacheKind, number>;
  l1Entries: number;
  l1Bytes: number;
  /** Reads, writes and deletes of the shared tier that failed (the read went to the loader; the delete is retried). */
  l2Errors: number;
  /** Invalidations the shared tier or the bus missed, waiting to be tried again (bounded), and those given up at the bound. */
  invalidationRetries: { pending: number; givenUp: number };
  /**
   * Reads answered by an entry past its TTL, within its grace period: while one load refreshed it
   * (`revalidating`), or after that load failed (`store_unavailable`). They count as L1 hits too.
   */
  staleServed: Record<'revalidating' | 'store_unavailable', Record<CacheKind, number>>;
  /** Misses that waited for another instance's load of the key: it filled Redis in time, or the wait ran out and this instance loaded. */
  loadWaits: { filled: number; timed_out: number };
}

/**
 * A read-through cache of the mesh's hot reads, in tiers (memory, then Redis when configured),
 * invalidated across instances. Values are JSON and must be treated as immutable by callers.
 */
export interface Cache {
  /**
   * The cached value, else what `load` returns (cached for the kind's TTL; `undefined` is not
   * cached). One load per key runs at a time on this instance; callers of the same key share it.
   * A load that an invalidation overtook is not cached, and is run again.
   */
  getOrLoad<T>(key: CacheKey, load: () => Promise<T | undefined>): Promise<T | undefined>;
  /** The entry if a tier holds it fresh; nothing is loaded. */
  peek<T>(key: CacheKey): Promise<T | undefined>;
  /** Keeps `value` under `key` for `ttlMs` (in every tier), not past it. */
  put(key: CacheKey, value: unknown, ttlMs: number): Promise<void>;
  /** Drops the entry here at once, from the shared tier, and from every other instance's memory. */
  delete(key: CacheKey): Promise<void>;
  /** `delete` of several keys, told to the other instances in one message. */
  deleteMany(keys: readonly CacheKey[]): Promise<void>;
  /** Drops every entry of one kind of one tenant, everywhere (a prefix delete). */
  deleteKind(tenantId: string, kind: CacheKind): Promise<void>;
  stats(): CacheStats;
  /** How this cache is set up: its tiers, each kind's TTL, L1's bounds. */
  profile(): CacheProfile;
  /** Entries and bytes of one tenant's keys in this instance's L1. */
  tenantUsage(tenantId: string): { entries: number; bytes: number };
  close(): Promise<void>;
}

export interface CacheProfile {
  tiers: CacheTier[];
  ttlMs: Record<CacheKind, number>;
  maxEntries: number;
  maxBytes: number;
  /** The window `CacheStats.hitRate` covers. */
  hitRateWindowMs: number;
}

/**
 * What the mesh reports as it works (Prometheus in production). Calls are synchronous and cheap;
 * the adapter bounds its label values.
 */
export interface MeshMetrics {
  /** A client's task was stored (broadcast copies are not counted). */
  taskSubmitted(task: Task): void;
  /** A task was assigned to an agent after waiting `waitedMs` in its queue. */
  taskRouted(task: Task, waitedMs: number): void;
  routingError(tenantId: string, capability: string): void;
  /** A task ended (completed, failed, dead-lettered or canceled); `executionMs` from start to end when it ran. */
  taskSettled(task: Task, executionMs: number | undefined): void;
  agentRegistered(agent: Agent): void;
  /** A read of a secret's value: given, refused, or its tenant key destroyed. Never the value. */
  secretAccessed(tenantId: string, outcome: SecretAccessOutcome): void;
  /** An agent's circuit breaker changed state. */
  agentCircuitChanged(tenantId: string, to: 'open' | 'half_open' | 'closed'): void;
  /** An agent's breaker would have opened, but too many agents of its capabilities were out already. */
  agentEjectionCapped(tenantId: string): void;
  /** A remote (A2A) agent was called with a task, and how that went. */
  remoteAgentCalled(tenantId: string, outcome: RemoteCallOutcome): void;
  /** A wait for a task to settle was refused: its tenant had the most waits open it may. */
  taskWaitRefused(tenantId: string): void;
}

export type RemoteCallOutcome = 'completed' | 'failed' | 'rejected' | 'unreachable';

export type SecretAccessOutcome = 'granted' | 'denied' | 'destroyed' | 'error';

export const NO_METRICS: MeshMetrics = {
  taskSubmitted() {},
  taskRouted() {},
  routingError() {},
  taskSettled() {},
  agentRegistered() {},
  secretAccessed() {},
  agentCircuitChanged() {},
  agentEjectionCapped() {},
  remoteAgentCalled() {},
  taskWaitRefused() {},
};

/** What a remote agent answered for one task: its output, or a failure and whether another attempt may help. */
export type RemoteOutcome =
  | { outcome: 'completed'; output: unknown }
  | { outcome: 'failed'; error: TaskError; retryable: boolean; call: Exclude<RemoteCallOutcome, 'completed'> };

/** The part of an agent a remote call needs. */
export type RemoteAgent = Pick<Agent, 'tenantId' | 'id' | 'maxConcurrentTasks'> & { a2aUrl: string };

/** Agents that are servers elsewhere (A2A): the mesh calls them to deliver their tasks. */
export interface RemoteAgentClient {
  /** Resolves when the agent answers (its agent card); rejects when it does not. */
  probe(agent: RemoteAgent): Promise<void>;
  /** Runs one delivered task there, until it ends or `signal` aborts. Never rejects: an agent out of reach is a retryable failure. */
  execute(agent: RemoteAgent, task: DeliveredTask, signal: AbortSignal): Promise<RemoteOutcome>;
  /** The agent left, or moved: drop what was kept for it. */
  forget(agent: Pick<Agent, 'tenantId' | 'id'>): void;
}

/** A request found nobody serving its subject (between one mesh leader and the next, say). */
export class NoResponderError extends Error {
  constructor(readonly subject: string) {
    super(`nobody serves '${subject}'`);
    this.name = 'NoResponderError';
  }
}

export interface HealthProbe {
  ping(): Promise<void>;
}

export interface AuditFilter {
  action?: AuditAction;
  status?: AuditStatus;
  resourceType?: string;
  resourceId?: string;
  actorKeyId?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

/**
 * The tamper-evident audit log: one hash chain per tenant, append-only. `append` resolves once
 * the entries are committed (appends of the same moment share one transaction) and rejects with
 * UnavailableError when the log cannot take them: callers fail closed.
 */
export interface AuditStore {
  append(records: readonly AuditRecord[]): Promise<AuditEntry[]>;
  /** How full the write queue is, from 0 to 1 (at 1 appends are refused). */
  load(): number;
  /** What a compliance report is built from: the tenant's entries of a period, counted and grouped. */
  evidence(tenantId: string, from: number, to: number): Promise<AuditEvidence>;
  /** A tenant's retention in days; undefined: kept forever. */
  retention(tenantId: string): Promise<number | undefined>;
  setRetention(tenantId: string, days: number | undefined, now: number): Promise<void>;
  tenantsWithRetention(): Promise<string[]>;
  /** Removes a tenant's entries past its retention, up to its newest signed checkpoint among them (the database records the prune). */
  prune(tenantId: string): Promise<{ entries: number; uptoSeq: number } | undefined>;
  /** Recomputes the chains (one tenant's, or all) and checks their checkpoints. */
  verify(range: AuditVerifyRange): Promise<VerifyReport>;
  /** Newest first; the cursor is opaque. */
  query(tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEntry>>;
}

export interface AuditVerifyRange {
  tenantId?: string;
  /** Epoch ms: verify entries from this time (inclusive); the entry before it anchors the chain. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface ChainProblem {
  /** The first entry found bad, or the entry after a gap; absent when the chain's end is missing. */
  entryId?: string;
  seq: number;
  reason: string;
}

export interface ChainReport {
  tenantId: string;
  entries: number;
  firstSeq?: number;
  lastSeq?: number;
  headSeq: number;
  checkpoints: number;
  lastCheckpointSeq?: number;
  /** The hash that checkpoint signed: kept outside the database, it shows a later rewrite that removed the checkpoints too. */
  lastCheckpointHash?: string;
  /** The chain's entries up to here were pruned past the tenant's retention (anchored on a signed checkpoint). */
  prunedUpTo?: number;
  problem?: ChainProblem;
}

export interface VerifyReport {
  intact: boolean;
  /** The keys the checkpoints were checked against were given by the verifier (true), or read from the database. */
  signaturesTrusted: boolean;
  entries: number;
  millis: number;
  chains: ChainReport[];
}


/** A tenant's audit entries of a period, counted (the sources of a compliance report's evidence). */
export interface AuditEvidence {
  /** Entries by action and status. */
  counts: Array<{ action: string; status: string; count: number }>;
  /** Keys that made entries, and keys refused, with their counts. */
  distinctKeys: number;
  deniedByKey: Array<{ keyId: string | null; role: string | null; count: number; first: number; last: number }>;
  /** Security events (denied accesses, failed authentications) per UTC day. */
  securityByDay: Array<{ day: string; action: string; count: number }>;
  /** Tasks submitted per capability: the processing activities. */
  processing: Array<{ capability: string; submitted: number }>;
  /** Key created, rotated or revoked; tenant created; and the like, newest first (at most 100). */
  keyAndAdminEvents: Array<{ at: number; action: string; keyId: string | null; resourceId: string | null; status: string }>;
  /** The chain's head now, and its latest signed checkpoint. */
  head: { seq: number; hash: string } | undefined;
  checkpoint: { seq: number; hash: string; at: number; keyId: string; signature: string } | undefined;
}

/**
 * Master keys: wrap and unwrap each tenant's key-encryption key. The local keyring is one
 * implementation; a cloud KMS (Encrypt/Decrypt with an encryption context) or Vault's Transit
 * engine fit the same shape. `context` is bound to the wrap: unwrapping with another fails.
 */
export interface KeyManagementService {
  /** The master key new wraps use. */
  readonly currentKeyId: string;
  /** Every master key that unwraps here (the current one first). */
  readonly keyIds: readonly string[];
  /** Whether what `keyId` wrapped can be unwrapped here. */
  canUnwrap(keyId: string): boolean;
  wrap(plaintext: Buffer, context: string): Promise<{ keyId: string; wrapped: string }>;
  /** Rejects when the key is unknown, or the wrapped key or its context was altered. */
  unwrap(keyId: string, wrapped: string, context: string): Promise<Buffer>;
}

/**
 * A key-encryption key as stored: wrapped by a master key, or destroyed (no key left). Its owner is
 * a tenant (the secret store's keys) or one data subject of a tenant (the audit log's personal data).
 */
export interface KeyEncryptionKeyRecord {
  owner: string;
  version: number;
  masterKeyId: string;
  /** Absent once destroyed. */
  wrappedKey?: string;
  createdAt: number;
  destroyedAt?: number;
}

export interface KeyEncryptionKeyRepository {
  /** The owner's newest key, unless it was destroyed. */
  current(owner: string): Promise<KeyEncryptionKeyRecord | undefined>;
  /** The owner's newest live key wrapped by one of these master keys. */
  currentWrappedBy(owner: string, masterKeyIds: readonly string[]): Promise<KeyEncryptionKeyRecord | undefined>;
  get(owner: string, version: number): Promise<KeyEncryptionKeyRecord | undefined>;
  /** The owner's highest key version, destroyed ones included; 0 when it has none. */
  latestVersion(owner: string): Promise<number>;
  /** False when that version exists already (another instance made it first). */
  create(record: KeyEncryptionKeyRecord): Promise<boolean>;
  /** Destroys every key of the owner (their wrapped forms are overwritten); returns how many were live. */
  destroyAll(owner: string, now: number): Promise<number>;
  /** Live keys wrapped by another master key than `masterKeyId`, at most `limit`. */
  wrappedByOtherThan(masterKeyId: string, limit: number): Promise<KeyEncryptionKeyRecord[]>;
  /** Replaces a live key's wrapped form, if it is still wrapped by `fromMasterKeyId`. */
  rewrap(owner: string, version: number, fromMasterKeyId: string, toMasterKeyId: string, wrappedKey: string): Promise<boolean>;
  /**
   * Removes from the database's files the old forms of rows that `destroyAll` and `rewrap`
   * replaced: until then a destroyed key, or one wrapped by a retired master key, is still there.
   */
  purgeReplaced(): Promise<void>;
}

/** A value sealed by envelope encryption: its data key wrapped by a tenant key, the value by the data key. */
export interface SealedValue {
  tenantKeyVersion: number;
  /** Base64: IV, tag and the data key encrypted under the tenant key. */
  wrappedDataKey: string;
  /** Base64: IV, tag and the value encrypted under the data key. */
  ciphertext: string;
}

/**
 * Seals and opens values for a tenant. `aad` binds a value to where it is kept (tenant, name,
 * version): a sealed value moved elsewhere does not open. Opening a value whose tenant key was
 * destroyed rejects with GoneError.
 */
export interface SecretVault {
  seal(tenantId: string, aad: string, plaintext: Buffer): Promise<SealedValue>;
  /** `tenantKey`: the record of the key that sealed it, when the caller read it already (saves a lookup); absent if it was never made. */
  open(tenantId: string, aad: string, sealed: SealedValue, tenantKey?: KeyEncryptionKeyRecord | null): Promise<Buffer>;
  /** Crypto-shredding: every value sealed for the tenant so far can never be opened again. */
  destroyTenantKeys(tenantId: string): Promise<number>;
}

/** A new version of a secret, sealed under `versionId` (bound into its AAD). */
export interface SecretVersionWrite {
  tenantId: string;
  name: string;
  versionId: string;
  sealed: SealedValue;
  at: number;
  /** The writer's key id. */
  by?: string;
}

/** The version agents read, with the policy that says who may, and the record of the tenant key that sealed it (null if there is none). */
export interface CurrentSecret {
  policy: SecretPolicy;
  version: number;
  versionId: string;
  sealed: SealedValue;
  tenantKey: KeyEncryptionKeyRecord | null;
}

export interface SecretRepository {
  /** Creates the secret (version 1) or adds a version and replaces its policy and description. */
  upsert(write: SecretVersionWrite, policy: SecretPolicy, description: string | undefined): Promise<{ version: number; created: boolean }>;
  /** Adds a version to an existing secret; undefined when there is none. */
  addVersion(write: SecretVersionWrite): Promise<{ version: number } | undefined>;
  current(tenantId: string, name: string): Promise<CurrentSecret | undefined>;
  get(tenantId: string, name: string): Promise<SecretMetadata | undefined>;
  /** By name; the cursor is opaque. */
  list(tenantId: string, page: PageRequest): Promise<Page<SecretMetadata>>;
  /** Deletes the secret and every version of it; false when there was none. */
  delete(tenantId: string, name: string): Promise<boolean>;
  /** Runs the destruction of the tenant's keys so that nothing read before it (a cached current version) is served after it. */
  destroyingTenantKeys<T>(tenantId: string, destroy: () => Promise<T>): Promise<T>;
}

/**
 * The audit log's personal data, sealed per data subject of a tenant; destroying a subject's keys
 * (crypto-shredding) makes what was sealed for it unreadable for good.
 */
export interface PersonalDataVault {
  seal(tenantId: string, subjectId: string, plaintext: Buffer): Promise<string>;
  /** Undefined when the subject's keys were destroyed. */
  open(tenantId: string, subjectId: string, sealed: string): Promise<Buffer | undefined>;
  /** Returns how many of the subject's keys were live. */
  shred(tenantId: string, subjectId: string): Promise<number>;
}
