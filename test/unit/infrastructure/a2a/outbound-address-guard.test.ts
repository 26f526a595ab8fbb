import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_REMOTE_RESPONSE_BYTES, OutboundAddressGuard, OutboundAddressRefusedError, RemoteResponseTooLargeError } from '../../../../src/infrastructure/a2a/outbound-address-guard.js';

describe('OutboundAddressGuard', () => {
  it('refuses this host, private networks, link-local (cloud metadata) and mapped forms of them; allows public addresses', () => {
    const guard = new OutboundAddressGuard();
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.5',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::ffff:127.0.0.1',
      'fe80::1',
      'fd12:3456::1',
      '::7f00:1',
      '64:ff9b::a00:1',
      '2002:a00:1::1',
    ]) {
      expect(guard.allows('agent.example.com', address), address).toBe(false);
    }
    expect(guard.allows('agent.example.com', '93.184.216.34')).toBe(true);
    expect(guard.allows('agent.example.com', '2606:2800:220:1:248:1893:25c8:1946')).toBe(true);
  });

  it('allows what AGENTMESH_A2A_ALLOWED_HOSTS lists: a host name, an address, a range', () => {
    const guard = new OutboundAddressGuard(['agents.internal', '127.0.0.1', '10.0.0.0/8', '::1']);
    expect(guard.allows('127.0.0.1', '127.0.0.1')).toBe(true);
    expect(guard.allows('10.200.3.4', '10.200.3.4')).toBe(true);
    expect(guard.allows('::1', '::1')).toBe(true);
    expect(guard.allows('AGENTS.internal', '192.168.7.7')).toBe(true);
    expect(guard.allows('other.internal', '192.168.0.2')).toBe(false);
  });

  it('refuses before the request leaves, refuses at connect time a name that resolves to a refused address, and follows no redirect', async () => {
    const guarded = new OutboundAddressGuard().fetch();
    await expect(guarded('http://169.254.169.254/latest/meta-data/')).rejects.toBeInstanceOf(OutboundAddressRefusedError);
    // A name is refused by the connection's own lookup, the address it would connect to.
    const refused = await guarded('http://localhost:4000/').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OutboundAddressRefusedError);
    expect((refused as Error).message).toMatch(/^'localhost' is at (127\.0\.0\.1|::1), not a public address/);
    const inner = createServer((_request, response) => response.end('SECRET'));
    const outer = createServer((_request, response) => response.writeHead(307, { location: `http://127.0.0.2:${(inner.address() as AddressInfo).port}/admin` }).end());
    await Promise.all([new Promise<void>((r) => inner.listen(0, '127.0.0.1', r)), new Promise<void>((r) => outer.listen(0, '127.0.0.1', r))]);
    try {
      // 127.0.0.1 is allowed, 127.0.0.2 is not: the allowed host's redirect is not followed.
      const allowed = new OutboundAddressGuard(['127.0.0.1']).fetch();
      const error = await allowed(`http://127.0.0.1:${(outer.address() as AddressInfo).port}/a2a`, { method: 'POST', body: '{}' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect(String((error as Error).cause)).toMatch(/redirect/i);
    } finally {
      inner.close();
      outer.close();
    }
  });

  it('reads at most MAX_REMOTE_RESPONSE_BYTES of an answer, declared or streamed', async () => {
    const big = Buffer.alloc(MAX_REMOTE_RESPONSE_BYTES + 1, 'x');
    const server = createServer((request, response) => {
      if (request.url === '/declared') return response.end(big);
      response.writeHead(200);
      response.write(big.subarray(0, MAX_REMOTE_RESPONSE_BYTES / 2));
      response.end(big.subarray(MAX_REMOTE_RESPONSE_BYTES / 2));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const guarded = new OutboundAddressGuard(['127.0.0.1']).fetch();
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await expect(guarded(`${base}/declared`)).rejects.toBeInstanceOf(RemoteResponseTooLargeError);
      const streamed = await guarded(`${base}/streamed`);
      await expect(streamed.text()).rejects.toBeInstanceOf(RemoteResponseTooLargeError);
    } finally {
      server.close();
    }
  });
});
