import type { Mesh } from '../../../application/mesh.js';
import { ValidationError } from '../../../domain/index.js';
import { renderComplianceHtml } from '../../reports/compliance-html.js';
import { ComplianceReportQuery, ComplianceReportSchema, errors } from '../schemas.js';
import { bearerSecurity, type TypedApp } from '../typed-app.js';
import { auditContext } from './audit-context.js';

export function complianceRoutes(app: TypedApp, mesh: Mesh): void {
  app.get(
    '/v1/compliance/reports',
    {
      schema: {
        tags: ['audit'],
        summary: "A compliance report (HIPAA, GDPR or SOC 2) of the tenant's audit log for a period: per control, the evidence and what needs a look (admins; recorded)",
        security: bearerSecurity,
        querystring: ComplianceReportQuery,
        response: {
          200: {
            description: 'The report: JSON, or with format=html one self-contained page',
            content: { 'application/json': { schema: ComplianceReportSchema }, 'text/html': { schema: { type: 'string' } } },
          },
          ...errors(404),
        },
      },
    },
    async (request, reply) => {
      const { framework, tenant, format = 'json' } = request.query;
      const from = Date.parse(request.query.from);
      const to = Date.parse(request.query.to);
      if (to <= from) throw new ValidationError('to must be after from', 'querystring.to');
      const report = await mesh.audit.exportComplianceReport(
        request.caller,
        { framework, from, to, ...(tenant !== undefined && { tenantId: tenant }) },
        auditContext(request),
      );
      if (format === 'html') return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(renderComplianceHtml(report) as never);
      return report;
    },
  );
}
