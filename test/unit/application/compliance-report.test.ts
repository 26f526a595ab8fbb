import { describe, expect, it } from 'vitest';
import { buildComplianceReport, KEY_AND_ADMIN_EVENTS_LISTED, type ReportInput } from '../../../src/application/compliance-report.js';

const events = (n: number) => Array.from({ length: n }, (_, i) => ({ at: 1_000 + i, action: 'API_KEY_CREATED', keyId: 'k', resourceId: `key-${i}`, status: 'success' }));

function input(counts: Array<{ action: string; status: string; count: number }>, listed: number): ReportInput {
  return {
    framework: 'hipaa',
    tenantId: 'acme',
    from: 0,
    to: 10_000,
    now: 10_000,
    generatedBy: 'k',
    signaturesTrusted: true,
    keys: [],
    chain: { tenantId: 'acme', entries: 0, headSeq: 0, checkpoints: 0 },
    evidence: { counts, distinctKeys: 1, deniedByKey: [], securityByDay: [], processing: [], keyAndAdminEvents: events(listed), head: undefined, checkpoint: undefined },
  } as ReportInput;
}

describe('compliance report', () => {
  it('counts every key and administrative action of the period, lists the latest, and leaves reads of the log out of them', () => {
    const report = buildComplianceReport(
      input(
        [
          { action: 'API_KEY_CREATED', status: 'success', count: 140 },
          { action: 'API_KEY_REVOKED', status: 'success', count: 3 },
          { action: 'AUDIT_LOG_EXPORTED', status: 'success', count: 500 },
          { action: 'COMPLIANCE_CHECK', status: 'success', count: 7 },
        ],
        KEY_AND_ADMIN_EVENTS_LISTED,
      ),
    );
    const items = report.controls.flatMap((c) => c.evidence);
    const keyEvents = items.find((e) => e.label.startsWith('Key and administrative actions'))!;
    expect(keyEvents.value).toBe(143);
    expect(keyEvents.rows).toHaveLength(KEY_AND_ADMIN_EVENTS_LISTED);
    expect(items.find((e) => e.label.startsWith('Reads of the log'))?.value).toBe('500 / 7');
  });
});
