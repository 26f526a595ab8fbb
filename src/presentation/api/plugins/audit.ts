import { AGENT_CARD_PATH } from '@a2a-js/sdk';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLogger } from '../../../application/audit-logger.js';
import type { Caller } from '../../../application/caller.js';
import { DEFAULT_TENANT_ID } from '../../../application/use-cases/bootstrap.js';
import { AuditAction, AuditStatus, DomainError, type AuditActor, type AuditRecord } from '../../../domain/index.js';
import { AUDITED_ROUTES, type AuditedChange } from '../audited-routes.js';
import { auditContext } from '../routes/audit-context.js';
import { sha256Hex } from '../../../application/sha256.js';
import { bearerToken, isV1, routeOrPath } from './authenticate.js';
import { httpStatusOf, PROBLEM_BASE } from './problem-details.js';
import { PLAIN } from '../../../domain/plain.js';
import { RepeatedErrorLog } from '../../../application/repeated-error-log.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The reply's body before serialization, for the audit entry (ids of what was made, batch results). */
    auditReplyBody?: unknown;
  }
}

export interface AuditPluginOptions {
  /** How often a key's successful authentication is recorded on this instance; 0: every request. */
  authSuccessIntervalMs: number;
}

const MAX_REMEMBERED_KEYS = 10_000;

function actorOf(caller: Caller | undefined): AuditActor {
  return caller ? { type: 'key', keyId: caller.keyId, role: caller.role, ...(caller.agentId !== undefined && { agentId: caller.agentId }) } : { type: 'anonymous' };
}

/** The first 16 hex digits of the SHA-256 of a presented key: tells attempts with the same key apart, and reveals nothing of it. */
function keyFingerprint(request: FastifyRequest): string | undefined {
  const token = bearerToken(request);
  return token === undefined ? undefined : sha256Hex(token).slice(0, 16);
}

/** A change refused for want of rights, or aimed at what the tenant cannot see (404), is a denied access. */
function asDenied(change: AuditedChange, attempted: string, reason: string | undefined): AuditedChange {
  return {
    action: AuditAction.UNAUTHORIZED_ACCESS,
    resourceType: change.resourceType,
    ...(change.resourceId !== undefined && { resourceId: change.resourceId }),
    status: AuditStatus.DENIED,
    details: { ...PLAIN, ...change.details, attempted, ...(change.action !== AuditAction.UNAUTHORIZED_ACCESS && { attemptedAction: change.action }), ...(reason !== undefined && { reason }) },
  };
}

/**
 * Audits the refusal that ended a response already under way (a stream whose key was revoked, or
 * whose agent was removed), as the same refusal answered would be; `what` names the response for the log.
 */
export function auditLateRefusal(audit: Pick<AuditLogger, 'logSecurityEvent'>, request: FastifyRequest, error: unknown, what: string): void {
  const refusal = error instanceof DomainError ? refusalRecord(request, httpStatusOf(error.code), error.message) : undefined;
  if (refusal) audit.logSecurityEvent(refusal).catch((auditError: unknown) => request.log.error({ err: auditError }, `the refusal that ended ${what} could not be audited`));
}

/**
 * The entry of a refused request: a failed authentication (401), or a denied access (403, or 404
 * from a matched route: what the caller's tenant cannot see); undefined for any other status. Also
 * for a refusal that comes after the response began (an open stream whose key is revoked).
 */
export function refusalRecord(request: FastifyRequest, status: number, reason: string | undefined): AuditRecord | undefined {
  const caller = request.caller as Caller | undefined;
  const route = request.routeOptions.url;
  const attempted = `${request.method} ${route ?? request.url.split('?')[0]}`;
  const base = { tenantId: caller?.tenantId ?? DEFAULT_TENANT_ID, actor: actorOf(caller), ...auditContext(request) };
  if (status === 401) {
    const fingerprint = keyFingerprint(request);
    return {
      ...PLAIN,
      ...base,
      action: AuditAction.AUTH_FAILURE,
      resourceType: 'api_key',
      status: AuditStatus.DENIED,
      details: { attempted, ...(reason !== undefined && { reason }), ...(fingerprint !== undefined && { keyFingerprint: fingerprint }) },
    };
  }
  if (caller === undefined || !(status === 403 || (status === 404 && route !== undefined))) return undefined;
  // Tasks, agents and keys are named by id; secrets by name.
  const params = request.params as { id?: string; name?: string } | undefined;
  const resourceId = params?.id ?? params?.name;
  const change: AuditedChange = { action: AuditAction.UNAUTHORIZED_ACCESS, resourceType: resourceTypeOf(route), ...(resourceId !== undefined && { resourceId }), status: AuditStatus.DENIED };
  const query = request.query as Record<string, unknown> | undefined;
  const denial = asDenied(change, attempted, reason);
  return { ...PLAIN, ...base, ...denial, ...(query && Object.keys(query).length > 0 && { details: { ...PLAIN, ...denial.details, query } }) };
}

/**
 * Records every change made through the API, every failed authentication, every denied access
 * (403, and 404 on a resource: what the caller's tenant cannot see), and a key's successful
 * authentication now and then, before the response leaves; a change or secret read that failed
 * (a 503 included) as a failure. When the log cannot take the entry, the response becomes a 503:
 * nothing happens through the API unrecorded.
 */
export function registerAudit(app: FastifyInstance, audit: AuditLogger, options: AuditPluginOptions): void {
  const lastSuccess = new Map<string, number>();
  // While the audit log's database is away every audited request fails: one line per interval, not one per request.
  const unrecorded = new RepeatedErrorLog(app.log, 'the audit log could not record this request; answering 503');

  app.addHook('preSerialization', async (request, _reply, payload) => {
    request.auditReplyBody = payload;
    return payload;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (!takesKey(request) || request.rateLimited === true) return payload;
    const records = recordsFor(request, reply);
    if (records.length === 0) return payload;
    if (records.length === 1 && records[0]!.actor.type === 'anonymous') {
      await audit.logAnonymous(records[0]!);
      return payload;
    }
    try {
      if (records.length === 1 && audit.isSecurityAction(records[0]!.action)) await audit.logSecurityEvent(records[0]!);
      else await audit.logActions(records);
      return payload;
    } catch (error) {
      unrecorded.error({ err: error, reqId: request.id });
      // A request that failed for want of a dependency did nothing to record: its own 503 says more.
      if (reply.statusCode === 503) return payload;
      void reply.code(503).header('retry-after', '1').type('application/problem+json');
      return JSON.stringify({
        type: `${PROBLEM_BASE}audit_unavailable`,
        title: 'Service Unavailable',
        status: 503,
        detail: 'the audit log could not record this request; it may have taken effect: check before retrying',
        instance: request.url,
      });
    }
  });

  function recordsFor(request: FastifyRequest, reply: FastifyReply): AuditRecord[] {
    const caller = request.caller as Caller | undefined;
    const route = request.routeOptions.url;
    const reason = reply.statusCode >= 400 ? (request.auditDenialReason ?? (request.auditReplyBody as { detail?: string } | undefined)?.detail) : undefined;
    const describe = route !== undefined ? AUDITED_ROUTES[`${request.method} ${route}`] : undefined;
    if (reply.statusCode === 401 || caller === undefined || describe === undefined) {
      const refusal = refusalRecord(request, reply.statusCode, reason);
      if (refusal !== undefined) return [refusal];
      if (caller === undefined) return [];
      return authSuccessDue(caller) ? [{ ...PLAIN, tenantId: caller.tenantId, actor: actorOf(caller), ...auditContext(request), action: AuditAction.AUTH_SUCCESS, resourceType: 'api_key', resourceId: caller.keyId, status: AuditStatus.SUCCESS }] : [];
    }
    const base = { tenantId: caller.tenantId, actor: actorOf(caller), ...auditContext(request) };
    const attempted = `${request.method} ${route}`;
    // A 404 from a matched route is something the caller's tenant cannot see (an unknown route is no access at all).
    const denied = reply.statusCode === 403 || reply.statusCode === 404;
    const changes = describe(request, { status: reply.statusCode, body: request.auditReplyBody as { id?: string } });
    return changes.map((change) => {
      const httpStatus = change.details?.httpStatus;
      const isDenied = httpStatus === 403 || httpStatus === 404 ? true : denied;
      return { ...PLAIN, ...base, ...(isDenied ? asDenied(change, attempted, reason) : change) };
    });
  }

  function authSuccessDue(caller: Caller): boolean {
    const now = Date.now();
    const last = lastSuccess.get(caller.keyId);
    if (last !== undefined && now - last < options.authSuccessIntervalMs) return false;
    lastSuccess.delete(caller.keyId);
    if (lastSuccess.size >= MAX_REMEMBERED_KEYS) lastSuccess.delete(lastSuccess.keys().next().value!);
    lastSuccess.set(caller.keyId, now);
    return true;
  }
}

/** Outside /v1, the routes that read a key: the A2A agent card, and the platform admin's metrics and detailed health. */
const KEYED_ELSEWHERE = new Set([`/${AGENT_CARD_PATH}`, '/metrics', '/health']);

/** The routes that read a key, whose refused keys are failed authentications and whose refusals are denied accesses. */
function takesKey(request: FastifyRequest): boolean {
  return isV1(request) || KEYED_ELSEWHERE.has(routeOrPath(request));
}

/** `/v1/agents/:id/stream` -> `agent`; outside /v1 the last segment (`/metrics` -> `metrics`). */
function resourceTypeOf(route: string | undefined): string {
  const parts = route?.split('/') ?? [];
  const segment = (parts[1] === 'v1' ? parts[2] : parts.at(-1)) || 'unknown';
  const singular: Record<string, string> = { agents: 'agent', tasks: 'task', tenants: 'tenant', 'api-keys': 'api_key', 'dead-letters': 'task', audit: 'audit_log', secrets: 'secret' };
  return singular[segment] ?? segment;
}
