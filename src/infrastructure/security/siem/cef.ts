import type { AlertSeverity, SecurityAlert } from '../../../application/security-alerts.js';

const CEF_SEVERITY: Record<AlertSeverity, number> = { low: 3, medium: 5, high: 8, critical: 10 };
/** RFC 5424 severities: critical 2, error 3, warning 4, notice 5. */
export const SYSLOG_SEVERITY: Record<AlertSeverity, number> = { critical: 2, high: 3, medium: 4, low: 5 };

/** CEF header fields escape backslash and pipe; extension values escape backslash, equals and line breaks. */
const header = (value: string) => value.replace(/\\/gu, '\\\\').replace(/\|/gu, '\\|').replace(/[\r\n]+/gu, ' ');
const extension = (value: string) => value.replace(/\\/gu, '\\\\').replace(/=/gu, '\\=').replace(/\r?\n/gu, '\\n').replace(/\r/gu, '\\r');

/** The alert as an ArcSight CEF record. */
export function toCef(alert: SecurityAlert, version: string): string {
  const e = alert.entry;
  const fields: Array<[string, string | number | undefined]> = [
    ['rt', alert.at],
    ['externalId', alert.id],
    ['act', e.action],
    ['outcome', e.status],
    ['suser', e.actor.keyId ?? e.actor.type],
    ['suid', e.actor.agentId],
    ['spriv', e.actor.role],
    ['src', e.sourceIp],
    ['requestClientApplication', e.userAgent],
    ['cs1Label', 'tenant'],
    ['cs1', alert.tenantId],
    ['cs2Label', 'resource'],
    ['cs2', e.resourceId !== undefined ? `${e.resourceType}/${e.resourceId}` : e.resourceType],
    ['cs3Label', 'auditEntry'],
    ['cs3', e.id],
    ['cs4Label', 'traceId'],
    ['cs4', e.traceId],
    ['cnt', alert.count],
    ['msg', alert.summary],
  ];
  const ext = fields.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${extension(String(v))}`).join(' ');
  return `CEF:0|AgentMesh|AgentMesh|${header(version)}|${header(alert.kind)}|${header(alert.summary)}|${CEF_SEVERITY[alert.severity]}|${ext}`;
}
