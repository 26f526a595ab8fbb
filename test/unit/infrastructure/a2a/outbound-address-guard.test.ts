import { describe, expect, it } from 'vitest';
import { OutboundAddressGuard, OutboundAddressRefusedError } from '../../../../src/infrastructure/a2a/outbound-address-guard.js';

describe('OutboundAddressGuard', () => {
  it('refuses this host, private networks, link-local (cloud metadata) and mapped forms of them; allows public addresses', async () => {
    const guard = new OutboundAddressGuard();
    for (const url of [
      'http://127.0.0.1:8080/',
      'http://10.1.2.3/',
      'http://172.20.0.5/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[fe80::1]/',
      'http://[fd12:3456::1]/',
      'http://localhost:9/',
    ]) {
      await expect(guard.check(url), url).rejects.toBeInstanceOf(OutboundAddressRefusedError);
    }
    await guard.check('https://93.184.216.34/card');
    await guard.check('https://[2606:2800:220:1:248:1893:25c8:1946]/');
  });

  it('allows what AGENTMESH_A2A_ALLOWED_HOSTS lists: a host name, an address, a range', async () => {
    const guard = new OutboundAddressGuard(['agents.internal', '127.0.0.1', '10.0.0.0/8', '::1']);
    await guard.check('http://127.0.0.1:4000/');
    await guard.check('http://10.200.3.4/');
    await guard.check('http://[::1]:4000/');
    await guard.check('http://AGENTS.internal:4000/');
    await expect(guard.check('http://192.168.0.2/')).rejects.toThrow(/'192\.168\.0\.2' is at 192\.168\.0\.2, not a public address/);
  });

  it('refuses before the request leaves: the wrapped fetch is not called', async () => {
    let called = false;
    const guarded = new OutboundAddressGuard().fetch(async () => {
      called = true;
      return new Response('{}');
    });
    await expect(guarded('http://169.254.169.254/latest/meta-data/')).rejects.toBeInstanceOf(OutboundAddressRefusedError);
    expect(called).toBe(false);
  });
});
