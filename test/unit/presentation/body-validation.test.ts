import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AJV_OPTIONS, bodyStrictValidators, compiledOnce } from '../../../src/presentation/api/validation.js';

/** The API's validators: bodies as sent, the other parts of a request coerced; shared schemas and formats in each. */
describe('bodyStrictValidators', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ ajv: { customOptions: { ...AJV_OPTIONS } }, schemaController: { compilersFactory: bodyStrictValidators() } });
    app.addSchema({ $id: 'Thing', type: 'object', properties: { n: { type: 'integer', minimum: 1 }, at: { type: 'string', format: 'date-time' } }, required: ['n'], additionalProperties: false });
    const echo = async (request: { body: unknown; query: unknown; params: unknown; headers: Record<string, unknown> }) => ({ body: request.body, query: request.query, params: request.params, limit: request.headers['x-limit'] });
    app.post(
      '/things/:id',
      {
        schema: {
          body: { $ref: 'Thing#' },
          querystring: { type: 'object', properties: { n: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } } },
          params: { type: 'object', properties: { id: { type: 'integer' } } },
          headers: { type: 'object', properties: { 'x-limit': { type: 'integer' } } },
        },
      },
      echo,
    );
    // An encapsulated context with a schema of its own, next to the root's.
    await app.register(async (child) => {
      child.addSchema({ $id: 'Pair', type: 'object', properties: { thing: { $ref: 'Thing#' }, flag: { type: 'boolean' } }, required: ['thing'] });
      child.post('/pairs', { schema: { body: { $ref: 'Pair#' }, querystring: { $ref: 'Thing#' } } }, echo);
    });
    await app.ready();
  });
  afterAll(async () => app?.close());

  const post = (url: string, body: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

  it('coerces the querystring, path parameters and headers, arrays included', async () => {
    const res = await post('/things/7?n=3&tags=a', { n: 1, at: '2026-01-01T00:00:00Z' }, { 'x-limit': '10' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ body: { n: 1, at: '2026-01-01T00:00:00Z' }, query: { n: 3, tags: ['a'] }, params: { id: 7 }, limit: 10 });
  });

  it('coerces only numbers written in decimal: no hexadecimal, sign, blank or empty text passes as a number', async () => {
    for (const n of ['0x10', '+5', '%20', '', '1_000', 'Infinity']) {
      const res = await post(`/things/7?n=${n}`, { n: 1 });
      expect([n, res.statusCode, res.json().message]).toEqual([n, 400, 'querystring/n must be integer']);
    }
    expect((await post('/things/0x7', { n: 1 })).json().message).toBe('params/id must be integer');
    expect((await post('/things/7', { n: 1 }, { 'x-limit': '0x10' })).json().message).toBe('headers/x-limit must be integer');
    const written = await post('/things/-7?n=1e1', { n: 1 }, { 'x-limit': '010' });
    expect(written.statusCode, written.body).toBe(200);
    expect(written.json()).toMatchObject({ query: { n: 10 }, params: { id: -7 }, limit: 10 });
  });

  it('takes a body as sent: no string, boolean, null or array is made the number the schema wants', async () => {
    for (const n of ['1', true, null, [1]]) {
      const res = await post('/things/7', { n });
      expect([n, res.statusCode, res.json().message]).toEqual([n, 400, 'body/n must be integer']);
    }
  });

  it('resolves shared schemas and checks formats in both, in an encapsulated context too', async () => {
    expect((await post('/things/7', { n: 1, at: 'yesterday' })).json().message).toBe('body/at must match format "date-time"');
    expect((await post('/things/7', { n: 0 })).json().message).toBe('body/n must be >= 1');
    const pair = await post('/pairs?n=2', { thing: { n: 1 }, flag: false });
    expect(pair.statusCode, pair.body).toBe(200);
    expect(pair.json()).toMatchObject({ body: { thing: { n: 1 }, flag: false }, query: { n: 2 } });
    expect((await post('/pairs?n=2', { thing: { n: '1' } })).json().message).toBe('body/thing/n must be integer');
    expect((await post('/pairs?n=2', { thing: { n: 1 }, flag: 'false' })).json().message).toBe('body/flag must be boolean');
    expect((await post('/pairs?n=zero', { thing: { n: 1 } })).json().message).toBe('querystring/n must be integer');
  });
});

describe('compiledOnce', () => {
  it('compiles a schema object once for every route that uses it; another object, or a boolean schema, each time', () => {
    const compile = vi.fn((route: { schema?: unknown; url: string }) => () => route.url);
    const once = compiledOnce(compile);
    const shared = { type: 'object' };
    const first = once({ schema: shared, url: '/a' });
    expect(once({ schema: shared, url: '/b' })).toBe(first);
    expect(once({ schema: { type: 'object' }, url: '/c' })).not.toBe(first);
    once({ schema: true, url: '/d' });
    once({ schema: true, url: '/e' });
    expect(compile.mock.calls.map(([route]) => route.url)).toEqual(['/a', '/c', '/d', '/e']);
  });

  it('a compiler from the same pool shares what another compiled (a restart, a second server in the process)', () => {
    const compile = vi.fn((route: { schema?: unknown; url: string }) => () => route.url);
    const shared = { type: 'object' };
    const first = compiledOnce(compile)({ schema: shared, url: '/a' });
    expect(compiledOnce(compile)({ schema: shared, url: '/b' })).toBe(first);
    const another = vi.fn((route: { schema?: unknown; url: string }) => () => route.url);
    expect(compiledOnce(another)({ schema: shared, url: '/c' })).not.toBe(first);
    expect(compile).toHaveBeenCalledTimes(1);
    expect(another).toHaveBeenCalledTimes(1);
  });

  it('a second server of the process uses the validators and serializers the first compiled for the same schemas, and works as the first', async () => {
    const Shared = { type: 'object', properties: { n: { type: 'integer' } } };
    const seen: unknown[][] = [];
    const serve = async () => {
      const app = Fastify({ ajv: { customOptions: { ...AJV_OPTIONS } }, schemaController: { compilersFactory: bodyStrictValidators() } });
      app.post('/shared', { schema: { body: Shared, querystring: Shared, response: { 200: Shared } } }, async (request, reply) => {
        seen.push([request.getValidationFunction('body'), request.getValidationFunction('querystring'), reply.getSerializationFunction('200')]);
        return { n: (request.body as { n: number }).n + (request.query as { n: number }).n, hidden: true };
      });
      try {
        const ok = await app.inject({ method: 'POST', url: '/shared?n=2', payload: { n: 1 } });
        expect(ok.json()).toEqual({ n: 3 });
        expect((await app.inject({ method: 'POST', url: '/shared?n=2', payload: { n: '1' } })).statusCode).toBe(400);
        expect((await app.inject({ method: 'POST', url: '/shared?n=0x2', payload: { n: 1 } })).statusCode).toBe(400);
      } finally {
        await app.close();
      }
    };
    await serve();
    await serve();
    const [first, second] = seen;
    expect(first!.every((fn) => typeof fn === 'function')).toBe(true);
    expect(second).toEqual(first);
    // The body's validator does not coerce; the query's does.
    expect(first![0]).not.toBe(first![1]);
  });

  it('serializes each route by its own schema when routes share a response schema, and validates the body and the query of one schema apart', async () => {
    const app = Fastify({ ajv: { customOptions: { ...AJV_OPTIONS } }, schemaController: { compilersFactory: bodyStrictValidators() } });
    try {
      const Shared = { type: 'object', properties: { n: { type: 'integer' } } };
      app.get('/one', { schema: { response: { 200: Shared } } }, async () => ({ n: 1, hidden: 'x' }));
      app.get('/two', { schema: { querystring: Shared, response: { 200: Shared, 202: Shared } } }, async (request) => ({ n: (request.query as { n: number }).n, hidden: 'y' }));
      app.post('/three', { schema: { body: Shared, response: { 200: Shared } } }, async (request) => request.body);
      await app.ready();
      expect((await app.inject({ url: '/one' })).json()).toEqual({ n: 1 });
      // The query is coerced ("5" is 5); the body of the same schema object is not.
      expect((await app.inject({ url: '/two?n=5' })).json()).toEqual({ n: 5 });
      expect((await app.inject({ method: 'POST', url: '/three', payload: { n: '5' } })).statusCode).toBe(400);
      expect((await app.inject({ method: 'POST', url: '/three', payload: { n: 5, extra: true } })).json()).toEqual({ n: 5 });
    } finally {
      await app.close();
    }
  });
});
