import { loadConfig, redactUrl } from '../../config.js';
import { redactNatsUrl } from '../../infrastructure/messaging/nats-url.js';
import { startMesh } from '../compose.js';
import type { CliIo } from './cli-io.js';
import { blockedPortWarning } from './fetch-bad-ports.js';

/** Within the 10 s most orchestrators wait after SIGTERM before they kill. */
const SHUTDOWN_LIMIT_MS = 9_000;

/** The first start's key, shown once; with the URL when the mesh is listening, else said to be from a start that failed. */
function firstStartBanner(key: string, url?: string): string {
  const made = url === undefined ? 'were created before the start failed' : 'were created';
  const tour = url === undefined ? '' : `Try:  curl -H "Authorization: Bearer ${key}" ${url}/v1/agents\nAPI docs: ${url}/docs\n\n`;
  return `\nFirst start: tenant 'default' and its platform admin key ${made}.\nAdmin API key (shown once, keep it safe):\n\n  ${key}\n\n${tour}`;
}

/** `agentmesh serve`: the mesh and its API until SIGINT or SIGTERM. */
export async function serve(io: CliIo): Promise<void> {
  const config = loadConfig(io.env);
  let stopping: ((reason: string, exitCode: number) => Promise<void>) | undefined;
  let madeKey: string | undefined;
  const running = await startMesh(config, { listen: true, onFatal: () => void stopping?.('fatal error', 1), onAdminKeyCreated: (key) => (madeKey = key) }).catch((error: unknown) => {
    // The key is in the store now, and a later start will not show it again.
    if (madeKey !== undefined) io.stdout.write(firstStartBanner(madeKey));
    throw error;
  });
  const log = running.mesh.ctx.logger;
  log.info(
    {
      url: running.url,
      store: config.databaseUrl !== undefined ? redactUrl(config.databaseUrl) : (config.dataDir ?? ':memory:'),
      broker: config.nats !== undefined ? `nats ${redactNatsUrl(config.nats.url)}${config.nats.namespace ? ` (namespace ${config.nats.namespace})` : ''}` : 'in-memory',
      shared_state: config.redis !== undefined ? `redis ${redactUrl(config.redis.url)} (key prefix ${config.redis.keyPrefix})` : 'in-process',
      role: running.mesh.role,
    },
    'AgentMesh is listening',
  );
  const portWarning = blockedPortWarning(running.url);
  if (portWarning !== undefined) log.warn({ url: running.url }, portWarning);
  if (running.createdAdminKey) io.stdout.write(firstStartBanner(running.createdAdminKey, running.url));
  let shuttingDown = false;
  const shutdown = async (reason: string, exitCode = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ reason }, 'shutting down');
    // A dependency that hangs must not keep an orchestrator waiting past its grace period.
    setTimeout(() => {
      log.error({ after_ms: SHUTDOWN_LIMIT_MS }, 'shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    try {
      await running.close();
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
    log.info({}, 'stopped');
    process.exit(exitCode);
  };
  stopping = shutdown;
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
