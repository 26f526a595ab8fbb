import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    // A mesh on a fresh embedded store starts in 1-3 s alone, but much slower beside other suites on 2 cores.
    hookTimeout: 60_000,
  },
});
