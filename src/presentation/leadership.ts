import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type pino from 'pino';
import type { Logger } from '../application/logger.js';
import type { Mesh, MeshStartOptions } from '../application/mesh.js';
import type { MessageBroker, Service } from '../application/ports.js';
import { remoteCommands, serveCommands } from '../application/remote-commands.js';
import { UnavailableError } from '../domain/index.js';
import type { InstanceLockEvent, MeshLeaderRecord, PostgresStore } from '../infrastructure/persistence/postgres-store.js';

/** How often a follower asks whether the leader's lock is free (a leader that died frees it at once). */
const LEADER_POLL_MS = 1_000;
/** A command's round trip to the leader, and how long a follower waits for a leader to be elected. */
const COMMAND_TIMEOUT_MS = 30_000;
const LEADER_WAIT_MS = 10_000;
/** How long a newly elected leader waits for the database to answer before it gives up the lead. */
const START_WAIT_MS = 30_000;
/** How often a follower reads which leader there is, and which namespace it serves. */
const LEADER_CHECK_MS = 2_000;
const NAMESPACE_MISMATCH = "this instance's AGENTMESH_NATS_NAMESPACE is not the mesh leader's, so it cannot reach the leader (its log names both)";
const REDIS_MISMATCH = "this instance's Redis (AGENTMESH_REDIS_URL, AGENTMESH_REDIS_PREFIX) is not the mesh leader's, so its caches, revocations and rate limits would be apart from the mesh's (its log names both)";

/**
 * One instance's part in a mesh of many: it follows (sends changes to the leader) until it gets
 * the leader's lock, then runs the mesh and serves the others' commands. Losing the lock ends its
 * lead for good: it stops routing at once and asks its host to stop, so that two instances never
 * lead together. A follower whose NATS namespace or Redis is not the leader's says so (`problem`,
 * the readiness check) rather than let each change time out or go apart; one that sees the leader
 * gone or replaced answers the commands still on their way to it at once.
 */
export class Leadership {
  private service: Service | undefined;
  private leading: Promise<void> | undefined;
  private closing = false;
  private store: PostgresStore | undefined;
  private readonly self: MeshLeaderRecord;
  private leaderCheck: NodeJS.Timeout | undefined;
  /** Why this follower cannot serve the leader's mesh, when it knows (with names and places: for the log only), and the words for callers. */
  private mismatch: { log: string; problem: string } | undefined;
  /** Aborted when the leader commands go to is gone or replaced (see remoteCommands' leaderChange). */
  private leaderChange = leaderChangeController();
  /** The leader last seen (its instance), or null before the first look. */
  private leaderSeen: string | undefined | null = null;
  createdAdminKey: string | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly broker: MessageBroker,
    private readonly logger: pino.Logger,
    private readonly startOptions: MeshStartOptions,
    private readonly onFatal: (error: Error) => void,
    natsNamespace = '',
    /** This instance's Redis key prefix; '' without Redis. */
    redisPrefix = '',
  ) {
    this.self = { natsNamespace, redisPrefix, instance: `${hostname()} pid ${process.pid}` };
    mesh.follow(
      remoteCommands(broker, { timeoutMs: COMMAND_TIMEOUT_MS, leaderWaitMs: LEADER_WAIT_MS, leaderUnreachable: () => this.problem, leaderChange: () => this.leaderChange.signal }),
    );
  }

  /** Asks for the lock once now: if this instance is elected it leads before this resolves, or it throws. */
  async begin(store: PostgresStore): Promise<void> {
    this.store = store;
    if (await store.campaign(LEADER_POLL_MS)) return this.lead();
    this.logger.info('another instance leads the mesh: this one serves the API and sends changes to it');
    await this.checkLeader();
    this.leaderCheck = setInterval(() => void this.checkLeader(), LEADER_CHECK_MS);
    this.leaderCheck.unref();
  }

  /** Why this instance cannot serve changes, if it knows, in words fit for any caller. */
  get problem(): string | undefined {
    return this.mismatch?.problem;
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
    clearInterval(this.leaderCheck);
    await this.leading?.catch(() => {});
    await this.service?.stop();
  }

  private lead(): Promise<void> {
    if (this.closing) return Promise.resolve();
    clearInterval(this.leaderCheck);
    this.mismatch = undefined;
    // Commands still on their way to the leader before this one will get no answer.
    this.newLeader();
    this.leading = (async () => {
      await this.databaseAnswers();
      await this.store?.recordLeader(this.self).catch((error: unknown) => {
        this.logger.warn({ err: error }, "could not record this leader's NATS namespace in the database: followers cannot check theirs against it");
      });
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

  /** Which leader there is now, and whether this instance's NATS namespace and Redis are its own. */
  private async checkLeader(): Promise<void> {
    // A database away leaves the last answer standing: its own check says so.
    const leader = await this.store?.liveLeader().catch(() => null);
    if (leader === null || this.closing || this.leading) return;
    if (this.leaderSeen !== null && leader?.instance !== this.leaderSeen) this.newLeader();
    this.leaderSeen = leader?.instance;
    const mismatch = leader === undefined ? undefined : this.mismatchWith(leader);
    if (mismatch !== undefined && mismatch.log !== this.mismatch?.log) this.logger.error(mismatch.log);
    if (mismatch === undefined && this.mismatch !== undefined) this.logger.info("this instance's NATS namespace and Redis are the leader's now: it serves changes again");
    this.mismatch = mismatch;
  }

  /** What of this instance's settings differs from the leader's, if anything: one namespace and one Redis make one mesh. */
  private mismatchWith(leader: MeshLeaderRecord): { log: string; problem: string } | undefined {
    if (leader.natsNamespace !== this.self.natsNamespace) {
      return {
        log: `AGENTMESH_NATS_NAMESPACE is ${shown(this.self.natsNamespace)} here but ${shown(leader.natsNamespace)} on the mesh's leader (${leader.instance}): this instance cannot reach it; give every instance of the mesh the same namespace`,
        problem: NAMESPACE_MISMATCH,
      };
    }
    // A leader of an earlier build does not say which Redis it uses.
    if (leader.redisPrefix !== undefined && leader.redisPrefix !== this.self.redisPrefix) {
      return {
        log: `this instance uses ${redisShown(this.self.redisPrefix!)} but the mesh's leader (${leader.instance}) uses ${redisShown(leader.redisPrefix)}: its caches, key revocations and rate limits would be apart from the mesh's; give every instance the same AGENTMESH_REDIS_URL and AGENTMESH_REDIS_PREFIX`,
        problem: REDIS_MISMATCH,
      };
    }
    return undefined;
  }

  private newLeader(): void {
    this.leaderChange.abort();
    this.leaderChange = leaderChangeController();
  }

  private async abdicate(): Promise<void> {
    await this.service?.stop();
    this.service = undefined;
    await this.mesh.abdicate();
  }
}

const shown = (namespace: string) => (namespace === '' ? 'unset' : `'${namespace}'`);

const redisShown = (prefix: string) => (prefix === '' ? 'no Redis' : `Redis with AGENTMESH_REDIS_PREFIX '${prefix}'`);

/** Each command on its way to the leader listens to it: as many listeners as commands in flight, each removed as its answer comes. */
function leaderChangeController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
