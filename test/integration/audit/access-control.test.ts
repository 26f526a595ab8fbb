import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent, waitForTaskStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

type Entry = Record<string, any>;

async function auditOf(h: Harness, key: string, query: string): Promise<Entry[]> {
  const items: Entry[] = [];
  let cursor: string | undefined;
  do {
    const page = expectStatus(await h.request('GET', `/v1/audit?limit=500${query}${cursor ? `&cursor=${cursor}` : ''}`, { key }), 200);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

describe('access control', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };
  beforeAll(async () => {
    h = await startHarness();
    acme = await createTenant(h, 'acme');
  }, 60_000);
  afterAll(async () => h?.close());

  describe('an agent key acts only as its own agent', () => {
    let bound: { id: string; key: string };
    let taskOfOther: string;
    beforeAll(async () => {
      bound = await createApiKey(h, 'agent', acme.key, 'bound key', 'bound-1');
      await registerAgent(h, 'other-1', ['bind-cap'], { key: acme.key });
      taskOfOther = (await h.request('POST', '/v1/tasks', { key: acme.key, body: { capability: 'bind-cap', input: {} } })).body.id;
      await waitForTaskStatus(h, taskOfOther, 'assigned', acme.key);
    });

    it('registers, heartbeats and polls as itself; a key made without agentId is refused with 400', async () => {
      // Registering without an id takes the key's agent.
      const agent = expectStatus(await h.request('POST', '/v1/agents', { key: bound.key, body: { name: 'me', capabilities: [{ name: 'bind-own' }] } }), 201);
      expect(agent.id).toBe('bound-1');
      expectStatus(await h.request('POST', '/v1/agents/bound-1/heartbeat', { key: bound.key }), 200);
      expect((await h.request('GET', '/v1/agents/bound-1/tasks/next?waitMs=0', { key: bound.key })).status).toBe(204);
      expect(expectProblem(await h.request('POST', '/v1/api-keys', { key: acme.key, body: { name: 'unbound', role: 'agent' } }), 400, 'validation').field).toBe('body.agentId');
      expect(expectProblem(await h.request('POST', '/v1/api-keys', { key: acme.key, body: { name: 'x', role: 'orchestrator', agentId: 'bound-1' } }), 400, 'validation').field).toBe('body.agentId');
    });

    it("is refused (403, audited with what it tried) for every action as another agent", async () => {
      const attempts: Array<[string, string, unknown?]> = [
        ['POST', '/v1/agents', { id: 'other-2', name: 'x', capabilities: [{ name: 'bind-cap' }] }],
        ['POST', '/v1/agents/other-1/heartbeat'],
        ['POST', '/v1/agents/other-1/pause'],
        ['DELETE', '/v1/agents/other-1'],
        ['GET', '/v1/agents/other-1/tasks/next?waitMs=0'],
        ['GET', '/v1/agents/other-1/stream'],
        ['POST', `/v1/tasks/${taskOfOther}/complete`, { agentId: 'other-1', output: 'stolen' }],
        ['POST', `/v1/tasks/${taskOfOther}/fail`, { agentId: 'other-1', error: 'sabotage' }],
        ['POST', `/v1/tasks/${taskOfOther}/extend`, { agentId: 'other-1', leaseMs: 60_000 }],
      ];
      for (const [method, path, body] of attempts) {
        const problem = expectProblem(await h.request(method, path, { key: bound.key, ...(body !== undefined && { body }) }), 403, 'forbidden');
        expect(problem.detail).toMatch(/acts for agent 'bound-1' only/u);
      }
      const settled = expectStatus(await h.request('POST', '/v1/tasks/settle', { key: bound.key, body: { outcomes: [{ taskId: taskOfOther, agentId: 'other-1', outcome: 'completed', output: 1 }] } }), 200);
      expect(settled.results[0].status).toBe(403);
      expect(expectStatus(await h.request('GET', `/v1/tasks/${taskOfOther}`, { key: acme.key }), 200).status).toBe('assigned');

      const denied = await auditOf(h, acme.key, `&action=UNAUTHORIZED_ACCESS&actorKeyId=${bound.id}`);
      expect(denied).toHaveLength(attempts.length + 1);
      expect(denied.every((e) => e.actor.agentId === 'bound-1' && e.status === 'denied')).toBe(true);
      expect(denied.map((e) => e.details.attemptedAction).filter(Boolean)).toEqual(expect.arrayContaining(['AGENT_CREATED', 'AGENT_UPDATED', 'AGENT_TERMINATED', 'TASK_COMPLETED', 'TASK_FAILED']));
    });
  });

  describe('rotation', () => {
    it('gives a key a new secret under the same id; the old secret stops at once; audited', async () => {
      const key = await createApiKey(h, 'orchestrator', acme.key, 'rotating');
      const rotated = expectStatus(await h.request('POST', `/v1/api-keys/${key.id}/rotate`, { key: acme.key }), 200);
      expect(rotated).toMatchObject({ id: key.id, name: 'rotating', role: 'orchestrator', key: expect.stringMatching(new RegExp(`^am_${key.id}\\.`, 'u')) });
      expect(rotated.key).not.toBe(key.key);
      expectProblem(await h.request('GET', '/v1/tasks', { key: key.key }), 401, 'unauthorized');
      expectStatus(await h.request('GET', '/v1/tasks', { key: rotated.key }), 200);
      const [entry] = await auditOf(h, acme.key, `&action=API_KEY_ROTATED&resourceId=${key.id}`);
      expect(entry).toMatchObject({ actor: { keyId: acme.keyId }, status: 'success' });
      expect(JSON.stringify(entry)).not.toContain(rotated.key);
    });

    it('refuses the platform key, an unknown or revoked key, and a caller who is no admin', async () => {
      const platformKeyId = expectStatus(await h.request('GET', '/v1/api-keys'), 200).items.find((k: any) => k.name.startsWith('bootstrap'))!.id;
      expectProblem(await h.request('POST', `/v1/api-keys/${platformKeyId}/rotate`), 403, 'forbidden');
      expectProblem(await h.request('POST', '/v1/api-keys/nope/rotate', { key: acme.key }), 404, 'not_found');
      const gone = await createApiKey(h, 'observer', acme.key, 'gone');
      expect((await h.request('DELETE', `/v1/api-keys/${gone.id}`, { key: acme.key })).status).toBe(204);
      expectProblem(await h.request('POST', `/v1/api-keys/${gone.id}/rotate`, { key: acme.key }), 404, 'not_found');
      const orchestrator = await createApiKey(h, 'orchestrator', acme.key, 'not admin');
      expectProblem(await h.request('POST', `/v1/api-keys/${orchestrator.id}/rotate`, { key: orchestrator.key }), 403, 'forbidden');
    });
  });

  describe("fuzz: every role of one tenant against the other tenant's ids", () => {
    it('1,000+ requests: none succeeds, and every one is audited as a denied access', async () => {
      const other = await createTenant(h, 'globex');
      await registerAgent(h, 'globex-agent', ['g-cap'], { key: other.key });
      const theirTask = (await h.request('POST', '/v1/tasks', { key: other.key, body: { capability: 'g-cap', input: { secret: 'globex-data' } } })).body.id as string;
      const theirKey = await createApiKey(h, 'observer', other.key, 'globex observer');
      const dead = (await h.request('POST', '/v1/tasks', { key: other.key, body: { capability: 'g-none', input: {}, maxAttempts: 1 } })).body.id as string;

      const fuzz = await createTenant(h, 'fuzzer');
      const keys = {
        admin: fuzz,
        orchestrator: await createApiKey(h, 'orchestrator', fuzz.key, 'f-orch'),
        agent: await createApiKey(h, 'agent', fuzz.key, 'f-agent', 'globex-agent'),
        observer: await createApiKey(h, 'observer', fuzz.key, 'f-obs'),
      };
      const ids = { task: theirTask, dead, agent: 'globex-agent', key: theirKey.id, tenant: 'globex' };
      const routes: Array<(id: typeof ids) => [string, string, unknown?]> = [
        (i) => ['GET', `/v1/tasks/${i.task}`],
        (i) => ['POST', `/v1/tasks/${i.task}/complete`, { agentId: i.agent, output: 'x' }],
        (i) => ['POST', `/v1/tasks/${i.task}/fail`, { agentId: i.agent, error: 'x' }],
        (i) => ['POST', `/v1/tasks/${i.task}/extend`, { agentId: i.agent, leaseMs: 1000 }],
        (i) => ['POST', `/v1/tasks/${i.task}/cancel`],
        (i) => ['GET', `/v1/agents/${i.agent}`],
        (i) => ['POST', `/v1/agents/${i.agent}/pause`],
        (i) => ['POST', `/v1/agents/${i.agent}/resume`],
        (i) => ['POST', `/v1/agents/${i.agent}/heartbeat`],
        (i) => ['DELETE', `/v1/agents/${i.agent}`],
        (i) => ['GET', `/v1/agents/${i.agent}/tasks/next?waitMs=0`],
        (i) => ['DELETE', `/v1/api-keys/${i.key}`],
        (i) => ['POST', `/v1/api-keys/${i.key}/rotate`],
        (i) => ['POST', `/v1/dead-letters/${i.dead}/requeue`],
        (i) => ['GET', `/v1/tenants/${i.tenant}`],
        (i) => ['GET', `/v1/audit?tenant=${i.tenant}`],
        (i) => ['GET', `/v1/audit/verify?tenant=${i.tenant}`],
      ];
      let sent = 0;
      let denied = 0;
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...(Object.keys(keys) as Array<keyof typeof keys>)), fc.integer({ min: 0, max: routes.length - 1 }), async (role, r) => {
          const [method, path, body] = routes[r]!(ids);
          const res = await h.request(method, path, { key: keys[role].key, ...(body !== undefined && { body }) });
          sent++;
          // Never a success; 403 (role) or 404 (not in the caller's tenant), never a 5xx.
          expect([403, 404], `${role} ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
          expect(JSON.stringify(res.body)).not.toContain('globex-data');
          denied++;
        }),
        { numRuns: 1100 },
      );
      expect(sent).toBeGreaterThanOrEqual(1000);
      const audited = await auditOf(h, fuzz.key, '&action=UNAUTHORIZED_ACCESS');
      expect(audited).toHaveLength(denied);
      expect(audited.every((e) => e.tenantId === 'fuzzer' && e.status === 'denied')).toBe(true);
      // The other tenant's state is untouched.
      expect(expectStatus(await h.request('GET', `/v1/agents/globex-agent`, { key: other.key }), 200).status).not.toBe('terminated');
      expectStatus(await h.request('GET', '/v1/tasks', { key: theirKey.key }), 200);
    }, 120_000);
  });
});
