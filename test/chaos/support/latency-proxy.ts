import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Forwards what one side sends to the other after `proxy.latencyMs`, in order (a later, shorter delay never overtakes). */
function delayedPipe(from: Socket, to: Socket, proxy: LatencyProxy): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    while (queue.length > 0 && queue[0]!.due <= Date.now()) to.write(queue.shift()!.chunk);
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - Date.now());
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    if (proxy.latencyMs === 0 && queue.length === 0) return void to.write(chunk);
    queue.push({ due: Math.max(Date.now() + proxy.latencyMs, queue.at(-1)?.due ?? 0), chunk });
    timer ??= setTimeout(flush, queue[0]!.due - Date.now());
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
}

/** A TCP proxy in front of a service that adds latency on demand, each way: a slow dependency, not a dead one. */
export class LatencyProxy {
  latencyMs = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<LatencyProxy> {
    let proxy: LatencyProxy | undefined;
    const server = createServer((client) => {
      const upstream = createConnection({ host: targetHost, port: targetPort });
      for (const s of [client, upstream]) {
        // Without it, Nagle's algorithm and delayed ACKs hold small protocol messages back ~40 ms: latency of the proxy's own.
        s.setNoDelay(true);
        proxy!.sockets.add(s);
        s.on('close', () => proxy!.sockets.delete(s));
        s.on('error', () => (client.destroy(), upstream.destroy()));
      }
      delayedPipe(client, upstream, proxy!);
      delayedPipe(upstream, client, proxy!);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new LatencyProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  /** The service's URL with the proxy's port instead of its own. */
  url(serviceUrl: string): string {
    const url = new URL(serviceUrl);
    url.port = String(this.port);
    return url.toString();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}
