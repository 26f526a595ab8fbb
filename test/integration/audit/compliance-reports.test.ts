import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportHash } from '../../../src/application/compliance-report.js';
import { chromiumPath } from '../../../src/infrastructure/reports/chromium-pdf.js';
import { createApiKey, createTenant, expectProblem, expectStatus, registerAgent } from '../../support/api-helpers.js';
import { cli, cliInProcess, oneLine } from '../../support/cli-run.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

const run = promisify(execFile);
const chromium = chromiumPath();
const haveChromium = existsSync(chromium);
if (!haveChromium && process.env.CI === 'true') throw new Error(`CI=true but Chromium is missing at ${chromium}: .ci/run installs Debian's chromium`);
if (!haveChromium) console.warn(`!! skipping the Chromium checks of compliance reports: no Chromium at ${chromium} (Debian: apt-get install chromium)`);

const PERIOD = `from=${new Date(Date.now() - 3600_000).toISOString()}&to=${new Date(Date.now() + 3600_000).toISOString()}`;

describe('compliance reports', () => {
  let h: Harness;
  let acme: { key: string; keyId: string };
  const scratch = mkdtempSync(join(tmpdir(), 'agentmesh-reports-'));
  beforeAll(async () => {
    h = await startHarness();
    acme = await createTenant(h, 'acme');
    // Something to report: agents, tasks of two capabilities, keys made, rotated and refused.
    await registerAgent(h, 'acme-agent', ['summarize', 'translate'], { key: acme.key });
    for (const capability of ['summarize', 'summarize', 'translate']) expectStatus(await h.request('POST', '/v1/tasks', { key: acme.key, body: { capability, input: {} } }), 202);
    const observer = await createApiKey(h, 'observer', acme.key, 'reader');
    expectStatus(await h.request('POST', `/v1/api-keys/${observer.id}/rotate`, { key: acme.key }), 200);
    const orchestrator = await createApiKey(h, 'orchestrator', acme.key, 'pipeline');
    expectProblem(await h.request('POST', '/v1/api-keys', { key: orchestrator.key, body: { name: 'x', role: 'admin' } }), 403, 'forbidden');
    expectProblem(await h.request('GET', '/v1/agents/default-only', { key: orchestrator.key }), 404, 'not_found');
    await h.running.checkpointer.checkpoint();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const report = async (framework: string, extra = '', key = acme.key) => expectStatus(await h.request('GET', `/v1/compliance/reports?framework=${framework}&${PERIOD}${extra}`, { key }), 200);

  it('HIPAA: the four technical safeguards, each with its evidence from the log, on an intact, checkpointed chain', async () => {
    const r = await report('hipaa');
    expect(r.controls.map((c: any) => c.id)).toEqual(['164.312(b)', '164.312(a)(1)', '164.312(c)(1)', '164.312(d)']);
    expect(r.chain).toMatchObject({ intact: true, head: { seq: expect.any(Number) }, checkpoint: { seq: expect.any(Number), keyId: expect.any(String) } });
    const access = r.controls[1];
    expect(access.status).toBe('attention');
    expect(access.findings).toEqual(['2 denied access attempt(s): review the keys listed.']);
    const denied = access.evidence.find((e: any) => e.label.startsWith('Denied accesses'));
    expect(denied.value).toBe(2);
    expect(denied.rows[0]).toMatchObject({ role: 'orchestrator', denied: 2 });
    const auth = r.controls[3].evidence;
    expect(auth.find((e: any) => e.label.startsWith('Keys created'))!.value).toBe('2 / 1 / 0');
    expect(r.summary.byAction.AGENT_CREATED).toBe(1);
    expect(r.tenantId).toBe('acme');
  });

  it('GDPR: processing activities per capability, security of processing, and the breach inputs by day', async () => {
    const r = await report('gdpr');
    expect(r.controls.map((c: any) => c.id)).toEqual(['Art. 30', 'Art. 32', 'Art. 33', 'Art. 17']);
    const processing = r.controls[0].evidence[0];
    expect(processing.rows).toEqual([{ capability: 'summarize', submitted: 2 }, { capability: 'translate', submitted: 1 }]);
    const byDay = r.controls[2].evidence[0];
    expect(byDay.rows).toEqual([{ day: new Date().toISOString().slice(0, 10), event: 'UNAUTHORIZED_ACCESS', count: 2 }]);
  });

  it('SOC 2: CC6.1, CC6.6, CC7.2, CC7.3; and a content hash that covers the whole report', async () => {
    const r = await report('soc2');
    expect(r.controls.map((c: any) => c.id)).toEqual(['CC6.1', 'CC6.6', 'CC7.2', 'CC7.3']);
    const { contentHash, ...body } = r;
    expect(reportHash(body)).toBe(contentHash);
    expect(reportHash({ ...body, tenantId: 'other' })).not.toBe(contentHash);
  });

  it('records every export with its content hash; admins only, their own tenant only (the platform admin: any)', async () => {
    const r = await report('soc2');
    const exports = expectStatus(await h.request('GET', '/v1/audit?action=AUDIT_LOG_EXPORTED&resourceType=compliance_report', { key: acme.key }), 200).items;
    expect(exports[0]).toMatchObject({ resourceId: 'soc2', details: { framework: 'soc2', contentHash: r.contentHash, chainIntact: true } });
    const orchestrator = await createApiKey(h, 'orchestrator', acme.key, 'no reports');
    expectProblem(await h.request('GET', `/v1/compliance/reports?framework=soc2&${PERIOD}`, { key: orchestrator.key }), 403, 'forbidden');
    expectProblem(await h.request('GET', `/v1/compliance/reports?framework=soc2&${PERIOD}&tenant=default`, { key: acme.key }), 404, 'not_found');
    expect((await report('soc2', '&tenant=acme', h.adminKey)).tenantId).toBe('acme');
  });

  it('refuses a bad framework, time or period with problem+json naming the field', async () => {
    const bad = (query: string) => h.request('GET', `/v1/compliance/reports?${query}`, { key: acme.key });
    const framework = expectProblem(await bad(`framework=pci&${PERIOD}`), 400, 'validation');
    expect(framework.field).toBe('querystring.framework');
    expect(framework.detail).toBe('querystring.framework must be one of hipaa, gdpr, soc2');
    expectProblem(await h.request('GET', `/v1/compliance/reports?framework=soc2&${PERIOD}&tenant=ghost`), 404, 'not_found');
    expect(expectProblem(await bad('framework=hipaa&from=yesterday&to=2030-01-01T00:00:00Z'), 400, 'validation').field).toBe('querystring.from');
    expect(expectProblem(await bad('framework=hipaa&from=2030-01-01T00:00:00Z'), 400, 'validation').field).toBe('querystring.to');
    expect(expectProblem(await bad('framework=hipaa&from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z'), 400, 'validation').field).toBe('querystring.to');
  });

  it('serves one self-contained HTML page, which Chromium renders with every control and the content hash', async () => {
    const res = await fetch(`${h.url}/v1/compliance/reports?framework=hipaa&${PERIOD}&format=html`, { headers: { authorization: `Bearer ${acme.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).not.toMatch(/<script|https?:\/\//iu);
    if (!haveChromium) return;
    const file = join(scratch, 'report.html');
    writeFileSync(file, html);
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(scratch, 'profile')}`];
    const { stdout: dom } = await run(chromium, [...flags, '--dump-dom', `file://${file}`], { timeout: 60_000, maxBuffer: 8 * 1024 * 1024 });
    for (const id of ['164.312(b)', '164.312(a)(1)', '164.312(c)(1)', '164.312(d)']) expect(dom).toContain(id);
    expect(dom).toContain('Audit chain intact');
    expect(dom).toMatch(/Content hash .*<code>[0-9a-f]{64}<\/code>/u);
    const png = join(scratch, 'report.png');
    await run(chromium, [...flags, '--window-size=1200,1600', `--screenshot=${png}`, `file://${file}`], { timeout: 60_000 });
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  }, 150_000);

  it('agentmesh audit report writes JSON, HTML and PDF from the database, and refuses bad flags with exit 2', async () => {
    await h.stop();
    const env = { AGENTMESH_DATA_DIR: h.dataDir };
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const soc2 = (...args: string[]) => ['audit', 'report', '--framework', 'soc2', '--tenant', 'acme', '--from', from, '--to', to, ...args];
    // Refused before the database opens (the flags, the output path, another directory): these run at once, beside
    // the first command that opens it (one command at a time holds the directory).
    const refusedEarly = Promise.all([
      cliInProcess(['audit', 'report', '--framework', 'pci', '--tenant', 'acme', '--from', from, '--to', to], env),
      cliInProcess(soc2('--format', 'pdf'), env),
      cliInProcess(['audit', 'report', '--framework', 'soc2', '--tenant', 'acme', '--from', to, '--to', from], env),
      cliInProcess(soc2('--out', '/nonexistent-dir/r.json'), env),
      cliInProcess(soc2('--out', scratch), env),
      cliInProcess(['audit', 'verify'], { AGENTMESH_DATA_DIR: join(scratch, 'missing') }),
    ]);
    // One command as the built CLI runs it, in a process of its own; the others in this one.
    const json = await cli(soc2(), env, 60_000);
    const [bad, noOut, backwards, noDirectory, onDirectory, nowhere] = await refusedEarly;
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed).toMatchObject({ framework: 'soc2', tenantId: 'acme', chain: { intact: true } });
    expect(parsed.generatedBy).toContain('agentmesh audit report');
    expect(bad.code).toBe(2);
    expect(oneLine(bad.stderr)).toBe("agentmesh: --framework must be one of hipaa, gdpr, soc2, got 'pci'");
    expect(noOut.code).toBe(2);
    expect(oneLine(backwards.stderr)).toBe('agentmesh: --to must be after --from');
    expect(noDirectory.code).toBe(2);
    expect(oneLine(noDirectory.stderr)).toBe('agentmesh: --out /nonexistent-dir/r.json: the directory /nonexistent-dir does not exist');
    expect(onDirectory.code).toBe(2);
    expect(oneLine(onDirectory.stderr)).toBe(`agentmesh: --out ${scratch} is a directory: name the file to write`);
    expect(nowhere.code).toBe(2);
    expect(oneLine(nowhere.stderr)).toMatch(/there is no embedded database at .*missing/u);
    const unwritable = await cliInProcess(soc2('--out', '/proc/agentmesh-report.json'), env);
    expect(unwritable.code).toBe(1);
    expect(oneLine(unwritable.stderr)).toMatch(/^agentmesh: --out \/proc\/agentmesh-report\.json: cannot write the report: /u);
    const ghost = await cliInProcess(['audit', 'report', '--framework', 'soc2', '--tenant', 'ghost', '--from', from, '--to', to], env);
    expect(ghost.code).toBe(1);
    expect(oneLine(ghost.stderr)).toMatch(/^agentmesh: there is no tenant 'ghost' in /u);
    if (!haveChromium) return;
    const pdf = join(scratch, 'report.pdf');
    const printed = await cliInProcess(['audit', 'report', '--framework', 'hipaa', '--tenant', 'acme', '--from', from, '--to', to, '--format', 'pdf', '--out', pdf], env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^wrote the hipaa report of tenant 'acme' to .*report\.pdf \(content hash [0-9a-f]{64}\)/u);
    expect(readFileSync(pdf).subarray(0, 5).toString()).toBe('%PDF-');
    const missing = await cliInProcess(['audit', 'report', '--framework', 'hipaa', '--tenant', 'acme', '--from', from, '--to', to, '--format', 'pdf', '--out', pdf], { ...env, AGENTMESH_CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/PDF reports are printed by Chromium, and there is none at \/nonexistent\/chromium/u);
  }, 240_000);
});
