import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no external program and no build (npm run test:unit, the inner loop);
// `e2e` starts real Prometheus, promtool, VictoriaMetrics and the built ./proxy. `npm test` runs both.
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    // Suites that start real servers bind their own ports; two workers on two cores keeps CI
    // predictable.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
