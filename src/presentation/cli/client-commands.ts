import type { Command } from 'commander';
import { AGENT_STATUSES, assertName, ROUTING_STRATEGIES, TERMINAL_STATUSES } from '../../domain/index.js';
import { AgentMeshClient } from '../../sdk/index.js';
import type { CliIo } from './cli-io.js';
import { groupOfCommands, nonEmpty, UsageError } from './usage-error.js';
import { PLAIN } from '../../domain/plain.js';

/** A capability as the mesh names them (the domain's rule): a wrong one is a usage error (exit 2), not sent. */
function capabilityName(value: string): string {
  nonEmpty('the capability')(value);
  try {
    assertName(value, 'the capability');
  } catch (error) {
    throw new UsageError(`${(error as Error).message}, got '${value}'`);
  }
  return value;
}

interface ClientFlags {
  url?: string;
  apiKey?: string;
}

function oneOf(name: string, allowed: readonly string[]) {
  return (value: string): string => {
    if (!allowed.includes(value)) throw new UsageError(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
    return value;
  };
}

function checkUrl(value: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new UsageError(`${name} must be an http:// or https:// address, got '${value}'`);
  return value;
}

const parseUrl = (value: string) => checkUrl(value, '--url');

/** The line for a task waited on that has not ended: a queued one may have no capable agent. */
function stillOpen(task: { id: string; status: string }, waitedMs: number): string {
  return `agentmesh: task ${task.id} is still ${task.status} after ${waitedMs} ms${task.status === 'queued' ? ' (no capable agent took it?)' : ''}\n`;
}

function clientFrom(flags: ClientFlags, env: CliIo['env']): AgentMeshClient {
  // Read the environment here, not as an option default: commander prints defaults in --help.
  const apiKey = flags.apiKey ?? env.AGENTMESH_API_KEY;
  const url = flags.url ?? checkUrl(env.AGENTMESH_URL ?? 'http://127.0.0.1:8080', 'AGENTMESH_URL');
  if (!apiKey) throw new UsageError('an API key is required: pass --api-key or set AGENTMESH_API_KEY');
  return new AgentMeshClient({ url, apiKey, fetch: namingFetch(url) });
}

/** fetch, whose failure to reach the server carries the address it tried (main prints it). */
function namingFetch(url: string): typeof fetch {
  return async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      if (error instanceof Error) Object.assign(error, { meshUrl: url });
      throw error;
    }
  };
}

function parseInteger(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got '${value}'`);
    return n;
  };
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new UsageError(`--input must be JSON, got '${value}'`);
  }
}

function withClientFlags(command: Command): Command {
  return command
    .option('--url <url>', 'mesh API address (default: $AGENTMESH_URL or http://127.0.0.1:8080)', parseUrl)
    .option('--api-key <key>', 'API key (default: $AGENTMESH_API_KEY)');
}

export function registerClientCommands(program: Command, io: CliIo): void {
  const print = (value: unknown): void => void io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const agents = program.command('agents').description('inspect agents');
  withClientFlags(agents.command('list').description("list the tenant's agents"))
    .option('--capability <name>', 'only agents with this capability', nonEmpty('--capability'))
    .option('--status <status>', `only agents in this status (${AGENT_STATUSES.join(', ')})`, oneOf('--status', AGENT_STATUSES))
    .option('--limit <n>', 'page size (1-500)', parseInteger('--limit', 1, 500), 50)
    .option('--cursor <cursor>', 'nextCursor of the previous page', nonEmpty('--cursor'))
    .action(async (flags: ClientFlags & { capability?: string; status?: string; limit: number; cursor?: string }) => {
      const page = await clientFrom(flags, io.env).listAgents({
        limit: flags.limit,
        ...(flags.cursor !== undefined && { cursor: flags.cursor }),
        ...(flags.capability !== undefined && { capability: flags.capability }),
        ...(flags.status !== undefined && { status: flags.status }),
      });
      print(page);
    });
  groupOfCommands(agents);

  const tasks = program.command('tasks').description('submit and inspect tasks');
  withClientFlags(tasks.command('submit').description('submit a task').argument('<capability>', 'capability that must handle it', capabilityName))
    .option('--input <json>', 'task input as JSON', parseJson, null)
    .option('--priority <n>', 'priority 0-9', parseInteger('--priority', 0, 9))
    .option('--strategy <name>', `routing strategy (${ROUTING_STRATEGIES.join(', ')})`, oneOf('--strategy', ROUTING_STRATEGIES))
    .option('--affinity-key <key>', 'key for the affinity strategy', nonEmpty('--affinity-key'))
    .option('--max-attempts <n>', 'attempts before dead letter', parseInteger('--max-attempts', 1, 100))
    .option('--wait', 'wait for the result and print the settled task')
    .option('--timeout <ms>', 'with --wait: give up after this long (default 60000), print the task as it stands and exit 1', parseInteger('--timeout', 1, 3_600_000))
    .action(async (capability: string, flags: ClientFlags & { input: unknown; priority?: number; strategy?: string; affinityKey?: string; maxAttempts?: number; wait?: boolean; timeout?: number }) => {
      if (flags.strategy === 'affinity' && flags.affinityKey === undefined) throw new UsageError('--strategy affinity needs --affinity-key <key>');
      if (flags.affinityKey !== undefined && flags.strategy !== 'affinity') throw new UsageError('--affinity-key goes with --strategy affinity');
      if (flags.timeout !== undefined && !flags.wait) throw new UsageError('--timeout goes with --wait');
      const client = clientFrom(flags, io.env);
      const result = await client.submit(capability, flags.input, {
        ...PLAIN,
        ...(flags.priority !== undefined && { priority: flags.priority }),
        ...(flags.strategy !== undefined && { routing: { strategy: flags.strategy as never, ...(flags.affinityKey !== undefined && { affinityKey: flags.affinityKey }) } }),
        ...(flags.maxAttempts !== undefined && { maxAttempts: flags.maxAttempts }),
      });
      if (!flags.wait) {
        print(result);
        return;
      }
      const timeoutMs = flags.timeout ?? 60_000;
      const task = await client.waitForResult(result.id, { timeoutMs });
      print(task);
      if (!TERMINAL_STATUSES.has(task.status)) {
        io.stderr.write(stillOpen(task, timeoutMs));
        io.exitCode = 1;
      }
    });

  withClientFlags(tasks.command('get').description('show a task').argument('<id>', 'task id', nonEmpty('the task id')))
    .option('--wait <ms>', 'wait up to this long for it to settle', parseInteger('--wait', 0, 60_000), 0)
    .action(async (id: string, flags: ClientFlags & { wait: number }) => {
      const task = await clientFrom(flags, io.env).get(id, { waitMs: flags.wait });
      print(task);
      // Asked to wait for the end: a script can tell from the exit code whether it came.
      if (flags.wait > 0 && !TERMINAL_STATUSES.has(task.status)) {
        io.stderr.write(stillOpen(task, flags.wait));
        io.exitCode = 1;
      }
    });
  groupOfCommands(tasks);
}
