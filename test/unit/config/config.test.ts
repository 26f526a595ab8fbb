import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';

const fails = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('loadConfig', () => {
  it('takes the defaults from an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, dataDir: './.agentmesh', databaseUrl: undefined, nats: undefined });
  });

  it.each(['0x5', '2.0', '1e3', ' ', '5ms', '-'])('refuses %j as an integer, naming the variable', (raw) => {
    expect(fails({ AGENTMESH_MAX_ATTEMPTS: raw })).toMatch(/^AGENTMESH_MAX_ATTEMPTS must be an integer from 1 to 100/);
  });

  it('takes the resilience settings, and refuses values out of range', () => {
    expect(loadConfig({})).toMatchObject({
      dependencyPolicies: true,
      mesh: { agentBreaker: { failureThreshold: 5, cooldownMs: 30_000, maxCooldownMs: 600_000, failureRatio: 0.5, maxEjectionPercent: 50 } },
    });
    expect(loadConfig({ AGENTMESH_AGENT_BREAKER_FAILURE_RATIO: '0', AGENTMESH_AGENT_BREAKER_MAX_EJECTION_PERCENT: '100' })).toMatchObject({
      mesh: { agentBreaker: { failureRatio: 0, maxEjectionPercent: 100 } },
    });
    expect(loadConfig({ AGENTMESH_DEPENDENCY_POLICIES: 'off', AGENTMESH_AGENT_BREAKER_FAILURES: '0', AGENTMESH_AGENT_BREAKER_COOLDOWN_MS: '900000' })).toMatchObject({
      dependencyPolicies: false,
      mesh: { agentBreaker: { failureThreshold: 0, cooldownMs: 900_000, maxCooldownMs: 900_000 } },
    });
    expect(fails({ AGENTMESH_DEPENDENCY_POLICIES: 'maybe' })).toMatch(/^AGENTMESH_DEPENDENCY_POLICIES must be one of on, off, got 'maybe'/);
    expect(fails({ AGENTMESH_AGENT_BREAKER_FAILURES: '-1' })).toMatch(/^AGENTMESH_AGENT_BREAKER_FAILURES must be an integer from 0 to 1000/);
    expect(fails({ AGENTMESH_AGENT_BREAKER_COOLDOWN_MS: '5' })).toMatch(/^AGENTMESH_AGENT_BREAKER_COOLDOWN_MS must be an integer from 100 to 3600000/);
    expect(fails({ AGENTMESH_AGENT_BREAKER_FAILURE_RATIO: '1.5' })).toMatch(/^AGENTMESH_AGENT_BREAKER_FAILURE_RATIO must be a number from 0 to 1, got '1.5'/);
    expect(fails({ AGENTMESH_AGENT_BREAKER_MAX_EJECTION_PERCENT: '150' })).toMatch(/^AGENTMESH_AGENT_BREAKER_MAX_EJECTION_PERCENT must be an integer from 0 to 100/);
  });

  it('takes the failed-authentication limit and the trusted proxies, and refuses what it cannot use', () => {
    expect(loadConfig({})).toMatchObject({ authFailuresPerAddress: 60, http: { trustProxy: undefined } });
    expect(loadConfig({ AGENTMESH_AUTH_FAILURES_PER_ADDRESS: '0', AGENTMESH_TRUST_PROXY: 'true' })).toMatchObject({ authFailuresPerAddress: 0, http: { trustProxy: true } });
    expect(loadConfig({ AGENTMESH_TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ AGENTMESH_TRUST_PROXY: 'false' }).http.trustProxy).toBeUndefined();
    expect(loadConfig({ AGENTMESH_TRUST_PROXY: ' 10.0.0.0/8, 127.0.0.1,::1 , fd00::/8' }).http.trustProxy).toBe('10.0.0.0/8,127.0.0.1,::1,fd00::/8');
    expect(fails({ AGENTMESH_AUTH_FAILURES_PER_ADDRESS: '-1' })).toMatch(/^AGENTMESH_AUTH_FAILURES_PER_ADDRESS must be an integer from 0 to 1000000/);
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.1/8/2', '1.2.3', 'yes']) {
      expect(fails({ AGENTMESH_TRUST_PROXY: bad })).toMatch(/^AGENTMESH_TRUST_PROXY: '.*' is not an address or CIDR range/);
    }
  });

  it('takes the hosts remote A2A agents may be at besides public addresses, and refuses an entry it cannot read', () => {
    expect(loadConfig({}).a2a.allowedHosts).toEqual([]);
    expect(loadConfig({ AGENTMESH_A2A_ALLOWED_HOSTS: 'agents.internal, 10.0.0.0/8,127.0.0.1,::1' }).a2a.allowedHosts).toEqual(['agents.internal', '10.0.0.0/8', '127.0.0.1', '::1']);
    for (const bad of ['http://agents.internal', '10.0.0.0/40', 'a b', 'agents.internal:8080']) {
      expect(fails({ AGENTMESH_A2A_ALLOWED_HOSTS: bad })).toMatch(/^AGENTMESH_A2A_ALLOWED_HOSTS: '.*' is not a host name, an address or a CIDR range/);
    }
  });

  it('turns the cache off (and its warming with it) only when asked, to measure it', () => {
    expect(loadConfig({})).toMatchObject({ cache: { enabled: true }, cacheWarming: { onStart: true } });
    expect(loadConfig({ AGENTMESH_CACHE: 'off' })).toMatchObject({ cache: { enabled: false }, cacheWarming: { onStart: false, intervalMs: 0 } });
    expect(fails({ AGENTMESH_CACHE: 'no' })).toMatch(/^AGENTMESH_CACHE must be one of on, off, got 'no'/);
  });

  it('takes the log settings, and refuses a format, a redaction path or a sample rate it cannot use', () => {
    const config = loadConfig({ AGENTMESH_LOG_FORMAT: 'pretty', AGENTMESH_LOG_REDACT: 'body.input.email, body.tasks[*].input.ssn', AGENTMESH_LOG_BODY_SAMPLE_RATE: '0.25' });
    expect(config).toMatchObject({ logFormat: 'pretty', logRedactPaths: ['body.input.email', 'body.tasks[*].input.ssn'], logBodySampleRate: 0.25 });
    expect(loadConfig({})).toMatchObject({ logFormat: 'json', logRedactPaths: [], logBodySampleRate: 0 });
    expect(fails({ AGENTMESH_LOG_FORMAT: 'xml' })).toMatch(/^AGENTMESH_LOG_FORMAT must be one of json, pretty, got 'xml'/);
    expect(fails({ AGENTMESH_LOG_REDACT: 'body.input.email,bad path' })).toMatch(/^AGENTMESH_LOG_REDACT must be comma-separated field paths .* got 'bad path'/);
    for (const raw of ['1.5', '-0.1', 'half', '1e-2']) expect(fails({ AGENTMESH_LOG_BODY_SAMPLE_RATE: raw })).toMatch(/^AGENTMESH_LOG_BODY_SAMPLE_RATE must be a number from 0 to 1/);
  });

  it('turns tracing on with an OTLP endpoint, and refuses one that is not an http(s) URL', () => {
    expect(loadConfig({}).tracing).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toBe(true);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBe(false);
    expect(fails({ OTEL_EXPORTER_OTLP_ENDPOINT: 'notaurl' })).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT is not a URL \(expected e\.g\. http:\/\/otel-collector\.internal:4318\)/);
    expect(fails({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' })).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be a http:\/\/ or https:\/\/ URL/);
  });

  it('takes master keys (comma-separated, first current) or a key file, never both, and refuses a malformed key without showing it', () => {
    const [a, b] = [Buffer.alloc(32, 1).toString('base64'), Buffer.alloc(32, 2).toString('base64')];
    expect(loadConfig({ AGENTMESH_MASTER_KEY: `${a},${b}` }).secrets.masterKeys?.map((k) => k.toString('base64'))).toEqual([a, b]);
    expect(loadConfig({ AGENTMESH_MASTER_KEY_FILE: '/etc/agentmesh/master-keys' }).secrets).toEqual({ masterKeys: undefined, masterKeyFile: '/etc/agentmesh/master-keys' });
    expect(loadConfig({}).secrets).toEqual({ masterKeys: undefined, masterKeyFile: undefined });
    expect(fails({ AGENTMESH_MASTER_KEY: a, AGENTMESH_MASTER_KEY_FILE: '/k' })).toBe('AGENTMESH_MASTER_KEY and AGENTMESH_MASTER_KEY_FILE are both set: set one');
    const short = Buffer.alloc(31, 3).toString('base64');
    const message = fails({ AGENTMESH_MASTER_KEY: `${a},${short}` });
    expect(message).toBe('AGENTMESH_MASTER_KEY: key 2 is not base64 of 32 bytes (make one with: openssl rand -base64 32)');
  });

  it('takes TLS files in pairs, CORS origins as origins, a request timeout, and the bounds on requests that stay open', () => {
    expect(loadConfig({}).http).toEqual({ tls: undefined, corsOrigins: [], requestTimeoutMs: 30_000, trustProxy: undefined, maxInboxConnectionsPerAgent: 4 });
    expect(loadConfig({}).mesh.maxTaskWaitsPerTenant).toBe(10_000);
    expect(loadConfig({ AGENTMESH_MAX_INBOX_CONNECTIONS_PER_AGENT: '1', AGENTMESH_MAX_TASK_WAITS_PER_TENANT: '50' })).toMatchObject({ http: { maxInboxConnectionsPerAgent: 1 }, mesh: { maxTaskWaitsPerTenant: 50 } });
    expect(fails({ AGENTMESH_MAX_INBOX_CONNECTIONS_PER_AGENT: '0' })).toMatch(/^AGENTMESH_MAX_INBOX_CONNECTIONS_PER_AGENT must be an integer from 1 to 64/u);
    expect(fails({ AGENTMESH_MAX_TASK_WAITS_PER_TENANT: '0' })).toMatch(/^AGENTMESH_MAX_TASK_WAITS_PER_TENANT must be an integer from 1 to 1000000/u);
    expect(loadConfig({ AGENTMESH_TLS_CERT: '/c.pem', AGENTMESH_TLS_KEY: '/k.pem' }).http.tls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem' });
    expect(fails({ AGENTMESH_TLS_KEY: '/k.pem' })).toBe('AGENTMESH_TLS_CERT and AGENTMESH_TLS_KEY go together: set both (PEM files), or neither');
    expect(loadConfig({ AGENTMESH_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000' }).http.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(loadConfig({ AGENTMESH_CORS_ORIGINS: '*' }).http.corsOrigins).toEqual(['*']);
    expect(loadConfig({}).a2a).toEqual({ maxStreamsPerTenant: 100, publicUrl: undefined, allowedHosts: [] });
    expect(loadConfig({ AGENTMESH_PUBLIC_URL: 'https://mesh.example.com/base/', AGENTMESH_A2A_MAX_STREAMS_PER_TENANT: '7' }).a2a).toEqual({ maxStreamsPerTenant: 7, publicUrl: 'https://mesh.example.com/base/', allowedHosts: [] });
    expect(fails({ AGENTMESH_PUBLIC_URL: 'ftp://mesh.example.com' })).toMatch(/AGENTMESH_PUBLIC_URL/);
    expect(fails({ AGENTMESH_A2A_MAX_STREAMS_PER_TENANT: '0' })).toMatch(/AGENTMESH_A2A_MAX_STREAMS_PER_TENANT/);
    expect(fails({ AGENTMESH_CORS_ORIGINS: 'app.example.com' })).toBe("AGENTMESH_CORS_ORIGINS: 'app.example.com' is not an origin such as https://app.example.com (or * for any)");
    expect(fails({ AGENTMESH_CORS_ORIGINS: 'https://app.example.com/path' })).toBe("AGENTMESH_CORS_ORIGINS: 'https://app.example.com/path' is not an origin: scheme, host and port only, such as https://app.example.com");
    expect(fails({ AGENTMESH_CORS_ORIGINS: '*, https://a.example' })).toBe("AGENTMESH_CORS_ORIGINS: '*' allows every origin; list origins, or give '*' alone");
    expect(loadConfig({ AGENTMESH_REQUEST_TIMEOUT_MS: '5000' }).http.requestTimeoutMs).toBe(5000);
    expect(fails({ AGENTMESH_REQUEST_TIMEOUT_MS: '10' })).toMatch(/AGENTMESH_REQUEST_TIMEOUT_MS/u);
  });

  it('takes a data directory that exists or can be made, and refuses one that is or runs through a file, or is empty', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'agentmesh-config-'));
    try {
      const file = join(scratch, 'a-file');
      writeFileSync(file, '');
      mkdirSync(join(scratch, 'a-dir'));
      expect(loadConfig({ AGENTMESH_DATA_DIR: join(scratch, 'a-dir') }).dataDir).toBe(join(scratch, 'a-dir'));
      expect(loadConfig({ AGENTMESH_DATA_DIR: join(scratch, 'not-yet', 'made') }).dataDir).toBe(join(scratch, 'not-yet', 'made'));
      expect(loadConfig({ AGENTMESH_DATA_DIR: ':memory:' }).dataDir).toBeUndefined();
      expect(fails({ AGENTMESH_DATA_DIR: file })).toBe(`AGENTMESH_DATA_DIR must be a directory or a path where one can be made, but '${file}' is a file`);
      expect(fails({ AGENTMESH_DATA_DIR: join(file, 'sub', 'dir') })).toBe(`AGENTMESH_DATA_DIR must be a directory or a path where one can be made, but '${file}' (on the way to '${join(file, 'sub', 'dir')}') is a file`);
      expect(fails({ AGENTMESH_DATA_DIR: '' })).toMatch(/^AGENTMESH_DATA_DIR is empty/u);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('refuses a retry cap below the retry base', () => {
    expect(fails({ AGENTMESH_RETRY_BASE_MS: '5000', AGENTMESH_RETRY_CAP_MS: '10' })).toMatch(/AGENTMESH_RETRY_CAP_MS \(10\) must not be below AGENTMESH_RETRY_BASE_MS \(5000\)/);
  });

  it('takes the production backends, and refuses half or malformed settings of them', () => {
    const config = loadConfig({ AGENTMESH_DATABASE_URL: 'postgres://u:p@db:5432/am', AGENTMESH_NATS_URL: 'nats://a:4222,nats://b:4222', AGENTMESH_NATS_NAMESPACE: 'prod' });
    expect(config.databaseUrl).toBe('postgres://u:p@db:5432/am');
    expect(config.nats).toEqual({ url: 'nats://a:4222,nats://b:4222', namespace: 'prod' });
    expect(fails({ AGENTMESH_NATS_NAMESPACE: 'orphan' })).toMatch(/AGENTMESH_NATS_NAMESPACE is set but AGENTMESH_NATS_URL is not/);
    expect(fails({ AGENTMESH_NATS_URL: 'http://a:4222' })).toMatch(/AGENTMESH_NATS_URL must be a nats:\/\/ or tls:\/\/ URL/);
    expect(fails({ AGENTMESH_DATABASE_URL: 'mysql://secret:pw@x/db' })).not.toContain('pw@');
    expect(loadConfig({ AGENTMESH_REDIS_URL: 'rediss://:pw@cache:6380/2' }).redis).toEqual({ url: 'rediss://:pw@cache:6380/2', keyPrefix: 'agentmesh' });
    expect(loadConfig({ AGENTMESH_REDIS_URL: 'redis://cache', AGENTMESH_REDIS_PREFIX: 'prod-eu' }).redis).toEqual({ url: 'redis://cache', keyPrefix: 'prod-eu' });
    expect(fails({ AGENTMESH_REDIS_URL: 'http://cache:6379' })).toMatch(/AGENTMESH_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(fails({ AGENTMESH_REDIS_PREFIX: 'orphan' })).toMatch(/AGENTMESH_REDIS_PREFIX is set but AGENTMESH_REDIS_URL is not/);
    expect(fails({ AGENTMESH_REDIS_URL: 'redis://cache', AGENTMESH_REDIS_PREFIX: 'a b' })).toMatch(/AGENTMESH_REDIS_PREFIX must be 1-64/);
  });

  it("takes the cache's TTLs per kind (seconds) and its memory bounds, and refuses values out of range", () => {
    expect(loadConfig({}).cache).toEqual({
      ttlsMs: { agent: 300_000, message: 60_000, tenant_config: 3_600_000, api_key: 30_000, skill_result: 86_400_000 },
      l1: { maxEntries: 10_000, maxBytes: 32 * 1024 * 1024 },
      graceMs: 300_000,
      enabled: true,
    });
    expect(loadConfig({ AGENTMESH_CACHE_GRACE_SECONDS: '0' }).cache.graceMs).toBe(0);
    expect(fails({ AGENTMESH_CACHE_GRACE_SECONDS: '-5' })).toMatch(/^AGENTMESH_CACHE_GRACE_SECONDS must be an integer from 0 to 86400/);
    expect(fails({ AGENTMESH_CACHE_GRACE_SECONDS: '1.5' })).toMatch(/AGENTMESH_CACHE_GRACE_SECONDS/);
    const set = loadConfig({ AGENTMESH_CACHE_TTL_TENANT_SECONDS: '600', AGENTMESH_CACHE_TTL_API_KEY_SECONDS: '5', AGENTMESH_CACHE_MAX_ENTRIES: '500', AGENTMESH_CACHE_MAX_BYTES: '1048576' }).cache;
    expect(set).toMatchObject({ ttlsMs: { tenant_config: 600_000, api_key: 5_000 }, l1: { maxEntries: 500, maxBytes: 1_048_576 } });
    expect(fails({ AGENTMESH_CACHE_TTL_API_KEY_SECONDS: '0' })).toMatch(/AGENTMESH_CACHE_TTL_API_KEY_SECONDS must be an integer from 1 to 3600/);
    expect(fails({ AGENTMESH_CACHE_MAX_BYTES: '10' })).toMatch(/AGENTMESH_CACHE_MAX_BYTES/);
  });

  it('keeps skill results only when AGENTMESH_CACHE_RESULTS=on, each up to AGENTMESH_CACHE_RESULT_MAX_BYTES; bad values are refused naming the variable', () => {
    expect(loadConfig({}).mesh.skillResults).toEqual({ enabled: false, maxEntryBytes: 65_536 });
    expect(loadConfig({ AGENTMESH_CACHE_RESULTS: 'on', AGENTMESH_CACHE_RESULT_MAX_BYTES: '1024' }).mesh.skillResults).toEqual({ enabled: true, maxEntryBytes: 1024 });
    expect(fails({ AGENTMESH_CACHE_RESULTS: 'true' })).toMatch(/^AGENTMESH_CACHE_RESULTS must be one of on, off, got 'true'$/);
    expect(fails({ AGENTMESH_CACHE_RESULT_MAX_BYTES: '0' })).toMatch(/^AGENTMESH_CACHE_RESULT_MAX_BYTES must be an integer from 16 to 16777216/);
    expect(fails({ AGENTMESH_CACHE_RESULT_MAX_BYTES: '64k' })).toMatch(/AGENTMESH_CACHE_RESULT_MAX_BYTES/);
  });

  it('warms the cache at start and every 5 minutes by default; each can be turned off, and bad values are refused naming the variable', () => {
    expect(loadConfig({}).cacheWarming).toEqual({ onStart: true, intervalMs: 300_000 });
    expect(loadConfig({ AGENTMESH_CACHE_WARM_ON_START: 'off', AGENTMESH_CACHE_WARM_INTERVAL_SECONDS: '0' }).cacheWarming).toEqual({ onStart: false, intervalMs: 0 });
    expect(loadConfig({ AGENTMESH_CACHE_WARM_INTERVAL_SECONDS: '60' }).cacheWarming.intervalMs).toBe(60_000);
    expect(fails({ AGENTMESH_CACHE_WARM_ON_START: 'yes' })).toMatch(/^AGENTMESH_CACHE_WARM_ON_START must be one of on, off, got 'yes'$/);
    expect(fails({ AGENTMESH_CACHE_WARM_INTERVAL_SECONDS: '-1' })).toMatch(/^AGENTMESH_CACHE_WARM_INTERVAL_SECONDS must be an integer from 0 to 86400/);
    expect(fails({ AGENTMESH_CACHE_WARM_INTERVAL_SECONDS: '5m' })).toMatch(/AGENTMESH_CACHE_WARM_INTERVAL_SECONDS/);
    expect(fails({ AGENTMESH_CACHE_WARM_INTERVAL_SECONDS: '86401' })).toMatch(/AGENTMESH_CACHE_WARM_INTERVAL_SECONDS/);
  });
});
