#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../../config.js';
import { emptyVariableWarnings, KNOWN_VARIABLES, unknownVariableWarnings } from '../../config-variables.js';
import { AgentMeshError } from '../../sdk/index.js';
import { VERSION } from '../../version.js';
import { registerAuditCommands } from './audit-commands.js';
import { registerClientCommands } from './client-commands.js';
import { parseDemoOptions } from './demo-options.js';
import { registerMigrateCommand } from './migrate-command.js';
import { UsageError } from './usage-error.js';

/** Commander's own complaints (unknown option, missing argument) read like every other: 'agentmesh: ...'. */
const commanderOutput = (hint: (line: string) => string = (line) => line) => ({
  writeErr: (text: string) => process.stderr.write(text),
  outputError: (text: string, write: (text: string) => void) => write(hint(text.replace(/^error: /u, 'agentmesh: '))),
});

const program = new Command()
  .name('agentmesh')
  .description('AgentMesh: an event-driven mesh for software and AI agents')
  .version(VERSION)
  .exitOverride()
  .configureOutput(commanderOutput());

// Each command loads what it runs when it runs: `agentmesh tasks get` need not load the mesh, its store and its API.
program
  .command('serve')
  .description('run the mesh and its REST API (settings from AGENTMESH_* variables)')
  // `serve --port 9000` is a natural guess: point at the variable that does it.
  .configureOutput(commanderOutput(serveOptionHint))
  .action(async () => (await import('./serve.js')).serve());

program
  .command('demo')
  .description('start a mesh in-process with a few agents and push a few thousand tasks through every strategy')
  .option('--tasks <n>', 'tasks to submit (100-100000)', '3000')
  .option('--agents <n>', 'agents per capability (2-32)', '4')
  .option('--no-progress', 'no live progress bar')
  .action(async (flags: { tasks: string; agents: string; progress: boolean }) => {
    const options = parseDemoOptions(flags);
    await (await import('./demo.js')).demo(options);
  });

registerClientCommands(program);
registerAuditCommands(program);
registerMigrateCommand(program);

/** `unknown option '--port'` goes on `: serve takes its settings from AGENTMESH_* variables (set AGENTMESH_PORT instead)`. */
function serveOptionHint(line: string): string {
  const option = /unknown option '--([a-z-]+)(?:=[^']*)?'/u.exec(line)?.[1];
  if (option === undefined) return line;
  const variable = `AGENTMESH_${option.replaceAll('-', '_').toUpperCase()}`;
  const example = KNOWN_VARIABLES.has(variable) ? `set ${variable} instead` : 'see the configuration table in the README';
  return `${line.trimEnd()}: serve takes its settings from AGENTMESH_* variables (${example})\n`;
}

function fail(message: string, code: number): never {
  process.stderr.write(`agentmesh: ${message}\n`);
  process.exit(code);
}

// A misspelt setting would otherwise be ignored without a word.
for (const warning of [...unknownVariableWarnings(process.env), ...emptyVariableWarnings(process.env)]) process.stderr.write(`agentmesh: warning: ${warning}\n`);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) process.exit(0);
    process.exit(2);
  }
  if (error instanceof UsageError || error instanceof InvalidArgumentError || error instanceof ConfigError) fail(error.message, 2);
  if (error instanceof AgentMeshError) {
    // Every error of the mesh is a problem document with a type of its own: without one, something else answered.
    fail(error.type === 'about:blank' ? `${error.message} (not an answer of AgentMesh: is --url or AGENTMESH_URL the mesh's address?)` : error.message, 1);
  }
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') fail(`the address is in use: ${e.message}; set AGENTMESH_PORT to another port`, 1);
  if ((e.code === 'ENOTFOUND' || e.code === 'EADDRNOTAVAIL' || e.code === 'EAI_AGAIN') && (e.syscall === 'getaddrinfo' || e.syscall === 'listen')) {
    fail(`cannot listen on AGENTMESH_HOST (${process.env.AGENTMESH_HOST ?? '127.0.0.1'}): ${e.message}`, 2);
  }
  if (e.message === 'fetch failed' && e.cause instanceof Error) {
    const at = (e as { meshUrl?: string }).meshUrl;
    fail(`cannot reach the mesh${at !== undefined ? ` at ${at}` : ''}: ${e.cause.message}`, 1);
  }
  fail(e.message ?? String(error), 1);
}
