import { defineConfig } from 'vitest/config';

/**
 * Three projects: unit (no server), integration (real database, UDP, SMTP) and browser (Debian's
 * Chromium). The database is provisioned once per run by test/global-setup.ts.
 */
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // Two test files at a time on two cores (vitest's default is one fewer than the cores): most
    // integration tests wait on servers, timers and the database rather than compute.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.unit.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/e2e/**/*.e2e.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
