import { createHash, randomBytes } from 'node:crypto';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { configureLogger } from '../../../src/infrastructure/observability/logger.js';
import { startTracing, type Tracing } from '../../../src/infrastructure/observability/tracing.js';
import { startMesh, type RunningMesh } from '../../../src/presentation/compose.js';
import { Agent, AgentMeshClient } from '../../../src/sdk/index.js';
import { captureLines } from '../../support/log-capture.js';
import { ADMIN_KEY } from '../../support/mesh-harness.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * A full run of the secret store, with every log line (trace level, every body sampled), every
 * span, the metrics, the audit log, the OpenAPI document and every table kept; then none of them
 * may hold a secret's value.
 */
describe('secret values never leak', () => {
  const out = captureLines();
  const exporter = new InMemorySpanExporter();
  const values: string[] = [];
  let tracing: Tracing;
  let running: RunningMesh;
  let admin: AgentMeshClient;
  let agent: Agent;
  let outputs: unknown[] = [];

  beforeAll(async () => {
    tracing = startTracing({ serviceName: 'agentmesh-test', version: 'test', exporter, processor: 'simple' });
    const config = loadConfig({ AGENTMESH_DATA_DIR: ':memory:', AGENTMESH_PORT: '0', AGENTMESH_ADMIN_KEY: ADMIN_KEY, AGENTMESH_LOG_BODY_SAMPLE_RATE: '1' });
    running = await startMesh(config, { listen: true, logger: configureLogger({ serviceName: 'agentmesh', logLevel: 'trace', format: 'json', destination: out.stream }) });
    admin = new AgentMeshClient({ url: running.url!, apiKey: ADMIN_KEY });
    const agentKey = await (await fetch(`${running.url}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'vault agent', role: 'agent', agentId: 'vault-agent' }),
    })).json() as { key: string };
    agent = await new Agent({ url: running.url!, apiKey: agentKey.key, id: 'vault-agent', name: 'vault agent', capabilities: ['fetch'], heartbeatIntervalMs: 200 })
      .handle('fetch', async (input: { name?: string }, context) => {
        const token = await context.secret(input.name ?? 'api-token');
        // Asked twice in one attempt: read once.
        await context.secret(input.name ?? 'api-token');
        return { sha256: sha256(token) };
      })
      .start();
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await running?.close();
    await tracing?.shutdown();
  });

  it('runs the whole secret store: writes, agent reads through the SDK, rotations, refusals, bad input, shredding', async () => {
    const first = `first-${randomBytes(12).toString('hex')}`;
    const second = `second-${randomBytes(12).toString('hex')}`;
    values.push(first, second);
    await admin.putSecret('api-token', first, { capabilities: ['fetch'] }, 'token of the fetch tool');
    const run = async (input: unknown, secrets = ['api-token']) => {
      const { id } = await admin.submit('fetch', input, { secrets });
      return admin.waitForResult(id, { timeoutMs: 10_000 });
    };
    const one = await run({});
    expect(one.output).toEqual({ sha256: sha256(first) });
    await admin.rotateSecret('api-token', second);
    expect((await run({})).output).toEqual({ sha256: sha256(second) });
    const generated = await admin.rotateSecret('api-token');
    values.push(generated.value!);
    expect((await run({})).output).toEqual({ sha256: sha256(generated.value!) });

    // The handler asks for a secret its task does not list: the SDK refuses without asking the mesh.
    const unlisted = await run({ name: 'other' });
    expect(unlisted.status).toBe('failed');
    expect(unlisted.error).toMatchObject({ code: 'secret_not_listed' });

    // Bad input carrying a value: the errors say what is wrong, never the value.
    const leakyBad = `bad-${randomBytes(12).toString('hex')}`;
    values.push(leakyBad);
    for (const body of [{ value: leakyBad.padEnd(70_000, 'x'), policy: { capabilities: ['fetch'] } }, { value: leakyBad, policy: { capabilities: [] } }, { value: leakyBad, policy: { capabilities: ['fetch'] }, oops: leakyBad.length }]) {
      const res = await fetch(`${running.url}/v1/secrets/bad-one`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(await res.text()).not.toContain(leakyBad);
    }
    await expect(admin.getSecret('bad-one')).rejects.toMatchObject({ status: 404 });

    // Shredded: the next read is refused (410), and the task fails.
    await admin.destroyTenantKeys('default');
    const shredded = await run({});
    expect(shredded).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'secret_destroyed' } });
    expect(shredded.error!.message).toMatch(/destroyed/u);
    outputs = [one.output];
  });

  it('finds none of the values in logs, spans, metrics, the audit log, the OpenAPI document or the database', async () => {
    expect(values).toHaveLength(4);
    expect(outputs).toHaveLength(1);
    await running.store.audit.drain();
    const haystacks: Record<string, string> = {};
    haystacks.logs = out.text();
    expect(haystacks.logs).toContain('/v1/secrets');
    haystacks.spans = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links })),
    );
    expect(haystacks.spans).toContain('secrets');
    haystacks.metrics = (await running.metrics.scrape()).body;
    const entries = [];
    let cursor: string | undefined;
    do {
      const page = await (await fetch(`${running.url}/v1/audit?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json() as { items: unknown[]; nextCursor?: string };
      entries.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    haystacks.audit = JSON.stringify(entries);
    expect(haystacks.audit).toContain('SECRET_ACCESSED');
    haystacks.openapi = await (await fetch(`${running.url}/openapi.json`)).text();
    const { rows: tables } = await running.store.db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
    expect(tables.map((t) => t.table_name)).toContain('secret_versions');
    for (const { table_name } of tables) {
      const { rows } = await running.store.db.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
      haystacks[`table ${table_name}`] = rows.map((r) => r.row).join('\n');
    }
    for (const [where, text] of Object.entries(haystacks)) {
      for (const value of values) expect(text.includes(value), `a secret value in ${where}`).toBe(false);
    }
  });
});
