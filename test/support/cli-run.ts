import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { runCli } from '../../src/presentation/cli/program.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/presentation/cli/main.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** This process's environment without AGENTMESH_* from the outer one, and `env` over it: what a CLI process of a test gets. */
export function cliEnv(env: Record<string, string> = {}): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AGENTMESH_')) clean[k] = v;
  return { ...clean, ...env };
}

/** Runs the built CLI asynchronously (the harness answers from this process), without AGENTMESH_* from the outer environment. */
export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs a command of the CLI in this process (the same program as the built CLI, with `env` as its
 * only environment and its output captured): for the commands that end, whose process start
 * (~1 s of CPU with an embedded database) would only repeat what `cli` tests.
 */
export async function cliInProcess(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const stdout: Buffer[] = [];
  let stderr = '';
  const io = { env: { ...env }, stdout: { write: (chunk: string | Uint8Array) => stdout.push(Buffer.from(chunk)) }, stderr: { write: (chunk: string) => (stderr += chunk) }, exitCode: 0 };
  const code = await runCli([process.execPath, CLI, ...args], io);
  return { code, stdout: Buffer.concat(stdout).toString('utf8'), stderr };
}

/** stderr holds exactly one non-empty line; returns it. */
export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, `stderr: ${JSON.stringify(stderr)}`).toHaveLength(1);
  return lines[0]!;
}

