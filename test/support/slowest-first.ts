import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The files that take longest (each 7-35 s on this project's machines, most of it waiting on
 * processes and services), slowest first. Vitest orders files by their last run's duration (failed
 * ones first), which a fresh clone (CI) has not got: it then runs larger files first, and a small
 * file that runs long (5,000 tasks over two instances) started last and ran alone at the end.
 */
const SLOWEST = [
  'test/integration/cluster/many-instances.test.ts',
  'test/integration/cli.test.ts',
  'test/integration/nats/nats-broker.test.ts',
  'test/integration/data-dir-lock.test.ts',
  'test/integration/postgres/mesh-on-postgres.test.ts',
  'test/integration/nats/mesh-on-nats.test.ts',
  'test/integration/audit/tamper.test.ts',
  'test/integration/delivery.test.ts',
  'test/integration/api/http-edge.test.ts',
  'test/integration/cluster/two-instances.test.ts',
  'test/integration/pglite-template-damaged.test.ts',
  'test/integration/api/fuzz.test.ts',
  'test/integration/agent-breaker.test.ts',
  'test/integration/deploy/prometheus.test.ts',
];
// A file renamed or removed would silently lose its place.
for (const file of SLOWEST) if (!existsSync(`${ROOT}${file}`)) throw new Error(`test/support/slowest-first.ts lists ${file}, which does not exist`);

const rank = (file: string): number => {
  const at = SLOWEST.indexOf(file);
  return at === -1 ? SLOWEST.length : at;
};

/**
 * The files that failed in the last run first (vitest's own rule), then the slowest files in the
 * order above, then vitest's order (longest last run first). Vitest alone would leave a slow file
 * it has no record of to the end: in a fresh clone (CI) it knows none, and after a run of a few
 * files it knows only those, and the 5,000-task cluster file then started last and ran alone.
 */
export class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const fileOf = (spec: TestSpecification) => relative(this.ctx.config.root, spec.moduleId);
    const failed = (spec: TestSpecification) => (this.ctx.cache.getFileTestResults(`${spec.project.name}:${fileOf(spec)}`)?.failed ? 0 : 1);
    const position = new Map(ordered.map((spec, i) => [spec, i]));
    return [...ordered].sort((a, b) => failed(a) - failed(b) || rank(fileOf(a)) - rank(fileOf(b)) || position.get(a)! - position.get(b)!);
  }
}
