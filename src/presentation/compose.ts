import { createRequire } from 'node:module';
import pino from 'pino';
import { Mesh } from '../application/mesh.js';
import type { Logger } from '../application/logger.js';
import { redactUrl, type AgentMeshConfig } from '../config.js';
import { InMemoryBroker } from '../infrastructure/messaging/in-memory-broker.js';
import { NatsBroker } from '../infrastructure/messaging/nats-broker.js';
import type { MessageBroker } from '../application/ports.js';
import { EventRelay } from '../application/event-relay.js';
import { openEmbeddedStore } from '../infrastructure/persistence/embedded-store.js';
import { SchemaTooNewError } from '../infrastructure/persistence/migrate.js';
import { DatabaseInUseError, openPostgresStore, type InstanceLockEvent } from '../infrastructure/persistence/postgres-store.js';
import type { Store } from '../infrastructure/persistence/store.js';
import { mathRandom } from '../infrastructure/system/math-random.js';
import { systemClock } from '../infrastructure/system/system-clock.js';
import { UuidV7Generator } from '../infrastructure/system/uuid-v7.js';
import { buildApi } from './api/server.js';
import type { TypedApp } from './api/typed-app.js';

export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export interface RunningMesh {
  mesh: Mesh;
  api: TypedApp;
  store: Store;
  broker: MessageBroker;
  /** Publishes committed events to the broker; only with NATS. */
  relay?: EventRelay;
  /** Where the API listens, once `listen` was asked for. */
  url?: string;
  createdAdminKey?: string;
  close(): Promise<void>;
}

export class StartupError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

async function openPostgres(url: string, logger: pino.Logger, onFatal: (error: Error) => void, relayEvents: boolean): Promise<Store> {
  const onLockEvent = (event: InstanceLockEvent) => {
    if (event.kind === 'lost') logger.warn({ err: event.error }, 'lost the connection that holds the instance lock; retaking it when the database answers');
    else if (event.kind === 'regained') logger.info('instance lock held again');
    else {
      logger.fatal({ err: event.error }, 'this instance no longer owns its database; stopping');
      onFatal(event.error);
    }
  };
  try {
    return await openPostgresStore(url, { onLockEvent, relayEvents });
  } catch (error) {
    if (error instanceof DatabaseInUseError || error instanceof SchemaTooNewError) throw error;
    throw new StartupError(`cannot use PostgreSQL at AGENTMESH_DATABASE_URL (${redactUrl(url)}): ${(error as Error).message}`, { cause: error });
  }
}

async function openNats(nats: { url: string; namespace: string }): Promise<MessageBroker> {
  try {
    return await NatsBroker.connect(nats.url, { ...(nats.namespace !== '' && { namespace: nats.namespace }) });
  } catch (error) {
    throw new StartupError(`AGENTMESH_NATS_URL: ${(error as Error).message}`, { cause: error });
  }
}

export interface StartOptions {
  listen: boolean;
  logger?: pino.Logger;
  /** The instance cannot go on (its database was taken over): the host should close it and exit non-zero. */
  onFatal?: (error: Error) => void;
}

/** The composition root: adapters chosen from config, wired to the use cases, API on top. */
export async function startMesh(config: AgentMeshConfig, options: StartOptions): Promise<RunningMesh> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'agentmesh' } });
  // With NATS, committed events wait in the outbox and a relay publishes them; the in-memory broker has no one to publish to.
  const relayEvents = config.nats !== undefined;
  const store =
    config.databaseUrl !== undefined
      ? await openPostgres(config.databaseUrl, logger, options.onFatal ?? (() => {}), relayEvents)
      : await openEmbeddedStore(config.dataDir, { relayEvents });
  let broker: MessageBroker;
  try {
    broker = config.nats !== undefined ? await openNats(config.nats) : new InMemoryBroker();
  } catch (error) {
    await store.close();
    throw error;
  }
  const mesh = new Mesh(
    {
      tenants: store.tenants,
      apiKeys: store.apiKeys,
      agents: store.agents,
      tasks: store.tasks,
      events: store.events,
      broker,
      clock: systemClock,
      ids: new UuidV7Generator(),
      random: mathRandom,
      logger: logger as unknown as Logger,
    },
    config.mesh,
  );
  const { createdAdminKey } = await mesh.start(config.adminKey !== undefined ? { adminKey: config.adminKey } : {});
  const relay = relayEvents ? new EventRelay(store.outbox, broker, logger as unknown as Logger) : undefined;
  relay?.start();
  const storeProbe = { ping: async () => void (await store.db.query('SELECT 1')) };
  const api = await buildApi(mesh, storeProbe, { bodyLimitBytes: config.bodyLimitBytes, logger, version: VERSION });
  let url: string | undefined;
  if (options.listen) url = await api.listen({ host: config.host, port: config.port });
  let closed = false;
  return {
    mesh,
    api,
    store,
    broker,
    ...(relay !== undefined && { relay }),
    ...(url !== undefined && { url }),
    ...(createdAdminKey !== undefined && { createdAdminKey }),
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
      await mesh.stop();
      // The relay's last turn publishes what the mesh committed on its way down.
      await relay?.stop();
      await broker.close();
      await store.close();
    },
  };
}
