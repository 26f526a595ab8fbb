import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, expectStatus, registerAgent } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** Long values, each unlike the others all along: a torn read (half of one, half of another) would not be among them. */
const valueOf = (version: number) => `v${version}:`.padEnd(4096, String.fromCharCode(97 + (version % 26)));

describe('rotation under load', () => {
  let h: Harness;
  let agentKey: string;
  let taskId: string;
  beforeAll(async () => {
    h = await startHarness();
    agentKey = (await createApiKey(h, 'agent', h.adminKey, 'reader', 'reader-1')).key;
    await registerAgent(h, 'reader-1', ['read'], { key: agentKey, maxConcurrentTasks: 1 });
    expectStatus(await h.request('PUT', '/v1/secrets/hot', { body: { value: valueOf(1), policy: { capabilities: ['read'] } } }), 201);
    taskId = expectStatus(await h.request('POST', '/v1/tasks', { body: { capability: 'read', leaseMs: 120_000, secrets: ['hot'] } }), 202).id;
    expect(expectStatus(await h.request('GET', '/v1/agents/reader-1/tasks/next?waitMs=5000', { key: agentKey }), 200).id).toBe(taskId);
  }, 60_000);
  afterAll(async () => h?.close());

  it('gives every reader a whole value of some version, never a missing or torn one, and never an older one after a newer', async () => {
    const rotations = 30;
    let writing = true;
    const reader = async () => {
      const seen: number[] = [];
      while (writing) {
        const res = await h.request('GET', `/v1/tasks/${taskId}/secrets/hot`, { key: agentKey });
        const body = expectStatus(res, 200);
        expect(body.value).toBe(valueOf(body.version));
        seen.push(body.version);
      }
      return seen;
    };
    const readers = Array.from({ length: 6 }, reader);
    for (let version = 2; version <= rotations + 1; version++) {
      const rotated = expectStatus(await h.request('POST', '/v1/secrets/hot/rotate', { body: { value: valueOf(version) } }), 200);
      expect(rotated.currentVersion).toBe(version);
    }
    writing = false;
    const seen = await Promise.all(readers);
    for (const versions of seen) {
      expect(versions.length).toBeGreaterThan(0);
      for (let i = 1; i < versions.length; i++) expect(versions[i]!).toBeGreaterThanOrEqual(versions[i - 1]!);
    }
    expect(new Set(seen.flat()).size).toBeGreaterThan(1);
    expect(expectStatus(await h.request('GET', `/v1/tasks/${taskId}/secrets/hot`, { key: agentKey }), 200).version).toBe(rotations + 1);
  });
});
