/**
 * Every AGENTMESH_* variable AgentMesh reads (the mesh, the CLI, the benchmarks and the test
 * suites), so that a misspelt one is reported instead of silently ignored. A unit test keeps this
 * list equal to the names the sources read.
 */
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set([
  'AGENTMESH_A2A_ALLOWED_HOSTS',
  'AGENTMESH_A2A_MAX_STREAMS_PER_TENANT',
  'AGENTMESH_ADMIN_KEY',
  'AGENTMESH_AGENT_BREAKER_COOLDOWN_MS',
  'AGENTMESH_AGENT_BREAKER_FAILURES',
  'AGENTMESH_AGENT_BREAKER_FAILURE_RATIO',
  'AGENTMESH_AGENT_BREAKER_MAX_EJECTION_PERCENT',
  'AGENTMESH_API_KEY',
  'AGENTMESH_AUDIT_AUTH_SUCCESS_SECONDS',
  'AGENTMESH_AUDIT_CHECKPOINT_SECONDS',
  'AGENTMESH_AUDIT_PRUNE_SECONDS',
  'AGENTMESH_AUDIT_SIGNING_KEY_FILE',
  'AGENTMESH_AUTH_FAILURES_PER_ADDRESS',
  'AGENTMESH_CACHE',
  'AGENTMESH_CACHE_GRACE_SECONDS',
  'AGENTMESH_CACHE_MAX_BYTES',
  'AGENTMESH_CACHE_MAX_ENTRIES',
  'AGENTMESH_CACHE_RESULTS',
  'AGENTMESH_CACHE_RESULT_MAX_BYTES',
  'AGENTMESH_CACHE_TTL_AGENT_SECONDS',
  'AGENTMESH_CACHE_TTL_API_KEY_SECONDS',
  'AGENTMESH_CACHE_TTL_MESSAGE_SECONDS',
  'AGENTMESH_CACHE_TTL_TENANT_SECONDS',
  'AGENTMESH_CACHE_WARM_INTERVAL_SECONDS',
  'AGENTMESH_CACHE_WARM_ON_START',
  'AGENTMESH_CHROMIUM_PATH',
  'AGENTMESH_CORS_ORIGINS',
  'AGENTMESH_DATABASE_URL',
  'AGENTMESH_DATA_DIR',
  'AGENTMESH_DEFAULT_LEASE_MS',
  'AGENTMESH_DEPENDENCY_POLICIES',
  'AGENTMESH_HEALTH_CACHE_MS',
  'AGENTMESH_HEARTBEAT_TIMEOUT_MS',
  'AGENTMESH_HOST',
  'AGENTMESH_LOG_BODY_SAMPLE_RATE',
  'AGENTMESH_LOG_FORMAT',
  'AGENTMESH_LOG_LEVEL',
  'AGENTMESH_LOG_REDACT',
  'AGENTMESH_LOG_SAMPLE_ROUTES',
  'AGENTMESH_MASTER_KEY',
  'AGENTMESH_MASTER_KEY_FILE',
  'AGENTMESH_MAX_ATTEMPTS',
  'AGENTMESH_MAX_INPUT_BYTES',
  'AGENTMESH_MAX_INBOX_CONNECTIONS_PER_AGENT',
  'AGENTMESH_MAX_QUEUED_PER_TENANT',
  'AGENTMESH_MAX_TASK_WAITS_PER_TENANT',
  'AGENTMESH_METRICS_HOST',
  'AGENTMESH_METRICS_MAX_CAPABILITIES',
  'AGENTMESH_METRICS_MAX_TENANTS',
  'AGENTMESH_METRICS_PORT',
  'AGENTMESH_NATS_NAMESPACE',
  'AGENTMESH_NATS_URL',
  'AGENTMESH_PORT',
  'AGENTMESH_PUBLIC_URL',
  'AGENTMESH_RATE_LIMIT_PER_KEY',
  'AGENTMESH_RATE_LIMIT_PER_TENANT',
  'AGENTMESH_REDIS_PREFIX',
  'AGENTMESH_REDIS_URL',
  'AGENTMESH_REQUEST_TIMEOUT_MS',
  'AGENTMESH_RETRY_BASE_MS',
  'AGENTMESH_RETRY_CAP_MS',
  'AGENTMESH_SIEM_AUTH_FAILURE_THRESHOLD',
  'AGENTMESH_SIEM_AUTH_FAILURE_WINDOW_SECONDS',
  'AGENTMESH_SIEM_CA_FILE',
  'AGENTMESH_SIEM_SYSLOG_URL',
  'AGENTMESH_SIEM_WEBHOOK_AUTHORIZATION',
  'AGENTMESH_SIEM_WEBHOOK_FORMAT',
  'AGENTMESH_SIEM_WEBHOOK_URL',
  'AGENTMESH_SWEEP_INTERVAL_MS',
  'AGENTMESH_TLS_CERT',
  'AGENTMESH_TLS_KEY',
  'AGENTMESH_TRUST_PROXY',
  'AGENTMESH_URL',
  // Read by the benchmarks (bench/) and the test suites (test/).
  'AGENTMESH_BENCH_NATS_URL',
  'AGENTMESH_BENCH_POSTGRES_URL',
  'AGENTMESH_BENCH_REDIS_URL',
  'AGENTMESH_CHAOS_AGENT',
  'AGENTMESH_TEST_NATS_URL',
  'AGENTMESH_TEST_POSTGRES_URL',
  'AGENTMESH_TEST_REDIS_URL',
]);

/** Edits (insert, delete, substitute) from a to b. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** Words (between underscores) two names share from the start. */
function sharedWords(a: string, b: string): number {
  const x = a.split('_');
  const y = b.split('_');
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return n;
}

/** The known name a misspelt one most likely meant: a few edits away, or else the only one sharing its first words. */
function closestKnown(name: string): string | undefined {
  let closest: string | undefined;
  let best = Infinity;
  for (const known of KNOWN_VARIABLES) {
    const distance = editDistance(name, known);
    if (distance < best) [best, closest] = [distance, known];
  }
  if (best <= Math.max(3, Math.floor(name.length / 5))) return closest;
  // AGENTMESH_ and two more words in common, e.g. AGENTMESH_AUDIT_CHECKPOINT_INTERVAL_MS for AGENTMESH_AUDIT_CHECKPOINT_SECONDS.
  const sharing = [...KNOWN_VARIABLES].filter((known) => sharedWords(name, known) >= 3);
  return sharing.length === 1 ? sharing[0] : undefined;
}

/** One line per AGENTMESH_* variable in `env` that AgentMesh does not read, with the closest known name when there is one. */
export function unknownVariableWarnings(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('AGENTMESH_') && !KNOWN_VARIABLES.has(name))
    .map((name) => {
      const closest = closestKnown(name);
      return `${name} is not a setting AgentMesh reads; it is ignored${closest !== undefined ? ` (did you mean ${closest}?)` : ''}`;
    });
}

/**
 * One line per AgentMesh variable set to an empty value, which counts as unset: `AGENTMESH_PORT=$PORT`
 * with PORT unset takes the default port, and says so. AGENTMESH_DATA_DIR is refused instead (config.ts).
 */
export function emptyVariableWarnings(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter((name) => KNOWN_VARIABLES.has(name) && name !== 'AGENTMESH_DATA_DIR' && env[name]?.trim() === '')
    .map((name) => `${name} is set but empty, which counts as unset: its default is used`);
}
