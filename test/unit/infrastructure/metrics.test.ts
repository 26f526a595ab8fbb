import { describe, expect, it } from 'vitest';
import { submitTask, type Task } from '../../../src/domain/index.js';
import { assertName, isIdentifier } from '../../../src/domain/validation.js';
import { BoundedLabel, OTHER, ScopedBoundedLabel } from '../../../src/infrastructure/observability/bounded-label.js';
import { AgentMeshMetrics } from '../../../src/infrastructure/observability/metrics.js';

const task = (tenantId: string, capability: string, n = 0): Task =>
  submitTask({ id: `0190a1b2-c3d4-7e5f-8a9b-${String(n).padStart(12, '0')}`, tenantId, capability }, 1_000).task;

describe('BoundedLabel', () => {
  it('keeps the first values and folds the rest into (other)', () => {
    const label = new BoundedLabel(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => label.value(v))).toEqual(['a', 'b', OTHER, 'a', OTHER, 'b']);
  });

  it('folds into a value no tenant id or capability name can take, so a tenant called "other" keeps its own series', () => {
    expect(isIdentifier(OTHER)).toBe(false);
    expect(() => assertName(OTHER, 'capability')).toThrow();
    const label = new BoundedLabel(1);
    expect(label.value('other')).toBe('other');
    expect(label.value('tenant-2')).not.toBe(label.value('other'));
  });
});

describe('ScopedBoundedLabel', () => {
  it('holds each scope to its share, so one tenant making up capability names leaves the others theirs', () => {
    const label = new ScopedBoundedLabel(6, 2);
    expect(['a', 'b', 'c', 'd', 'a'].map((v) => label.value('greedy', v))).toEqual(['a', 'b', OTHER, OTHER, 'a']);
    expect(['a', 'x'].map((v) => label.value('modest', v))).toEqual(['a', 'x']);
    expect(['y', 'z'].map((v) => label.value('third', v))).toEqual(['y', 'z']);
    // The whole is capped too.
    expect(label.value('fourth', 'w')).toBe(OTHER);
  });
});

describe('AgentMeshMetrics', () => {
  it('caps the tenants and capabilities named in labels, and counts every task all the same', async () => {
    const metrics = new AgentMeshMetrics({ maxTenants: 2, maxCapabilities: 3 });
    for (let i = 0; i < 10; i++) metrics.taskSubmitted(task(`tenant-${i}`, `cap-${i}`, i));
    const { body } = await metrics.scrape();
    const lines = body.split('\n').filter((l) => l.startsWith('agentmesh_tasks_submitted_total{'));
    const tenants = new Set(lines.map((l) => /tenant="([^"]+)"/.exec(l)![1]));
    expect(tenants).toEqual(new Set(['tenant-0', 'tenant-1', OTHER]));
    const capabilities = new Set(lines.map((l) => /capability="([^"]+)"/.exec(l)![1]));
    expect(capabilities.size).toBeLessThanOrEqual(4);
    expect(capabilities.has(OTHER)).toBe(true);
    expect(lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)).toBe(10);
  });

  it("records routing latency with the task's trace id as an exemplar, and settlements by status", async () => {
    const metrics = new AgentMeshMetrics();
    const traced = { ...task('acme', 'summarize'), traceContext: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } };
    metrics.taskRouted(traced, 12);
    // Without a trace context: no exemplar, same counts.
    metrics.taskRouted(task('acme', 'summarize', 2), 3);
    metrics.taskSettled({ ...traced, status: 'completed' }, 1500);
    metrics.taskSettled({ ...task('acme', 'summarize', 1), status: 'dead_lettered' }, undefined);
    const { contentType, body } = await metrics.scrape();
    expect(contentType).toMatch(/application\/openmetrics-text/);
    expect(body).toMatch(/agentmesh_messages_routed_total\{tenant="acme",capability="summarize",strategy="round_robin"\} 2/);
    expect(body).toMatch(/agentmesh_message_routing_latency_seconds_bucket\{le="0.025",tenant="acme",capability="summarize",strategy="round_robin"\} 2 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} 0.012/);
    expect(body).toMatch(/agentmesh_tasks_completed_total\{tenant="acme",capability="summarize"\} 1/);
    expect(body).toMatch(/agentmesh_tasks_dead_lettered_total\{tenant="acme",capability="summarize"\} 1/);
    expect(body).toMatch(/agentmesh_task_execution_seconds_sum\{tenant="acme",capability="summarize",status="completed"\} 1.5/);
    expect(body).toMatch(/agentmesh_process_cpu_seconds_total/);
    expect(body.trimEnd().endsWith('# EOF')).toBe(true);
  });
});
