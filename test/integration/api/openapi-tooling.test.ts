import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/cli-run.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

const run = promisify(execFile);

/** Deliberate exceptions to Redocly's recommended rules, each with its reason. */
const IGNORED = `# Health probes answer 200 or 503 and nothing else: there is no 4xx to document.
openapi.json:
  operation-4xx-response:
    - '#/paths/~1health~1live/get/responses'
    - '#/paths/~1health~1ready/get/responses'
`;

/** The served OpenAPI document, as tools take it: a linter, and a client generator. */
describe('the OpenAPI document, with the tools users take to it', { timeout: 120_000 }, () => {
  let h: Harness;
  const scratch = mkdtempSync(join(tmpdir(), 'agentmesh-openapi-'));
  /** A directory holding the served document. */
  const withDocument = async (name: string) => {
    const dir = join(scratch, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'openapi.json'), await (await fetch(`${h.url}/openapi.json`)).text());
    return dir;
  };
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("passes redocly lint with the recommended rules: no error, no warning", async () => {
    const dir = await withDocument('lint');
    writeFileSync(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\n');
    writeFileSync(join(dir, '.redocly.lint-ignore.yaml'), IGNORED);
    const result = await run(join(ROOT, 'node_modules/.bin/redocly'), ['lint', 'openapi.json', '--format=json'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 }).catch((error: { stdout: string }) => error);
    const report = JSON.parse(result.stdout) as { totals: { errors: number; warnings: number; ignored: number }; problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }> };
    expect(report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0, ignored: 2 });
  });

  it("generates a typed client (openapi-typescript, openapi-fetch) against which the README's tour type-checks (strict) and runs", async () => {
    const dir = await withDocument('client');
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    cpSync(join(ROOT, 'test/integration/api/generated-client/tour.ts'), join(dir, 'tour.ts'));
    await run(join(ROOT, 'node_modules/.bin/openapi-typescript'), ['openapi.json', '-o', 'api.d.ts'], { cwd: dir });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, outDir: 'out', types: [] }, files: ['tour.ts'] }),
    );
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const compiled = await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: dir }).catch((error: { stdout: string }) => error);
    expect(compiled.stdout).toBe('');
    const { tour } = (await import(join(dir, 'out', 'tour.js'))) as { tour: (url: string, key: string) => Promise<string[]> };
    expect(await tour(h.url, h.adminKey)).toEqual(['health', 'register', 'submit', 'receive', 'complete', 'conflict', 'dead letters', 'tenants and keys', 'secrets']);
  });
});
