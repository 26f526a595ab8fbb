import { spawn } from 'node:child_process';

const CLI = new URL('../../dist/presentation/cli/main.js', import.meta.url).pathname;

/**
 * Runs the built `agentmesh serve` with these settings until it exits (a start-up failure) or
 * `timeoutMs` passes (then it is killed). For tests of what the server says when it cannot start.
 */
export function serveUntilExit(env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, AGENTMESH_PORT: '0', AGENTMESH_LOG_LEVEL: 'silent', ...env } });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

export interface ServeProcess {
  url: string;
  pid: number;
  /** What the process wrote so far: the last 64 KiB of its logs. */
  output(): string;
  /** Every fatal (level 60) log line, caught as it comes: under a flood of errors it would soon leave output(). */
  fatal: readonly string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts the built `agentmesh serve` and resolves once it listens (its start-up line names the URL). */
export function spawnServe(env: Record<string, string>, timeoutMs = 30_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, AGENTMESH_PORT: '0', AGENTMESH_LOG_LEVEL: 'info', ...env } });
  let out = '';
  // Per-request lines would crowd out what explains a failure.
  const keep = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((l) => !l.includes('"msg":"incoming request"') && !l.includes('"msg":"request completed"') && !(l.includes('"level":30') && l.includes('"msg":"request"')))
      .join('\n');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const fatal: string[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    // A log line ends with a newline; a line cut between chunks is finished by the next (bounded all the same).
    partial = lines.pop()!.slice(-1_048_576);
    for (const l of lines) if (l.includes('"level":60') && fatal.length < 100) fatal.push(l);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`agentmesh serve did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += keep(d);
      // Keep the last 64 KiB: enough to explain a failure, bounded under load.
      if (out.length > 65_536) out = out.slice(-65_536);
      const line = out.split('\n').find((l) => l.includes('AgentMesh is listening'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stdout.on('data', (more: Buffer) => (out = (out + keep(more)).slice(-65_536)));
      resolve({ url: (JSON.parse(line) as { url: string }).url, pid: child.pid!, output: () => out, fatal, exited, kill: (signal) => child.kill(signal) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-65_536)));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agentmesh serve exited with ${code} before it listened:\n${out}`));
    });
  });
}
