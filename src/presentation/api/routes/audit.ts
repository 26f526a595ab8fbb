import type { Mesh } from '../../../application/mesh.js';
import { AuditEntrySchema, AuditQuery, AuditRetention, AuditVerifyQuery, AuditVerifyReport, errors, pageOf, TenantQuery } from '../schemas.js';
import { Type } from 'typebox';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { auditContext } from './audit-context.js';
import { PLAIN } from '../../../domain/plain.js';

export function auditRoutes(app: TypedApp, mesh: Mesh): void {

  app.get(
    '/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: "The tenant's audit log, newest first (admins; the reading is itself recorded)",
        security: bearerSecurity,
        querystring: AuditQuery,
        response: { 200: pageOf(AuditEntrySchema), ...errors(404) },
      },
    },
    async (request) => {
      const { limit = 50, cursor, tenant, from, to, ...filter } = request.query;
      return mesh.audit.queryLogs(
        request.caller,
        tenant,
        { ...PLAIN, ...filter, ...(from !== undefined && { from: Date.parse(from) }), ...(to !== undefined && { to: Date.parse(to) }) },
        { limit, ...(cursor !== undefined && { cursor }) },
        auditContext(request),
      );
    },
  );

  app.get(
    '/v1/audit/verify',
    {
      schema: {
        tags: ['audit'],
        summary: "Recompute the tenant's hash chain and check its signed checkpoints (admins; recorded as COMPLIANCE_CHECK)",
        security: bearerSecurity,
        querystring: AuditVerifyQuery,
        response: { 200: AuditVerifyReport, ...errors(404) },
      },
    },
    async (request) => {
      const { tenant, from, to } = request.query;
      return mesh.audit.verifyChains(
        request.caller,
        { ...PLAIN, ...(tenant !== undefined && { tenantId: tenant }), ...(from !== undefined && { from: Date.parse(from) }), ...(to !== undefined && { to: Date.parse(to) }) },
        auditContext(request),
      );
    },
  );

  app.get(
    '/v1/audit/retention',
    { schema: { tags: ['audit'], summary: "How long the tenant keeps its audit log (admins): days, or null for forever", security: bearerSecurity, response: { 200: AuditRetention, ...errors() } } },
    async (request) => mesh.audit.retention(request.caller),
  );

  app.put(
    '/v1/audit/retention',
    {
      schema: {
        tags: ['audit'],
        summary: 'Set how long the tenant keeps its audit log; older entries are pruned hourly, up to a signed checkpoint (admins; recorded as CONFIG_CHANGED)',
        security: bearerSecurity,
        body: AuditRetention,
        response: { 200: AuditRetention, ...errors() },
      },
    },
    async (request) => mesh.audit.setRetention(request.caller, request.body.days, auditContext(request)),
  );

  app.post(
    '/v1/audit/prune',
    {
      schema: {
        tags: ['audit'],
        summary: "Prune the tenant's entries past its retention now (admins; recorded as ADMIN_ACTION)",
        security: bearerSecurity,
        response: { 200: Type.Object({ removedEntries: Type.Integer(), upToSeq: Type.Union([Type.Integer(), Type.Null()]) }), ...errors() },
      },
    },
    async (request) => {
      const [pruned] = await mesh.audit.prune(request.caller.tenantId, { caller: request.caller, context: auditContext(request) });
      return { removedEntries: pruned?.entries ?? 0, upToSeq: pruned?.uptoSeq ?? null };
    },
  );

  app.post(
    '/v1/audit/subjects/:subjectId/shred',
    {
      schema: {
        tags: ['audit'],
        summary: "Crypto-shred a data subject's personal data in the log (an erasure request): its keys are destroyed; entries, hashes and the chain stay whole (admins; recorded as PERSONAL_DATA_SHREDDED)",
        description: "The subject of an entry's personal data (source address, user agent, personal details) is the key that acted (its id), or `anonymous` for failed authentications. The platform admin may add tenant=<id>.",
        security: bearerSecurity,
        params: Type.Object({ subjectId: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9._:@-]+$' }) }),
        querystring: Type.Object({ tenant: TenantQuery("Another tenant's subject: the platform admin only") }),
        response: { 200: Type.Object({ subjectId: Type.String(), destroyedKeys: Type.Integer({ description: 'Keys of the subject destroyed now (0: none was live, e.g. shredded before or never recorded).' }) }), ...errors(404) },
      },
    },
    async (request) => mesh.audit.shredSubject(request.caller, request.query.tenant, request.params.subjectId, auditContext(request)),
  );
}
