import { defineConfig } from 'vitest/config';

// `make test-cluster` (issue 15): failover on private 3-node Kafka clusters, one file at a
// time (each starts three JVMs on a 2-core machine). Not part of `make test`: its files
// are named *.cluster.test.ts, which neither project of vitest.config.ts includes.
export default defineConfig({
  test: {
    name: 'cluster',
    include: ['test/cluster/**/*.cluster.test.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 180_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
