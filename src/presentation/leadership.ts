import type pino from 'pino';
import type { Logger } from '../application/logger.js';
import type { Mesh, MeshStartOptions } from '../application/mesh.js';
import type { MessageBroker, Service } from '../application/ports.js';
import { remoteCommands, serveCommands } from '../application/remote-commands.js';
import { UnavailableError } from '../domain/index.js';
import type { InstanceLockEvent, PostgresStore } from '../infrastructure/persistence/postgres-store.js';

/** How often a follower asks whether the leader's lock is free (a leader that died frees it at once). */
const LEADER_POLL_MS = 1_000;
/** A command's round trip to the leader, and how long a follower waits for a leader to be elected. */
const COMMAND_TIMEOUT_MS = 30_000;
const LEADER_WAIT_MS = 10_000;
/** How long a newly elected leader waits for the database to answer before it gives up the lead. */
const START_WAIT_MS = 30_000;

/**
 * One instance's part in a mesh of many: it follows (sends changes to the leader) until it gets
 * the leader's lock, then runs the mesh and serves the others' commands. Losing the lock ends its
 * lead for good: it stops routing at once and asks its host to stop, so that two instances never
 * lead together.
 */
export class Leadership {
  private service: Service | undefined;
  private leading: Promise<void> | undefined;
  private closing = false;
  private store: PostgresStore | undefined;
  createdAdminKey: string | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly broker: MessageBroker,
    private readonly logger: pino.Logger,
    private readonly startOptions: MeshStartOptions,
    private readonly onFatal: (error: Error) => void,
  ) {
    mesh.follow(remoteCommands(broker, { timeoutMs: COMMAND_TIMEOUT_MS, leaderWaitMs: LEADER_WAIT_MS }));
  }

  /** Asks for the lock once now: if this instance is elected it leads before this resolves, or it throws. */
  async begin(store: PostgresStore): Promise<void> {
    this.store = store;
    if (await store.campaign(LEADER_POLL_MS)) await this.lead();
    else this.logger.info('another instance leads the mesh: this one serves the API and sends changes to it');
  }

  onLockEvent(event: InstanceLockEvent): void {
    if (event.kind === 'elected') {
      this.lead().catch((error: unknown) => {
        this.logger.fatal({ err: error }, 'elected leader, but could not start the mesh; stopping');
        this.onFatal(error as Error);
      });
    } else if (event.kind === 'lost' || event.kind === 'stolen') {
      this.logger.fatal({ err: event.error }, 'lost the leader lock: another instance may lead now; stopping so that two never lead together');
      void this.abdicate().finally(() => this.onFatal(event.error));
    }
  }

  /** Stops serving commands (answering those taken) and waits for a lead still starting. */
  async close(): Promise<void> {
    this.closing = true;
    await this.leading?.catch(() => {});
    await this.service?.stop();
  }

  private lead(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.leading = (async () => {
      await this.databaseAnswers();
      ({ createdAdminKey: this.createdAdminKey } = await this.mesh.start(this.startOptions));
      // Closed while it started: the host's close will stop the mesh; serve nothing.
      if (this.closing) return;
      this.service = serveCommands(this.broker, this.mesh.local, this.logger as unknown as Logger);
      this.logger.info('this instance leads the mesh now: it runs the queues, leases and agent registry');
    })();
    return this.leading;
  }

  /**
   * Elected as the database comes back (the lock's own connection got through first), the pool's
   * breaker may still be open: wait for the database to answer before loading the mesh from it,
   * rather than give up the lead.
   */
  private async databaseAnswers(): Promise<void> {
    const started = Date.now();
    for (;;) {
      try {
        await this.store?.db.query('SELECT 1');
        return;
      } catch (error) {
        if (!(error instanceof UnavailableError) || Date.now() - started > START_WAIT_MS || this.closing) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private async abdicate(): Promise<void> {
    await this.service?.stop();
    this.service = undefined;
    await this.mesh.abdicate();
  }
}
