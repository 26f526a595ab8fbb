import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export interface ChaosBinaries {
  initdb: string;
  postgres: string;
  natsServer: string;
  redisServer: string;
}

function onPath(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Debian keeps PostgreSQL's server binaries out of PATH, under /usr/lib/postgresql/<major>/bin: the newest major wins. */
function postgresBin(name: string): string | undefined {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/u.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const major of majors) if (existsSync(`${root}/${major}/bin/${name}`)) return `${root}/${major}/bin/${name}`;
  return onPath(name);
}

function find(): { binaries?: ChaosBinaries; missing: string[] } {
  const found = { initdb: postgresBin('initdb'), postgres: postgresBin('postgres'), natsServer: onPath('nats-server'), redisServer: onPath('redis-server') };
  const commands: Record<keyof ChaosBinaries, string> = { initdb: 'initdb', postgres: 'postgres', natsServer: 'nats-server', redisServer: 'redis-server' };
  const missing = (Object.keys(found) as Array<keyof ChaosBinaries>).filter((name) => found[name] === undefined).map((name) => commands[name]);
  return missing.length === 0 ? { binaries: found as ChaosBinaries, missing } : { missing };
}

const { binaries, missing } = find();

/**
 * The servers the chaos suites run on their own (PostgreSQL, NATS, Redis), or undefined: then the
 * suites skip with a one-line notice, and under CI=true loading them fails instead.
 */
export const chaosBinaries: ChaosBinaries | undefined = binaries;

if (binaries === undefined) {
  const line = `the chaos suites need PostgreSQL's initdb and postgres, nats-server and redis-server; missing: ${missing.join(', ')} (Debian: apt-get install postgresql nats-server redis-server)`;
  if (process.env.CI === 'true') throw new Error(`${line}; under CI=true the chaos suites must run`);
  process.stderr.write(`\n!! skipping a chaos suite: ${line}.\n\n`);
}
