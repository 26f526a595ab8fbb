import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Addresses no remote agent may be at unless listed: this host, private networks, link-local (cloud metadata), and the like. */
const NON_PUBLIC: ReadonlyArray<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

export class OutboundAddressRefusedError extends Error {
  constructor(host: string, address: string) {
    super(`'${host}' is at ${address}, not a public address: remote A2A agents there must be allowed with AGENTMESH_A2A_ALLOWED_HOSTS`);
    this.name = 'OutboundAddressRefusedError';
  }
}

/**
 * Where the mesh may call remote A2A agents. A tenant names the URL (and the agent's card names
 * its endpoint), so without a guard a tenant could make the mesh call what only the mesh can
 * reach: its own host, the private network, the cloud's metadata service. Public addresses are
 * allowed; others only when AGENTMESH_A2A_ALLOWED_HOSTS lists the host name, the address or a
 * range holding it. Every request's host is resolved and checked just before the call.
 */
export class OutboundAddressGuard {
  private readonly nonPublic = new BlockList();
  private readonly allowedRanges = new BlockList();
  private readonly allowedNames: ReadonlySet<string>;

  /** `allowed`: host names, addresses and CIDR ranges (as config.ts checked them). */
  constructor(allowed: readonly string[] = []) {
    for (const [address, prefix, family] of NON_PUBLIC) this.nonPublic.addSubnet(address, prefix, family);
    const names = new Set<string>();
    for (const entry of allowed) {
      const [address, bits] = entry.split('/');
      const family = isIP(address ?? '');
      if (family === 0) names.add(entry.toLowerCase());
      else if (bits === undefined) this.allowedRanges.addAddress(address!, family === 6 ? 'ipv6' : 'ipv4');
      else this.allowedRanges.addSubnet(address!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
    }
    this.allowedNames = names;
  }

  /** Resolves when the URL's host may be called; rejects with OutboundAddressRefusedError otherwise. */
  async check(url: string): Promise<void> {
    const host = new URL(url).hostname.replace(/^\[|\]$/gu, '').toLowerCase();
    if (this.allowedNames.has(host)) return;
    const addresses = isIP(host) !== 0 ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
    for (const { address, family } of addresses) {
      const type: 'ipv4' | 'ipv6' = family === 6 ? 'ipv6' : 'ipv4';
      const mapped = type === 'ipv6' ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/iu.exec(address)?.[1] : undefined;
      const [checked, checkedType]: [string, 'ipv4' | 'ipv6'] = mapped !== undefined ? [mapped, 'ipv4'] : [address, type];
      if (this.nonPublic.check(checked, checkedType) && !this.allowedRanges.check(checked, checkedType)) throw new OutboundAddressRefusedError(host, address);
    }
  }

  /** `fetch`, refusing hosts this guard does not allow. */
  fetch(fetchImpl: typeof fetch = fetch): typeof fetch {
    return async (input, init) => {
      await this.check(input instanceof Request ? input.url : String(input));
      return fetchImpl(input, init);
    };
  }
}
