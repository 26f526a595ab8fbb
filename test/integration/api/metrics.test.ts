import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/sdk/index.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** GET /metrics on a running mesh, and on its own port. */
describe('Prometheus metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_METRICS_PORT: '0' });
  });
  afterAll(async () => h.close());

  it('counts what the mesh did, by tenant, capability, strategy and status, and the API by route', async () => {
    const worker = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'metered', capabilities: ['metered'], heartbeatIntervalMs: 200 })
      .handle('metered', () => 'ok')
      .start();
    try {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      for (let i = 0; i < 3; i++) {
        const { id } = await h.admin.submit('metered', { i }, { traceparent });
        await h.admin.waitForResult(id, { timeoutMs: 5000 });
      }
      const res = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/openmetrics-text/);
      const body = await res.text();
      expect(body).toMatch(/agentmesh_tasks_submitted_total\{tenant="default",capability="metered"\} 3/);
      expect(body).toMatch(/agentmesh_messages_routed_total\{tenant="default",capability="metered",strategy="round_robin"\} 3/);
      expect(body).toMatch(/agentmesh_tasks_completed_total\{tenant="default",capability="metered"\} 3/);
      expect(body).toMatch(/agentmesh_message_routing_latency_seconds_bucket\{[^}]*capability="metered"[^}]*\} \d+ # \{trace_id="0af7651916cd43dd8448eb211c80319c"\}/);
      expect(body).toMatch(/agentmesh_agents_created_total\{tenant="default"\} 1/);
      expect(body).toMatch(/agentmesh_active_agents\{tenant="default"\} 1/);
      expect(body).toMatch(/agentmesh_instance_role\{role="standalone"\} 1/);
      expect(body).toMatch(/agentmesh_store_write_queue \d+/);
      expect(body).toMatch(/agentmesh_embedded_db_queue \d+/);
      expect(body).toMatch(/agentmesh_broker_messages_stored \d+/);
      expect(body).toMatch(/agentmesh_memory_entries\{structure="tenant_cache"\} [1-9]\d*/);
      expect(body).toMatch(/agentmesh_memory_entries\{structure="task_cache_settled"\} [1-9]\d*/);
      for (const structure of ['task_cache_active', 'audit_chain_heads', 'current_key_lookups', 'task_deadlines', 'round_robin_cursors', 'forwarded_heartbeats', 'dispatcher_queues']) {
        expect(body).toMatch(new RegExp(`agentmesh_memory_entries\\{structure="${structure}"\\} \\d+`, 'u'));
      }
      // Without Redis every rate-limit window is counted here: this test's requests made some.
      expect(body).toMatch(/agentmesh_local_counter_windows\{use="rate_limits"\} [1-9]\d*/);
      expect(body).toMatch(/agentmesh_local_counter_windows\{use="auth_failures"\} \d+/);
      expect(body).toMatch(/agentmesh_audit_write_queue \d+/);
      expect(body).toMatch(/agentmesh_audit_entries_appended_total [1-9]\d*/);
      expect(body).toMatch(/agentmesh_audit_append_failures_total 0/);
      expect(body).toMatch(/agentmesh_audit_events_projected_total \d+/);
      expect(body).toMatch(/agentmesh_audit_checkpoints_total \d+/);
      expect(body).toMatch(/agentmesh_dependency_up\{dependency="store"\} 1/);
      expect(body).toMatch(/agentmesh_dependency_up\{dependency="broker"\} 1/);
      expect(body).toMatch(/agentmesh_http_request_duration_seconds_count\{method="POST",route="\/v1\/tasks\/batch",status="200"\} \d+|agentmesh_http_request_duration_seconds_count\{method="POST",route="\/v1\/tasks",status="202"\} \d+/);
      expect(body).toMatch(/agentmesh_http_request_duration_seconds_count\{method="GET",route="\/v1\/tasks\/:id",status="200"\} \d+/);
    } finally {
      await worker.stop();
    }
  });

  it('takes the platform admin key on the API port: 401 without a key, 403 with a tenant admin key', async () => {
    expect((await fetch(`${h.url}/metrics`)).status).toBe(401);
    const tenant = await h.request('POST', '/v1/tenants', { body: { id: 'metrics-tenant' } });
    const res = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${tenant.body.apiKey.key}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/only the platform admin key may read metrics/);
  });

  it('serves the same without a key on AGENTMESH_METRICS_PORT, and nothing else there', async () => {
    const url = h.running.metricsUrl!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/agentmesh_tasks_submitted_total/);
    expect((await fetch(url.replace('/metrics', '/v1/tasks'))).status).toBe(404);
  });

  it('says which variable is wrong when the metrics port is taken', async () => {
    const taken = Number(new URL(h.running.metricsUrl!).port);
    await expect(startHarness({ AGENTMESH_METRICS_PORT: String(taken) })).rejects.toThrow(/^AGENTMESH_METRICS_PORT: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });

  it('a start whose API port is taken fails with EADDRINUSE and leaves nothing open: its data directory opens again at once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentmesh-taken-'));
    const taken = new URL(h.url).port;
    await expect(startHarness({ AGENTMESH_PORT: taken }, dataDir)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // The store was closed (its lock released), so a second start on the directory succeeds.
    const again = await startHarness({}, dataDir);
    await again.close();
  });
});
