// A throwaway database on the machine's PostgreSQL for one benchmark, dropped afterwards.
import pg from 'pg';

export const POSTGRES_ADMIN_URL = process.env.AGENTMESH_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql) {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs `work(url)` on a fresh database; undefined (and a notice) when PostgreSQL is unreachable. */
export async function withScratchDatabase(work) {
  const name = `agentmesh_bench_${process.pid}_${Date.now().toString(36)}`;
  try {
    await admin(`CREATE DATABASE ${name}`);
  } catch (error) {
    console.log(`(PostgreSQL at ${POSTGRES_ADMIN_URL} unreachable: ${error.message}; its figures are skipped)`);
    return undefined;
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}
