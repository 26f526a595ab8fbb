import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/cli-run.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

const run = promisify(execFile);

/**
 * The OpenAPI document is good enough to generate a client from: openapi-typescript makes its
 * types, the README's tour written against them type-checks (strict), and runs against the mesh.
 */
describe('a client generated from /openapi.json', { timeout: 120_000 }, () => {
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-client-'));
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates, type-checks and runs the tour', async () => {
    writeFileSync(join(dir, 'openapi.json'), await (await fetch(`${h.url}/openapi.json`)).text());
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    cpSync(join(ROOT, 'test/integration/api/generated-client/tour.ts'), join(dir, 'tour.ts'));
    await run(join(ROOT, 'node_modules/.bin/openapi-typescript'), ['openapi.json', '-o', 'api.d.ts'], { cwd: dir });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, outDir: 'out', types: [] }, files: ['tour.ts'] }),
    );
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const compiled = await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: dir }).catch((error: { stdout: string }) => ({ stdout: error.stdout, failed: true }));
    expect(compiled.stdout).toBe('');
    const { tour } = (await import(join(dir, 'out', 'tour.js'))) as { tour: (url: string, key: string) => Promise<string[]> };
    expect(await tour(h.url, h.adminKey)).toEqual(['health', 'register', 'submit', 'receive', 'complete', 'conflict', 'dead letters', 'tenants and keys', 'secrets']);
  });
});
