import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { join } from 'node:path';
import { ManagedServer, type Launch } from './managed-server.js';

/** A NATS server of a test's own, with JetStream storing its streams in files under its directory (they survive a restart). */
export class NatsServer extends ManagedServer {
  constructor(
    port: number,
    private readonly bin: string,
  ) {
    super('nats', port);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  protected launch(): Launch {
    return { command: this.bin, args: ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', join(this.dir, 'jetstream')] };
  }

  /** Ready when JetStream answers, not merely the port. */
  protected async probe(): Promise<void> {
    const nc = await connect({ servers: this.url, timeout: 1_000, reconnect: false });
    try {
      await (await jetstreamManager(nc, { timeout: 1_000 })).getAccountInfo();
    } finally {
      await nc.close().catch(() => {});
    }
  }
}
