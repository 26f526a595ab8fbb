import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The chaos suites run after, alone (vitest.chaos.config.ts): beside them, on 2 cores, the timing of every other suite suffers.
    exclude: ['test/chaos/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // A timeout here catches a hang, not slowness (speed is measured in bench/): several suites start
    // processes one after another, which on 2 cores beside another suite took up to 18 s in CI.
    testTimeout: 60_000,
    // A mesh on a fresh embedded store starts in 1-3 s alone, but much slower beside other suites on 2 cores.
    hookTimeout: 60_000,
  },
});
