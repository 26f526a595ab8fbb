import type { FastifyRequest } from 'fastify';
import { AuditAction, AuditStatus } from '../../domain/index.js';
import { PLAIN } from '../../domain/plain.js';

/** One change a request made (or tried to make), before the who, where and when are added. */
export interface AuditedChange {
  action: AuditAction;
  resourceType: string;
  resourceId?: string;
  status: AuditStatus;
  details?: Record<string, unknown>;
}

type Params = { id?: string };
type Body = Record<string, unknown> | undefined;
type Result = { status: number; body?: { id?: string; type?: string; detail?: string } };

/** The outcome of a request or of one item of a batch, from its HTTP status. */
export function statusOf(httpStatus: number): AuditStatus {
  if (httpStatus < 400) return AuditStatus.SUCCESS;
  if (httpStatus === 401 || httpStatus === 403) return AuditStatus.DENIED;
  if (httpStatus === 408 || httpStatus === 504) return AuditStatus.TIMEOUT;
  return AuditStatus.FAILURE;
}

function one(action: AuditAction, resourceType: string, id: (request: FastifyRequest, reply: Result) => string | undefined, details?: (request: FastifyRequest) => Record<string, unknown>) {
  return (request: FastifyRequest, reply: Result): AuditedChange[] => {
    const resourceId = id(request, reply);
    const extra = details?.(request);
    const failed = reply.status >= 400 ? { httpStatus: reply.status, ...(reply.body?.type !== undefined && { problem: reply.body.type }) } : undefined;
    return [
      {
        action,
        resourceType,
        ...(resourceId !== undefined && { resourceId }),
        status: statusOf(reply.status),
        ...((extra !== undefined || failed !== undefined) && { details: { ...PLAIN, ...extra, ...failed } }),
      },
    ];
  };
}

/** Only a string is an id: a body that failed validation may carry anything. */
const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
const param = (request: FastifyRequest) => text((request.params as Params | undefined)?.id);
const secretName = (request: FastifyRequest) => text((request.params as { name?: string } | undefined)?.name);
/** The version a secret route made or read, from its reply; never anything else of the reply (it may hold the value). */
const secretVersion = (reply: Result) => {
  const body = reply.body as { currentVersion?: unknown; version?: unknown } | undefined;
  const version = body?.currentVersion ?? body?.version;
  return typeof version === 'number' ? { version } : {};
};

/** A secret route's entry: its action may depend on the answer (created or rotated), and it names the version, never the value. */
function secretChange(action: (reply: Result) => AuditAction, details: (request: FastifyRequest, reply: Result) => Record<string, unknown> = () => ({})) {
  return (request: FastifyRequest, reply: Result): AuditedChange[] => {
    const extra = { ...PLAIN, ...details(request, reply), ...(reply.status < 400 && secretVersion(reply)) };
    return [itemChange(action(reply), 'secret', secretName(request), reply, Object.keys(extra).length > 0 ? extra : undefined)];
  };
}
/** A task completed at submit from the skill result cache is recorded as such. */
const cachedResult = (reply: unknown) => ((reply as { cached?: unknown } | undefined)?.cached === true ? { cached: true } : {});
const bodyId = (request: FastifyRequest) => text((request.body as Body)?.id);
/** The names of an agent's capabilities, from a body that may have failed validation (capabilities an object, a string, a list of nulls...). */
const capabilityNames = (capabilities: unknown) => (Array.isArray(capabilities) ? capabilities.map((c: unknown) => text((c as { name?: unknown } | null)?.name)) : undefined);
const createdId = (_request: FastifyRequest, reply: Result) => text(reply.body?.id);

/** Per item of a batch: results[i] answers items[i]. */
function each(
  itemsOf: (body: Body) => Array<Record<string, unknown>> | undefined,
  change: (item: Record<string, unknown>, result: Result) => AuditedChange,
) {
  return (request: FastifyRequest, reply: Result): AuditedChange[] => {
    const items = itemsOf(request.body as Body) ?? [];
    const results = (reply.body as { results?: Result[] } | undefined)?.results;
    if (!results) return [{ ...PLAIN, ...change({}, reply), details: { httpStatus: reply.status, items: items.length } }];
    return items.map((item, i) => change(item, results[i] ?? { status: reply.status }));
  };
}

function itemChange(action: AuditAction, resourceType: string, id: string | undefined, result: Result, details?: Record<string, unknown>): AuditedChange {
  const failed = result.status >= 400 ? { httpStatus: result.status, ...(result.body?.type !== undefined && { problem: result.body.type }) } : undefined;
  return {
    action,
    resourceType,
    ...(id !== undefined && { resourceId: id }),
    status: statusOf(result.status),
    ...((details !== undefined || failed !== undefined) && { details: { ...PLAIN, ...details, ...failed } }),
  };
}

/**
 * The changes each mutating route makes, keyed by method and route template. Heartbeats and
 * lease extensions are keep-alives, not changes: they are not recorded.
 */
export const AUDITED_ROUTES: Record<string, (request: FastifyRequest, reply: Result) => AuditedChange[]> = {
  'POST /v1/tenants': one(AuditAction.TENANT_CREATED, 'tenant', bodyId),
  'POST /v1/api-keys': one(AuditAction.API_KEY_CREATED, 'api_key', createdId, (r) => ({ role: (r.body as Body)?.role, name: (r.body as Body)?.name, agentId: (r.body as Body)?.agentId, rateLimitPerMinute: (r.body as Body)?.rateLimitPerMinute })),
  'DELETE /v1/api-keys/:id': one(AuditAction.API_KEY_REVOKED, 'api_key', param),
  'PATCH /v1/api-keys/:id': one(AuditAction.CONFIG_CHANGED, 'api_key', param, (r) => ({ rateLimitPerMinute: (r.body as { rateLimitPerMinute?: unknown } | undefined)?.rateLimitPerMinute })),
  'POST /v1/api-keys/:id/rotate': one(AuditAction.API_KEY_ROTATED, 'api_key', param),
  'POST /v1/agents': one(AuditAction.AGENT_CREATED, 'agent', (r, reply) => bodyId(r) ?? createdId(r, reply), (r) => ({ capabilities: capabilityNames((r.body as Body)?.capabilities) })),
  'POST /v1/agents/:id/pause': one(AuditAction.AGENT_UPDATED, 'agent', param, () => ({ change: 'pause' })),
  'POST /v1/agents/:id/resume': one(AuditAction.AGENT_UPDATED, 'agent', param, () => ({ change: 'resume' })),
  'DELETE /v1/agents/:id': one(AuditAction.AGENT_TERMINATED, 'agent', param),
  'POST /v1/tasks': one(AuditAction.TASK_SUBMITTED, 'task', createdId, (r) => ({ capability: (r.body as Body)?.capability, ...cachedResult(r.auditReplyBody) })),
  'POST /v1/tasks/:id/complete': one(AuditAction.TASK_COMPLETED, 'task', param, (r) => ({ agentId: (r.body as Body)?.agentId })),
  'POST /v1/tasks/:id/fail': one(AuditAction.TASK_FAILED, 'task', param, (r) => ({ agentId: (r.body as Body)?.agentId })),
  'POST /v1/tasks/:id/cancel': one(AuditAction.TASK_CANCELLED, 'task', param),
  'POST /v1/dead-letters/:id/requeue': one(AuditAction.TASK_RETRIED, 'task', param, () => ({ change: 'requeue from dead letters' })),
  'PUT /v1/secrets/:name': secretChange(
    (reply) => (reply.status === 201 ? AuditAction.SECRET_CREATED : AuditAction.SECRET_ROTATED),
    // Only from a body that passed validation: a refused one may carry anything, a value in the wrong field say.
    (r, reply) => {
      const capabilities = ((r.body as Body)?.policy as { capabilities?: unknown } | undefined)?.capabilities;
      return reply.status < 400 && Array.isArray(capabilities) && capabilities.every((c) => typeof c === 'string') ? { policy: capabilities } : {};
    },
  ),
  'POST /v1/secrets/:name/rotate': secretChange(() => AuditAction.SECRET_ROTATED, (r) => ({ generated: (r.body as Body)?.value === undefined })),
  'DELETE /v1/secrets/:name': secretChange(() => AuditAction.SECRET_REVOKED),
  'GET /v1/tasks/:id/secrets/:name': secretChange(() => AuditAction.SECRET_ACCESSED, (r) => ({ taskId: param(r) })),
  'POST /v1/tenant-keys/destroy': one(AuditAction.TENANT_KEY_DESTROYED, 'tenant_key', (r) => text((r.body as Body)?.confirm), (r) => ({ destroyedKeys: (r.auditReplyBody as { destroyedKeys?: number } | undefined)?.destroyedKeys })),
  // What the A2A request handler noted: a message's task submitted, a task canceled, or one the tenant cannot see.
  'POST /v1/a2a': (request) => request.a2aAudit ?? [],
  'POST /v1/cache/warm': one(AuditAction.ADMIN_ACTION, 'cache', (r) => text((r.body as Body)?.tenantId), () => ({ change: 'warm' })),
  'POST /v1/tasks/batch': each(
    (body) => body?.tasks as Array<Record<string, unknown>> | undefined,
    (item, result) => itemChange(AuditAction.TASK_SUBMITTED, 'task', text(result.body?.id), result, { capability: item.capability, ...cachedResult(result.body) }),
  ),
  'POST /v1/tasks/settle': each(
    (body) => body?.outcomes as Array<Record<string, unknown>> | undefined,
    (item, result) =>
      itemChange(item.outcome === 'failed' ? AuditAction.TASK_FAILED : AuditAction.TASK_COMPLETED, 'task', text(item.taskId), result, { agentId: item.agentId }),
  ),
};
