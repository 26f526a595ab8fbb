import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startMesh, type RunningMesh } from '../../src/presentation/compose.js';
import { AgentMeshClient } from '../../src/sdk/index.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';

export interface Harness {
  running: RunningMesh;
  url: string;
  adminKey: string;
  admin: AgentMeshClient;
  dataDir: string;
  /** Raw HTTP against the mesh, for status codes and headers. */
  request(method: string, path: string, options?: { key?: string | null; body?: unknown; headers?: Record<string, string>; rawBody?: string }): Promise<{ status: number; headers: Headers; body: any }>;
  /** Stop the mesh, keep the data directory (restart tests). */
  stop(): Promise<void>;
  /** Stop the mesh and delete its data. */
  close(): Promise<void>;
}

/**
 * A mesh on embedded defaults listening on a free loopback port, with a data directory of its
 * own. Settings are AGENTMESH_* variables, so tests exercise config.ts too.
 */

export async function startHarness(env: Record<string, string> = {}, reuseDataDir?: string): Promise<Harness> {
  // Under the run's directory, which goes when the run ends: whatever a test leaves behind goes with it.
  const dataDir = reuseDataDir ?? mkdtempSync(join(inject('runDir'), 'mesh-'));
  const config = loadConfig({ AGENTMESH_DATA_DIR: dataDir, AGENTMESH_PORT: '0', AGENTMESH_ADMIN_KEY: ADMIN_KEY, AGENTMESH_LOG_LEVEL: 'silent', AGENTMESH_HEALTH_CACHE_MS: '0', ...env });
  const running = await startMesh(config, { listen: true, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  const url = running.url!;
  const stop = () => running.close();
  return {
    running,
    url,
    adminKey: ADMIN_KEY,
    admin: new AgentMeshClient({ url, apiKey: ADMIN_KEY }),
    dataDir,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const key = options.key === undefined ? ADMIN_KEY : options.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.body);
      }
      const response = await fetch(url + path, { method, headers, ...(body !== undefined && { body }) });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // keep text
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    stop,
    async close() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
