import { loadConfig, redactUrl } from '../../config.js';
import { startMesh } from '../compose.js';

/** `agentmesh serve`: the mesh and its API until SIGINT or SIGTERM. */
export async function serve(): Promise<void> {
  const config = loadConfig();
  const running = await startMesh(config, { listen: true });
  const log = running.mesh.ctx.logger;
  log.info({ url: running.url, store: config.databaseUrl !== undefined ? redactUrl(config.databaseUrl) : (config.dataDir ?? ':memory:') }, 'AgentMesh is listening');
  if (running.createdAdminKey) {
    process.stdout.write(
      `\nFirst start: tenant 'default' and its platform admin key were created.\n` +
        `Admin API key (shown once, keep it safe):\n\n  ${running.createdAdminKey}\n\n` +
        `Try:  curl -H "Authorization: Bearer ${running.createdAdminKey}" ${running.url}/v1/agents\n` +
        `API docs: ${running.url}/docs\n\n`,
    );
  }
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
