import { execFile } from 'node:child_process';
import { chownSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ManagedServer, type Launch } from './managed-server.js';

const run = promisify(execFile);

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user (else `nobody`). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  const entry = passwd.find((f) => f[0] === 'postgres') ?? passwd.find((f) => f[0] === 'nobody');
  if (!entry) throw new Error('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/**
 * A PostgreSQL of a test's own: initdb into a temporary directory, trust authentication, listening on
 * 127.0.0.1 only. fsync and full-page writes are off for speed: they guard against a machine crash,
 * and a kill -9 of the server loses nothing the OS already has, so crash recovery is still exercised
 * truly. Synchronous commit stays on: off, a commit is acknowledged before its WAL leaves the
 * server's memory, and a kill -9 would lose acknowledged tasks (the server's doing, not the mesh's).
 */
export class PostgresServer extends ManagedServer {
  private readonly user = serverUser();

  private constructor(
    port: number,
    private readonly bin: { initdb: string; postgres: string },
  ) {
    super('postgresql', port);
  }

  static async create(port: number, bin: { initdb: string; postgres: string }): Promise<PostgresServer> {
    const server = new PostgresServer(port, bin);
    if (server.user) chownSync(server.dir, server.user.uid, server.user.gid);
    try {
      await run(bin.initdb, ['-D', server.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], {
        cwd: server.dir,
        ...(server.user && { uid: server.user.uid, gid: server.user.gid }),
      });
    } catch (error) {
      await server.dispose();
      const { stderr, message } = error as { stderr?: string; message: string };
      throw new Error(`initdb failed: ${stderr || message}`);
    }
    return server;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  protected launch(): Launch {
    const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: this.dir, fsync: 'off', full_page_writes: 'off', max_connections: '200' };
    return {
      command: this.bin.postgres,
      args: ['-D', this.dataDir, '-p', String(this.port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
      ...this.user,
    };
  }

  protected async probe(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 1_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => {});
    }
  }
}
