import { defineConfig } from 'vitest/config';
import { SlowestFirst } from './test/support/slowest-first.js';

/**
 * Suites that change what a module or the process holds for every later file in it: module mocks,
 * spies on shared prototypes, OpenTelemetry's global providers. Each runs in a process of its own.
 */
const OWN_PROCESS = [
  'test/integration/pglite-template-damaged.test.ts',
  'test/integration/tracing.test.ts',
  'test/integration/otlp-export.test.ts',
  'test/integration/secrets/no-leak.test.ts',
  'test/integration/cluster/two-instances.test.ts',
  'test/unit/infrastructure/resilience/retry-span.test.ts',
];

/** Set (CI does): each run also writes a JSON report there, for the counts CI prints. */
const reportDir = process.env.TEST_REPORT_DIR;

export default defineConfig({
  test: {
    reporters: reportDir ? ['default', 'json'] : ['default'],
    ...(reportDir && { outputFile: { json: `${reportDir}/main-results.json` } }),
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    sequence: { sequencer: SlowestFirst },
    maxWorkers: 2,
    // A timeout here catches a hang, not slowness (speed is measured in bench/): several suites start
    // processes one after another, which on 2 cores beside another suite took up to 18 s in CI.
    testTimeout: 60_000,
    // A mesh on a fresh embedded store starts in 1-3 s alone, but much slower beside other suites on 2 cores.
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          // The chaos suites run after, alone (vitest.chaos.config.ts): beside them, on 2 cores, the timing of every other suite suffers.
          exclude: [...OWN_PROCESS, 'test/chaos/**', '**/node_modules/**'],
          // The other files share a process per worker instead of each loading the modules afresh
          // (their imports summed 84 s of a 373 s run). Every suite closes what it opens.
          isolate: false,
        },
      },
      {
        extends: true,
        test: { name: 'own-process', include: OWN_PROCESS },
      },
    ],
  },
});
