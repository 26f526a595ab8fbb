import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant, expectProblem, expectStatus } from '../../support/api-helpers.js';
import { cli, oneLine } from '../../support/cli-run.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

/** Octet-counted syslog frames (RFC 6587) as they arrive on a stream. */
class FrameReader {
  private buffer = Buffer.alloc(0);
  readonly frames: string[] = [];
  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const space = this.buffer.indexOf(0x20);
      if (space < 0) return;
      const length = Number(this.buffer.subarray(0, space).toString());
      if (this.buffer.length < space + 1 + length) return;
      this.frames.push(this.buffer.subarray(space + 1, space + 1 + length).toString());
      this.buffer = this.buffer.subarray(space + 1 + length);
    }
  }
}

async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const listen = (server: Server | HttpsServer) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));

describe('sensitive-action alerts to a SIEM, on real local listeners', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-siem-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  let h: Harness;
  const syslog = new FrameReader();
  const webhookBodies: unknown[][] = [];
  const webhookAuth: Array<string | undefined> = [];
  let webhookFailuresLeft = 0;
  let tls: Server;
  let https: HttpsServer;
  let tlsPort: number;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
    const credentials = { key: readFileSync(key), cert: readFileSync(cert) };
    tls = createTlsServer(credentials, (socket) => {
      sockets.add(socket);
      socket.on('data', (chunk: Buffer) => syslog.push(chunk));
      socket.on('close', () => sockets.delete(socket));
    }) as unknown as Server;
    tlsPort = await listen(tls);
    https = createHttpsServer(credentials, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (webhookFailuresLeft > 0) {
          webhookFailuresLeft--;
          res.writeHead(503).end();
          return;
        }
        webhookAuth.push(req.headers.authorization);
        webhookBodies.push(JSON.parse(body) as unknown[]);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    const httpsPort = await listen(https);
    h = await startHarness({
      AGENTMESH_SIEM_SYSLOG_URL: `tls://localhost:${tlsPort}`,
      AGENTMESH_SIEM_WEBHOOK_URL: `https://127.0.0.1:${httpsPort}/services/collector`,
      AGENTMESH_SIEM_WEBHOOK_AUTHORIZATION: 'Splunk 0000-test-token',
      AGENTMESH_SIEM_CA_FILE: cert,
      AGENTMESH_SIEM_AUTH_FAILURE_THRESHOLD: '5',
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    for (const s of sockets) s.destroy();
    tls?.close();
    https?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const webhookEvents = () => webhookBodies.flat() as Array<Record<string, any>>;

  it('sends a denied access to both sinks: CEF in RFC 5424 over TLS, and OCSF JSON over HTTPS with the configured Authorization', async () => {
    const observer = await createApiKey(h, 'observer', undefined, 'nosy');
    expectProblem(await h.request('POST', '/v1/tasks', { key: observer.key, body: { capability: 'x' }, headers: { 'user-agent': 'siem-test' } }), 403, 'forbidden');
    const frame = await eventually(() => syslog.frames.find((f) => f.includes('UNAUTHORIZED_ACCESS')));
    expect(frame).toMatch(/^<84>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ agentmesh \d+ UNAUTHORIZED_ACCESS - CEF:0\|AgentMesh\|AgentMesh\|[^|]+\|UNAUTHORIZED_ACCESS\|UNAUTHORIZED_ACCESS by key \S+ on task \(denied\)\|5\|/u);
    expect(frame).toContain(`suser=${observer.id}`);
    expect(frame).toContain('spriv=observer');
    expect(frame).toContain('src=127.0.0.1');
    expect(frame).toContain('cs1Label=tenant cs1=default');
    expect(frame).toContain('requestClientApplication=siem-test');
    const event = await eventually(() => webhookEvents().find((e) => e.api?.operation === 'UNAUTHORIZED_ACCESS'));
    expect(event).toMatchObject({
      class_uid: 6003,
      class_name: 'API Activity',
      severity_id: 3,
      status: 'Failure',
      status_detail: 'denied',
      actor: { user: { uid: observer.id, type: 'observer' } },
      src_endpoint: { ip: '127.0.0.1' },
      metadata: { product: { name: 'AgentMesh' }, version: '1.1.0' },
      unmapped: { tenant: 'default', details: { attempted: 'POST /v1/tasks' } },
    });
    expect(webhookAuth.every((a) => a === 'Splunk 0000-test-token')).toBe(true);
  });

  it('turns failed authentications from one address into one burst alert, not one per attempt', async () => {
    for (let i = 0; i < 8; i++) expectProblem(await h.request('GET', '/v1/tasks', { key: `am_bad.${i}` }), 401, 'unauthorized');
    const burst = await eventually(() => webhookEvents().find((e) => e.unmapped?.alert_kind === 'AUTH_FAILURE_BURST'));
    expect(burst).toMatchObject({ class_uid: 3002, class_name: 'Authentication', severity: 'High', count: 5, src_endpoint: { ip: '127.0.0.1' } });
    await eventually(() => syslog.frames.some((f) => f.includes('|AUTH_FAILURE_BURST|')));
    await new Promise((r) => setTimeout(r, 300));
    expect(webhookEvents().filter((e) => e.unmapped?.alert_kind === 'AUTH_FAILURE_BURST')).toHaveLength(1);
    expect(syslog.frames.filter((f) => f.includes('|AUTH_FAILURE_BURST|'))).toHaveLength(1);
  });

  it('retries a failing webhook with backoff and delivers each alert once; the request that raised it did not wait', async () => {
    webhookFailuresLeft = 3;
    const acme = await createTenant(h, 'siem-acme');
    const started = Date.now();
    const made = await createApiKey(h, 'orchestrator', acme.key, 'pipeline');
    expect(Date.now() - started).toBeLessThan(2_000);
    const rotated = expectStatus(await h.request('POST', `/v1/api-keys/${made.id}/rotate`, { key: acme.key }), 200);
    const rotation = await eventually(() => webhookEvents().find((e) => e.api?.operation === 'API_KEY_ROTATED'), 20_000);
    expect(rotation.resources).toEqual([{ type: 'api_key', uid: made.id }]);
    expect(webhookFailuresLeft).toBe(0);
    expect(webhookEvents().filter((e) => e.metadata.uid === rotation.metadata.uid)).toHaveLength(1);
    expect(JSON.stringify(webhookBodies)).not.toContain(rotated.key);
    const metrics = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.adminKey}` } })).text();
    expect(metrics).toMatch(/agentmesh_siem_alerts_total\{sink="webhook https:\/\/127\.0\.0\.1:\d+",outcome="failed"\} [1-9]/u);
    expect(metrics).toMatch(/agentmesh_siem_alerts_total\{sink="syslog tls:\/\/localhost:\d+",outcome="sent"\} [1-9]/u);
  }, 30_000);

  it('reconnects to the syslog collector after it drops the connection', async () => {
    for (const s of sockets) s.destroy();
    const before = syslog.frames.length;
    const acme = await createTenant(h, 'siem-after-drop');
    await createApiKey(h, 'observer', acme.key, 'after drop');
    await eventually(() => syslog.frames.slice(before).some((f) => f.includes('|API_KEY_CREATED|') && f.includes('cs1=siem-after-drop')), 20_000);
  }, 30_000);

  it('refuses a syslog URL that is not tcp:// or tls:// with a port, and a webhook that is not https, with one line and exit 2', async () => {
    for (const [name, value, expected] of [
      ['AGENTMESH_SIEM_SYSLOG_URL', 'udp://siem:514', 'must be a tcp:// or tls:// URL'],
      ['AGENTMESH_SIEM_SYSLOG_URL', 'tls://siem', 'needs a port'],
      ['AGENTMESH_SIEM_WEBHOOK_URL', 'http://siem/collector', 'must be a https:// URL'],
    ] as const) {
      const run = await cli(['serve'], { AGENTMESH_DATA_DIR: ':memory:', [name]: value }, 15_000);
      expect(run.code, run.stderr).toBe(2);
      expect(oneLine(run.stderr)).toContain(expected);
    }
  }, 60_000);
});
