import { spawn } from 'node:child_process';

const CLI = new URL('../../dist/presentation/cli/main.js', import.meta.url).pathname;

/**
 * Runs the built `agentmesh serve` with these settings until it exits (a start-up failure) or
 * `timeoutMs` passes (then it is killed). For tests of what the server says when it cannot start.
 */
export function serveUntilExit(env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, AGENTMESH_PORT: '0', AGENTMESH_LOG_LEVEL: 'silent', ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
