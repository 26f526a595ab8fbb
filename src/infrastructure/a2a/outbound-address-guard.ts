import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { Agent, fetch as UndiciFetch } from 'undici';
import { PLAIN } from '../../domain/plain.js';

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
  // IPv4-compatible (::a.b.c.d), NAT64 and 6to4 forms can carry any IPv4 address, private ones too.
  ['::', 96, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** The most of a remote agent's answer (card, result, error) the mesh reads. */
export const MAX_REMOTE_RESPONSE_BYTES = 4 * 1024 * 1024;

export class OutboundAddressRefusedError extends Error {
  constructor(host: string, address: string) {
    super(`'${host}' is at ${address}, not a public address: remote A2A agents there must be allowed with AGENTMESH_A2A_ALLOWED_HOSTS`);
    this.name = 'OutboundAddressRefusedError';
  }
}

export class RemoteResponseTooLargeError extends Error {
  constructor() {
    super(`the remote agent's answer is over ${MAX_REMOTE_RESPONSE_BYTES} bytes`);
    this.name = 'RemoteResponseTooLargeError';
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Where the mesh may call remote A2A agents. A tenant names the URL (and the agent's card names
 * its endpoint), so without a guard a tenant could make the mesh call what only the mesh can
 * reach: its own host, the private network, the cloud's metadata service. Public addresses are
 * allowed; others only when AGENTMESH_A2A_ALLOWED_HOSTS lists the host name, the address or a
 * range holding it. The check is made on the address the connection is opened to (the resolver
 * of the HTTP client is this guard's), so a name that resolves differently the second time
 * (DNS rebinding) gains nothing; redirects are not followed, and answers are read up to a bound.
 */
export class OutboundAddressGuard {
  private readonly nonPublic = new BlockList();
  private readonly allowedRanges = new BlockList();
  private readonly allowedNames: ReadonlySet<string>;
  /** undici, loaded at the first call: most meshes never call a remote agent, and it costs ~80 ms at every start. */
  private client: Promise<{ fetch: typeof UndiciFetch; dispatcher: Agent }> | undefined;

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

  private undici(): Promise<{ fetch: typeof UndiciFetch; dispatcher: Agent }> {
    this.client ??= import('undici').then(({ Agent, fetch }) => ({
      fetch,
      dispatcher: new Agent({ connect: { lookup: (hostname, options, callback) => this.lookup(hostname, options, callback as LookupCallback) } }),
    }));
    return this.client;
  }

  /** Whether the mesh may call `host` at `address`: a public address, or one AGENTMESH_A2A_ALLOWED_HOSTS allows. */
  allows(host: string, address: string): boolean {
    if (this.allowedNames.has(host.toLowerCase())) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/iu.exec(address)?.[1];
    const [checked, type]: [string, 'ipv4' | 'ipv6'] = mapped !== undefined ? [mapped, 'ipv4'] : [address, isIP(address) === 6 ? 'ipv6' : 'ipv4'];
    return !this.nonPublic.check(checked, type) || this.allowedRanges.check(checked, type);
  }

  /**
   * A `fetch` that refuses hosts this guard does not allow: an address in the URL at once, a name
   * when the connection resolves it (one lookup, the one connected to); follows no redirect (an
   * allowed host must not send the mesh elsewhere); and reads at most MAX_REMOTE_RESPONSE_BYTES
   * of an answer. A refusal rejects with OutboundAddressRefusedError.
   */
  fetch(): typeof fetch {
    return (async (input: string | URL | Request, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      // The connection's lookup is not asked for an address given as such.
      const host = new URL(url).hostname.replace(/^\[|\]$/gu, '');
      if (isIP(host) !== 0 && !this.allows(host, host)) throw new OutboundAddressRefusedError(host, host);
      const request = input instanceof Request ? { method: input.method, headers: input.headers, body: await input.text() } : {};
      const { fetch: undiciFetch, dispatcher } = await this.undici();
      try {
        const response = await undiciFetch(url, { ...PLAIN, ...request, ...(init as object), redirect: 'error', dispatcher } as Parameters<typeof UndiciFetch>[1]);
        return bounded(response as unknown as Response);
      } catch (error) {
        const refused = (error as { cause?: unknown }).cause;
        throw refused instanceof OutboundAddressRefusedError ? refused : error;
      }
    }) as typeof fetch;
  }

  async close(): Promise<void> {
    if (this.client) await (await this.client).dispatcher.close();
  }

  private lookup(hostname: string, options: object, callback: LookupCallback): void {
    dnsLookup(hostname, { ...PLAIN, ...options, all: true, verbatim: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.find(({ address }) => !this.allows(hostname, address));
      if (refused) return callback(new OutboundAddressRefusedError(hostname, refused.address), []);
      const all = (options as { all?: boolean }).all === true;
      if (all) return callback(null, addresses);
      const first = addresses[0];
      return first ? callback(null, first.address, first.family) : callback(Object.assign(new Error(`no address for '${hostname}'`), { code: 'ENOTFOUND' }), []);
    });
  }

}

/** The answer, cut off with RemoteResponseTooLargeError past the bound (declared or streamed). */
function bounded(response: Response): Response {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_REMOTE_RESPONSE_BYTES) {
    void response.body?.cancel();
    throw new RemoteResponseTooLargeError();
  }
  if (!response.body) return response;
  let seen = 0;
  const limited = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > MAX_REMOTE_RESPONSE_BYTES) controller.error(new RemoteResponseTooLargeError());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(limited, { status: response.status, statusText: response.statusText, headers: response.headers });
}
