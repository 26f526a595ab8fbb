import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../../config.js';
import { emptyVariableWarnings, KNOWN_VARIABLES, unknownVariableWarnings } from '../../config-variables.js';
import { AgentMeshError } from '../../sdk/index.js';
import { VERSION } from '../../version.js';
import { registerAuditCommands } from './audit-commands.js';
import type { CliIo } from './cli-io.js';
import { registerClientCommands } from './client-commands.js';
import { parseDemoOptions } from './demo-options.js';
import { registerMigrateCommand } from './migrate-command.js';
import { UsageError } from './usage-error.js';

/** Commander's own complaints (unknown option, missing argument) read like every other: 'agentmesh: ...'. */
const commanderOutput = (io: CliIo, hint: (line: string) => string = (line) => line) => ({
  writeOut: (text: string) => io.stdout.write(text),
  writeErr: (text: string) => io.stderr.write(text),
  outputError: (text: string, write: (text: string) => void) => write(hint(text.replace(/^error: /u, 'agentmesh: '))),
});

/** `unknown option '--port'` goes on `: serve takes its settings from AGENTMESH_* variables (set AGENTMESH_PORT instead)`. */
function serveOptionHint(line: string): string {
  const option = /unknown option '--([a-z-]+)(?:=[^']*)?'/u.exec(line)?.[1];
  if (option === undefined) return line;
  const variable = `AGENTMESH_${option.replaceAll('-', '_').toUpperCase()}`;
  const example = KNOWN_VARIABLES.has(variable) ? `set ${variable} instead` : 'see the configuration table in the README';
  return `${line.trimEnd()}: serve takes its settings from AGENTMESH_* variables (${example})\n`;
}

function buildProgram(io: CliIo): Command {
  const program = new Command()
    .name('agentmesh')
    .description('AgentMesh: an event-driven mesh for software and AI agents')
    .version(VERSION)
    .exitOverride()
    .configureOutput(commanderOutput(io));

  // Each command loads what it runs when it runs: `agentmesh tasks get` need not load the mesh, its store and its API.
  program
    .command('serve')
    .description('run the mesh and its REST API (settings from AGENTMESH_* variables)')
    // `serve --port 9000` is a natural guess: point at the variable that does it.
    .configureOutput(commanderOutput(io, serveOptionHint))
    .action(async () => (await import('./serve.js')).serve(io));

  program
    .command('demo')
    .description('start a mesh in-process with a few agents and push a few thousand tasks through every strategy')
    .option('--tasks <n>', 'tasks to submit (100-100000)', '3000')
    .option('--agents <n>', 'agents per capability (2-32)', '4')
    .option('--no-progress', 'no live progress bar')
    .action(async (flags: { tasks: string; agents: string; progress: boolean }) => {
      const options = parseDemoOptions(flags);
      await (await import('./demo.js')).demo(options, io);
    });

  registerClientCommands(program, io);
  registerAuditCommands(program, io);
  registerMigrateCommand(program, io);
  return program;
}

/** The exit code of a command that failed, with its one line said. */
function failed(io: CliIo, error: unknown): number {
  const fail = (message: string, code: number) => {
    io.stderr.write(`agentmesh: ${message}\n`);
    return code;
  };
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (error instanceof UsageError || error instanceof InvalidArgumentError || error instanceof ConfigError) return fail(error.message, 2);
  if (error instanceof AgentMeshError) {
    // Every error of the mesh is a problem document with a type of its own: without one, something else answered.
    return fail(error.type === 'about:blank' ? `${error.message} (not an answer of AgentMesh: is --url or AGENTMESH_URL the mesh's address?)` : error.message, 1);
  }
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return fail(`the address is in use: ${e.message}; set AGENTMESH_PORT to another port`, 1);
  if ((e.code === 'ENOTFOUND' || e.code === 'EADDRNOTAVAIL' || e.code === 'EAI_AGAIN') && (e.syscall === 'getaddrinfo' || e.syscall === 'listen')) {
    return fail(`cannot listen on AGENTMESH_HOST (${io.env.AGENTMESH_HOST ?? '127.0.0.1'}): ${e.message}`, 2);
  }
  if (e.message === 'fetch failed' && e.cause instanceof Error) {
    const at = (e as { meshUrl?: string }).meshUrl;
    return fail(`cannot reach the mesh${at !== undefined ? ` at ${at}` : ''}: ${e.cause.message}`, 1);
  }
  return fail(e.message ?? String(error), 1);
}

/**
 * Runs `agentmesh` with `argv` (as process.argv: the node binary and the script first): the exit
 * code, with what the command printed written to `io`. `serve` and `demo` are the process's own
 * whatever `io` says: they install its signal handlers, exit it, and log to its standard output.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  io.exitCode = 0;
  // A misspelt setting would otherwise be ignored without a word.
  for (const warning of [...unknownVariableWarnings(io.env), ...emptyVariableWarnings(io.env)]) io.stderr.write(`agentmesh: warning: ${warning}\n`);
  try {
    await buildProgram(io).parseAsync(argv);
    return io.exitCode;
  } catch (error) {
    return failed(io, error);
  }
}
