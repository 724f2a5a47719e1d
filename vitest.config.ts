import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests of pure code beside the sources, and integration tests
// under test/ that talk to the real local stack (make up).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{lib,domain,schemas,producers,processors,sinks,clickhouse,query,registry,notify,loadtest,infra,cli}/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**', '**/*.int.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The stack is shared by every test file; a 2-core machine runs two at a time.
          maxWorkers: 2,
          // After the unit tests: a broken pure core should fail fast, before the slow tests.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
