import type { Mesh } from '../../../application/mesh.js';
import { AuditEntrySchema, AuditQuery, AuditVerifyQuery, AuditVerifyReport, errors, pageOf } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { auditContext } from './audit-context.js';

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
        { ...filter, ...(from !== undefined && { from: Date.parse(from) }), ...(to !== undefined && { to: Date.parse(to) }) },
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
        { ...(tenant !== undefined && { tenantId: tenant }), ...(from !== undefined && { from: Date.parse(from) }), ...(to !== undefined && { to: Date.parse(to) }) },
        auditContext(request),
      );
    },
  );
}
