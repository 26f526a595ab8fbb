import { expect } from 'vitest';
import { eventually, type Harness } from './mesh-harness.js';

export const PROBLEM_BASE = 'https://agentmesh.dev/problems/';

export type ApiResponse = Awaited<ReturnType<Harness['request']>>;

/**
 * Asserts an RFC 9457 problem: the exact status, content type application/problem+json, a type
 * under https://agentmesh.dev/problems/ ending in `code`, a title, the status repeated in the
 * body and a non-empty detail. Returns the body for further checks.
 */
export function expectProblem(res: ApiResponse, status: number, code: string): Record<string, any> {
  const context = `${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status, context).toBe(status);
  expect(res.headers.get('content-type') ?? '', context).toMatch(/^application\/problem\+json\b/);
  expect(res.body, context).toBeTypeOf('object');
  expect(res.body.type, context).toBe(PROBLEM_BASE + code);
  expect(res.body.title, context).toBeTypeOf('string');
  expect(res.body.title.length, context).toBeGreaterThan(0);
  expect(res.body.status, context).toBe(status);
  expect(res.body.detail, context).toBeTypeOf('string');
  expect(res.body.detail.length, context).toBeGreaterThan(0);
  return res.body as Record<string, any>;
}

/** Asserts a success status, with the body in the failure message. */
export function expectStatus(res: ApiResponse, status: number): any {
  expect(res.status, `expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`).toBe(status);
  return res.body;
}

export async function registerAgent(
  h: Harness,
  id: string,
  capabilities: string[],
  options: { key?: string; maxConcurrentTasks?: number } = {},
): Promise<any> {
  const res = await h.request('POST', '/v1/agents', {
    ...(options.key !== undefined && { key: options.key }),
    body: { id, name: id, capabilities: capabilities.map((name) => ({ name })), ...(options.maxConcurrentTasks !== undefined && { maxConcurrentTasks: options.maxConcurrentTasks }) },
  });
  return expectStatus(res, 201);
}

export async function submitTask(h: Harness, body: Record<string, unknown>, options: { key?: string; headers?: Record<string, string> } = {}): Promise<string> {
  const res = await h.request('POST', '/v1/tasks', { ...options, body });
  return expectStatus(res, 202).id as string;
}

/** Polls GET /v1/tasks/{id} until the task is in `status`; returns it. */
export function waitForTaskStatus(h: Harness, id: string, status: string, key?: string, timeoutMs = 10_000): Promise<any> {
  return eventually(
    async () => {
      const res = await h.request('GET', `/v1/tasks/${id}`, key !== undefined ? { key } : {});
      return res.status === 200 && res.body.status === status ? res.body : undefined;
    },
    timeoutMs,
    `task ${id} to be ${status}`,
  );
}

/** Creates a tenant with the platform admin key; returns the tenant and its first admin key secret. */
export async function createTenant(h: Harness, id: string, quotas?: Record<string, number>): Promise<{ tenant: any; key: string; keyId: string }> {
  const res = await h.request('POST', '/v1/tenants', { body: { id, ...(quotas && { quotas }) } });
  const body = expectStatus(res, 201);
  return { tenant: body.tenant, key: body.apiKey.key, keyId: body.apiKey.id };
}

/** Creates an API key with `role` in the tenant of `adminKey` (an agent key acts as `agentId`); returns its id and secret. */
export async function createApiKey(h: Harness, role: string, adminKey?: string, name = `${role} key`, agentId?: string): Promise<{ id: string; key: string; body: any }> {
  if (role === 'agent' && agentId === undefined) throw new Error('an agent key needs the agentId it acts as');
  const res = await h.request('POST', '/v1/api-keys', { ...(adminKey !== undefined && { key: adminKey }), body: { name, role, ...(agentId !== undefined && { agentId }) } });
  const body = expectStatus(res, 201);
  return { id: body.id, key: body.key, body };
}
