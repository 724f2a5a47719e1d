import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Serde } from '../../schemas/serde.ts';
import type { TestStack } from '../helpers.ts';
import { type Child, startChildProcessor } from './child.ts';
import {
  alertSet,
  coreConfig,
  createTestSerde,
  generateStream,
  newestRevisions,
  processorOutputs,
  produceEvents,
  referenceOutputs,
  rng,
  TEST_CORE,
  waitCaughtUp,
  cleanupRedis,
  createProcessorStack,
} from './helpers.ts';

// Short intervals so kills land before, during and after checkpoints, and a short session
// so the group notices a killed member within seconds.
const ARGS = [
  '--partitions',
  '3',
  '--window-size',
  `${TEST_CORE.windowSizeMs}ms`,
  '--grace',
  `${TEST_CORE.graceMs}ms`,
  '--max-lateness',
  `${TEST_CORE.maxLatenessMs}ms`,
  '--idle-timeout',
  `${TEST_CORE.idleTimeoutMs}ms`,
  '--checkpoint-interval',
  '1s',
  '--session-timeout',
  '6s',
  '--heartbeat-interval',
  '500ms',
];

describe('fleetgrid process under kill -9', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-crash', 3);
    serde = await createTestSerde(stack);
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('killed at random moments and restarted each time, ends with the newest revisions and alerts of a crash-free run', async () => {
    const seed = Date.now() % 100_000;
    const random = rng(seed);
    const stream = generateStream({ seed: 11, minutes: 30, trucks: 6, turbines: 3, solars: 3 });
    const chunks = 5;
    const size = Math.ceil(stream.length / chunks);
    let child: Child | undefined;
    const kills: number[] = [];
    try {
      for (let i = 0; i < chunks; i++) {
        child = await startChildProcessor(stack.prefix, ARGS);
        // The chunk arrives in slices while the kill is pending, so the kill lands anywhere:
        // mid-batch, between outputs acked and the checkpoint, mid-checkpoint, or after one.
        const chunk = stream.slice(i * size, (i + 1) * size);
        const delay = Math.floor(random() * 2_000);
        const kill = new Promise((resolve) => setTimeout(resolve, delay));
        for (let s = 0; s < 4; s++) {
          await produceEvents(
            stack,
            serde,
            chunk.slice((s * chunk.length) / 4, ((s + 1) * chunk.length) / 4),
          );
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
        await kill;
        kills.push(delay);
        expect(await child.kill9()).toBe('SIGKILL');
        child = undefined;
      }
      child = await startChildProcessor(stack.prefix, ARGS);
      await waitCaughtUp(stack, `${stack.prefix}fleetgrid-processors`, 90_000);
      expect(await child.terminate()).toBe('0');
      child = undefined;
    } catch (error) {
      throw new Error(
        `crash test failed (seed ${seed}, kills after ${kills.join(',')} ms): ${error}\n${child?.stderrTail() ?? ''}`,
      );
    } finally {
      await child?.kill9();
    }

    const actual = await processorOutputs(stack, serde);
    const expected = await referenceOutputs(stack, serde, coreConfig());
    expect(expected.aggregates.length).toBeGreaterThan(100);
    expect(expected.alerts.length).toBeGreaterThan(4);
    // Replays may repeat records (identical ones) but never lose or change one.
    expect(actual.aggregates.length).toBeGreaterThanOrEqual(expected.aggregates.length);
    expect(newestRevisions(actual.aggregates)).toEqual(newestRevisions(expected.aggregates));
    expect(alertSet(actual.alerts)).toEqual(alertSet(expected.alerts));
  });
});
