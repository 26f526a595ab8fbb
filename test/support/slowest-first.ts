import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (each 8-25 s on this project's machines, most of it waiting on
 * processes and services), slowest first. Vitest orders files by their last run's duration, which a
 * fresh clone (CI) has not got: it then runs larger files first, and a small file that runs long
 * (5,000 tasks over two instances) started last and ran alone at the end.
 */
const SLOWEST = [
  'test/integration/cluster/many-instances.test.ts',
  'test/integration/cli.test.ts',
  'test/integration/nats/nats-broker.test.ts',
  'test/integration/delivery.test.ts',
  'test/integration/postgres/mesh-on-postgres.test.ts',
  'test/integration/nats/mesh-on-nats.test.ts',
  'test/integration/agent-breaker.test.ts',
  'test/integration/data-dir-lock.test.ts',
  'test/integration/deploy/prometheus.test.ts',
];

const rank = (spec: TestSpecification): number => {
  const at = SLOWEST.findIndex((file) => spec.moduleId.endsWith(file));
  return at === -1 ? SLOWEST.length : at;
};

/** Vitest's order, with the slowest files moved to the front of their project. */
export class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const projectAt = new Map<string, number>();
    for (const spec of ordered) if (!projectAt.has(spec.project.name)) projectAt.set(spec.project.name, projectAt.size);
    const position = new Map(ordered.map((spec, i) => [spec, i]));
    return [...ordered].sort((a, b) => projectAt.get(a.project.name)! - projectAt.get(b.project.name)! || rank(a) - rank(b) || position.get(a)! - position.get(b)!);
  }
}
