import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/cli-run.js';
import { startHarness, type Harness } from '../../support/mesh-harness.js';

const run = promisify(execFile);

/** Deliberate exceptions to the recommended rules, each with its reason. */
const IGNORED = `# Health probes answer 200 or 503 and nothing else: there is no 4xx to document.
openapi.json:
  operation-4xx-response:
    - '#/paths/~1health~1live/get/responses'
    - '#/paths/~1health~1ready/get/responses'
`;

/** The served OpenAPI document passes Redocly's recommended rules: no error, no warning. */
describe('the OpenAPI document, linted', () => {
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-openapi-'));
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes redocly lint with the recommended rules', async () => {
    writeFileSync(join(dir, 'openapi.json'), await (await fetch(`${h.url}/openapi.json`)).text());
    writeFileSync(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\n');
    writeFileSync(join(dir, '.redocly.lint-ignore.yaml'), IGNORED);
    const result = await run(join(ROOT, 'node_modules/.bin/redocly'), ['lint', 'openapi.json', '--format=json'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 }).catch((error: { stdout: string; stderr: string }) => error);
    const report = JSON.parse(result.stdout) as { totals: { errors: number; warnings: number; ignored: number }; problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }> };
    const problems = report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0, ignored: 2 });
  });
});
