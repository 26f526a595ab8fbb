import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AlertSeverity, AlertSink, SecurityAlert } from '../../../application/security-alerts.js';
import { AuditAction } from '../../../domain/index.js';

const OCSF_SEVERITY: Record<AlertSeverity, { id: number; name: string }> = {
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
};

const AUTHENTICATION = new Set<string>([AuditAction.AUTH_FAILURE, AuditAction.AUTH_SUCCESS, 'AUTH_FAILURE_BURST']);

/** The alert as an OCSF 1.1 event: Authentication (3002) for failed logins, API Activity (6003) for the rest. */
export function toOcsf(alert: SecurityAlert, version: string): Record<string, unknown> {
  const e = alert.entry;
  const auth = AUTHENTICATION.has(alert.kind);
  const failed = e.status !== 'success';
  return {
    metadata: { version: '1.1.0', uid: alert.id, product: { name: 'AgentMesh', vendor_name: 'AgentMesh', version }, original_time: new Date(alert.at).toISOString() },
    time: alert.at,
    ...(auth
      ? { category_uid: 3, category_name: 'Identity & Access Management', class_uid: 3002, class_name: 'Authentication', activity_id: 1, activity_name: 'Logon', type_uid: 300201 }
      : { category_uid: 6, category_name: 'Application Activity', class_uid: 6003, class_name: 'API Activity', activity_id: 99, activity_name: e.action, type_uid: 600399 }),
    severity_id: OCSF_SEVERITY[alert.severity].id,
    severity: OCSF_SEVERITY[alert.severity].name,
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    status_detail: e.status,
    message: alert.summary,
    count: alert.count,
    actor: { user: { uid: e.actor.keyId ?? e.actor.type, type: e.actor.role ?? e.actor.type }, ...(e.actor.agentId !== undefined && { app_name: e.actor.agentId }) },
    ...(e.sourceIp !== undefined && { src_endpoint: { ip: e.sourceIp } }),
    ...(e.userAgent !== undefined && { http_request: { user_agent: e.userAgent } }),
    api: { operation: e.action },
    resources: [{ type: e.resourceType, ...(e.resourceId !== undefined && { uid: e.resourceId }) }],
    unmapped: { tenant: alert.tenantId, alert_kind: alert.kind, audit_entry: e.id, audit_seq: e.seq, ...(e.traceId !== undefined && { trace_id: e.traceId }), ...(e.details !== undefined && { details: e.details }) },
  };
}

export interface WebhookTarget {
  url: string;
  /** The Authorization header's value (e.g. `Splunk <token>` for a HEC, `Bearer <token>`). */
  authorization?: string;
  /** `ocsf`: a JSON array of OCSF events; `splunk-hec`: one `{time, sourcetype, event}` object per event (HEC's /services/collector/event). */
  format: 'ocsf' | 'splunk-hec';
  ca?: string;
  timeoutMs?: number;
}

/** Alerts POSTed as JSON to an HTTPS endpoint (a SIEM's collector); any answer but 2xx is a failure to retry. */
export class WebhookSink implements AlertSink {
  readonly name: string;
  private readonly target: URL;

  constructor(
    private readonly options: WebhookTarget,
    private readonly version: string,
  ) {
    this.target = new URL(options.url);
    this.name = `webhook ${this.target.origin}`;
  }

  body(alerts: readonly SecurityAlert[]): string {
    const events = alerts.map((a) => toOcsf(a, this.version));
    if (this.options.format === 'splunk-hec') return events.map((event) => JSON.stringify({ time: (event.time as number) / 1000, sourcetype: 'agentmesh:ocsf', event })).join('\n');
    return JSON.stringify(events);
  }

  send(alerts: readonly SecurityAlert[]): Promise<void> {
    const body = this.body(alerts);
    const request = this.target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        this.target,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': `agentmesh/${this.version}`,
            ...(this.options.authorization !== undefined && { authorization: this.options.authorization }),
          },
          ...(this.options.ca !== undefined && { ca: this.options.ca }),
          timeout: this.options.timeoutMs ?? 10_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`${this.name} answered ${res.statusCode}`))));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${this.name} did not answer within ${this.options.timeoutMs ?? 10_000} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async close(): Promise<void> {}
}
