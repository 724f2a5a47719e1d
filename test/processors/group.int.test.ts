import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Serde } from '../../schemas/serde.ts';
import type { TestStack } from '../helpers.ts';
import {
  alertSet,
  coreConfig,
  createTestSerde,
  generateStream,
  newestRevisions,
  processorOutputs,
  produceEvents,
  referenceOutputs,
  type RunningProcessor,
  startProcessor,
  waitCaughtUp,
  waitFor,
  cleanupRedis,
  createProcessorStack,
} from './helpers.ts';

describe('two fleetgrid process members in one group', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-group', 3);
    serde = await createTestSerde(stack);
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('share the partitions, and stopping one moves its partitions and their state to the other with the same final results', async () => {
    const stream = generateStream({ seed: 23, minutes: 24, trucks: 6, turbines: 3, solars: 3 });
    const half = Math.floor(stream.length / 2);
    const running: RunningProcessor[] = [];
    try {
      const a = await startProcessor(stack, serde);
      running.push(a);
      const b = await startProcessor(stack, serde);
      running.push(b);
      await produceEvents(stack, serde, stream.slice(0, half));
      await waitCaughtUp(stack, a.processor.groupId);
      // Every input partition that holds data has been claimed by exactly one member.
      const withData = await partitionsWithData(stack);
      expect(withData.length).toBeGreaterThan(3);
      await waitFor('both members own partitions', () => {
        const owned = [...a.processor.stats().ownedPartitions, ...b.processor.stats().ownedPartitions];
        return owned.length === withData.length && new Set(owned).size === withData.length;
      });
      expect([...a.processor.stats().ownedPartitions, ...b.processor.stats().ownedPartitions].sort()).toEqual(
        withData,
      );
      const ownedByA = a.processor.stats().ownedPartitions;
      expect(ownedByA.length).toBeGreaterThan(0);
      expect(b.processor.stats().ownedPartitions.length).toBeGreaterThan(0);

      await a.stop();
      running.shift();
      await produceEvents(stack, serde, stream.slice(half));
      await waitCaughtUp(stack, b.processor.groupId);
      const allWithData = await partitionsWithData(stack);
      await waitFor(
        'the survivor owns every partition',
        () => b.processor.stats().ownedPartitions.length === allWithData.length,
      );
      expect(b.processor.stats().ownedPartitions).toEqual(allWithData);
      expect(b.processor.stats().ownedPartitions).toEqual(expect.arrayContaining(ownedByA));
    } finally {
      for (const r of running) await r.stop();
    }

    const actual = await processorOutputs(stack, serde);
    const expected = await referenceOutputs(stack, serde, coreConfig());
    expect(expected.aggregates.length).toBeGreaterThan(100);
    expect(newestRevisions(actual.aggregates)).toEqual(newestRevisions(expected.aggregates));
    expect(alertSet(actual.alerts)).toEqual(alertSet(expected.alerts));
    // A drained hand-over carries the newest state: nothing was replayed, so nothing repeats.
    expect(actual.aggregates.length).toBe(expected.aggregates.length);
  });
});

async function partitionsWithData(stack: TestStack): Promise<string[]> {
  const out: string[] = [];
  for (const topic of [stack.topics.truck, stack.topics.turbine, stack.topics.solar]) {
    for (const { partition, high } of await stack.admin.fetchTopicOffsets(topic)) {
      if (Number(high) > 0) out.push(`${topic}:${partition}`);
    }
  }
  return out.sort();
}
