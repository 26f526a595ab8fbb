import type { Env } from '../../config.js';

/**
 * What a run of the CLI reads and writes: the process's own for `agentmesh`, captured ones when a
 * test runs a command in its own process (runCli) instead of starting one.
 */
export interface CliIo {
  readonly env: Env;
  readonly stdout: { write(text: string | Uint8Array): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  /** 1 once a command has said why it failed and goes on to finish (a failed verification still prints its report). */
  exitCode: number;
}

export function processIo(): CliIo {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr, exitCode: 0 };
}
