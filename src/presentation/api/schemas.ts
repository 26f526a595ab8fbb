import { Type, type Static } from 'typebox';
import { AUDIT_ACTIONS, AUDIT_STATUSES, MAX_RESULT_TTL_SECONDS, MAX_TASK_SECRETS, ROUTING_STRATEGIES } from '../../domain/index.js';
import { SecretNameSchema } from './routes/secret-schemas.js';
import { PLAIN } from '../../domain/plain.js';

/** JSON Schemas of the API (TypeBox): they validate requests and feed the OpenAPI document. */

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the kind of problem; stable across versions.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    field: Type.Optional(Type.String({ description: 'The request field at fault, for validation problems.' })),
  },
  {
    $id: 'Problem',
    additionalProperties: true,
    description:
      'RFC 9457 problem details. Extensions by type: `limitBytes`, `actualBytes` (payload_too_large); `role`, `action`, `allowed` (forbidden by role); `quota`, `limit`, `retryAfterSeconds` (quota_exceeded); `id`, `agentStatus`, `idempotencyKey`, `taskId` (conflict). See docs/api.md, Errors.',
  },
);

/** One object for every error answer: compiled once, however many routes and statuses answer it. */
const ProblemRef = Type.Ref('Problem');
const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemRef } },
});
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed or violates the schema (field names the culprit)',
  401: 'No API key, or an unknown or revoked one',
  403: "The key's role may not do this",
  404: 'No such resource in the caller’s tenant',
  409: 'Conflict with the current state (lease not held, duplicate id, already settled)',
  410: 'It existed and can never be read again (a secret sealed under a destroyed tenant key)',
  413: 'Body, input or output over its size limit',
  415: 'The body is not sent as JSON: its Content-Type is not one the operation reads',
  429: "The key's or the tenant's requests per minute, a tenant quota or a queue bound is reached, or the client address failed to authenticate too often (its keys being looked up counted): Retry-After when waiting helps",
  503: 'A bounded queue is full, a dependency is down (the database, the broker, the audit log: `audit_unavailable` says the change may have been made), or this instance lacks a master key a tenant key is wrapped by; retry after Retry-After',
};
/** What any route that may carry a body (POST, PUT, PATCH, DELETE) may answer, whatever its schema: too large (413), not JSON (415). */
export const BODY_ERRORS = { 413: problemResponse(ERROR_DESCRIPTIONS[413]!), 415: problemResponse(ERROR_DESCRIPTIONS[415]!) };

/** The error statuses every authenticated route may answer (400, 401, 403, 429, 503, and those given), as RFC 9457 problem+json. */
export function errors(...statuses: number[]) {
  const out: Record<number, ReturnType<typeof problemResponse>> = {};
  // Every authenticated route may be refused for its key's or tenant's rate (429), and answered 503
  // while what it needs is away (its audit entry cannot be recorded, the database's breaker is open).
  for (const s of [400, 401, 403, 429, 503, ...statuses]) out[s] = problemResponse(ERROR_DESCRIPTIONS[s] ?? 'Error');
  return out;
}

/** A string enum with a precise static type (a Union of mapped Literals widens to never). */
function stringEnum<const T extends readonly string[]>(values: T, options: object = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

const IDENTIFIER_PATTERN = '^[A-Za-z0-9._:-]+$';
const Identifier = Type.String({ minLength: 3, maxLength: 256, pattern: IDENTIFIER_PATTERN });

/** `?tenant=`: another tenant, for the platform admin; a tenant id as tenants are made (3-256 characters). */
export const TenantQuery = (description: string) => Type.Optional(Type.String({ minLength: 3, maxLength: 256, pattern: IDENTIFIER_PATTERN, description }));

const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:/-]+$' });
const EpochMs = Type.Integer({ description: 'Milliseconds since the Unix epoch.' });
const AgentRefProps = () => ({ agentId: Identifier });
const TaskErrorInput = () =>
  Type.Union([
    Type.String({ maxLength: 8192 }),
    Type.Object({ message: Type.String({ maxLength: 8192 }), code: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false }),
  ]);

/** An id in a path: no control characters (PostgreSQL's text cannot hold NUL). */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512, pattern: '^[^\\u0000-\\u001f]+$' }) });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'The nextCursor of the previous page; a cursor this API did not give out is a 400 naming querystring.cursor.' })),
};

export const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  quotas: Type.Object({ maxAgents: Type.Integer(), maxTasksPerHour: Type.Integer() }),
  createdAt: EpochMs,
});

export const CreateTenantBody = Type.Object(
  {
    id: Identifier,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    quotas: Type.Optional(
      Type.Object(
        {
          maxAgents: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          maxTasksPerHour: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const RoleSchema = stringEnum(['admin', 'orchestrator', 'agent', 'observer']);

const BoundAgent = Type.Optional(Type.String({ description: "An agent key's agent: the only agent it may act as" }));

const KeyRateLimit = Type.Integer({
  minimum: 1,
  maximum: 100_000_000,
  description: "This key's own requests per minute, in place of AGENTMESH_RATE_LIMIT_PER_KEY (the seed's tiers: 10, 100, 1000, 10000); absent: the instance's default",
  examples: [1000],
});

export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  agentId: BoundAgent,
  createdAt: EpochMs,
  revokedAt: Type.Optional(EpochMs),
  rateLimitPerMinute: Type.Optional(KeyRateLimit),
});

export const ApiKeyWithSecret = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  agentId: BoundAgent,
  createdAt: EpochMs,
  rateLimitPerMinute: Type.Optional(KeyRateLimit),
  key: Type.String({ description: 'The secret, shown this once. Send it as Authorization: Bearer <key>.' }),
});

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    role: RoleSchema,
    agentId: Type.Optional(Type.String({ minLength: 3, maxLength: 256, description: 'Required for role agent, refused for the others: the agent the key acts as' })),
    rateLimitPerMinute: Type.Optional(KeyRateLimit),
  },
  { additionalProperties: false },
);

export const UpdateApiKeyBody = Type.Object(
  {
    // One schema with both types, not a union: the API coerces types, and with a union a 0 would be coerced to null (clearing the limit).
    rateLimitPerMinute: Type.Unsafe<number | null>({
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 100_000_000,
      description: "The key's own requests per minute, or null for the instance's default (AGENTMESH_RATE_LIMIT_PER_KEY)",
      examples: [1000, null],
    }),
  },
  { additionalProperties: false },
);

const AgentStatusSchema = stringEnum(['available', 'busy', 'paused', 'unhealthy', 'terminated']);

export const Agent = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  description: Type.String(),
  capabilities: Type.Array(Type.Object({ name: Type.String(), proficiency: Type.Integer() })),
  tags: Type.Array(Type.String()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  maxConcurrentTasks: Type.Integer(),
  status: AgentStatusSchema,
  inFlight: Type.Integer(),
  assignedCount: Type.Integer(),
  completedCount: Type.Integer(),
  failedCount: Type.Integer(),
  avgLatencyMs: Type.Number(),
  lastHeartbeatAt: EpochMs,
  registeredAt: EpochMs,
  updatedAt: EpochMs,
  version: Type.Integer(),
  a2aUrl: Type.Optional(Type.String({ description: 'The A2A server the mesh delivers this agent\'s tasks to.' })),
  circuit: Type.Optional(Type.Object(
    {
      state: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open')], {
        description: 'closed: routed to; open: out of routing (status unhealthy) until its cool-down ends; half_open: one probe task at a time, whose outcome closes or reopens it',
      }),
      consecutiveFailures: Type.Integer({ description: 'Its failures in a row: leases it let lapse on tasks it had received (first attempts)' }),
      opens: Type.Integer({ description: 'Times it opened since it was last closed; each reopening doubles the cool-down' }),
      openedAt: Type.Optional(EpochMs),
      probeAt: Type.Optional({ ...PLAIN, ...EpochMs, description: 'When it may get a probe task (while open, and heartbeating)' }),
    },
    { description: "The agent's circuit breaker (AGENTMESH_AGENT_BREAKER_FAILURES, AGENTMESH_AGENT_BREAKER_COOLDOWN_MS)", default: { state: 'closed', consecutiveFailures: 0, opens: 0 } },
  )),
});

export const RegisterAgentBody = Type.Object(
  {
    id: Type.Optional(Identifier),
    name: Type.String({ minLength: 1, maxLength: 256 }),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    capabilities: Type.Array(
      Type.Object({ name: Name, proficiency: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })) }, { additionalProperties: false }),
      { minItems: 1, maxItems: 64 },
    ),
    tags: Type.Optional(Type.Array(Name, { maxItems: 64 })),
    maxConcurrentTasks: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    a2aUrl: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        format: 'uri',
        description: 'An A2A server elsewhere (http or https, no credentials in it): the mesh delivers this agent\'s tasks by calling it, and heartbeats it while its agent card answers.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const AgentListQuery = Type.Object({ ...PLAIN, ...PageQuery, capability: Type.Optional(Name), status: Type.Optional(AgentStatusSchema) });

const TaskStatusSchema = stringEnum(['queued', 'assigned', 'running', 'completed', 'failed', 'dead_lettered', 'canceled']);
const StrategySchema = stringEnum(ROUTING_STRATEGIES);
const TaskErrorSchema = Type.Object({
  message: Type.String(),
  code: Type.Optional(Type.String()),
  retryable: Type.Optional(Type.Boolean()),
});

const TaskCachePolicySchema = Type.Object(
  {
    ttlSeconds: Type.Integer({ minimum: 1, maximum: MAX_RESULT_TTL_SECONDS, description: "How long this task's result may answer identical tasks." }),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Identifies the result instead of the input: tasks of one capability with one key share a result.' })),
  },
  {
    additionalProperties: false,
    description:
      'Opt in to the skill result cache (when the mesh runs with AGENTMESH_CACHE_RESULTS=on; ignored otherwise): an identical task (same tenant, capability, and canonical input or key) within ttlSeconds of this one completing completes at once with its output, marked cached. Not for broadcast tasks.',
  },
);

export const Task = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  capability: Type.String(),
  input: Type.Unknown(),
  priority: Type.Integer(),
  routing: Type.Object({ strategy: StrategySchema, affinityKey: Type.Optional(Type.String()) }),
  maxAttempts: Type.Integer(),
  leaseMs: Type.Integer(),
  deadline: Type.Optional(EpochMs),
  status: TaskStatusSchema,
  attempts: Type.Integer(),
  agentId: Type.Optional(Type.String()),
  leaseExpiresAt: Type.Optional(EpochMs),
  availableAt: EpochMs,
  output: Type.Optional(Type.Unknown()),
  error: Type.Optional(TaskErrorSchema),
  idempotencyKey: Type.Optional(Type.String()),
  parentId: Type.Optional(Type.String()),
  targetAgentId: Type.Optional(Type.String()),
  createdAt: EpochMs,
  updatedAt: EpochMs,
  assignedAt: Type.Optional(EpochMs),
  startedAt: Type.Optional(EpochMs),
  finishedAt: Type.Optional(EpochMs),
  version: Type.Integer(),
  traceContext: Type.Optional(
    Type.Object(
      { traceparent: Type.String(), tracestate: Type.Optional(Type.String()) },
      { description: 'The W3C Trace Context of the submit request (its traceparent and tracestate headers), handed to the agents that work the task.' },
    ),
  ),
  secrets: Type.Optional(Type.Array(Type.String(), { description: 'The secrets the working agent may read for this task (names only).' })),
  contextId: Type.Optional(Type.String({ description: 'The A2A contextId the task was sent under (tasks submitted over A2A only).' })),
  cache: Type.Optional(TaskCachePolicySchema),
  cached: Type.Optional(Type.Boolean({ description: "true: completed at submit from an identical task's kept result (the skill result cache), without an agent." })),
});

export const SubmitTaskBody = Type.Object(
  {
    capability: Name,
    input: Type.Optional(Type.Unknown()),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 9, description: '0 (lowest) to 9 (highest); default 5.' })),
    routing: Type.Optional(
      Type.Object(
        { strategy: StrategySchema, affinityKey: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })) },
        { additionalProperties: false },
      ),
    ),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    leaseMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000 })),
    deadline: Type.Optional(Type.Union([EpochMs, Type.String({ format: 'date-time' })], { description: 'Epoch ms or an RFC 3339 date-time.' })),
    cache: Type.Optional(TaskCachePolicySchema),
    secrets: Type.Optional(
      Type.Array(SecretNameSchema, {
        maxItems: MAX_TASK_SECRETS,
        description: "Secrets of the tenant the agent working this task may read (GET /v1/tasks/{id}/secrets/{name}) while it holds the lease, if each secret's policy allows the task's capability.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const SubmitTaskReply = Type.Object({
  id: Type.String(),
  status: TaskStatusSchema,
  created: Type.Boolean(),
  cached: Type.Optional(Type.Boolean({ description: "true: completed now from an identical task's kept result; status is completed" })),
});

export const MAX_BATCH_ITEMS = 100;

export const SubmitBatchBody = Type.Object(
  {
    tasks: Type.Array(
      Type.Object(
        {
          ...PLAIN,
          ...SubmitTaskBody.properties,
          idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'What the Idempotency-Key header is for a single submit.' })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_BATCH_ITEMS },
    ),
  },
  { additionalProperties: false },
);

/** The W3C trace context of one item's work (the agent's span), for a batch whose items come from different traces. */
const ItemTrace = () => ({
  traceparent: Type.Optional(Type.String({ maxLength: 256, description: "The W3C traceparent of this outcome's work; a malformed one is ignored." })),
  tracestate: Type.Optional(Type.String({ maxLength: 512 })),
});

export const SettleBatchBody = Type.Object(
  {
    outcomes: Type.Array(
      // The outcome is checked first, alone: a missing or unknown one is said as such, not as what each form lacks.
      Type.Intersect([
        Type.Object({ outcome: Type.Union([Type.Literal('completed'), Type.Literal('failed')]) }),
        Type.Union([
          Type.Object(
            { taskId: Type.String({ minLength: 1, maxLength: 512 }), ...AgentRefProps(), ...ItemTrace(), outcome: Type.Literal('completed'), output: Type.Optional(Type.Unknown()) },
            { additionalProperties: false },
          ),
          Type.Object(
            {
              taskId: Type.String({ minLength: 1, maxLength: 512 }),
              ...AgentRefProps(),
              ...ItemTrace(),
              outcome: Type.Literal('failed'),
              error: TaskErrorInput(),
              retryable: Type.Optional(Type.Boolean({ description: 'Default true: retried with backoff until maxAttempts.' })),
            },
            { additionalProperties: false },
          ),
        ]),
      ]),
      { minItems: 1, maxItems: MAX_BATCH_ITEMS },
    ),
  },
  { additionalProperties: false },
);

/** One item's answer in a batch: the status and body a single request would have had. */
export const batchReply = <T extends ReturnType<typeof Type.Object>>(ok: T) =>
  Type.Object({
    results: Type.Array(Type.Object({ status: Type.Integer(), body: Type.Union([ok, Type.Ref('Problem')]) })),
  });

export const SettleReply = Type.Object({ id: Type.String(), status: TaskStatusSchema });

export const TaskListQuery = Type.Object({
  ...PLAIN,
  ...PageQuery,
  status: Type.Optional(TaskStatusSchema),
  capability: Type.Optional(Name),
  agentId: Type.Optional(Type.String({ maxLength: 256 })),
});

export const AgentRef = { agentId: Identifier };
export const CompleteBody = Type.Object({ ...PLAIN, ...AgentRef, output: Type.Optional(Type.Unknown()) }, { additionalProperties: false });
export const FailBody = Type.Object(
  {
    ...PLAIN,
    ...AgentRef,
    error: TaskErrorInput(),
    retryable: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export const ExtendBody = Type.Object({ ...PLAIN, ...AgentRef, leaseMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }) }, { additionalProperties: false });

export const DeliveredTask = Type.Object({
  id: Type.String(),
  capability: Type.String(),
  input: Type.Unknown(),
  priority: Type.Integer(),
  attempt: Type.Integer(),
  assignedAt: Type.Integer({ description: 'When this attempt was assigned (epoch ms): with id and attempt it names one assignment (a requeued dead letter counts its attempts from 1 again), so a repeated delivery can be told from a new one.' }),
  maxAttempts: Type.Integer(),
  leaseMs: Type.Integer(),
  leaseExpiresAt: EpochMs,
  deadline: Type.Optional(EpochMs),
  parentId: Type.Optional(Type.String()),
  traceparent: Type.Optional(Type.String({ description: "The submitter's W3C traceparent: continue the trace from it." })),
  tracestate: Type.Optional(Type.String()),
  secrets: Type.Optional(Type.Array(Type.String(), { description: 'The secrets this agent may read for the task while it holds the lease: GET /v1/tasks/{id}/secrets/{name}.' })),
});

export const WaitQuery = Type.Object({ waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })) });

export const pageOf = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Optional(Type.String()) });

export type SubmitTaskBodyT = Static<typeof SubmitTaskBody>;

export const AuditEntrySchema = Type.Object(
  {
    id: Type.String(),
    tenantId: Type.String(),
    seq: Type.Integer({ description: "Place in the tenant's hash chain, from 1" }),
    at: Type.Integer({ description: 'Epoch milliseconds' }),
    actor: Type.Object({
      type: stringEnum(['key', 'system', 'anonymous', 'operator'] as const),
      keyId: Type.Optional(Type.String()),
      role: Type.Optional(Type.String()),
      agentId: Type.Optional(Type.String()),
    }),
    action: stringEnum(AUDIT_ACTIONS),
    resourceType: Type.String(),
    resourceId: Type.Optional(Type.String()),
    status: stringEnum(AUDIT_STATUSES),
    sourceIp: Type.Optional(Type.String()),
    userAgent: Type.Optional(Type.String()),
    traceId: Type.Optional(Type.String()),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    subjectId: Type.Optional(Type.String({ description: 'Whom the personal data is about (the key that acted, or anonymous)' })),
    personal: Type.Optional(Type.String({ description: "The personal data as stored and hashed: sealed under the subject's key. sourceIp, userAgent and personalDetails are its opened form, not hashed" })),
    personalDetails: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    personalShredded: Type.Optional(Type.Boolean({ description: "The subject's keys were destroyed: the personal data can never be read" })),
    personalUnavailable: Type.Optional(Type.Boolean({ description: 'The personal data cannot be opened on this instance (sealed under a master key it lacks)' })),
    prevHash: Type.String({ description: 'Hash of the entry before (64 zeros for the first)' }),
    hash: Type.String({ description: 'SHA-256 over prevHash and the canonical JSON (RFC 8785) of this entry' }),
  },
  { $id: 'AuditEntry' },
);

export const AuditQuery = Type.Object({
  ...PLAIN,
  ...PageQuery,
  tenant: TenantQuery("Another tenant's log: the platform admin only"),
  action: Type.Optional(stringEnum(AUDIT_ACTIONS)),
  status: Type.Optional(stringEnum(AUDIT_STATUSES)),
  resourceType: Type.Optional(Type.String({ maxLength: 64 })),
  resourceId: Type.Optional(Type.String({ maxLength: 512 })),
  actorKeyId: Type.Optional(Type.String({ maxLength: 128 })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, inclusive' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, exclusive' })),
});

export const AuditVerifyQuery = Type.Object({
  tenant: TenantQuery("Another tenant's chain (the platform admin only; without it, the platform admin verifies every chain)"),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, inclusive' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, exclusive' })),
});

export const AuditVerifyReport = Type.Object({
  intact: Type.Boolean(),
  signaturesTrusted: Type.Boolean({ description: 'false: checkpoint signatures were checked against the keys the database lists (use `agentmesh audit verify --public-key` to check against a key you hold)' }),
  entries: Type.Integer(),
  millis: Type.Integer(),
  chains: Type.Array(
    Type.Object({
      tenantId: Type.String(),
      entries: Type.Integer(),
      firstSeq: Type.Optional(Type.Integer()),
      lastSeq: Type.Optional(Type.Integer()),
      headSeq: Type.Integer(),
      checkpoints: Type.Integer(),
      lastCheckpointSeq: Type.Optional(Type.Integer()),
      lastCheckpointHash: Type.Optional(Type.String({ description: 'The hash the last checkpoint signed: keep it outside the database to compare with later verifications' })),
      prunedUpTo: Type.Optional(Type.Integer({ description: 'Entries up to here were pruned past the retention, anchored on a signed checkpoint' })),
      problem: Type.Optional(Type.Object({ entryId: Type.Optional(Type.String()), seq: Type.Integer(), reason: Type.String() })),
    }),
  ),
});

export const ComplianceReportQuery = Type.Object({
  framework: stringEnum(['hipaa', 'gdpr', 'soc2'] as const),
  from: Type.String({ format: 'date-time', description: 'Start of the period, ISO 8601, inclusive' }),
  to: Type.String({ format: 'date-time', description: 'End of the period, ISO 8601, exclusive' }),
  tenant: TenantQuery("Another tenant's report: the platform admin only"),
  format: Type.Optional(stringEnum(['json', 'html'] as const, { default: 'json', description: 'json (default), or html: one self-contained page' })),
});

const EvidenceSchema = Type.Object({
  label: Type.String(),
  value: Type.Union([Type.String(), Type.Number()]),
  rows: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Null()])))),
});

export const ComplianceReportSchema = Type.Object(
  {
    framework: stringEnum(['hipaa', 'gdpr', 'soc2'] as const),
    title: Type.String(),
    tenantId: Type.String(),
    period: Type.Object({ from: Type.String(), to: Type.String() }),
    generatedAt: Type.String(),
    generatedBy: Type.String(),
    chain: Type.Object({
      intact: Type.Boolean(),
      entriesVerified: Type.Integer(),
      head: Type.Union([Type.Object({ seq: Type.Integer(), hash: Type.String() }), Type.Null()]),
      checkpoint: Type.Union([Type.Object({ seq: Type.Integer(), hash: Type.String(), at: Type.String(), keyId: Type.String(), signature: Type.String() }), Type.Null()]),
      signaturesTrusted: Type.Boolean(),
      problem: Type.Union([Type.Object({ seq: Type.Integer(), entryId: Type.Optional(Type.String()), reason: Type.String() }), Type.Null()]),
    }),
    summary: Type.Object({ entries: Type.Integer(), byStatus: Type.Record(Type.String(), Type.Integer()), byAction: Type.Record(Type.String(), Type.Integer()) }),
    controls: Type.Array(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        requirement: Type.String(),
        status: stringEnum(['evidence', 'attention'] as const),
        evidence: Type.Array(EvidenceSchema),
        findings: Type.Array(Type.String()),
      }),
    ),
    contentHash: Type.String({ description: "SHA-256 (hex) of the RFC 8785 JSON of every other field, tagged 'agentmesh/compliance-report/v1\\n'" }),
  },
  { $id: 'ComplianceReport' },
);

export const AuditRetention = Type.Object(
  // One schema with both types, not a union: with type coercion on, a union's null branch would take 0.
  { days: Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 36_500, description: 'Days to keep entries (1 to 36,500); null keeps them forever' }) },
  { additionalProperties: false },
);

/** A2A: documentation of the JSON-RPC envelope and the agent card; the SDK's transport handlers check the rest. */
export const JsonRpcRequest = Type.Object(
  {
    jsonrpc: Type.Literal('2.0'),
    id: Type.Optional(Type.Union([Type.String(), Type.Integer(), Type.Null()])),
    method: Type.String({ description: 'An A2A 1.0 method (SendMessage, SendStreamingMessage, GetTask, CancelTask, SubscribeToTask) or its A2A 0.3 name (message/send, ...).' }),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  {
    $id: 'JsonRpcRequest',
    additionalProperties: true,
    description: 'One JSON-RPC 2.0 request of the A2A protocol (see docs/a2a.md).',
    examples: [{ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'm-1', role: 'ROLE_USER', parts: [{ text: 'Summarize this.' }], metadata: { skill: 'summarize' } } } }],
  },
);

export const JsonRpcReply = Type.Object(
  {
    jsonrpc: Type.Literal('2.0'),
    id: Type.Union([Type.String(), Type.Integer(), Type.Null()]),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.Object({ code: Type.Integer(), message: Type.String(), data: Type.Optional(Type.Unknown()) }, { additionalProperties: true })),
  },
  {
    $id: 'JsonRpcReply',
    additionalProperties: true,
    description: 'The JSON-RPC answer: a result or an error (-32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid params, -32001 task not found, -32002 task not cancelable, ...). A streaming method answers text/event-stream, each event one such answer.',
  },
);

export const A2AAgentCard = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    supportedInterfaces: Type.Array(Type.Object({ url: Type.String(), protocolBinding: Type.String(), protocolVersion: Type.String() }, { additionalProperties: true })),
    version: Type.String(),
    capabilities: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    securitySchemes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    skills: Type.Optional(Type.Array(Type.Object({ id: Type.String(), name: Type.String(), description: Type.String() }, { additionalProperties: true }))),
  },
  { $id: 'A2AAgentCard', additionalProperties: true, description: 'An A2A 1.0 agent card (protobuf JSON form: empty lists are left out).' },
);
