/**
 * Issue 12 item 5: started while the schema registry is unreachable, the processor does
 * not exit: it waits with capped backoff, says "not ready" (metric and /readyz), and
 * carries on once the registry answers. The registry is the real one, reached through a
 * TCP proxy on a port that is closed at first and opened after a few seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../lib/metrics.ts';
import { createSerde } from '../../schemas/serde.ts';
import type { TestStack } from '../helpers.ts';
import {
  cleanupRedis,
  createProcessorStack,
  createTestSerde,
  generateStream,
  produceEvents,
  readTopic,
  startProcessor,
  startProxy,
  waitCaughtUp,
  waitFor,
} from './helpers.ts';

describe('fleetgrid process without the schema registry at start', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-reg-start', 1);
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('waits not ready with capped backoff and proceeds once the registry answers', async () => {
    const proxy = await startProxy(new URL(stack.config.registry.url));
    await proxy.cut(); // the port is closed: connection refused
    const serde = createSerde(
      { ...stack.config.registry, url: stack.config.registry.url.replace(/:\d+/, `:${proxy.port}`) },
      { topics: stack.topics, timeoutMs: 1_000 },
    );
    const running = await startProcessor(
      stack,
      serde,
      { groupId: 'registry-start', backoffBaseMs: 100, backoffCapMs: 400, metricsPort: 0 },
      { waitForStart: false },
    );
    let startedOk = false;
    void running.started.then(() => {
      startedOk = true;
    });
    try {
      await waitFor(
        'several registry attempts',
        async () =>
          (await metricValue(running.metrics, 'fleetgrid_processor_dependency_wait_attempts_total', {
            dependency: 'registry',
          })) >= 5,
      );
      expect(startedOk).toBe(false);
      expect(await metricValue(running.metrics, 'fleetgrid_processor_ready')).toBe(0);
      const port = running.processor.metricsPort;
      expect(port).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
      // Capped backoff: attempts keep coming (at most 400 ms apart), the wait does not give up.
      const attempts = await metricValue(
        running.metrics,
        'fleetgrid_processor_dependency_wait_attempts_total',
        {
          dependency: 'registry',
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(
        await metricValue(running.metrics, 'fleetgrid_processor_dependency_wait_attempts_total', {
          dependency: 'registry',
        }),
      ).toBeGreaterThan(attempts + 2);

      await proxy.restore();
      await running.started;
      expect(await metricValue(running.metrics, 'fleetgrid_processor_ready')).toBe(1);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const events = generateStream({ seed: 3, minutes: 3, trucks: 2, turbines: 1, solars: 1 });
      await produceEvents(stack, await createTestSerde(stack), events);
      await waitCaughtUp(stack, running.processor.groupId);
      expect((await readTopic(stack, stack.topics.aggregates)).length).toBeGreaterThan(0);
    } finally {
      await running.stop();
      await proxy.close().catch(() => {});
    }
  });
});
