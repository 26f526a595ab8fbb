import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ADMIN_KEY } from '../support/mesh-harness.js';
import { spawnServe, type ServeProcess } from '../support/serve-process.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** `agentmesh serve` with OTEL_EXPORTER_OTLP_ENDPOINT set exports its spans over OTLP/HTTP; a receiver here checks what arrives. */
describe('OTLP export', () => {
  let receiver: Server;
  let endpoint: string;
  const received: Array<{ path: string; contentType: string | undefined; serviceName: string | undefined; spans: OtlpSpan[] }> = [];
  let mesh: ServeProcess;

  const body = (request: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = '';
      request.on('data', (chunk) => (text += chunk));
      request.on('end', () => resolve(text));
    });

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      void body(request).then((text) => {
        const payload = JSON.parse(text) as {
          resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        };
        for (const rs of payload.resourceSpans) {
          received.push({
            path: request.url ?? '',
            contentType: request.headers['content-type'],
            serviceName: rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
            spans: rs.scopeSpans.flatMap((s) => s.spans),
          });
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    mesh = await spawnServe({
      AGENTMESH_DATA_DIR: ':memory:',
      AGENTMESH_ADMIN_KEY: ADMIN_KEY,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'agentmesh-otlp-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
  });
  afterAll(async () => {
    mesh?.kill('SIGTERM');
    await mesh?.exited;
    await new Promise((resolve) => receiver.close(resolve));
  });

  it("sends the submit's spans, in the caller's trace, to /v1/traces", async () => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${mesh.url}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ capability: 'exported', input: {} }),
    });
    expect(res.status).toBe(202);
    const spans = await eventually(() => {
      const mine = received.flatMap((r) => r.spans).filter((s) => s.traceId === traceId);
      return mine.some((s) => s.name === 'agentmesh.submit') && mine.some((s) => s.name === 'POST /v1/tasks') ? mine : undefined;
    }, 10_000, 'the spans to arrive');
    const http = spans.find((s) => s.name === 'POST /v1/tasks')!;
    expect(http.parentSpanId).toBe('00f067aa0ba902b7');
    expect(spans.find((s) => s.name === 'agentmesh.submit')!.parentSpanId).toBe(http.spanId);
    expect(received[0]).toMatchObject({ path: '/v1/traces', contentType: expect.stringMatching(/application\/json/), serviceName: 'agentmesh-otlp-test' });
  });
});
