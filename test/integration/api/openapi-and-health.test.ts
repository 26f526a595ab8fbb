import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** Every route of the API, as OpenAPI paths with their methods. */
const API_ROUTES: Record<string, string[]> = {
  '/health': ['get'],
  '/health/live': ['get'],
  '/health/ready': ['get'],
  '/metrics': ['get'],
  '/v1/tenants': ['post'],
  '/v1/tenants/{id}': ['get'],
  '/v1/api-keys': ['get', 'post'],
  '/v1/api-keys/{id}': ['delete', 'patch'],
  '/v1/api-keys/{id}/rotate': ['post'],
  '/v1/agents': ['get', 'post'],
  '/v1/agents/{id}': ['delete', 'get'],
  '/v1/agents/{id}/heartbeat': ['post'],
  '/v1/agents/{id}/pause': ['post'],
  '/v1/agents/{id}/resume': ['post'],
  '/v1/agents/{id}/tasks/next': ['get'],
  '/v1/agents/{id}/stream': ['get'],
  '/v1/tasks': ['get', 'post'],
  '/v1/tasks/batch': ['post'],
  '/v1/tasks/settle': ['post'],
  '/v1/tasks/{id}': ['get'],
  '/v1/tasks/{id}/complete': ['post'],
  '/v1/tasks/{id}/fail': ['post'],
  '/v1/tasks/{id}/extend': ['post'],
  '/v1/tasks/{id}/cancel': ['post'],
  '/v1/dead-letters': ['get'],
  '/v1/dead-letters/{id}/requeue': ['post'],
  '/v1/audit': ['get'],
  '/v1/audit/verify': ['get'],
  '/v1/audit/retention': ['get', 'put'],
  '/v1/audit/prune': ['post'],
  '/v1/audit/subjects/{subjectId}/shred': ['post'],
  '/v1/compliance/reports': ['get'],
  '/v1/secrets': ['get'],
  '/v1/secrets/{name}': ['delete', 'get', 'put'],
  '/v1/secrets/{name}/rotate': ['post'],
  '/v1/tenant-keys/destroy': ['post'],
  '/v1/tasks/{id}/secrets/{name}': ['get'],
  '/v1/a2a': ['post'],
  '/.well-known/agent-card.json': ['get'],
  '/v1/cache/stats': ['get'],
  '/v1/cache/warm': ['post'],
};

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

describe('OpenAPI document, docs and health', () => {
  let h: Harness;
  let doc: any;
  beforeAll(async () => {
    h = await startHarness();
    const res = await h.request('GET', '/openapi.json', { key: null });
    expect(res.status).toBe(200);
    doc = res.body;
  }, 60_000);
  afterAll(async () => h?.close());

  describe('GET /openapi.json', () => {
    it('is an OpenAPI 3.1 document served without a key', async () => {
      const res = await h.request('GET', '/openapi.json', { key: null });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      expect(doc.info.title).toBe('AgentMesh API');
      expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('lists every route of the API, with its methods', () => {
      const documented: Record<string, string[]> = {};
      for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
        documented[path] = Object.keys(item).filter((k) => HTTP_METHODS.has(k)).sort();
      }
      expect(documented).toEqual(API_ROUTES);
      expect(doc.paths).not.toHaveProperty('/openapi.json');
    });

    it('declares the bearerAuth scheme and requires it on every /v1 operation and /metrics', () => {
      expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
        for (const [method, op] of Object.entries<any>(item)) {
          if (!HTTP_METHODS.has(method)) continue;
          // /metrics and /health take the platform admin key too.
          if (path.startsWith('/v1/') || path === '/metrics' || path === '/health') expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
          // The A2A agent card: public without a key, the tenant's with one.
          else if (path === '/.well-known/agent-card.json') expect(op.security, `${method} ${path}`).toEqual([{}, { bearerAuth: [] }]);
          // The probes say plainly that they take no key.
          else expect(op.security, `${method} ${path}`).toEqual([]);
          expect(op.summary, `${method} ${path} has a summary`).toBeTypeOf('string');
          expect(op.operationId, `${method} ${path} has an operationId`).toMatch(/^[a-z][A-Za-z]+$/u);
        }
      }
    });

    it('declares the {id} path parameter wherever the path has one', () => {
      for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
        if (!path.includes('{id}')) continue;
        for (const [method, op] of Object.entries<any>(item)) {
          if (!HTTP_METHODS.has(method)) continue;
          const params = [...(item.parameters ?? []), ...(op.parameters ?? [])];
          expect(params.some((p: { in: string; name: string; required?: boolean }) => p.in === 'path' && p.name === 'id' && p.required === true), `${method} ${path}`).toBe(true);
        }
      }
    });

    it('documents 413 and 415 on every operation whose method may carry a body (Fastify refuses a body too large or not JSON on any of them)', () => {
      let operations = 0;
      for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
        for (const method of ['post', 'put', 'patch', 'delete']) {
          if (item[method] === undefined) continue;
          operations++;
          expect(Object.keys(item[method].responses), `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
        }
      }
      expect(operations).toBeGreaterThan(20);
    });

    it('answers 415 on a body-less POST and a DELETE sent a body that is not JSON, as documented', async () => {
      for (const [method, path] of [['POST', '/v1/agents/nobody-here/pause'], ['DELETE', '/v1/agents/nobody-here']] as const) {
        const res = await fetch(`${h.url}${path}`, { method, headers: { authorization: `Bearer ${h.adminKey}`, 'content-type': 'text/plain' }, body: 'hello' });
        expect(res.status, `${method} ${path}`).toBe(415);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/u);
      }
    });

    it('documents request bodies and error responses with schemas whose $refs resolve', () => {
      expect(doc.paths['/v1/tasks'].post.requestBody.content['application/json'].schema.required).toContain('capability');
      expect(Object.keys(doc.paths['/v1/tasks'].post.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '401', '403', '413', '429']));
      expect(doc.components.schemas.Problem).toBeDefined();

      const refs: string[] = [];
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') {
          for (const [k, v] of Object.entries(node)) {
            if (k === '$ref' && typeof v === 'string') refs.push(v);
            else walk(v);
          }
        }
      };
      walk(doc);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) {
        expect(ref, 'a local reference').toMatch(/^#\//);
        const target = ref.slice(2).split('/').reduce<any>((at, part) => at?.[part.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
        expect(target, `${ref} resolves`).toBeDefined();
      }
    });

    it('documents 415 on every operation that takes a body (it answers a body that is not JSON so), and 405 on none (it answers methods no operation has)', () => {
      const withBody: string[] = [];
      const missing: string[] = [];
      for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
        for (const [method, op] of Object.entries<any>(item)) {
          if (!HTTP_METHODS.has(method)) continue;
          expect(op.responses, `${method} ${path}`).not.toHaveProperty('405');
          if (op.requestBody === undefined) continue;
          withBody.push(`${method.toUpperCase()} ${path}`);
          if (!op.responses?.['415']?.content?.['application/problem+json']) missing.push(`${method.toUpperCase()} ${path}`);
        }
      }
      expect(withBody.length).toBeGreaterThanOrEqual(16);
      expect(missing).toEqual([]);
    });

    it('documents error responses with the media type they are sent as (application/problem+json)', () => {
      const mismatched: string[] = [];
      for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
        for (const [method, op] of Object.entries<any>(item)) {
          if (!HTTP_METHODS.has(method)) continue;
          for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
            if (Number(status) < 400 || !path.startsWith('/v1/')) continue;
            if (!response.content?.['application/problem+json']) mismatched.push(`${method.toUpperCase()} ${path} ${status}`);
          }
        }
      }
      expect(mismatched.length, `error responses documented without application/problem+json: ${mismatched.length}, e.g. ${mismatched.slice(0, 3).join('; ')}`).toBe(0);
    });
  });

  it('GET /docs serves the Swagger UI, which loads the same document', async () => {
    const res = await fetch(`${h.url}/docs`, { redirect: 'follow' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type') ?? '').toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<title>Swagger UI</title>');
    expect(html).toMatch(/swagger-ui/);

    const json = await fetch(`${h.url}/docs/json`);
    expect(json.status).toBe(200);
    const served = (await json.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(served.openapi).toBe(doc.openapi);
    expect(Object.keys(served.paths).sort()).toEqual(Object.keys(doc.paths).sort());
  });

  describe('health', () => {
    it('/health/live answers 200 without a key', async () => {
      const res = await h.request('GET', '/health/live', { key: null });
      expect(expectStatus(res, 200)).toEqual({ status: 'alive', eventLoopDelayP99Ms: expect.any(Number), eventLoopDelayMaxMs: expect.any(Number) });
    });

    it('/health/ready answers 200 with store and broker up', async () => {
      const res = await h.request('GET', '/health/ready', { key: null });
      expect(expectStatus(res, 200)).toEqual({ status: 'ready', role: 'standalone', checks: { store: { status: 'up' }, broker: { status: 'up' } }, degraded: [] });
    });

    it('/health gives the platform admin the detail, checked now; other keys get 403, none 401', async () => {
      const res = await h.request('GET', '/health');
      expect(expectStatus(res, 200)).toMatchObject({
        status: 'healthy',
        role: 'standalone',
        version: expect.any(String),
        checks: { store: { status: 'up' }, broker: { status: 'up' } },
        mesh: { queuedTasks: expect.any(Number), leasesHeld: expect.any(Number), liveAgents: expect.any(Number), taskWaiters: expect.any(Number) },
      });
      expect((await h.request('GET', '/health', { key: null })).status).toBe(401);
      const tenant = await h.request('POST', '/v1/tenants', { body: { id: 'health-tenant' } });
      expect((await h.request('GET', '/health', { key: tenant.body.apiKey.key })).status).toBe(403);
    });
  });
});
