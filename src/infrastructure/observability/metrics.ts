import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { traceIdOf, type Agent, type Task } from '../../domain/index.js';
import type { MeshMetrics, RemoteCallOutcome, SecretAccessOutcome } from '../../application/ports.js';
import type { ResilienceRegistry } from '../resilience/observer.js';
import { BoundedLabel, ScopedBoundedLabel } from './bounded-label.js';
import { observeResilience } from './resilience-metrics.js';
import { observeCache, type ObservedCache } from './cache-metrics.js';
import { PLAIN } from '../../domain/plain.js';

export interface MetricsOptions {
  /** Distinct tenants named in labels; the rest are `other`. */
  maxTenants: number;
  /** Distinct capabilities named in labels; the rest are `other`. */
  maxCapabilities: number;
}

export const DEFAULT_METRICS_OPTIONS: MetricsOptions = { maxTenants: 100, maxCapabilities: 200 };

/** What the registry reads at each scrape from the running mesh. */
export interface MeshGaugeSource {
  queuedByTenant(): Iterable<[string, number]>;
  liveAgentsByTenant(): Iterable<[string, number]>;
  /** Agents whose circuit breaker is open or half-open, per tenant (on the leader). */
  trippedAgentsByTenant(): Iterable<[string, number]>;
  leasesHeld(): number;
  taskWaiters(): number;
  storeWriteQueue(): number;
  /** Uses of the embedded database waiting for their turn, the one running included (0 on PostgreSQL). */
  embeddedDatabaseQueue(): number;
  /** The audit log's counts, monotonic in this process. */
  audit: { writeQueue(): number; appended(): number; failed(): number; anonymousDropped(): number; projected(): number; checkpoints(): number };
  /** The secret store's memory: sealed current versions cached (bytes, bounded), and unwrapped tenant keys held (bounded, expiring). */
  secrets: { cachedBytes(): number; tenantKeysCached(): number; subjectKeysCached(): number; personalSealsReusable(): number };
  /** Sources whose failed authentications are counted for burst alerts now (bounded), and those forgotten at the bound. */
  alertBurstSources(): { tracked: number; evicted: number };
  /** Each SIEM sink's alerts sent, failed (deliveries to retry), dropped (its queue was full), and waiting. */
  siem(): Array<{ sink: string; sent: number; failed: number; dropped: number; queued: number }>;
  role(): 'standalone' | 'leader' | 'follower';
  /** Rate limits and quotas count on this instance alone: the shared counters (Redis) are unavailable. */
  countersDegraded(): boolean;
  /** Addresses this instance refuses for their failed authentications (bounded). */
  authBlockedAddresses(): number;
  /** Addresses with authentications under way on this instance (bounded). */
  authAddressesInFlight(): number;
  /** Sliding windows counted in this instance's memory (alone, or while Redis is away), each map bounded at 100,000. */
  localCounterWindows(): { rateLimits: number; authFailures: number };
  /** Messages held by the in-memory broker, ready or awaiting an ack (bounded per subject; 0 on NATS). */
  brokerStoredMessages(): number;
  /** Entries of the process's other bounded maps, by name (a fixed set). */
  memoryEntries(): Record<string, number>;
  /** Cache warmings under way on this instance (one for all tenants, one per tenant asked for). */
  cacheWarmings(): number;
  /** Whether each dependency answers now (as /health/ready checks them). */
  dependencies(): Promise<Record<string, { status: 'up' | 'down' }>>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const EXECUTION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** The task's trace id, for exemplars. */
const taskTraceId = (task: Task) => (task.traceContext ? traceIdOf(task.traceContext) : undefined);

/**
 * The mesh's Prometheus metrics, with the seed's names, in one registry (OpenMetrics, so latency
 * histograms carry the task's trace id as an exemplar). Tenant and capability labels are capped.
 */
export class AgentMeshMetrics implements MeshMetrics {
  readonly registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  private readonly tenants: BoundedLabel;
  private readonly capabilities: ScopedBoundedLabel;
  private readonly routed: Counter<'tenant' | 'capability' | 'strategy'>;
  private readonly routingLatency: Histogram<'tenant' | 'capability' | 'strategy'>;
  private readonly routingErrors: Counter<'tenant' | 'capability'>;
  private readonly submitted: Counter<'tenant' | 'capability'>;
  private readonly completed: Counter<'tenant' | 'capability'>;
  private readonly failed: Counter<'tenant' | 'capability'>;
  private readonly deadLettered: Counter<'tenant' | 'capability'>;
  private readonly canceled: Counter<'tenant' | 'capability'>;
  private readonly execution: Histogram<'tenant' | 'capability' | 'status'>;
  private readonly agentsCreated: Counter<'tenant'>;
  private readonly secretAccess: Counter<'tenant' | 'outcome'>;
  private readonly rateLimitedRequests: Counter<'tenant' | 'scope'>;
  private readonly authAddressesBlocked: Counter;
  private readonly agentCircuitTransitions: Counter<'tenant' | 'to'>;
  private readonly agentEjectionsCapped: Counter<'tenant'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly a2aRequests: Counter<'method' | 'outcome'>;
  private readonly a2aStreamsOpen: Gauge<'tenant'>;
  private readonly a2aStreamsRefused: Counter<'tenant'>;
  private readonly remoteAgentCalls: Counter<'tenant' | 'outcome'>;
  private readonly taskWaitsRefused: Counter<'tenant'>;
  private readonly inboxConnectionsOpen: Gauge<'tenant'>;
  private readonly inboxConnectionsDisplaced: Counter<'tenant'>;

  constructor(options: MetricsOptions = DEFAULT_METRICS_OPTIONS) {
    this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    this.tenants = new BoundedLabel(options.maxTenants);
    // No tenant names more than a quarter of the capabilities (at least 10).
    this.capabilities = new ScopedBoundedLabel(options.maxCapabilities, Math.max(10, Math.ceil(options.maxCapabilities / 4)));
    const registers = [this.registry];
    const byTask = ['tenant', 'capability'] as const;
    const tenantCounter = (name: string, help: string) => new Counter({ name, help, labelNames: ['tenant'], registers });
    this.routed = new Counter({ name: 'agentmesh_messages_routed_total', help: 'Tasks assigned to an agent', labelNames: [...byTask, 'strategy'], registers });
    this.routingLatency = new Histogram({
      name: 'agentmesh_message_routing_latency_seconds',
      help: 'Time a task waited in its queue before it was assigned (from submit, or from its retry)',
      labelNames: [...byTask, 'strategy'],
      buckets: LATENCY_BUCKETS,
      enableExemplars: true,
      registers,
    });
    this.routingErrors = new Counter({ name: 'agentmesh_routing_errors_total', help: 'Assignments or broadcast fan-outs that failed and were retried', labelNames: byTask, registers });
    this.submitted = new Counter({ name: 'agentmesh_tasks_submitted_total', help: 'Tasks submitted by clients', labelNames: byTask, registers });
    this.completed = new Counter({ name: 'agentmesh_tasks_completed_total', help: 'Tasks completed', labelNames: byTask, registers });
    this.failed = new Counter({ name: 'agentmesh_tasks_failed_total', help: 'Tasks that ended failed (not retryable, or a deadline passed)', labelNames: byTask, registers });
    this.deadLettered = new Counter({ name: 'agentmesh_tasks_dead_lettered_total', help: 'Tasks dead-lettered after their last attempt', labelNames: byTask, registers });
    this.canceled = new Counter({ name: 'agentmesh_tasks_canceled_total', help: 'Tasks canceled', labelNames: byTask, registers });
    this.rateLimitedRequests = new Counter({
      name: 'agentmesh_rate_limited_total',
      help: "Requests refused (429) for their API key's or their tenant's requests per minute, or (scope address, tenant default) for their address's failed authentications",
      labelNames: ['tenant', 'scope'],
      registers,
    });
    this.authAddressesBlocked = new Counter({
      name: 'agentmesh_auth_addresses_blocked_total',
      help: 'Client addresses that went over AGENTMESH_AUTH_FAILURES_PER_ADDRESS failed authentications in a minute (each is then refused until the minute has room)',
      registers,
    });
    this.secretAccess = new Counter({
      name: 'agentmesh_secret_access_total',
      help: "Reads of secrets' values by agents: granted, denied (404), destroyed (tenant key destroyed, 410) or error",
      labelNames: ['tenant', 'outcome'],
      registers,
    });
    this.execution = new Histogram({
      name: 'agentmesh_task_execution_seconds',
      help: "Time from the agent's start to the task's end, by final status",
      labelNames: [...byTask, 'status'],
      buckets: EXECUTION_BUCKETS,
      enableExemplars: true,
      registers,
    });
    this.agentCircuitTransitions = new Counter({
      name: 'agentmesh_agent_circuit_transitions_total',
      help: "Agents' circuit breakers changing state, by the state entered (open: taken out of routing; half_open: one probe task; closed: back)",
      labelNames: ['tenant', 'to'],
      registers,
    });
    this.agentEjectionsCapped = tenantCounter('agentmesh_agent_circuit_ejections_capped_total', "Agents' circuit breakers kept closed because AGENTMESH_AGENT_BREAKER_MAX_EJECTION_PERCENT of their capability's agents were out already");
    this.agentsCreated = tenantCounter('agentmesh_agents_created_total', 'Agents registered (not counting re-registrations)');
    this.httpDuration = new Histogram({
      name: 'agentmesh_http_request_duration_seconds',
      help: 'API requests by method, route template and status (its _count is the request count)',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.a2aRequests = new Counter({
      name: 'agentmesh_a2a_requests_total',
      help: 'A2A JSON-RPC requests by method (other: a name A2A does not define) and outcome (result, error, stream)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.a2aStreamsOpen = new Gauge({ name: 'agentmesh_a2a_streams_open', help: 'A2A streams (message/stream, resubscribe) open on this instance', labelNames: ['tenant'], registers });
    this.a2aStreamsRefused = tenantCounter('agentmesh_a2a_streams_refused_total', 'A2A streams refused (429) because their tenant had AGENTMESH_A2A_MAX_STREAMS_PER_TENANT open');
    this.inboxConnectionsOpen = new Gauge({ name: 'agentmesh_agent_inbox_connections', help: "Agents' open task streams (SSE) and long polls on this instance", labelNames: ['tenant'], registers });
    this.inboxConnectionsDisplaced = tenantCounter('agentmesh_agent_inbox_connections_displaced_total', "Agents' oldest inbox connections ended because the agent opened one past AGENTMESH_MAX_INBOX_CONNECTIONS_PER_AGENT on this instance");
    this.taskWaitsRefused = tenantCounter('agentmesh_task_waits_refused_total', 'Waits for a task to settle (GET /v1/tasks/{id}?waitMs=) refused (429) because their tenant had AGENTMESH_MAX_TASK_WAITS_PER_TENANT open on this instance');
    this.remoteAgentCalls = new Counter({
      name: 'agentmesh_a2a_remote_calls_total',
      help: 'Tasks delivered to remote A2A agents (registered with an a2aUrl), by outcome: completed, failed, rejected, unreachable',
      labelNames: ['tenant', 'outcome'],
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'agentmesh_' });
  }

  /** The circuit breakers', retries', bulkheads' and timeouts' metrics. */
  observeResilience(resilience: ResilienceRegistry): void {
    observeResilience(this.registry, resilience);
  }

  /** The cache's hits, misses, hit rate, evictions and L1 size, read at each scrape; its load times as they happen. */
  observeCache(cache: ObservedCache): void {
    observeCache(this.registry, cache);
  }

  /** Gauges read from the running mesh at each scrape. */
  observeMesh(source: MeshGaugeSource): void {
    const registers = [this.registry];
    const tenants = this.tenants;
    const perTenant = (name: string, help: string, read: () => Iterable<[string, number]>) =>
      new Gauge({
        name,
        help,
        labelNames: ['tenant'],
        registers,
        collect() {
          this.reset();
          for (const [tenant, n] of read()) this.inc({ tenant: tenants.value(tenant) }, n);
        },
      });
    perTenant('agentmesh_messages_in_queue', 'Tasks queued, waiting for an agent (on the leader)', () => source.queuedByTenant());
    perTenant('agentmesh_active_agents', 'Agents available or busy (on the leader)', () => source.liveAgentsByTenant());
    perTenant('agentmesh_agent_circuits_tripped', 'Agents whose circuit breaker is open (out of routing) or half-open (on probation), on the leader', () => source.trippedAgentsByTenant());
    const simple = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    simple('agentmesh_counters_degraded', 'Whether rate limits and quotas count on this instance alone (1) because the shared counters (Redis) are unavailable', () => (source.countersDegraded() ? 1 : 0));
    new Gauge({
      name: 'agentmesh_local_counter_windows',
      help: "Sliding windows counted in this instance's memory, by use (rate_limits, auth_failures): all of them without Redis, only while Redis is away with it; each bounded at 100,000, least recently used dropped first",
      labelNames: ['use'],
      registers,
      collect() {
        const { rateLimits, authFailures } = source.localCounterWindows();
        this.set({ use: 'rate_limits' }, rateLimits);
        this.set({ use: 'auth_failures' }, authFailures);
      },
    });
    new Gauge({
      name: 'agentmesh_memory_entries',
      help: "Entries of this process's bounded in-memory maps, by structure (task_cache_active, task_cache_settled, tenant_cache, audit_chain_heads, current_key_lookups, task_deadlines, round_robin_cursors, forwarded_heartbeats, dispatcher_queues)",
      labelNames: ['structure'],
      registers,
      collect() {
        for (const [structure, n] of Object.entries(source.memoryEntries())) this.set({ structure }, n);
      },
    });
    simple('agentmesh_broker_messages_stored', 'Messages held by the in-memory broker, ready or awaiting an ack (bounded at 10,000 per subject; 0 on NATS, whose stream has its own limits)', () => source.brokerStoredMessages());
    simple('agentmesh_auth_blocked_addresses', 'Client addresses this instance refuses (429) for too many failed authentications (bounded at 10,000)', () => source.authBlockedAddresses());
    simple('agentmesh_auth_addresses_in_flight', 'Client addresses with keys being looked up on this instance (at most 10,000 watched; past it a new address goes ahead unwatched, its failures still counted)', () => source.authAddressesInFlight());
    simple('agentmesh_cache_warmings_running', 'Cache warmings under way on this instance: one for all tenants at most, and one per tenant an admin asked for', () => source.cacheWarmings());
    simple('agentmesh_leases_held', 'Tasks leased to agents right now (on the leader)', () => source.leasesHeld());
    simple('agentmesh_task_waiters', 'Requests waiting for a task to settle (GET /v1/tasks/{id}?waitMs=)', () => source.taskWaiters());
    simple('agentmesh_store_write_queue', "Writes waiting for the store's group commit (bounded; full means 503)", () => source.storeWriteQueue());
    simple('agentmesh_embedded_db_queue', 'Uses of the embedded database (PGlite) waiting for their turn, the one running included; bounded by the queues that feed it (0 on PostgreSQL)', () => source.embeddedDatabaseQueue());
    simple('agentmesh_secret_cache_bytes', 'Bytes of sealed secret versions cached in memory by the only writer of its database (bounded at 16 MiB)', () => source.secrets.cachedBytes());
    simple('agentmesh_secret_tenant_keys_cached', 'Unwrapped tenant keys held in memory (bounded at 1,024, each for at most 5 minutes)', () => source.secrets.tenantKeysCached());
    simple('agentmesh_audit_subject_keys_cached', "Unwrapped keys of audit data subjects held in memory (bounded at 1,024, each for at most 5 minutes)", () => source.secrets.subjectKeysCached());
    simple('agentmesh_audit_personal_seals_reusable', "Seals of audit entries' personal data held for reuse with the same subject and data (bounded at 2,000 of at most 1 KiB of data each, each for at most 5 seconds)", () => source.secrets.personalSealsReusable());
    simple('agentmesh_audit_write_queue', 'Audit entries waiting for their commit (bounded at 50,000; full means 503)', () => source.audit.writeQueue());
    const counted = (name: string, help: string, read: () => number) => {
      let reported = 0;
      return new Counter({
        name,
        help,
        registers,
        collect() {
          const now = read();
          if (now > reported) this.inc(now - reported);
          reported = now;
        },
      });
    };
    counted('agentmesh_audit_entries_appended_total', 'Audit entries committed to their hash chains by this instance', () => source.audit.appended());
    counted('agentmesh_audit_append_failures_total', 'Audit entries this instance could not commit (their requests were answered 503)', () => source.audit.failed());
    counted('agentmesh_audit_anonymous_dropped_total', 'Failed authentications not recorded: the write queue was over half full (a flood), or the write failed', () => source.audit.anonymousDropped());
    counted('agentmesh_audit_events_projected_total', "Domain events read by this instance's audit projector", () => source.audit.projected());
    const reported = new Map<string, number>();
    new Counter({
      name: 'agentmesh_siem_alerts_total',
      help: 'Security alerts per SIEM sink: sent, failed (a delivery to retry) or dropped (its queue was full)',
      labelNames: ['sink', 'outcome'],
      registers,
      collect() {
        for (const s of source.siem()) {
          for (const outcome of ['sent', 'failed', 'dropped'] as const) {
            const key = `${s.sink}\u0000${outcome}`;
            const delta = s[outcome] - (reported.get(key) ?? 0);
            if (delta > 0) this.inc({ sink: s.sink, outcome }, delta);
            else this.inc({ sink: s.sink, outcome }, 0);
            reported.set(key, s[outcome]);
          }
        }
      },
    });
    new Gauge({
      name: 'agentmesh_siem_queue',
      help: 'Security alerts waiting per SIEM sink (bounded at 10,000; past it the oldest are dropped)',
      labelNames: ['sink'],
      registers,
      collect() {
        for (const s of source.siem()) this.set({ sink: s.sink }, s.queued);
      },
    });
    simple('agentmesh_siem_burst_sources', 'Source addresses whose failed authentications are counted for burst alerts now (bounded at 10,000, the oldest forgotten first)', () => source.alertBurstSources().tracked);
    counted('agentmesh_siem_burst_sources_evicted_total', 'Source addresses forgotten at that bound: their count of failed authentications started again', () => source.alertBurstSources().evicted);
    counted('agentmesh_audit_checkpoints_total', 'Signed checkpoints of audit chain heads written by this instance', () => source.audit.checkpoints());
    new Gauge({
      name: 'agentmesh_dependency_up',
      help: 'Whether a dependency (store, broker, redis; leader in a mesh of many: this instance reaches it) answered its readiness probe at this scrape: 1 or 0',
      labelNames: ['dependency'],
      registers,
      async collect() {
        this.reset();
        for (const [dependency, { status }] of Object.entries(await source.dependencies())) this.set({ dependency }, status === 'up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'agentmesh_instance_role',
      help: 'This instance: 1 for its role (standalone, leader or follower)',
      labelNames: ['role'],
      registers,
      collect() {
        this.reset();
        this.set({ role: source.role() }, 1);
      },
    });
  }

  recordMessageRouted(labels: { tenant: string; capability: string; strategy: string }, latencySeconds: number, traceId?: string): void {
    const bounded = { ...PLAIN, ...labels, ...this.taskLabels(labels.tenant, labels.capability) };
    this.routed.inc(bounded);
    this.observe(this.routingLatency, bounded, latencySeconds, traceId);
  }

  /** The exposition a scrape gets. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  recordHttpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  taskSubmitted(task: Task): void {
    this.submitted.inc(this.taskLabels(task.tenantId, task.capability));
  }

  taskRouted(task: Task, waitedMs: number): void {
    this.recordMessageRouted({ tenant: task.tenantId, capability: task.capability, strategy: task.routing.strategy }, waitedMs / 1000, taskTraceId(task));
  }

  routingError(tenantId: string, capability: string): void {
    this.routingErrors.inc(this.taskLabels(tenantId, capability));
  }

  taskSettled(task: Task, executionMs: number | undefined): void {
    const labels = this.taskLabels(task.tenantId, task.capability);
    const counter = { completed: this.completed, failed: this.failed, dead_lettered: this.deadLettered, canceled: this.canceled }[task.status as 'completed'];
    counter?.inc(labels);
    if (executionMs !== undefined) this.observe(this.execution, { ...PLAIN, ...labels, status: task.status }, executionMs / 1000, taskTraceId(task));
  }

  agentRegistered(agent: Agent): void {
    this.agentsCreated.inc({ tenant: this.tenants.value(agent.tenantId) });
    // Its capabilities' outcome series start at 0, so that increase() and rate() see their first event.
    for (const { name } of agent.capabilities) {
      const labels = this.taskLabels(agent.tenantId, name);
      for (const counter of [this.submitted, this.completed, this.failed, this.deadLettered, this.canceled, this.routingErrors]) counter.inc(labels, 0);
    }
  }

  authAddressBlocked(): void {
    this.authAddressesBlocked.inc();
  }

  rateLimited(tenantId: string, scope: 'key' | 'tenant' | 'address'): void {
    this.rateLimitedRequests.inc({ tenant: this.tenants.value(tenantId), scope });
  }

  a2aRequest(method: string, outcome: 'result' | 'error' | 'stream'): void {
    this.a2aRequests.inc({ method, outcome });
  }

  a2aStreamsChanged(tenantId: string, delta: 1 | -1): void {
    this.a2aStreamsOpen.inc({ tenant: this.tenants.value(tenantId) }, delta);
  }

  inboxConnectionsChanged(tenantId: string, delta: 1 | -1): void {
    this.inboxConnectionsOpen.inc({ tenant: this.tenants.value(tenantId) }, delta);
  }

  inboxConnectionDisplaced(tenantId: string): void {
    this.inboxConnectionsDisplaced.inc({ tenant: this.tenants.value(tenantId) });
  }

  taskWaitRefused(tenantId: string): void {
    this.taskWaitsRefused.inc({ tenant: this.tenants.value(tenantId) });
  }

  remoteAgentCalled(tenantId: string, outcome: RemoteCallOutcome): void {
    this.remoteAgentCalls.inc({ tenant: this.tenants.value(tenantId), outcome });
  }

  a2aStreamRefused(tenantId: string): void {
    this.a2aStreamsRefused.inc({ tenant: this.tenants.value(tenantId) });
  }

  agentCircuitChanged(tenantId: string, to: 'open' | 'half_open' | 'closed'): void {
    this.agentCircuitTransitions.inc({ tenant: this.tenants.value(tenantId), to });
  }

  agentEjectionCapped(tenantId: string): void {
    this.agentEjectionsCapped.inc({ tenant: this.tenants.value(tenantId) });
  }

  secretAccessed(tenantId: string, outcome: SecretAccessOutcome): void {
    this.secretAccess.inc({ tenant: this.tenants.value(tenantId), outcome });
  }

  /** A tenant's label, and its capability's within that tenant's share. */
  private taskLabels(tenantId: string, capability: string) {
    const tenant = this.tenants.value(tenantId);
    return { tenant, capability: this.capabilities.value(tenant, capability) };
  }

  private observe<L extends string>(histogram: Histogram<L>, labels: Partial<Record<L, string>>, value: number, traceId: string | undefined): void {
    // With exemplars enabled, prom-client takes only the object form.
    histogram.observe({ labels, value, ...(traceId !== undefined && { exemplarLabels: { trace_id: traceId } as unknown as Partial<Record<L, string>> }) });
  }
}
