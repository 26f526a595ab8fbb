import type { Command } from 'commander';

/** A mistake in how the command was called: one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A parser for an argument or option that may not be empty (or blank): an empty capability, id,
 * filter or cursor is a mistake in the call, said at once (exit 2), with nothing sent or opened.
 */
export function nonEmpty(name: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new UsageError(`${name} must not be empty${value === '' ? '' : ` or blank, got '${value}'`}`);
    return value;
  };
}

/**
 * A command that only groups others (`agentmesh tasks`) called alone or with an unknown command:
 * one line naming its commands (exit 2), instead of the whole help.
 */
export function groupOfCommands(group: Command): void {
  group.allowExcessArguments(true).action(() => {
    const commands = group.commands.map((c) => c.name()).join(', ');
    const given = group.args[0];
    throw new UsageError(`${given === undefined ? 'name a command' : `unknown command '${given}'`} of '${group.name()}': ${commands} (see agentmesh ${group.name()} --help)`);
  });
}
