import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** A small seeded PRNG (mulberry32): the same run every time, and a failure names its seed and request. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Operation {
  method: string;
  path: string;
  hasBody: boolean;
  /** Query parameters, each with values its schema refuses. */
  query: Array<{ name: string; invalid: string[] }>;
}

interface ParameterSchema {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
}

/** Values a query parameter's schema refuses (none for a free-form string). */
function invalidValues(name: string, schema: ParameterSchema | undefined): string[] {
  if (name === 'cursor') return ['garbage!', '%E2%80%AEx', 'bm90IG1pbmU'];
  if (schema === undefined) return [];
  if (schema.type === 'integer' || schema.type === 'number') return ['abc', '1.5e999', ...(schema.minimum !== undefined ? [String(schema.minimum - 1)] : []), ...(schema.maximum !== undefined ? [String(schema.maximum + 1)] : [])];
  if (schema.enum !== undefined) return ['bogus', '%00'];
  if (schema.format === 'date-time') return ['yesterday', '2026-13-45T99:00:00Z'];
  if (schema.pattern !== undefined) return ['has%20space', '%0A'];
  return [];
}

interface BadRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  why: string;
}

const PATH_TRICKS = ['..%2F..%2Fetc%2Fpasswd', '%00', 'a'.repeat(600), '%F0%9F%92%A9%ED%A0%80', "x'%3B%20DROP%20TABLE%20tasks%3B--", '%2e%2e', '%25', 'ｆｕｌｌｗｉｄｔｈ', '0'];
const MALFORMED_JSON = ['{"a":', '[', 'nul', '{"capability": "x",}', '{\'single\': 1}', '\u0000', '{"a":1}{"b":2}', ''];
const WRONG_TYPES = ['42', '"text"', '[1,2]', 'null', 'true', '[]'];
const BAD_KEYS = ['Bearer ', 'Bearer am_nope.nope', 'Basic dXNlcjpwYXNz', 'Bearer ' + 'k'.repeat(5000), 'Bearer am_\u00e9'];

/**
 * 10,000 requests that are wrong by construction (malformed or wrongly typed bodies, unknown
 * fields, bad encodings, wrong media types, oversized bodies, path tricks, bad query values, bad
 * keys), derived from every operation of the OpenAPI document: every answer is a 4xx
 * problem+json, none is a 5xx, the process stays up, and no state changes.
 */
function isJsonRpcError(text: string): boolean {
  try {
    const body = JSON.parse(text) as { jsonrpc?: unknown; error?: { code?: unknown }; result?: unknown };
    return body.jsonrpc === '2.0' && typeof body.error?.code === 'number' && body.result === undefined;
  } catch {
    return false;
  }
}

describe('fuzzing the API with bad requests', { timeout: 300_000 }, () => {
  let h: Harness;
  let operations: Operation[];
  const STATE_TABLES = ['tenants', 'api_keys', 'agents', 'tasks', 'secrets', 'secret_versions', 'tenant_keys', 'audit_retention'];

  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_RATE_LIMIT_PER_KEY: '0', AGENTMESH_RATE_LIMIT_PER_TENANT: '0' });
    const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; parameters?: Array<{ in: string; name: string; schema?: ParameterSchema }> }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        hasBody: op.requestBody !== undefined,
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, invalid: invalidValues(p.name, p.schema) })).filter((q) => q.invalid.length > 0),
      })),
    );
  }, 60_000);
  afterAll(async () => h?.close());

  async function stateCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const table of STATE_TABLES) counts[table] = (await h.running.store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    return counts;
  }

  function generate(random: () => number, n: number): BadRequest[] {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const requests: BadRequest[] = [];
    const auth = { authorization: `Bearer ${h.adminKey}` };
    for (let i = 0; i < n; i++) {
      const op = pick(operations);
      const path = op.path.replace(/\{[^}]+\}/gu, () => pick(PATH_TRICKS));
      const hasParams = op.path.includes('{');
      const kinds = [
        ...(op.method !== 'GET' ? ['malformed', 'utf8', 'media'] : []),
        ...(op.hasBody ? ['wrongType', 'unknownField', 'oversized'] : []),
        ...(op.query.length > 0 ? ['query'] : []),
        ...(op.path.startsWith('/v1/') ? ['key'] : []),
        ...(hasParams && op.method === 'GET' ? ['path'] : []),
        'unknownRoute',
      ];
      const kind = kind_filter(pick(kinds), i);
      const json = { ...auth, 'content-type': 'application/json' };
      switch (kind) {
        case 'malformed':
          requests.push({ method: op.method, url: path, headers: json, body: pick(MALFORMED_JSON) || '{', why: 'malformed JSON' });
          break;
        case 'utf8':
          requests.push({ method: op.method, url: path, headers: json, body: Buffer.concat([Buffer.from('{"capability":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"')]), why: 'invalid UTF-8 in a truncated body' });
          break;
        case 'media':
          requests.push({ method: op.method, url: path, headers: { ...auth, 'content-type': pick(['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) }, body: '<a>1</a>', why: 'wrong media type' });
          break;
        case 'wrongType':
          requests.push({ method: op.method, url: path, headers: json, body: pick(WRONG_TYPES), why: 'a body of the wrong JSON type' });
          break;
        case 'unknownField':
          requests.push({ method: op.method, url: path, headers: json, body: JSON.stringify({ [`unexpected_${i}`]: pick(['x', 1, null, { deep: ['\ud800'] }]), __proto__: { polluted: true } }), why: 'only unknown fields' });
          break;
        case 'oversized':
          requests.push({ method: op.method, url: path, headers: json, body: `{"input":"${'x'.repeat(1_200_000)}"}`, why: 'a body over the limit' });
          break;
        case 'query': {
          const parameter = pick(op.query);
          requests.push({ method: op.method, url: `${path}?${parameter.name}=${pick(parameter.invalid)}`, headers: auth, why: `a value of ${parameter.name} its schema refuses` });
          break;
        }
        case 'key':
          requests.push({ method: op.method, url: path, headers: { authorization: pick(BAD_KEYS) }, why: 'a bad key' });
          break;
        case 'path':
          requests.push({ method: op.method, url: path, headers: auth, why: 'a path parameter no resource has' });
          break;
        default:
          requests.push({ method: pick(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']), url: `${op.path.replace(/\{[^}]+\}/gu, 'x')}/${pick(PATH_TRICKS)}/nothing-here`, headers: auth, why: 'a route that does not exist' });
      }
    }
    return requests;
  }
  /** Oversized bodies are slow to send: one in fifty at most. */
  const kind_filter = (kind: string, i: number) => (kind === 'oversized' && i % 50 !== 0 ? 'wrongType' : kind);

  it('answers 10,000 of them with a 4xx problem+json each, never a 5xx, and changes nothing', async () => {
    const before = await stateCounts();
    const requests = generate(prng(20261204), 10_000);
    const wrong: string[] = [];
    const byStatus = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < requests.length) {
          const r = requests[next++]!;
          const res = await fetch(h.url + r.url, { method: r.method, headers: r.headers, ...(r.body !== undefined && { body: r.body }) });
          const text = await res.text();
          byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
          const problem = (res.headers.get('content-type') ?? '').startsWith('application/problem+json');
          // The A2A endpoint speaks JSON-RPC: a bad request there is a 200 carrying a JSON-RPC error (and no result).
          if (r.url === '/v1/a2a' && res.status === 200 && isJsonRpcError(text)) continue;
          if (res.status < 400 || res.status >= 500 || !problem) wrong.push(`${res.status} ${r.method} ${r.url.slice(0, 120)} (${r.why}): ${text.slice(0, 200)}`);
        }
      }),
    );
    const patterns = [...new Set(wrong.map((w) => w.replace(/[0-9a-f-]{36}/gu, "ID").slice(0, 150)))];
    expect(patterns.slice(0, 40)).toEqual([]);
    expect([...byStatus.keys()].every((s) => (s >= 400 && s < 500) || s === 200)).toBe(true);
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
    expect(await stateCounts()).toEqual(before);
  });
});
