import type { FastifyRequest } from 'fastify';
import type { AuditRecord } from '../../../domain/index.js';
import { requestTraceId } from './request-trace.js';

/** Where a request came from, for the audit entry a use case records itself. */
export function auditContext(request: FastifyRequest): Pick<AuditRecord, 'sourceIp' | 'userAgent' | 'traceId'> {
  const traceId = requestTraceId(request);
  return { sourceIp: request.ip, ...(request.headers['user-agent'] !== undefined && { userAgent: request.headers['user-agent'] }), ...(traceId !== undefined && { traceId }) };
}
