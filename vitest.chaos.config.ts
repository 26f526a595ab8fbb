import { defineConfig } from 'vitest/config';

/**
 * test/chaos: each suite kills a dependency under load and counts what was lost. One at a time:
 * each runs two mesh instances, their servers and agents, which is all that 2 cores carry.
 */
const reportDir = process.env.TEST_REPORT_DIR;

export default defineConfig({
  test: {
    reporters: reportDir ? ['default', 'json'] : ['default'],
    ...(reportDir && { outputFile: { json: `${reportDir}/chaos-results.json` } }),
    include: ['test/chaos/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
