import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { orphanGuard } from './orphan-guard.js';

const MAIN = new URL('./agent-main.mjs', import.meta.url).pathname;

export interface AgentProcessOptions {
  url: string;
  apiKey: string;
  id: string;
  capability: string;
  transport: 'stream' | 'poll';
  workMs: number;
  maxConcurrentTasks: number;
  heartbeatIntervalMs?: number;
  /** How long a (re)started agent keeps trying to register (409 while the mesh still sees its killed self). */
  registerForMs?: number;
}

/** One attempt of a task, as an agent process reported it. */
export interface Run {
  task: string;
  attempt: number;
  agent: string;
}

/** An SDK agent in a child process (agent-main.mjs, on the built SDK), reporting each run it starts and ends. */
export class AgentProcess {
  /** Attempts whose handler started and has not returned: the leases it holds. */
  readonly inFlight = new Set<string>();
  /** Failed calls to the mesh, by message (ids and numbers blanked out). */
  readonly errors = new Map<string, number>();
  private stderr = '';

  private constructor(
    readonly options: AgentProcessOptions,
    private readonly child: ChildProcess,
    readonly exited: Promise<number | null>,
  ) {}

  /** Starts it and resolves once it has registered; `onRun` hears every attempt it starts. */
  static start(options: AgentProcessOptions, onRun: (run: Run) => void, timeoutMs = 60_000): Promise<AgentProcess> {
    const settings = { heartbeatIntervalMs: 500, registerForMs: 30_000, ...options };
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, AGENTMESH_CHAOS_AGENT: JSON.stringify(settings) }, stdio: ['ignore', 'pipe', 'pipe'] });
    orphanGuard.watch(child.pid!);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (orphanGuard.unwatch(child.pid!), resolve(code))));
    const agent = new AgentProcess(settings, child, exited);
    child.stderr!.on('data', (d: Buffer) => (agent.stderr = (agent.stderr + d.toString()).slice(-8_192)));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`agent ${options.id} did not register within ${timeoutMs} ms:\n${agent.stderr}`))), timeoutMs);
      void exited.then((code) => (clearTimeout(timer), reject(new Error(`agent ${options.id} exited with ${code} before it registered:\n${agent.stderr}`))));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const event = JSON.parse(line) as { event: string; task: string; attempt: number; message: string };
        const key = `${event.task}#${event.attempt}`;
        if (event.event === 'ready') {
          clearTimeout(timer);
          resolve(agent);
        } else if (event.event === 'run') {
          agent.inFlight.add(key);
          onRun({ task: event.task, attempt: event.attempt, agent: options.id });
        } else if (event.event === 'done') agent.inFlight.delete(key);
        else if (event.event === 'error') {
          const kind = event.message.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gu, '<id>').replace(/\d+/gu, 'N').slice(0, 160);
          agent.errors.set(kind, (agent.errors.get(kind) ?? 0) + 1);
        }
      });
    });
  }

  get id(): string {
    return this.options.id;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** kill -9: its leases stay with the mesh until they lapse or its heartbeat is missed. */
  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** A clean stop (SIGTERM: the agent leaves the mesh), SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
