import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites that start real Prometheus servers bind their own ports; running files in parallel
    // on two cores is fine, but keep it bounded so CI stays predictable.
    maxWorkers: 2,
  },
});
