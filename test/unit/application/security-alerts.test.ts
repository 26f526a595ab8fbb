import { describe, expect, it } from 'vitest';
import { AlertDispatcher, DEFAULT_ALERT_OPTIONS, type AlertSink, type SecurityAlert } from '../../../src/application/security-alerts.js';
import { silentLogger } from '../../../src/application/logger.js';
import type { AuditEntry } from '../../../src/domain/index.js';

let n = 0;
const entry = (action: string, extra: Partial<AuditEntry> = {}): AuditEntry =>
  ({ id: `e${++n}`, tenantId: 't', seq: n, at: 1_000 + n, actor: { type: 'anonymous' }, action, resourceType: 'api_key', status: 'denied', sourceIp: '10.0.0.1', prevHash: '', hash: '', ...extra }) as AuditEntry;

/** A sink that records what it is given, and fails while `failing` is set. */
class RecordingSink implements AlertSink {
  readonly name = 'recording';
  readonly received: SecurityAlert[] = [];
  failing = false;
  gate: Promise<void> | undefined;
  async send(alerts: readonly SecurityAlert[]) {
    await this.gate;
    if (this.failing) throw new Error('down');
    this.received.push(...alerts);
  }
  async close() {}
}

const settle = () => new Promise((r) => setTimeout(r, 30));

describe('AlertDispatcher', () => {
  it('alerts on sensitive actions only, each once', async () => {
    const sink = new RecordingSink();
    const d = new AlertDispatcher([sink], silentLogger);
    d.consider([entry('UNAUTHORIZED_ACCESS'), entry('TASK_SUBMITTED', { status: 'success' }), entry('POLICY_DELETED'), entry('SECRET_ACCESSED'), entry('AUTH_SUCCESS')]);
    await settle();
    expect(sink.received.map((a) => [a.kind, a.severity])).toEqual([
      ['UNAUTHORIZED_ACCESS', 'medium'],
      ['POLICY_DELETED', 'high'],
      ['SECRET_ACCESSED', 'medium'],
    ]);
    await d.close();
  });

  it("alerts on every change to the secret store, the tenant key's destruction loudest", async () => {
    const sink = new RecordingSink();
    const d = new AlertDispatcher([sink], silentLogger);
    d.consider([entry('SECRET_CREATED'), entry('SECRET_ROTATED'), entry('SECRET_REVOKED'), entry('TENANT_KEY_DESTROYED')]);
    await settle();
    expect(sink.received.map((a) => [a.kind, a.severity])).toEqual([
      ['SECRET_CREATED', 'low'],
      ['SECRET_ROTATED', 'medium'],
      ['SECRET_REVOKED', 'high'],
      ['TENANT_KEY_DESTROYED', 'high'],
    ]);
    await d.close();
  });

  it('alerts on a retention changed, and on a verification that found the log tampered with (not on one that found it intact)', async () => {
    const sink = new RecordingSink();
    const d = new AlertDispatcher([sink], silentLogger);
    d.consider([entry('CONFIG_CHANGED', { status: 'success' }), entry('COMPLIANCE_CHECK', { status: 'success' }), entry('COMPLIANCE_CHECK', { status: 'failure' })]);
    await settle();
    expect(sink.received.map((a) => [a.kind, a.severity])).toEqual([
      ['CONFIG_CHANGED', 'medium'],
      ['COMPLIANCE_CHECK', 'high'],
    ]);
    await d.close();
  });

  it('raises one burst per source and window once failures reach the threshold, and a new one in the next window', async () => {
    const sink = new RecordingSink();
    const d = new AlertDispatcher([sink], silentLogger, { ...DEFAULT_ALERT_OPTIONS, authFailureThreshold: 3, authFailureWindowMs: 1_000 });
    const fail = (at: number, ip = '10.0.0.1') => entry('AUTH_FAILURE', { at, sourceIp: ip });
    d.consider([fail(0), fail(10), fail(20), fail(30), fail(40), fail(50, '10.0.0.2'), fail(60, '10.0.0.2')]);
    d.consider([fail(1_000), fail(1_010), fail(1_020)]);
    await settle();
    expect(sink.received.map((a) => [a.kind, a.count, a.entry.sourceIp])).toEqual([
      ['AUTH_FAILURE_BURST', 3, '10.0.0.1'],
      ['AUTH_FAILURE_BURST', 3, '10.0.0.1'],
    ]);
    expect(new Set(sink.received.map((a) => a.id)).size).toBe(2);
    await d.close();
  });

  it('counts failed authentications for at most 10,000 sources, forgetting the oldest first and counting them', async () => {
    const d = new AlertDispatcher([new RecordingSink()], silentLogger);
    d.consider(Array.from({ length: 10_003 }, (_, i) => entry('AUTH_FAILURE', { at: 0, sourceIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` })));
    expect(d.burstSources).toBe(10_000);
    expect(d.burstSourcesEvicted).toBe(3);
    await d.close();
  });

  it('keeps at most maxQueue alerts per sink, dropping the oldest and counting them; retries until the sink takes them', async () => {
    const sink = new RecordingSink();
    sink.failing = true;
    const d = new AlertDispatcher([sink], silentLogger, { ...DEFAULT_ALERT_OPTIONS, maxQueue: 5, retryBaseMs: 5, retryCapMs: 10 });
    d.consider(Array.from({ length: 8 }, () => entry('UNAUTHORIZED_ACCESS')));
    await settle();
    expect(d.counts()[0]).toMatchObject({ dropped: 3, queued: 5 });
    expect(d.counts()[0]!.failed).toBeGreaterThan(0);
    sink.failing = false;
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.received).toHaveLength(5);
    expect(sink.received.map((a) => a.entry.seq)).toEqual([...sink.received.map((a) => a.entry.seq)].sort((a, b) => a - b));
    expect(d.counts()[0]).toMatchObject({ sent: 5, queued: 0 });
    await d.close();
  });

  it('never makes its caller wait for a sink', async () => {
    const sink = new RecordingSink();
    let open!: () => void;
    sink.gate = new Promise((r) => (open = r));
    const d = new AlertDispatcher([sink], silentLogger);
    const started = performance.now();
    d.consider([entry('UNAUTHORIZED_ACCESS')]);
    expect(performance.now() - started).toBeLessThan(50);
    open();
    await settle();
    expect(sink.received).toHaveLength(1);
    await d.close();
  });
});
