import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inSpan } from '../../src/application/tracing.js';
import { configureLogger } from '../../src/infrastructure/observability/logger.js';
import { startTracing, type Tracing } from '../../src/infrastructure/observability/tracing.js';
import { captureLines } from '../support/log-capture.js';
import { Agent } from '../../src/sdk/index.js';
import { eventually, startHarness, type Harness } from '../support/mesh-harness.js';

/** One task, one trace: from the client's request through routing and the broker to the agent's work and its completion. */
describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let h: Harness;
  let agent: Agent;

  beforeAll(async () => {
    tracing = startTracing({ serviceName: 'agentmesh-test', version: 'test', exporter, processor: 'simple' });
    h = await startHarness();
    agent = await new Agent({ url: h.url, apiKey: h.adminKey, name: 'traced', capabilities: ['traced'], heartbeatIntervalMs: 200 }).handle('traced', async () => 'done').start();
  });
  afterAll(async () => {
    await agent.stop();
    await h.close();
    await tracing.shutdown();
  });

  it('makes one span tree of a task, across the broker and the agent', async () => {
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { id } = await h.admin.submit('traced', { x: 1 }, { traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` });
    expect((await h.admin.waitForResult(id, { timeoutMs: 5000 })).status).toBe('completed');
    const spans = await eventually(() => {
      const mine = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === clientTrace);
      return mine.some((s) => s.name === 'agentmesh.complete') ? mine : undefined;
    }, 5000, 'the completion spans');
    const byName = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found, `${name} among ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
      return found[0]!;
    };
    const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
    const submitHttp = byName('POST /v1/tasks');
    const submit = byName('agentmesh.submit');
    const write = byName('agentmesh.store.write');
    const route = byName('agentmesh.route');
    const publish = byName('agentmesh.publish');
    const deliver = byName('agentmesh.deliver');
    const work = byName('agentmesh.agent.work');
    // A lone settlement goes as a single request, several at once as one batch.
    const settleHttp = spans.find((s) => s.name === 'POST /v1/tasks/:id/complete' || s.name === 'POST /v1/tasks/settle')!;
    const complete = byName('agentmesh.complete');

    // The client's span is the root's parent; each step is a child of the one before.
    expect(parentOf(submitHttp)).toBe('00f067aa0ba902b7');
    expect(parentOf(submit)).toBe(submitHttp.spanContext().spanId);
    expect(parentOf(write)).toBe(submit.spanContext().spanId);
    expect(parentOf(route)).toBe(submit.spanContext().spanId);
    expect(parentOf(publish)).toBe(route.spanContext().spanId);
    expect(parentOf(deliver)).toBe(publish.spanContext().spanId);
    expect(parentOf(work)).toBe(deliver.spanContext().spanId);
    expect(parentOf(settleHttp)).toBe(work.spanContext().spanId);
    expect(parentOf(complete)).toBe(settleHttp.spanContext().spanId);
    expect(settleHttp.attributes['http.response.status_code']).toBe(200);

    expect(route.attributes).toMatchObject({ 'agentmesh.strategy': 'round_robin', 'agentmesh.task_id': id, 'agentmesh.agent_id': agent.id });
    expect(deliver.kind).toBe(4 /* CONSUMER */);
    expect(publish.kind).toBe(3 /* PRODUCER */);
    expect(complete.attributes['agentmesh.status']).toBe('completed');
    expect(submit.resource.attributes['service.name']).toBe('agentmesh-test');
  });

  it('starts a trace of its own for a request without one, and marks a failing request', async () => {
    exporter.reset();
    const res = await h.request('POST', '/v1/tasks', { body: { capability: 'traced', priority: 42 } });
    expect(res.status).toBe(400);
    const { id } = await h.admin.submit('traced', {});
    await h.admin.waitForResult(id, { timeoutMs: 5000 });
    const submit = await eventually(() => exporter.getFinishedSpans().find((s) => s.name === 'agentmesh.submit' && s.attributes['agentmesh.task_id'] === id), 5000, 'the submit span');
    const sameTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === submit.spanContext().traceId);
    expect(sameTrace.map((s) => s.name)).toEqual(expect.arrayContaining(['POST /v1/tasks', 'agentmesh.submit', 'agentmesh.route', 'agentmesh.deliver']));
    expect(exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/tasks' && s.attributes['http.response.status_code'] === 400)).toBeDefined();
  });

  it("ties each outcome of a batch settlement to its own work's trace", async () => {
    exporter.reset();
    const worker = await h.admin.registerAgent({ id: 'batch-settler', name: 'batch settler', capabilities: [{ name: 'batched' }], maxConcurrentTasks: 2 });
    const traces = ['0af7651916cd43dd8448eb211c80319c', '1af7651916cd43dd8448eb211c80319c'];
    const ids: string[] = [];
    for (const traceId of traces) ids.push((await h.admin.submit('batched', {}, { traceparent: `00-${traceId}-b7ad6b7169203331-01` })).id);
    for (let i = 0; i < 2; i++) await h.admin.nextTask(worker.id, 2000);
    const works = ['1111111111111111', '2222222222222222'];
    const res = await h.request('POST', '/v1/tasks/settle', {
      body: { outcomes: ids.map((taskId, i) => ({ taskId, agentId: worker.id, outcome: 'completed', output: i, traceparent: `00-${traces[i]}-${works[i]}-01` })) },
    });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([200, 200]);
    const completes = await eventually(() => {
      const found = exporter.getFinishedSpans().filter((s) => s.name === 'agentmesh.complete');
      return found.length === 2 ? found : undefined;
    }, 5000, 'two completion spans');
    for (const [i, traceId] of traces.entries()) {
      const span = completes.find((s) => s.spanContext().traceId === traceId)!;
      expect(span.parentSpanContext?.spanId).toBe(works[i]);
      expect(span.attributes['agentmesh.task_id']).toBe(ids[i]);
    }
  });

  it('names the trace and span on every log line written inside a span, and none outside', async () => {
    const out = captureLines();
    const log = configureLogger({ serviceName: 'agentmesh', logLevel: 'info', format: 'json', destination: out.stream });
    let inside: { traceId: string; spanId: string } | undefined;
    await inSpan('agentmesh.test', {}, undefined, async (span) => {
      inside = span.spanContext();
      log.info({ task_id: 't1' }, 'inside');
    });
    log.info('outside');
    const [a, b] = out.lines;
    expect(a).toMatchObject({ msg: 'inside', trace_id: inside!.traceId, span_id: inside!.spanId, task_id: 't1' });
    expect(b!.trace_id).toBeUndefined();
  });
});
