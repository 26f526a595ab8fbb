import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { fastScratchDir } from './scratch.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the real PostgreSQL the suites may use (they create databases of their own), or null. */
    postgresUrl: string | null;
    /** URL of the real NATS server with JetStream the suites may use (they create streams of their own), or null. */
    natsUrl: string | null;
    /** URL of the real Redis the suites may use (under key prefixes of their own), or null. */
    redisUrl: string | null;
    /** Prometheus and promtool on this machine (Debian's prometheus package), or null. */
    prometheus: { server: string; promtool: string } | null;
    /** This run's directory for the meshes' data: removed when the run ends, whatever a suite left in it. */
    runDir: string;
  }
}

const POSTGRES_URL = process.env.AGENTMESH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.AGENTMESH_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.AGENTMESH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

async function postgresProblem(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

async function natsProblem(url: string): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: url, timeout: 3000 });
    try {
      await jetstreamManager(nc, { timeout: 3000 });
      return undefined;
    } catch (error) {
      return `JetStream: ${(error as Error).message}`;
    } finally {
      await nc.close().catch(() => {});
    }
  } catch (error) {
    return (error as Error).message;
  }
}

async function redisProblem(url: string): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return (error as Error).message || 'connection refused';
  } finally {
    redis.disconnect();
  }
}

/** Where a command is on PATH, or undefined. */
function which(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A missing service skips its suites with a one-line notice, or fails the run under CI=true. */
function report(service: string, variable: string, url: string, problem: string | undefined): string | null {
  if (problem === undefined) return url;
  const line = `${service} at ${redact(url)} is unreachable (${problem})`;
  if (process.env.CI === 'true') throw new Error(`${line}; under CI=true the real-service suites must run (start it, or set ${variable})`);
  process.stderr.write(`\n!! skipping the ${service} suites: ${line}. Set ${variable} or start ${service} to run them.\n\n`);
  return null;
}

/** Probes the machine's real services once per run; returns the teardown, which removes the run's data. */
export default async function setup(project: TestProject): Promise<() => void> {
  const [postgres, nats, redis] = await Promise.all([postgresProblem(POSTGRES_URL), natsProblem(NATS_URL), redisProblem(REDIS_URL)]);
  project.provide('postgresUrl', report('PostgreSQL', 'AGENTMESH_TEST_POSTGRES_URL', POSTGRES_URL, postgres));
  project.provide('natsUrl', report('NATS', 'AGENTMESH_TEST_NATS_URL', NATS_URL, nats));
  project.provide('redisUrl', report('Redis', 'AGENTMESH_TEST_REDIS_URL', REDIS_URL, redis));
  const [server, promtool] = [which('prometheus'), which('promtool')];
  if (server !== undefined && promtool !== undefined) project.provide('prometheus', { server, promtool });
  else {
    const line = 'prometheus and promtool are not installed (Debian: apt-get install prometheus)';
    if (process.env.CI === 'true') throw new Error(`${line}; under CI=true the Prometheus suite must run`);
    process.stderr.write(`\n!! skipping the Prometheus suite: ${line}.\n\n`);
    project.provide('prometheus', null);
  }
  // Meshes' data directories go under one directory per run (a suite's worker may end before its cleanup on exit runs),
  // in memory where there is room: a new mesh started in 1.8 s there against 2.6 s on this machine's disk.
  const runDir = fastScratchDir('agentmesh-test-run-');
  project.provide('runDir', runDir);
  return () => rmSync(runDir, { recursive: true, force: true });
}
