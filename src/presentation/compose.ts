import { VERSION } from '../version.js';
import pino from 'pino';
import { Mesh } from '../application/mesh.js';
import type { Logger } from '../application/logger.js';
import { redactUrl, type AgentMeshConfig } from '../config.js';
import { InMemoryBroker } from '../infrastructure/messaging/in-memory-broker.js';
import type { HealthProbe, MessageBroker, SharedCounters } from '../application/ports.js';
import { InMemoryCounters } from '../infrastructure/caching/in-memory-counters.js';
import type { RedisConnection } from '../infrastructure/caching/redis-client.js';
import type { RedisAgentView } from '../infrastructure/caching/redis-agent-view.js';
import type { RedisCounters } from '../infrastructure/caching/redis-counters.js';
import { FallbackCounters } from '../infrastructure/caching/fallback-counters.js';
import { DEFAULT_EVENT_RELAY_OPTIONS, EventRelay } from '../application/event-relay.js';
import { RateLimiter } from '../application/rate-limiter.js';
import { AuthFailureLimiter } from '../application/auth-failure-limiter.js';
import { openEmbeddedStore } from '../infrastructure/persistence/embedded-store.js';
import { SchemaTooNewError } from '../infrastructure/persistence/migrate.js';
import { PgliteClient } from '../infrastructure/persistence/pglite-client.js';
import type { InstanceLockEvent, PostgresStore } from '../infrastructure/persistence/postgres-store.js';
import type { MeshSettings } from '../application/settings.js';
import { Leadership } from './leadership.js';
import { DEFAULT_HEALTH_OPTIONS, HealthCheckService } from '../application/health-check.js';
import { startMetricsServer } from './metrics-server.js';
import { AgentMeshMetrics } from '../infrastructure/observability/metrics.js';
import { configureLogger } from '../infrastructure/observability/logger.js';
import type { Store } from '../infrastructure/persistence/store.js';
import { mathRandom } from '../infrastructure/system/math-random.js';
import { systemClock } from '../infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../infrastructure/system/uuid-v7.js';
import { AuditCheckpointer } from '../infrastructure/security/audit-checkpointer.js';
import { AuditProjector } from '../infrastructure/security/audit-projector.js';
import { AlertDispatcher, DEFAULT_ALERT_OPTIONS, type AlertSink } from '../application/security-alerts.js';
import { SyslogSink } from '../infrastructure/security/siem/syslog-sink.js';
import { WebhookSink } from '../infrastructure/security/siem/webhook-sink.js';
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { developmentSigningKey, loadSigningKey, SigningKeyError, type AuditSigner } from '../infrastructure/security/audit-signing.js';
import { buildApi } from './api/server.js';
import { EnvelopeVault } from '../infrastructure/security/secrets/envelope-vault.js';
import { EnvelopePersonalDataVault } from '../infrastructure/security/audit-personal-data.js';
import { CachedSecretRepository } from '../infrastructure/persistence/cached-secret-repository.js';
import { LocalKeyring } from '../infrastructure/security/secrets/local-kms.js';
import { developmentMasterKey, MasterKeyError, readMasterKeyFile } from '../infrastructure/security/secrets/master-keys.js';
import type { TypedApp } from './api/typed-app.js';
import { ResilienceRegistry } from '../infrastructure/resilience/observer.js';
import { A2ARemoteAgentClient } from '../infrastructure/a2a/a2a-remote-agent-client.js';
import { OutboundAddressGuard } from '../infrastructure/a2a/outbound-address-guard.js';
import { openCache } from './open-cache.js';
import { CachedTenantRepository } from '../infrastructure/caching/cached-tenant-repository.js';
import { CachedAgentRepository } from '../infrastructure/caching/cached-agent-repository.js';
import type { TieredCache } from '../infrastructure/caching/tiered-cache.js';
import { PLAIN } from '../domain/plain.js';


export interface RunningMesh {
  mesh: Mesh;
  api: TypedApp;
  store: Store;
  broker: MessageBroker;
  /** Signs the heads of the audit chains. */
  checkpointer: AuditCheckpointer;
  /** Audits what the mesh did on its own, from the committed events. */
  projector: AuditProjector;
  /** Publishes committed events to the broker; only with NATS. */
  relay?: EventRelay;
  /** With AGENTMESH_REDIS_URL. */
  redis?: RedisConnection;
  metrics: AgentMeshMetrics;
  /** Where GET /metrics is served without a key, with AGENTMESH_METRICS_PORT. */
  metricsUrl?: string;
  /** Sliding-window counters every instance shares (Redis), or this instance's own. */
  counters: SharedCounters;
  /** Hot reads (API keys, tenants): memory, then Redis when configured. */
  cache: TieredCache;
  /** Where the API listens, once `listen` was asked for. */
  url?: string;
  createdAdminKey?: string;
  close(): Promise<void>;
}

export class StartupError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

async function openPostgres(
  url: string,
  logger: pino.Logger,
  options: { exclusive: boolean; relayEvents: boolean; resilience: ResilienceRegistry; onLockEvent: (event: InstanceLockEvent) => void; onFatal: (error: Error) => void },
): Promise<PostgresStore> {
  // Alone on its database, an instance takes its lock back after an outage; in a mesh of many, Leadership decides.
  const onLockEvent = (event: InstanceLockEvent) => {
    if (!options.exclusive) options.onLockEvent(event);
    else if (event.kind === 'lost') logger.warn({ err: event.error }, 'lost the connection that holds the instance lock; retaking it when the database answers');
    else if (event.kind === 'regained') logger.info('instance lock held again');
    else if (event.kind === 'stolen') {
      logger.fatal({ err: event.error }, 'another instance took the database while this one was cut off from it; stopping');
      options.onFatal(event.error);
    }
  };
  // Loaded here, so that a mesh on the embedded store never loads the PostgreSQL driver.
  const { DatabaseInUseError, openPostgresStore } = await import('../infrastructure/persistence/postgres-store.js');
  try {
    return await openPostgresStore(url, { onLockEvent, exclusive: options.exclusive, relayEvents: options.relayEvents, resilience: options.resilience });
  } catch (error) {
    if (error instanceof DatabaseInUseError || error instanceof SchemaTooNewError) throw error;
    throw new StartupError(`cannot use PostgreSQL at AGENTMESH_DATABASE_URL (${redactUrl(url)}): ${(error as Error).message}`, { cause: error });
  }
}

async function openRedis(redis: { url: string; keyPrefix: string }, resilience: ResilienceRegistry): Promise<RedisConnection> {
  const { RedisConnection } = await import('../infrastructure/caching/redis-client.js');
  try {
    return await RedisConnection.connect(redis.url, { keyPrefix: redis.keyPrefix, resilience });
  } catch (error) {
    throw new StartupError(`cannot use Redis at AGENTMESH_REDIS_URL (${redactUrl(redis.url)}): ${(error as Error).message}`, { cause: error });
  }
}

/** The adapters that share state through Redis, loaded only when it is configured (they load its client). */
async function redisShared(redis: RedisConnection): Promise<{ counters: RedisCounters; liveAgents: RedisAgentView }> {
  const [{ RedisCounters }, { RedisAgentView }] = await Promise.all([import('../infrastructure/caching/redis-counters.js'), import('../infrastructure/caching/redis-agent-view.js')]);
  return { counters: new RedisCounters(redis), liveAgents: new RedisAgentView(redis) };
}

async function openNats(nats: { url: string; namespace: string }, resilience: ResilienceRegistry): Promise<MessageBroker> {
  const { NatsBroker } = await import('../infrastructure/messaging/nats-broker.js');
  try {
    return await NatsBroker.connect(nats.url, { ...(nats.namespace !== '' && { namespace: nats.namespace }) }, resilience);
  } catch (error) {
    throw new StartupError(`AGENTMESH_NATS_URL: ${(error as Error).message}`, { cause: error });
  }
}

/** The key that signs audit checkpoints: the configured one, or a development key (with a warning). */
function auditSigner(config: AgentMeshConfig, logger: pino.Logger): AuditSigner {
  try {
    if (config.audit.signingKeyFile !== undefined) return loadSigningKey(config.audit.signingKeyFile);
    const dev = developmentSigningKey(config.dataDir);
    if (dev.created) {
      logger.warn(
        { key_id: dev.signer.keyId, ...(dev.file !== undefined && { file: dev.file }) },
        dev.file !== undefined
          ? 'made a development key to sign audit checkpoints; in production set AGENTMESH_AUDIT_SIGNING_KEY_FILE to a key you keep safe'
          : 'audit checkpoints are signed with a key that lives only in this process; set AGENTMESH_AUDIT_SIGNING_KEY_FILE',
      );
    }
    return dev.signer;
  } catch (error) {
    if (error instanceof SigningKeyError) throw new StartupError(`AGENTMESH_AUDIT_SIGNING_KEY_FILE: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The master keys (secrets, audit personal data): the configured ones, or a development key (with a loud warning). */
function masterKeyring(config: AgentMeshConfig, logger: pino.Logger): LocalKeyring {
  try {
    if (config.secrets.masterKeys !== undefined) return new LocalKeyring(config.secrets.masterKeys);
    if (config.secrets.masterKeyFile !== undefined) return new LocalKeyring(readMasterKeyFile(config.secrets.masterKeyFile));
    const dev = developmentMasterKey(config.dataDir);
    const keyring = new LocalKeyring(dev.keys);
    logger.warn(
      { master_key_id: keyring.currentKeyId, ...(dev.file !== undefined && { file: dev.file }) },
      dev.file !== undefined
        ? `secrets and the audit log's personal data are sealed under a DEVELOPMENT master key kept next to the data (${dev.created ? 'made now' : 'made earlier'}); in production set AGENTMESH_MASTER_KEY_FILE to a key kept elsewhere`
        : "secrets and the audit log's personal data are sealed under a master key that lives only in this process: they are LOST when it stops; set AGENTMESH_MASTER_KEY_FILE",
    );
    return keyring;
  } catch (error) {
    if (error instanceof MasterKeyError) {
      const source = config.secrets.masterKeyFile !== undefined ? 'AGENTMESH_MASTER_KEY_FILE' : 'the development master key in AGENTMESH_DATA_DIR';
      throw new StartupError(`${source}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** At start: keys wrapped by a previous master key are re-wrapped with the current one; master keys missing here are named. */
async function rewrapKeys(what: string, vault: EnvelopeVault, keyring: LocalKeyring, logger: pino.Logger): Promise<void> {
  let outcome: Awaited<ReturnType<EnvelopeVault['rewrapAll']>>;
  try {
    outcome = await vault.rewrapAll();
  } catch (error) {
    logger.warn({ err: error }, `could not re-wrap ${what} with the current master key; trying again at the next start`);
    return;
  }
  const { rewrapped, skipped, missingMasterKeys } = outcome;
  if (rewrapped > 0) logger.info({ rewrapped, master_key_id: keyring.currentKeyId }, `re-wrapped ${what} with the current master key`);
  if (skipped > 0) {
    logger.error(
      { keys: skipped, missing_master_keys: missingMasterKeys, configured_master_keys: keyring.keyIds },
      `${what} are wrapped by a master key not configured here: what they seal cannot be read until that key is added to AGENTMESH_MASTER_KEY(_FILE)`,
    );
  }
}

/** The API's certificate and key (PEM), read once at start. */
function tlsFiles(config: AgentMeshConfig): { cert: string; key: string } | undefined {
  if (config.http.tls === undefined) return undefined;
  const read = (file: string, variable: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new StartupError(`${variable}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  const cert = read(config.http.tls.certFile, 'AGENTMESH_TLS_CERT');
  const key = read(config.http.tls.keyFile, 'AGENTMESH_TLS_KEY');
  let belong: boolean;
  try {
    createSecureContext({ cert, key });
    // OpenSSL checks the pair only when the key types agree: an Ed25519 key with an EC certificate passes, and every handshake fails.
    belong = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new StartupError(`AGENTMESH_TLS_CERT / AGENTMESH_TLS_KEY: not a certificate and its private key in PEM: ${(error as Error).message}`, { cause: error });
  }
  if (!belong) throw new StartupError(`AGENTMESH_TLS_CERT / AGENTMESH_TLS_KEY: not a certificate and its private key in PEM: the key in ${config.http.tls.keyFile} is not the certificate's`);
  return { cert, key };
}

/** The SIEM sinks the configuration names (none: no alerts). */
function siemSinks(config: AgentMeshConfig): AlertSink[] {
  const { siem } = config;
  let ca: string | undefined;
  if (siem.caFile !== undefined) {
    try {
      ca = readFileSync(siem.caFile, 'utf8');
    } catch (error) {
      throw new StartupError(`AGENTMESH_SIEM_CA_FILE: cannot read ${siem.caFile}: ${(error as Error).message}`, { cause: error });
    }
  }
  const sinks: AlertSink[] = [];
  if (siem.syslogUrl !== undefined) sinks.push(new SyslogSink({ url: siem.syslogUrl, ...(ca !== undefined && { ca }) }, VERSION));
  if (siem.webhook !== undefined) {
    const { url, authorization, format } = siem.webhook;
    sinks.push(new WebhookSink({ url, format, ...(authorization !== undefined && { authorization }), ...(ca !== undefined && { ca }) }, VERSION));
  }
  return sinks;
}

export interface StartOptions {
  listen: boolean;
  logger?: pino.Logger;
  /** The instance cannot go on (its database was taken over): the host should close it and exit non-zero. */
  onFatal?: (error: Error) => void;
  /**
   * The first start made the platform admin key, told as soon as it is stored: a start that fails
   * after it (a port in use, a bad setting checked late) would otherwise lose the only copy.
   */
  onAdminKeyCreated?: (key: string) => void;
}

/**
 * A command and its answer travel as one NATS message, and an answer carries a task's input and
 * its output: both must fit in the server's max_payload.
 */
function fitToBroker(settings: MeshSettings, maxPayloadBytes: number | undefined, logger: pino.Logger): MeshSettings {
  if (maxPayloadBytes === undefined) return settings;
  const room = Math.floor((maxPayloadBytes - 64 * 1024) / 2);
  const { taskLimits } = settings;
  if (taskLimits.maxInputBytes <= room && taskLimits.maxOutputBytes <= room) return settings;
  logger.warn(
    { max_input_bytes: room, nats_max_payload: maxPayloadBytes },
    "task inputs and outputs are limited to half of NATS's max_payload in a mesh of many instances; raise max_payload on the NATS server to allow more",
  );
  return { ...PLAIN, ...settings, taskLimits: { ...PLAIN, ...taskLimits, maxInputBytes: Math.min(taskLimits.maxInputBytes, room), maxOutputBytes: Math.min(taskLimits.maxOutputBytes, room) } };
}

const leaderProbe = (leadership: Leadership): HealthProbe => ({
  ping: async () => {
    const problem = leadership.problem;
    if (problem !== undefined) throw new Error(problem);
  },
});

/** The composition root: adapters chosen from config, wired to the use cases, API on top. */
export async function startMesh(config: AgentMeshConfig, options: StartOptions): Promise<RunningMesh> {
  // First, so the spans of everything that follows are recorded.
  // The OpenTelemetry SDK and its exporter are loaded only when tracing is on.
  const tracing = config.tracing ? (await import('../infrastructure/observability/tracing.js')).startTracing({ serviceName: 'agentmesh', version: VERSION }) : undefined;
  const logger = options.logger ?? configureLogger({ serviceName: 'agentmesh', logLevel: config.logLevel, format: config.logFormat, redactPaths: config.logRedactPaths });
  // With NATS, committed events wait in the outbox and a relay publishes them; the in-memory broker has no one to publish to.
  const relayEvents = config.nats !== undefined;
  // PostgreSQL and NATS: any number of instances form one mesh, with an elected leader running the queues.
  const clustered = config.databaseUrl !== undefined && config.nats !== undefined;
  let leadership: Leadership | undefined;
  const onFatal = options.onFatal ?? (() => {});
  // Every dependency's circuit breaker, retry, bulkhead and timeout report here (metrics, log lines).
  const resilience = new ResilienceRegistry(logger.child({ component: 'resilience' }) as unknown as Logger, config.dependencyPolicies);
  if (config.cache.enabled === false) logger.warn('AGENTMESH_CACHE=off: every API key, tenant and agent listing read goes to the store, and no skill result is kept');
  if (!config.dependencyPolicies) logger.warn('AGENTMESH_DEPENDENCY_POLICIES=off: no circuit breakers, retries, bulkheads or timeouts on PostgreSQL, NATS and Redis');
  const onLockEvent = (event: InstanceLockEvent) => leadership?.onLockEvent(event);
  // Before the store: a wrong certificate or key, or a configured key file that cannot be read,
  // stops the start before any database opens.
  const tls = tlsFiles(config);
  const configuredSigner = config.audit.signingKeyFile !== undefined ? auditSigner(config, logger) : undefined;
  const configuredKeyring = config.secrets.masterKeys !== undefined || config.secrets.masterKeyFile !== undefined ? masterKeyring(config, logger) : undefined;
  const store =
    config.databaseUrl !== undefined
      ? await openPostgres(config.databaseUrl, logger, { exclusive: !clustered, relayEvents, resilience, onLockEvent, onFatal })
      : await openEmbeddedStore(config.dataDir, {
          relayEvents,
          vacuum: {
            onVacuum: ({ tables, deadRows, ms, forced }) =>
              logger.info({ tables, dead_rows: deadRows, ms: Math.round(ms), forced }, forced ? 'vacuumed the embedded store under load: its dead rows passed the bound' : "vacuumed the embedded store's dead rows"),
            onError: (error) => logger.warn({ err: error }, "could not vacuum the embedded store's dead rows; trying again later"),
          },
        });
  // Development keys after the store: an embedded data directory is locked first, so a second
  // process on it stops at the lock without reading, making or warning of the keys kept there.
  let signer: ReturnType<typeof auditSigner>;
  let keyring: ReturnType<typeof masterKeyring>;
  let alerts: AlertDispatcher;
  let broker: MessageBroker;
  let redis: RedisConnection | undefined;
  // Whatever fails from here to the connections closes what was opened before it.
  try {
    signer = configuredSigner ?? auditSigner(config, logger);
    keyring = configuredKeyring ?? masterKeyring(config, logger);
    alerts = new AlertDispatcher(siemSinks(config), logger.child({ component: 'siem' }) as unknown as Logger, {
      ...PLAIN,
      ...DEFAULT_ALERT_OPTIONS,
      authFailureThreshold: config.siem.authFailureThreshold,
      authFailureWindowMs: config.siem.authFailureWindowMs,
    });
    broker = config.nats !== undefined ? await openNats(config.nats, resilience) : new InMemoryBroker();
    try {
      redis = config.redis !== undefined ? await openRedis(config.redis, resilience) : undefined;
    } catch (error) {
      await broker.close();
      throw error;
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  // While Redis is away, rate limits and quotas count on each instance (degraded) rather than fail or go uncounted.
  const shared = redis ? await redisShared(redis) : undefined;
  const countersLogger = logger.child({ component: 'counters' }) as unknown as Logger;
  const counters: SharedCounters = shared ? new FallbackCounters(shared.counters, countersLogger) : new InMemoryCounters();
  // The cache: memory, then Redis when configured; invalidations reach the other instances over Redis pub/sub, or NATS without Redis.
  const cache = await openCache(config.cache, { redis, broker: clustered ? broker : undefined, logger }).catch(async (error: unknown) => {
    await Promise.all([broker.close(), redis?.close()]);
    await store.close();
    throw new StartupError(`cannot start the cache: ${(error as Error).message}`, { cause: error });
  });
  const vault = new EnvelopeVault(keyring, store.tenantKeys, systemClock);
  const subjectCurrentKeyTtlMs = 5_000;
  const subjectVault = new EnvelopeVault(keyring, store.subjectKeys, systemClock, {
    purpose: 'audit-subject-key',
    currentKeyTtlMs: subjectCurrentKeyTtlMs,
    ownKeysOnly: true,
    maxKeyAgeMs: 24 * 3600_000,
  });
  const personalData = new EnvelopePersonalDataVault(subjectVault, { maxSeals: 2_000, ttlMs: subjectCurrentKeyTtlMs });
  const metrics = new AgentMeshMetrics(config.metrics);
  metrics.observeResilience(resilience);
  const settings = clustered ? { ...PLAIN, ...fitToBroker(config.mesh, broker.maxPayloadBytes, logger), clustered: true } : config.mesh;
  // Per remote agent policies log their transitions (agentmesh_a2a_remote_calls_total counts the calls); the guard keeps its calls to allowed addresses.
  const remoteAgentClient = new A2ARemoteAgentClient(new ResilienceRegistry(logger.child({ component: 'a2a' }) as unknown as Logger, config.dependencyPolicies), new OutboundAddressGuard(config.a2a.allowedHosts));
  const mesh = new Mesh(
    {
      tenants: new CachedTenantRepository(store.tenants, cache),
      apiKeys: store.apiKeys,
      cache,
      agents: new CachedAgentRepository(store.agents, cache),
      tasks: store.tasks,
      events: store.events,
      audit: store.audit,
      secrets: store.secrets,
      vault,
      personalData,
      broker,
      clock: systemClock,
      ids: new UuidV7Generator(),
      random: mathRandom,
      logger: logger.child({ component: 'mesh' }) as unknown as Logger,
      ...(shared && { liveAgents: shared.liveAgents }),
      metrics,
      ...(alerts.active && { alerts }),
      remoteAgents: remoteAgentClient,
    },
    settings,
  );

  const startOptions = { ...PLAIN, ...(config.adminKey !== undefined && { adminKey: config.adminKey }), ...(options.onAdminKeyCreated !== undefined && { onAdminKeyCreated: options.onAdminKeyCreated }) };
  let createdAdminKey: string | undefined;
  // A mesh that fails to start leaves nothing open (a host embedding startMesh goes on running).
  const closeStarted = async () => {
    await leadership?.close();
    await mesh.stop();
    await cache.close();
    await broker.close();
    await redis?.close();
    await store.close();
  };
  if (clustered) {
    leadership = new Leadership(mesh, broker, logger.child({ component: 'leadership' }), startOptions, onFatal, config.nats?.namespace, config.redis?.keyPrefix ?? '');
    try {
      await leadership.begin(store as PostgresStore);
    } catch (error) {
      await closeStarted();
      throw new StartupError(`elected leader, but could not start the mesh: ${(error as Error).message}`, { cause: error });
    }
    createdAdminKey = leadership.createdAdminKey;
  } else {
    try {
      ({ createdAdminKey } = await mesh.start(startOptions));
    } catch (error) {
      await closeStarted();
      throw error;
    }
  }
  // Every instance answers reads: each preloads its cache (the leader has just loaded its directory from the store).
  mesh.cacheWarmer.start(config.cacheWarming);
  await rewrapKeys('tenant keys', vault, keyring, logger);
  await rewrapKeys("audit data subjects' keys", subjectVault, keyring, logger);
  const checkpointer = new AuditCheckpointer(store.db, signer, systemClock, logger.child({ component: 'audit' }) as unknown as Logger, config.audit.checkpointIntervalMs);
  checkpointer.start();
  const projector = new AuditProjector(store.db, store.audit, logger.child({ component: 'audit' }) as unknown as Logger);
  projector.start();
  // Entries past a tenant's retention go now and then; every instance may try (the database takes one prune of a tenant at a time).
  const pruning = setInterval(() => {
    mesh.audit.prune().catch((error: Error) => logger.warn({ err: error }, 'audit retention prune failed; trying again at the next interval'));
  }, config.audit.pruneIntervalMs);
  pruning.unref();
  // A follower on another NATS namespace than the leader's would publish the mesh's events where no one listens.
  const relay = relayEvents ? new EventRelay(store.outbox, broker, logger.child({ component: 'relay' }) as unknown as Logger, DEFAULT_EVENT_RELAY_OPTIONS, () => leadership?.problem !== undefined) : undefined;
  relay?.start();
  const probes: Record<string, HealthProbe> = {
    store: { ping: async () => void (await store.db.query('SELECT 1')) },
    broker,
    ...(redis && { redis }),
    // A follower that cannot reach the leader serves no change: not ready.
    ...(leadership && { leader: leaderProbe(leadership) }),
  };
  const health = new HealthCheckService(probes, { ...PLAIN, ...DEFAULT_HEALTH_OPTIONS, cacheMs: config.healthCacheMs }, new Set(['redis']));
  // Counts of its own in this instance's memory (alone, or while Redis is away): a flood of addresses must not push the tenants' rate-limit windows out of a shared bounded map.
  const authCounters = shared ? new FallbackCounters(shared.counters, countersLogger) : new InMemoryCounters();
  const authFailureLimiter = new AuthFailureLimiter(authCounters, config.authFailuresPerAddress);
  const localWindows = (c: SharedCounters) => (c instanceof FallbackCounters ? c.localWindows : c instanceof InMemoryCounters ? c.size : 0);
  if (config.http.trustProxy === true) {
    logger.warn("AGENTMESH_TRUST_PROXY=true trusts X-Forwarded-For from anyone: a client can name any address, and the failed-authentication limit and the audit log's source address with it. Name the proxies' addresses instead.");
  }
  metrics.observeCache(cache);
  metrics.observeMesh({
    queuedByTenant: () => mesh.ctx.dispatcher.queuedByTenant(),
    liveAgentsByTenant: () => mesh.ctx.directory.liveCountByTenant(),
    trippedAgentsByTenant: () => mesh.ctx.directory.trippedCountByTenant(),
    leasesHeld: () => mesh.ctx.lifecycle.leases.size,
    taskWaiters: () => mesh.ctx.waiters.count,
    storeWriteQueue: () => store.batcher.pendingCount,
    embeddedDatabaseQueue: () => (store.db instanceof PgliteClient ? store.db.pendingUses : 0),
    audit: {
      writeQueue: () => store.audit.pendingCount,
      appended: () => store.audit.appended + projector.audited,
      failed: () => store.audit.failed,
      anonymousDropped: () => mesh.audit.anonymousDropped,
      projected: () => projector.projected,
      checkpoints: () => checkpointer.written,
    },
    secrets: {
      cachedBytes: () => (store.secrets instanceof CachedSecretRepository ? store.secrets.cachedBytes : 0),
      tenantKeysCached: () => vault.cachedKeys,
      subjectKeysCached: () => subjectVault.cachedKeys,
      personalSealsReusable: () => personalData.reusableSeals,
    },
    siem: () => alerts.counts(),
    alertBurstSources: () => ({ tracked: alerts.burstSources, evicted: alerts.burstSourcesEvicted }),
    countersDegraded: () => counters instanceof FallbackCounters && counters.degraded,
    authBlockedAddresses: () => authFailureLimiter.blockedCount,
    authAddressesInFlight: () => authFailureLimiter.addressesInFlight,
    localCounterWindows: () => ({ rateLimits: localWindows(counters), authFailures: localWindows(authCounters) }),
    brokerStoredMessages: () => (broker instanceof InMemoryBroker ? broker.storedCount : 0),
    memoryEntries: () => ({
      task_cache_active: store.tasks.activeCount,
      task_cache_settled: store.tasks.settledCount,
      tenant_cache: store.tenants.cachedCount,
      audit_chain_heads: store.audit.headsHeld,
      current_key_lookups: vault.currentKeysRemembered + subjectVault.currentKeysRemembered,
      task_deadlines: mesh.ctx.lifecycle.deadlines.size,
      round_robin_cursors: mesh.ctx.dispatcher.roundRobinCursorCount,
      forwarded_heartbeats: mesh.forwardedHeartbeatCount,
      dispatcher_queues: mesh.ctx.dispatcher.queueCount,
    }),
    cacheWarmings: () => mesh.cacheWarmer.inProgress,
    role: () => mesh.role,
    dependencies: async () => (await health.getSystemHealth()).checks,
  });
  const stopServices = async () => {
    // Commands already taken are answered before the mesh stops.
    await leadership?.close();
    await mesh.stop();
    // The relay's last turn publishes what the mesh committed on its way down.
    await relay?.stop();
    // Everything audited on the way down is committed, then signed.
    clearInterval(pruning);
    await projector.stop();
    await store.audit.drain();
    await checkpointer.stop();
    await alerts.close();
    await mesh.cacheWarmer.stop();
    await cache.close();
    await broker.close();
    await redis?.close();
    await store.close();
    health.close();
    await tracing?.shutdown();
  };
  const api = await buildApi(mesh, health, {
    bodyLimitBytes: config.bodyLimitBytes,
    logger: logger.child({ component: 'api' }),
    version: VERSION,
    metrics,
    logBodySampleRate: config.logBodySampleRate,
    logRouteSampleRates: config.logRouteSampleRates,
    auditAuthSuccessIntervalMs: config.audit.authSuccessIntervalMs,
    ...(tls !== undefined && { tls }),
    corsOrigins: config.http.corsOrigins,
    rateLimiter: new RateLimiter(counters, config.rateLimits),
    authFailureLimiter,
    ...(config.http.trustProxy !== undefined && { trustProxy: config.http.trustProxy }),
    requestTimeoutMs: config.http.requestTimeoutMs,
    breakers: () => resilience.breakerStates(),
    a2aMaxStreamsPerTenant: config.a2a.maxStreamsPerTenant,
    maxInboxConnectionsPerAgent: config.http.maxInboxConnectionsPerAgent,
    ...(config.a2a.publicUrl !== undefined && { publicUrl: config.a2a.publicUrl }),
    ...(leadership && { changesHeld: () => leadership?.problem }),
  }).catch(async (error: unknown) => {
    await stopServices();
    throw error;
  });
  let url: string | undefined;
  let metricsServer: { url: string; close(): Promise<void> } | undefined;
  const stopAll = async () => {
    await metricsServer?.close();
    await api.close();
    await stopServices();
  };
  if (options.listen) {
    try {
      url = await api.listen({ host: config.host, port: config.port });
    } catch (error) {
      await stopAll();
      throw error;
    }
    if (config.metrics.port !== undefined) {
      try {
        metricsServer = await startMetricsServer(metrics, config.metrics.host, config.metrics.port);
      } catch (error) {
        // Nothing of this start may stay open: the host reports the error and exits.
        await stopAll();
        throw new StartupError(`AGENTMESH_METRICS_PORT: cannot listen on ${config.metrics.host}:${config.metrics.port}: ${(error as Error).message}`, { cause: error });
      }
    }
  }
  let closed = false;
  return {
    mesh,
    api,
    store,
    broker,
    checkpointer,
    projector,
    ...(relay !== undefined && { relay }),
    ...(redis !== undefined && { redis }),
    counters,
    cache,
    metrics,
    ...(metricsServer !== undefined && { metricsUrl: metricsServer.url }),
    ...(url !== undefined && { url }),
    ...(createdAdminKey !== undefined && { createdAdminKey }),
    async close() {
      if (closed) return;
      closed = true;
      await stopAll();
    },
  };
}
