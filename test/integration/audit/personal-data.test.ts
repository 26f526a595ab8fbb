import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus } from '../../support/api-helpers.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

type Entry = Record<string, any>;

/** The personal data of audit entries: sealed per data subject, readable by admins, shreddable without breaking the chain. */
describe('personal data in the audit log', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };
  let alice: { id: string; key: string };
  const ALICE_AGENT = "Alice's browser/1.0 (Example OS)";

  async function entries(key: string, query = '', limit = 500): Promise<Entry[]> {
    return expectStatus(await h.request('GET', `/v1/audit?limit=${limit}${query}`, { key }), 200).items;
  }

  beforeAll(async () => {
    h = await startHarness();
    acme = await createTenant(h, 'acme');
    alice = await createApiKey(h, 'orchestrator', acme.key, 'alice');
    for (let i = 0; i < 3; i++) {
      expectStatus(await h.request('POST', '/v1/tasks', { key: alice.key, body: { capability: 'summarize', input: { i } }, headers: { 'user-agent': ALICE_AGENT } }), 202);
    }
    // A refusal is recorded with her address too.
    expectProblem(await h.request('POST', '/v1/api-keys', { key: alice.key, body: { name: 'x', role: 'admin' }, headers: { 'user-agent': ALICE_AGENT } }), 403, 'forbidden');
  }, 60_000);
  afterAll(async () => h?.close());

  it("stores the caller's address and user agent only sealed under the caller's key as subject, and shows them opened to admins", async () => {
    const { rows } = await h.running.store.db.query<Record<string, unknown>>("SELECT source_ip, user_agent, subject_id, personal, row_to_json(a)::text AS whole FROM audit_log a WHERE tenant_id = 'acme'");
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(rows.every((r) => r.source_ip === null && r.user_agent === null)).toBe(true);
    expect(rows.some((r) => String(r.whole).includes('Alice') || String(r.whole).includes('127.0.0.1'))).toBe(false);
    const mine = rows.filter((r) => r.subject_id === alice.id);
    expect(mine.length).toBe(4);
    expect(mine.every((r) => typeof r.personal === 'string' && (r.personal as string).startsWith('p1.'))).toBe(true);

    const submitted = await entries(acme.key, `&actorKeyId=${alice.id}`);
    expect(submitted.length).toBe(4);
    for (const e of submitted) expect(e).toMatchObject({ subjectId: alice.id, sourceIp: '127.0.0.1', userAgent: ALICE_AGENT, personal: expect.stringMatching(/^p1\./u) });
  });

  it("shreds a subject: its entries keep their place, hash and chain, and lose their personal data for good; others keep theirs", async () => {
    expectProblem(await h.request('POST', `/v1/audit/subjects/${alice.id}/shred`, { key: alice.key }), 403, 'forbidden');
    expect(expectProblem(await h.request('POST', '/v1/audit/subjects/bad%20id/shred', { key: acme.key }), 400, 'validation').field).toBe('params.subjectId');
    const before = await entries(acme.key, `&actorKeyId=${alice.id}`);
    expect(expectStatus(await h.request('POST', `/v1/audit/subjects/${alice.id}/shred`, { key: acme.key }), 200)).toEqual({ subjectId: alice.id, destroyedKeys: 1 });
    expect(expectStatus(await h.request('POST', `/v1/audit/subjects/${alice.id}/shred`, { key: acme.key }), 200).destroyedKeys).toBe(0);

    const after = await entries(acme.key, `&actorKeyId=${alice.id}`);
    expect(after.map((e) => [e.seq, e.hash, e.personal])).toEqual(before.map((e) => [e.seq, e.hash, e.personal]));
    for (const e of after) {
      expect(e.personalShredded).toBe(true);
      expect(e.sourceIp).toBeUndefined();
      expect(e.userAgent).toBeUndefined();
    }
    // The admin's own entries are untouched, and the shredding is itself recorded.
    const shreds = await entries(acme.key, '&action=PERSONAL_DATA_SHREDDED');
    expect(shreds.map((e) => e.details.destroyedKeys)).toEqual([0, 1]);
    const shred = shreds[1];
    expect(shred).toMatchObject({ resourceType: 'data_subject', resourceId: alice.id, status: 'success', sourceIp: '127.0.0.1', details: { destroyedKeys: 1 } });
    expect(expectStatus(await h.request('GET', '/v1/audit/verify', { key: acme.key }), 200)).toMatchObject({ intact: true });
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const gdpr = expectStatus(await h.request('GET', `/v1/compliance/reports?framework=gdpr&from=${from}&to=${to}`, { key: acme.key }), 200);
    const erasure = gdpr.controls.find((c: Entry) => c.id === 'Art. 17');
    expect(erasure.evidence[1]).toMatchObject({ value: 2 });

    // What she does from now on is sealed under a new key of hers, readable.
    expectStatus(await h.request('POST', '/v1/tasks', { key: alice.key, body: { capability: 'summarize' }, headers: { 'user-agent': ALICE_AGENT } }), 202);
    const [latest] = await entries(acme.key, `&actorKeyId=${alice.id}&action=TASK_SUBMITTED`, 1);
    expect(latest).toMatchObject({ userAgent: ALICE_AGENT });
    expect(latest!.personalShredded).toBeUndefined();
  });

  it("keeps tenants apart: another tenant's admin shreds nothing of this one", async () => {
    const globex = await createTenant(h, 'globex');
    expect(expectStatus(await h.request('POST', `/v1/audit/subjects/${acme.keyId}/shred`, { key: globex.key }), 200).destroyedKeys).toBe(0);
    const acmeAdmin = await entries(acme.key, `&actorKeyId=${acme.keyId}`, 5);
    expect(acmeAdmin.every((e) => e.sourceIp === '127.0.0.1')).toBe(true);
    expectProblem(await h.request('POST', `/v1/audit/subjects/${acme.keyId}/shred?tenant=acme`, { key: globex.key }), 404, 'not_found');
  });

  it('fails verification when the sealed personal data of an entry is altered', async () => {
    const db = h.running.store.db;
    const [target] = await entries(acme.key, `&actorKeyId=${acme.keyId}`, 1);
    const flipped = `${target!.personal.slice(0, -2)}${target!.personal.endsWith('AA') ? 'AB' : 'AA'}`;
    await db.exec("SET session_replication_role = 'replica'");
    try {
      await db.query("UPDATE audit_log SET personal = $1 WHERE tenant_id = 'acme' AND seq = $2", [flipped, target!.seq]);
    } finally {
      await db.exec("SET session_replication_role = 'origin'");
    }
    const report = expectStatus(await h.request('GET', '/v1/audit/verify', { key: acme.key }), 200);
    expect(report.intact).toBe(false);
    expect(report.chains[0].problem).toMatchObject({ seq: target!.seq, entryId: target!.id });
  });
});
