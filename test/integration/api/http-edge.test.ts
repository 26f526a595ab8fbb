import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../src/infrastructure/reports/chromium-pdf.js';
import { expectStatus } from '../../support/api-helpers.js';
import { cli, oneLine } from '../../support/cli-run.js';
import { ADMIN_KEY, startHarness, type Harness } from '../../support/mesh-harness.js';

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'agentmesh-edge-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const chromium = chromiumPath();
const haveChromium = existsSync(chromium);
if (!haveChromium && process.env.CI === 'true') throw new Error(`CI=true but Chromium is missing at ${chromium}: .ci/run installs Debian's chromium`);
if (!haveChromium) console.warn(`!! skipping the Chromium check of the Swagger UI: no Chromium at ${chromium} (Debian: apt-get install chromium)`);

describe('the HTTP edge: security headers, CORS, request timeouts', () => {
  let h: Harness;
  let cors: Harness;
  beforeAll(async () => {
    h = await startHarness({ AGENTMESH_REQUEST_TIMEOUT_MS: '1000' });
    cors = await startHarness({ AGENTMESH_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000' });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await cors?.close();
  });

  it('sends the security headers on API answers, errors included, with a CSP that lets a browser do nothing with them', async () => {
    for (const [path, key] of [['/v1/tasks', ADMIN_KEY], ['/v1/tasks', null], ['/health/live', null]] as const) {
      const res = await h.request('GET', path, { key });
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/u);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('serves the Swagger UI with a policy of its own that lets it run', async () => {
    const res = await fetch(`${h.url}/docs/static/index.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src/u);
    expect(res.headers.get('content-security-policy')).not.toMatch(/upgrade-insecure-requests/u);
    if (!haveChromium) return;
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync', `--user-data-dir=${join(scratch, 'profile')}`, '--virtual-time-budget=10000'];
    const { stdout: dom } = await run(chromium, [...flags, '--dump-dom', `${h.url}/docs/static/index.html`], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    // Rendered by its scripts from /openapi.json: the operations are there.
    expect(dom).toContain('AgentMesh API');
    expect(dom).toContain('/v1/tasks');
  });

  it('sends no CORS headers unless origins are configured; then answers preflights without a key, for those origins only', async () => {
    const plain = await fetch(`${h.url}/v1/tasks`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, origin: 'https://app.example.com' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await fetch(`${cors.url}/v1/tasks`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    // Every method an operation of the API uses may be sent from a browser (PATCH /v1/api-keys/{id} too).
    const spec = (await (await fetch(`${cors.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const used = new Set(Object.values(spec.paths).flatMap((ops) => Object.keys(ops).map((m) => m.toUpperCase())));
    expect(used.has('PATCH')).toBe(true);
    const allowedMethods = preflight.headers.get('access-control-allow-methods')!.split(',').map((m) => m.trim());
    for (const method of used) expect(allowedMethods, method).toContain(method);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('idempotency-key');
    const allowed = await fetch(`${cors.url}/v1/tasks`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, origin: 'http://localhost:3000' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(allowed.headers.get('access-control-expose-headers')).toContain('retry-after');
    const other = await fetch(`${cors.url}/v1/tasks`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, origin: 'https://evil.example.net' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // A preflight is no way around the key: the request itself still needs one.
    expect((await fetch(`${cors.url}/v1/tasks`, { headers: { origin: 'https://app.example.com' } })).status).toBe(401);
    // The preflights' catch-all route makes no path exist: a wrong method is still a 405 listing the path's own methods, an unknown path a 404.
    const wrongMethod = await cors.request('PUT', '/v1/tasks');
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'GET, HEAD, POST']);
    const unknown = await cors.request('PUT', '/v1/widgets');
    expect([unknown.status, unknown.headers.get('allow')]).toEqual([404, null]);
  });

  it('cuts off a client that does not finish sending its request in time (408), and answers the next one', async () => {
    const port = Number(new URL(h.url).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"capa`);
      });
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('still open after 10 s')), 10_000).unref();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/u);
    expectStatus(await h.request('GET', '/v1/tasks'), 200);
  });
});

describe('TLS', () => {
  let h: Harness;
  let cert: string;
  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(scratch, 'key.pem'), '-out', join(scratch, 'cert.pem')], { stdio: 'pipe' });
    cert = (await import('node:fs')).readFileSync(join(scratch, 'cert.pem'), 'utf8');
    h = await startHarness({ AGENTMESH_TLS_CERT: join(scratch, 'cert.pem'), AGENTMESH_TLS_KEY: join(scratch, 'key.pem') });
  }, 60_000);
  afterAll(async () => h?.close());

  it('serves HTTPS with the configured certificate, and nothing in clear', async () => {
    expect(h.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/u);
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(`${h.url}/v1/tasks`, { ca: cert, headers: { authorization: `Bearer ${ADMIN_KEY}` } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body.status).toBe(200);
    expect(JSON.parse(body.text)).toHaveProperty('items');
    await expect(fetch(h.url.replace('https:', 'http:') + '/health/live')).rejects.toThrow();
  });

  it('refuses to start with a half, unreadable or mismatched configuration, in one line, before opening any store', async () => {
    const dataDir = join(scratch, 'tls-refused-data');
    const env = { AGENTMESH_DATA_DIR: dataDir, AGENTMESH_PORT: '0' };
    const otherKey = join(scratch, 'other-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'pipe' });
    // Another kind of key: OpenSSL alone lets the pair through, and every handshake would fail.
    const ed25519Key = join(scratch, 'ed25519-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', ed25519Key], { stdio: 'pipe' });
    const [half, missing, mismatched, otherKind] = await Promise.all([
      cli(['serve'], { ...env, AGENTMESH_TLS_CERT: join(scratch, 'cert.pem') }, 30_000),
      cli(['serve'], { ...env, AGENTMESH_TLS_CERT: '/nonexistent/cert.pem', AGENTMESH_TLS_KEY: join(scratch, 'key.pem') }, 30_000),
      cli(['serve'], { ...env, AGENTMESH_TLS_CERT: join(scratch, 'cert.pem'), AGENTMESH_TLS_KEY: otherKey }, 30_000),
      cli(['serve'], { ...env, AGENTMESH_TLS_CERT: join(scratch, 'cert.pem'), AGENTMESH_TLS_KEY: ed25519Key }, 30_000),
    ]);
    expect(half.code).toBe(2);
    expect(oneLine(half.stderr)).toBe('agentmesh: AGENTMESH_TLS_CERT and AGENTMESH_TLS_KEY go together: set both (PEM files), or neither');
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/^agentmesh: AGENTMESH_TLS_CERT: cannot read \/nonexistent\/cert\.pem: ENOENT/u);
    expect(mismatched.code).toBe(1);
    expect(oneLine(mismatched.stderr)).toMatch(/^agentmesh: AGENTMESH_TLS_CERT \/ AGENTMESH_TLS_KEY: not a certificate and its private key in PEM/u);
    expect(otherKind.code).toBe(1);
    expect(oneLine(otherKind.stderr)).toMatch(/^agentmesh: AGENTMESH_TLS_CERT \/ AGENTMESH_TLS_KEY: not a certificate and its private key in PEM: the key in .*ed25519-key\.pem is not the certificate's$/u);
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);
});
