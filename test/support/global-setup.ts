import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the real PostgreSQL the suites may use (they create databases of their own), or null. */
    postgresUrl: string | null;
  }
}

const POSTGRES_URL = process.env.AGENTMESH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(url: string): Promise<string | undefined> {
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

/**
 * Probes the machine's real services once per run. Suites against a missing service are skipped
 * with a notice, except under CI=true, where a missing service fails the run.
 */
export default async function setup(project: TestProject): Promise<void> {
  const problem = await reachable(POSTGRES_URL);
  if (problem !== undefined) {
    const line = `PostgreSQL at ${POSTGRES_URL.replace(/:[^:@/]*@/, ':***@')} is unreachable (${problem})`;
    if (process.env.CI === 'true') throw new Error(`${line}; under CI=true the real-service suites must run (start it, or set AGENTMESH_TEST_POSTGRES_URL)`);
    process.stderr.write(`\n!! skipping the PostgreSQL suites: ${line}. Set AGENTMESH_TEST_POSTGRES_URL or start PostgreSQL to run them.\n\n`);
  }
  project.provide('postgresUrl', problem === undefined ? POSTGRES_URL : null);
}
