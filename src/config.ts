import { statSync, type Stats } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parseMasterKeys } from './infrastructure/security/secrets/master-keys.js';
import { DEFAULT_CACHE_SETTINGS, type CacheSettings } from './infrastructure/caching/tiered-cache.js';
import { DEFAULT_CACHE_WARMING, type CacheWarmingSettings } from './application/cache-warmer.js';
import { DEFAULT_SKILL_RESULTS } from './application/skill-results.js';
import { DEFAULT_AGENT_BREAKER_SETTINGS, DEFAULT_AGENT_LIMITS, DEFAULT_TASK_LIMITS } from './domain/index.js';
import { DEFAULT_MESH_SETTINGS, type MeshSettings } from './application/settings.js';
import { PLAIN } from './domain/plain.js';

/** Every setting, read once from the environment and validated. */
export interface AgentMeshConfig {
  host: string;
  port: number;
  /** undefined: the embedded database lives in memory only. Unused when `databaseUrl` is set. */
  dataDir: string | undefined;
  /** PostgreSQL instead of the embedded database. */
  databaseUrl: string | undefined;
  /** NATS JetStream instead of the in-memory broker: the server list, and the namespace of this mesh's subjects and stream. */
  nats: { url: string; namespace: string } | undefined;
  /** OpenTelemetry tracing, on when an OTLP endpoint is set (the OTEL_* variables configure the rest). */
  tracing: boolean;
  /** How long a readiness result is reused. */
  healthCacheMs: number;
  /** Circuit breakers, retries, bulkheads and timeouts on PostgreSQL, NATS and Redis; off only to measure their cost. */
  dependencyPolicies: boolean;
  /** Prometheus: a port of its own for GET /metrics (no key), and the caps on label values. */
  metrics: { port: number | undefined; host: string; maxTenants: number; maxCapabilities: number };
  /** Redis for the agents' live state and shared counters: its URL, and the prefix of this mesh's keys. */
  redis: { url: string; keyPrefix: string } | undefined;
  /** The cache of hot reads: each kind's TTL, and the bounds of this process's tier (Redis is the shared tier when configured). */
  cache: CacheSettings;
  /** Preloading the cache: at start, and every interval (0: never). */
  cacheWarming: CacheWarmingSettings;
  adminKey: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** JSON lines, or pretty lines for a person at a terminal. */
  logFormat: 'json' | 'pretty';
  /** More fields to hide in logs (pino redact paths, e.g. body.input.email). */
  logRedactPaths: string[];
  /** Share of requests whose redacted body is logged (0 to 1). */
  logBodySampleRate: number;
  /** Per route template ("GET /v1/tasks/:id"): the share of its successful requests that get a log line. */
  logRouteSampleRates: ReadonlyMap<string, number>;
  /**
   * The audit log: the Ed25519 key file that signs checkpoints (a development key is made in the
   * data directory when unset), how often chain heads are checkpointed, and how often a key's
   * successful authentication is recorded (besides the entry of every change it makes).
   */
  audit: { signingKeyFile: string | undefined; checkpointIntervalMs: number; authSuccessIntervalMs: number; pruneIntervalMs: number };
  /** Sensitive-action alerts: a syslog collector (tcp:// or tls://) and/or an HTTPS webhook, and when failed authentications make a burst. */
  siem: {
    syslogUrl: string | undefined;
    webhook: { url: string; authorization: string | undefined; format: 'ocsf' | 'splunk-hec' } | undefined;
    caFile: string | undefined;
    authFailureThreshold: number;
    authFailureWindowMs: number;
  };
  /**
   * The secret store's master keys: from AGENTMESH_MASTER_KEY (comma-separated base64) or a file
   * (one per line); the first wraps, the rest only unwrap (previous keys, while re-wrapping).
   * Neither set: a development key in the data directory.
   */
  secrets: { masterKeys: Buffer[] | undefined; masterKeyFile: string | undefined };
  /**
   * The API's edge: TLS (certificate and key files, PEM) when both are set; the origins allowed to
   * call it from a browser (CORS; none by default); how long a client may take to send a request.
   */
  /** maxInboxConnectionsPerAgent: open SSE streams and long polls per agent on each instance (one more ends the agent's oldest). */
  http: { tls: { certFile: string; keyFile: string } | undefined; corsOrigins: string[]; requestTimeoutMs: number; trustProxy: boolean | number | string | undefined; maxInboxConnectionsPerAgent: number };
  /** Requests per minute per API key and per tenant (0: no limit), counted across instances with Redis. */
  rateLimits: { perKey: number; perTenant: number };
  /** Failed authentications one client address may make per minute before it is refused (0: no limit), counted across instances with Redis. */
  authFailuresPerAddress: number;
  /** Largest accepted request body; input and output limits come on top of the JSON envelope. */
  bodyLimitBytes: number;
  /** The A2A endpoint: open streams per tenant on each instance; the URL clients reach the mesh at, for the agent card (unset: as each request came). */
  a2a: { maxStreamsPerTenant: number; publicUrl: string | undefined; allowedHosts: string[] };
  mesh: MeshSettings;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/**
 * AGENTMESH_TRUST_PROXY: unset, the client's address is the connection's peer; `true` trusts
 * every proxy's X-Forwarded-For; a number, that many hops; otherwise a comma-separated list of
 * proxy addresses or CIDR ranges (Fastify's trustProxy).
 */
/** An address, or a CIDR range (`10.0.0.0/8`), as Node's net module reads them; undefined when it is neither. */
function addressOrRange(entry: string): string | undefined {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return undefined;
  if (bits !== undefined && !(/^\d+$/u.test(bits) && Number(bits) <= (family === 6 ? 128 : 32))) return undefined;
  return entry;
}

/** AGENTMESH_A2A_ALLOWED_HOSTS: host names, addresses and CIDR ranges that remote A2A agents may be at besides public addresses. */
function a2aAllowedHosts(env: Env): string[] {
  const entries = (env.AGENTMESH_A2A_ALLOWED_HOSTS ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) {
    if (addressOrRange(entry) === undefined && !/^(?=.{1,253}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/u.test(entry)) {
      throw new ConfigError(`AGENTMESH_A2A_ALLOWED_HOSTS: '${entry}' is not a host name, an address or a CIDR range (such as agents.internal, 10.0.0.5 or 10.0.0.0/8)`);
    }
  }
  return entries;
}

function trustProxySetting(env: Env): boolean | number | string | undefined {
  const raw = env.AGENTMESH_TRUST_PROXY?.trim();
  if (raw === undefined || raw === '' || raw === 'false') return undefined;
  if (raw === 'true') return true;
  if (/^\d+$/u.test(raw)) return Number(raw);
  const entries = raw.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (addressOrRange(entry) === undefined) {
      throw new ConfigError(`AGENTMESH_TRUST_PROXY: '${entry}' is not an address or CIDR range (give true, a hop count, or addresses such as 10.0.0.0/8,127.0.0.1)`);
    }
  }
  return entries.join(',');
}

function httpSettings(env: Env): AgentMeshConfig['http'] {
  const certFile = env.AGENTMESH_TLS_CERT || undefined;
  const keyFile = env.AGENTMESH_TLS_KEY || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('AGENTMESH_TLS_CERT and AGENTMESH_TLS_KEY go together: set both (PEM files), or neither');
  const corsOrigins = (env.AGENTMESH_CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  for (const origin of corsOrigins) {
    if (origin === '*') continue;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`AGENTMESH_CORS_ORIGINS: '${origin}' is not an origin such as https://app.example.com (or * for any)`);
    }
    if (url.origin !== origin || !['http:', 'https:'].includes(url.protocol)) {
      throw new ConfigError(`AGENTMESH_CORS_ORIGINS: '${origin}' is not an origin: scheme, host and port only, such as ${url.origin}`);
    }
  }
  if (corsOrigins.includes('*') && corsOrigins.length > 1) throw new ConfigError("AGENTMESH_CORS_ORIGINS: '*' allows every origin; list origins, or give '*' alone");
  return {
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    corsOrigins,
    requestTimeoutMs: integer(env, 'AGENTMESH_REQUEST_TIMEOUT_MS', 30_000, 1_000, 600_000),
    trustProxy: trustProxySetting(env),
    maxInboxConnectionsPerAgent: integer(env, 'AGENTMESH_MAX_INBOX_CONNECTIONS_PER_AGENT', 4, 1, 64),
  };
}

function secretSettings(env: Env): AgentMeshConfig['secrets'] {
  const raw = env.AGENTMESH_MASTER_KEY || undefined;
  const masterKeyFile = env.AGENTMESH_MASTER_KEY_FILE || undefined;
  if (raw !== undefined && masterKeyFile !== undefined) throw new ConfigError('AGENTMESH_MASTER_KEY and AGENTMESH_MASTER_KEY_FILE are both set: set one');
  try {
    return { masterKeys: raw !== undefined ? parseMasterKeys(raw, 'AGENTMESH_MASTER_KEY', /,/u) : undefined, masterKeyFile };
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

function cacheSettings(env: Env): CacheSettings {
  const { ttlsMs, l1 } = DEFAULT_CACHE_SETTINGS;
  const seconds = (name: string, fallbackMs: number, max: number) => integer(env, name, fallbackMs / 1000, 1, max) * 1000;
  return {
    ttlsMs: {
      agent: seconds('AGENTMESH_CACHE_TTL_AGENT_SECONDS', ttlsMs.agent, 86_400),
      message: seconds('AGENTMESH_CACHE_TTL_MESSAGE_SECONDS', ttlsMs.message, 86_400),
      tenant_config: seconds('AGENTMESH_CACHE_TTL_TENANT_SECONDS', ttlsMs.tenant_config, 86_400),
      // A revocation whose bus message was lost lasts this long at most on another instance.
      api_key: seconds('AGENTMESH_CACHE_TTL_API_KEY_SECONDS', ttlsMs.api_key, 3_600),
      // Each result lives what its task asked (cache.ttlSeconds); this is only the longest allowed.
      skill_result: ttlsMs.skill_result,
    },
    l1: {
      maxEntries: integer(env, 'AGENTMESH_CACHE_MAX_ENTRIES', l1.maxEntries, 1, 10_000_000),
      maxBytes: integer(env, 'AGENTMESH_CACHE_MAX_BYTES', l1.maxBytes, 1024, 16 * 1024 * 1024 * 1024),
    },
    graceMs: integer(env, 'AGENTMESH_CACHE_GRACE_SECONDS', (DEFAULT_CACHE_SETTINGS.graceMs ?? 0) / 1000, 0, 86_400) * 1000,
  };
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Plain decimal digits only: Number() would also take '0x10', '2.0' and '1e3'.
  const value = /^-?\d+$/u.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got '${raw}'`);
  return raw as T;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A decimal from 0 to 1, as a share. */
function fraction(env: Env, name: string, fallback: number, label = name): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/u.test(raw.trim()) ? Number(raw) : NaN;
  if (Number.isNaN(value)) throw new ConfigError(`${label} must be a number from 0 to 1, got '${raw}'`);
  return value;
}

/** AGENTMESH_LOG_REDACT: comma-separated pino paths (letters, digits, _, ., [*], *). */
/** AGENTMESH_LOG_SAMPLE_ROUTES: `GET /v1/tasks/:id=0.01, POST /v1/tasks=0.1` (route templates as the API names them). */
function routeSampleRates(env: Env): Map<string, number> {
  const rates = new Map<string, number>();
  for (const entry of (env.AGENTMESH_LOG_SAMPLE_ROUTES ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const match = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\/\S*)\s*=\s*(\S+)$/u.exec(entry);
    if (!match) throw new ConfigError(`AGENTMESH_LOG_SAMPLE_ROUTES must be comma-separated 'METHOD /route=share' such as 'GET /v1/tasks/:id=0.01', got '${entry}'`);
    const [, method, route, share] = match as unknown as [string, string, string, string];
    rates.set(`${method} ${route}`, fraction({ share }, 'share', 1, `AGENTMESH_LOG_SAMPLE_ROUTES (${method} ${route})`));
  }
  return rates;
}

/** What is at `path`; undefined when nothing is, or a file stands on the way to it (ENOTDIR). */
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * AGENTMESH_DATA_DIR: a directory, or a path where one can be made (`:memory:` keeps nothing). A
 * path that is, or runs through, a file is refused here, naming the variable, before anything opens.
 */
function dataDirectory(env: Env): string | undefined {
  const raw = env.AGENTMESH_DATA_DIR ?? './.agentmesh';
  if (raw === ':memory:') return undefined;
  if (raw.trim() === '') throw new ConfigError("AGENTMESH_DATA_DIR is empty: set it to the mesh's data directory, or to :memory: to keep nothing");
  // The nearest part of the path that exists must be a directory.
  const target = resolve(raw);
  let path = target;
  let found = statOrUndefined(path);
  while (found === undefined && path !== dirname(path)) found = statOrUndefined((path = dirname(path)));
  if (found !== undefined && !found.isDirectory()) {
    throw new ConfigError(`AGENTMESH_DATA_DIR must be a directory or a path where one can be made, but ${path === target ? `'${raw}'` : `'${path}' (on the way to '${raw}')`} is a file`);
  }
  return raw;
}

function redactPaths(env: Env): string[] {
  const raw = env.AGENTMESH_LOG_REDACT;
  if (raw === undefined || raw.trim() === '') return [];
  const paths = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const path of paths) {
    if (!/^[A-Za-z_*][A-Za-z0-9_*]*(\.[A-Za-z_*][A-Za-z0-9_*]*|\[\*\])*$/u.test(path)) {
      throw new ConfigError(`AGENTMESH_LOG_REDACT must be comma-separated field paths such as body.input.email or body.tasks[*].input.ssn, got '${path}'`);
    }
  }
  return paths;
}

/** A URL as it may be shown: the password replaced. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function checkUrl(name: string, raw: string, protocols: readonly string[], example: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a URL (expected e.g. ${example})`);
  }
  if (!protocols.includes(url.protocol) || url.hostname === '') {
    throw new ConfigError(`${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL with a host (e.g. ${example}), got '${redactUrl(raw)}'`);
  }
}

function serviceUrl(env: Env, name: string, protocols: readonly string[], example: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  checkUrl(name, raw, protocols, example);
  return raw;
}

/** The OTLP endpoints, when set, are http(s) URLs: the exporter would drop every span quietly otherwise. */
function checkOtlpEndpoints(env: Env): void {
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) serviceUrl(env, name, ['http:', 'https:'], 'http://otel-collector.internal:4318');
}

/** A comma-separated list of URLs (a cluster's seed servers), each checked. */
function serviceUrls(env: Env, name: string, protocols: readonly string[], example: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  for (const part of raw.split(',')) checkUrl(name, part.trim(), protocols, example);
  return raw;
}

function siemSettings(env: Env): AgentMeshConfig['siem'] {
  const syslog = serviceUrl(env, 'AGENTMESH_SIEM_SYSLOG_URL', ['tcp:', 'tls:'], 'tls://siem.internal:6514');
  if (syslog !== undefined && new URL(syslog).port === '') throw new ConfigError(`AGENTMESH_SIEM_SYSLOG_URL needs a port (e.g. tls://siem.internal:6514), got '${redactUrl(syslog)}'`);
  const webhookUrl = serviceUrl(env, 'AGENTMESH_SIEM_WEBHOOK_URL', ['https:'], 'https://splunk.internal:8088/services/collector/event');
  for (const name of ['AGENTMESH_SIEM_WEBHOOK_AUTHORIZATION', 'AGENTMESH_SIEM_WEBHOOK_FORMAT']) {
    if (env[name] !== undefined && env[name] !== '' && webhookUrl === undefined) throw new ConfigError(`${name} is set but AGENTMESH_SIEM_WEBHOOK_URL is not`);
  }
  return {
    syslogUrl: syslog,
    webhook:
      webhookUrl !== undefined
        ? { url: webhookUrl, authorization: env.AGENTMESH_SIEM_WEBHOOK_AUTHORIZATION || undefined, format: oneOf(env, 'AGENTMESH_SIEM_WEBHOOK_FORMAT', 'ocsf', ['ocsf', 'splunk-hec'] as const) }
        : undefined,
    caFile: env.AGENTMESH_SIEM_CA_FILE || undefined,
    authFailureThreshold: integer(env, 'AGENTMESH_SIEM_AUTH_FAILURE_THRESHOLD', 5, 1, 100_000),
    authFailureWindowMs: integer(env, 'AGENTMESH_SIEM_AUTH_FAILURE_WINDOW_SECONDS', 60, 1, 86_400) * 1000,
  };
}

export function loadConfig(env: Env = process.env): AgentMeshConfig {
  checkOtlpEndpoints(env);
  const redisUrl = serviceUrl(env, 'AGENTMESH_REDIS_URL', ['redis:', 'rediss:'], 'redis://redis.internal:6379');
  const redisPrefix = env.AGENTMESH_REDIS_PREFIX ?? 'agentmesh';
  if (env.AGENTMESH_REDIS_PREFIX !== undefined && redisUrl === undefined) throw new ConfigError('AGENTMESH_REDIS_PREFIX is set but AGENTMESH_REDIS_URL is not: set both, or neither');
  if (!/^[A-Za-z0-9_.-]{1,64}$/u.test(redisPrefix)) throw new ConfigError(`AGENTMESH_REDIS_PREFIX must be 1-64 letters, digits, '_', '.' or '-', got '${redisPrefix}'`);
  const natsUrl = serviceUrls(env, 'AGENTMESH_NATS_URL', ['nats:', 'tls:'], 'nats://nats.internal:4222');
  const natsNamespace = env.AGENTMESH_NATS_NAMESPACE ?? '';
  if (natsNamespace !== '' && natsUrl === undefined) throw new ConfigError('AGENTMESH_NATS_NAMESPACE is set but AGENTMESH_NATS_URL is not: set both, or neither');
  if (natsNamespace !== '' && !/^[A-Za-z0-9_-]{1,64}$/u.test(natsNamespace)) {
    throw new ConfigError(`AGENTMESH_NATS_NAMESPACE must be 1-64 letters, digits, '_' or '-', got '${natsNamespace}'`);
  }
  const databaseUrl = serviceUrl(env, 'AGENTMESH_DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://agentmesh@db.internal:5432/agentmesh');
  const adminKey = env.AGENTMESH_ADMIN_KEY;
  if (adminKey !== undefined && adminKey.length < 16) throw new ConfigError('AGENTMESH_ADMIN_KEY must be at least 16 characters');
  const dataDir = dataDirectory(env);
  const maxInputBytes = integer(env, 'AGENTMESH_MAX_INPUT_BYTES', DEFAULT_TASK_LIMITS.maxInputBytes, 1024, 64 * 1024 * 1024);
  const defaultLeaseMs = integer(env, 'AGENTMESH_DEFAULT_LEASE_MS', DEFAULT_TASK_LIMITS.defaultLeaseMs, 100, 24 * 3600_000);
  const agentBreakerCooldownMs = integer(env, 'AGENTMESH_AGENT_BREAKER_COOLDOWN_MS', DEFAULT_AGENT_BREAKER_SETTINGS.cooldownMs, 100, 3600_000);
  const cacheEnabled = oneOf(env, 'AGENTMESH_CACHE', 'on', ['on', 'off'] as const) === 'on';
  const retryBaseMs = integer(env, 'AGENTMESH_RETRY_BASE_MS', DEFAULT_MESH_SETTINGS.retryBaseMs, 0, 3600_000);
  const retryCapMs = integer(env, 'AGENTMESH_RETRY_CAP_MS', DEFAULT_MESH_SETTINGS.retryCapMs, 0, 24 * 3600_000);
  if (retryCapMs < retryBaseMs) throw new ConfigError(`AGENTMESH_RETRY_CAP_MS (${retryCapMs}) must not be below AGENTMESH_RETRY_BASE_MS (${retryBaseMs})`);
  return {
    host: env.AGENTMESH_HOST || '127.0.0.1',
    port: integer(env, 'AGENTMESH_PORT', 8080, 0, 65535),
    dataDir,
    databaseUrl,
    nats: natsUrl !== undefined ? { url: natsUrl, namespace: natsNamespace } : undefined,
    redis: redisUrl !== undefined ? { url: redisUrl, keyPrefix: redisPrefix } : undefined,
    cache: { ...PLAIN, ...cacheSettings(env), enabled: cacheEnabled },
    // Nothing to warm with the cache off.
    cacheWarming: {
      onStart: cacheEnabled && oneOf(env, 'AGENTMESH_CACHE_WARM_ON_START', 'on', ['on', 'off'] as const) === 'on',
      intervalMs: cacheEnabled ? integer(env, 'AGENTMESH_CACHE_WARM_INTERVAL_SECONDS', DEFAULT_CACHE_WARMING.intervalMs / 1000, 0, 86_400) * 1000 : 0,
    },
    tracing: tracingRequested(env),
    healthCacheMs: integer(env, 'AGENTMESH_HEALTH_CACHE_MS', 5_000, 0, 60_000),
    dependencyPolicies: oneOf(env, 'AGENTMESH_DEPENDENCY_POLICIES', 'on', ['on', 'off'] as const) === 'on',
    metrics: {
      port: env.AGENTMESH_METRICS_PORT ? integer(env, 'AGENTMESH_METRICS_PORT', 9464, 0, 65535) : undefined,
      // Its own host: the API may listen on every interface, the keyless metrics port should not unless asked.
      host: env.AGENTMESH_METRICS_HOST || '127.0.0.1',
      maxTenants: integer(env, 'AGENTMESH_METRICS_MAX_TENANTS', 100, 1, 100_000),
      maxCapabilities: integer(env, 'AGENTMESH_METRICS_MAX_CAPABILITIES', 200, 1, 100_000),
    },
    adminKey: adminKey || undefined,
    logLevel: oneOf(env, 'AGENTMESH_LOG_LEVEL', 'info', LOG_LEVELS),
    logFormat: oneOf(env, 'AGENTMESH_LOG_FORMAT', 'json', ['json', 'pretty'] as const),
    logRedactPaths: redactPaths(env),
    logBodySampleRate: fraction(env, 'AGENTMESH_LOG_BODY_SAMPLE_RATE', 0),
    logRouteSampleRates: routeSampleRates(env),
    bodyLimitBytes: maxInputBytes + 64 * 1024,
    a2a: {
      maxStreamsPerTenant: integer(env, 'AGENTMESH_A2A_MAX_STREAMS_PER_TENANT', 100, 1, 100_000),
      publicUrl: serviceUrl(env, 'AGENTMESH_PUBLIC_URL', ['http:', 'https:'], 'https://mesh.example.com'),
      allowedHosts: a2aAllowedHosts(env),
    },
    siem: siemSettings(env),
    secrets: secretSettings(env),
    http: httpSettings(env),
    rateLimits: {
      perKey: integer(env, 'AGENTMESH_RATE_LIMIT_PER_KEY', 60_000, 0, 100_000_000),
      perTenant: integer(env, 'AGENTMESH_RATE_LIMIT_PER_TENANT', 300_000, 0, 1_000_000_000),
    },
    authFailuresPerAddress: integer(env, 'AGENTMESH_AUTH_FAILURES_PER_ADDRESS', 60, 0, 1_000_000),
    audit: {
      signingKeyFile: env.AGENTMESH_AUDIT_SIGNING_KEY_FILE || undefined,
      checkpointIntervalMs: integer(env, 'AGENTMESH_AUDIT_CHECKPOINT_SECONDS', 60, 1, 86_400) * 1000,
      authSuccessIntervalMs: integer(env, 'AGENTMESH_AUDIT_AUTH_SUCCESS_SECONDS', 300, 0, 86_400) * 1000,
      pruneIntervalMs: integer(env, 'AGENTMESH_AUDIT_PRUNE_SECONDS', 3600, 10, 604_800) * 1000,
    },
    mesh: {
      ...PLAIN,
      ...DEFAULT_MESH_SETTINGS,
      heartbeatTimeoutMs: integer(env, 'AGENTMESH_HEARTBEAT_TIMEOUT_MS', DEFAULT_MESH_SETTINGS.heartbeatTimeoutMs, 100, 3600_000),
      sweepIntervalMs: integer(env, 'AGENTMESH_SWEEP_INTERVAL_MS', DEFAULT_MESH_SETTINGS.sweepIntervalMs, 10, 60_000),
      retryBaseMs,
      retryCapMs,
      maxQueuedPerTenant: integer(env, 'AGENTMESH_MAX_QUEUED_PER_TENANT', DEFAULT_MESH_SETTINGS.maxQueuedPerTenant, 1, 10_000_000),
      maxTaskWaitsPerTenant: integer(env, 'AGENTMESH_MAX_TASK_WAITS_PER_TENANT', DEFAULT_MESH_SETTINGS.maxTaskWaitsPerTenant, 1, 1_000_000),
      taskLimits: {
        ...PLAIN,
        ...DEFAULT_TASK_LIMITS,
        maxInputBytes,
        maxOutputBytes: maxInputBytes,
        defaultLeaseMs,
        defaultMaxAttempts: integer(env, 'AGENTMESH_MAX_ATTEMPTS', DEFAULT_TASK_LIMITS.defaultMaxAttempts, 1, 100),
      },
      agentLimits: DEFAULT_AGENT_LIMITS,
      skillResults: {
        enabled: oneOf(env, 'AGENTMESH_CACHE_RESULTS', 'off', ['on', 'off'] as const) === 'on',
        maxEntryBytes: integer(env, 'AGENTMESH_CACHE_RESULT_MAX_BYTES', DEFAULT_SKILL_RESULTS.maxEntryBytes, 16, 16 * 1024 * 1024),
      },
      agentBreaker: {
        failureThreshold: integer(env, 'AGENTMESH_AGENT_BREAKER_FAILURES', DEFAULT_AGENT_BREAKER_SETTINGS.failureThreshold, 0, 1000),
        cooldownMs: agentBreakerCooldownMs,
        maxCooldownMs: Math.max(agentBreakerCooldownMs, DEFAULT_AGENT_BREAKER_SETTINGS.maxCooldownMs),
        failureRatio: fraction(env, 'AGENTMESH_AGENT_BREAKER_FAILURE_RATIO', DEFAULT_AGENT_BREAKER_SETTINGS.failureRatio),
        maxEjectionPercent: integer(env, 'AGENTMESH_AGENT_BREAKER_MAX_EJECTION_PERCENT', DEFAULT_AGENT_BREAKER_SETTINGS.maxEjectionPercent, 0, 100),
      },
    },
  };
}

/**
 * Tracing is on when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED is not true.
 */
function tracingRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}
