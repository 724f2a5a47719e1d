import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../lib/metrics.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { TestStack } from '../helpers.ts';
import {
  alertSet,
  cleanupRedis,
  createProcessorStack,
  coreConfig,
  createTestSerde,
  generateStream,
  outputMark,
  newestRevisions,
  processorOutputs,
  produceEvents,
  referenceOutputs,
  startProcessor,
  waitCaughtUp,
  waitFor,
} from './helpers.ts';

describe('fleetgrid process consumer restart (the watchdog action)', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-restart', 2);
    serde = await createTestSerde(stack);
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('rejoins with a fresh consumer, re-claims every partition from its checkpoint and keeps the results exact', async () => {
    const stream = generateStream({ seed: 5, minutes: 12, trucks: 4, turbines: 2, solars: 2 });
    const half = Math.floor(stream.length / 2);
    const running = await startProcessor(stack, serde);
    try {
      await produceEvents(stack, serde, stream.slice(0, half));
      await waitCaughtUp(stack, running.processor.groupId);
      const owned = running.processor.stats().ownedPartitions;
      expect(owned.length).toBeGreaterThan(0);

      await running.processor.restartConsumer('test');
      expect(running.processor.stats().consumerRestarts).toBe(1);
      expect(
        await metricValue(running.metrics, 'fleetgrid_processor_consumer_restarts_total', { reason: 'test' }),
      ).toBe(1);

      await produceEvents(stack, serde, stream.slice(half));
      await waitCaughtUp(stack, running.processor.groupId);
      // Every partition that has data was claimed again by the new consumer.
      await waitFor(
        'partitions re-claimed',
        () => running.processor.stats().ownedPartitions.length >= owned.length,
      );
      expect(
        await metricValue(running.metrics, 'fleetgrid_processor_checkpoints_total', { result: 'fenced' }),
      ).toBe(0);
    } finally {
      await running.stop();
    }
    const actual = await processorOutputs(stack, serde);
    const expected = await referenceOutputs(stack, serde, coreConfig());
    expect(expected.aggregates.length).toBeGreaterThan(30);
    expect(newestRevisions(actual.aggregates)).toEqual(newestRevisions(expected.aggregates));
    expect(alertSet(actual.alerts)).toEqual(alertSet(expected.alerts));
    // The restart checkpointed before leaving: nothing had to be replayed.
    expect(actual.aggregates.length).toBe(expected.aggregates.length);
  });

  it('re-derives everything when an operator rewinds the group to offset 0 (no checkpoint pointer): empty state from there', async () => {
    // Offsets reset by hand (kafka-consumer-groups --reset-offsets, here setGroupOffsets)
    // carry no checkpoint pointer: the processor must start an empty core AT that offset and
    // re-derive the whole stream, not restore the newest checkpoint and skip the rewind.
    const first = await startProcessor(stack, serde, { groupId: 'rewind' });
    const groupId = first.processor.groupId;
    try {
      await waitCaughtUp(stack, groupId);
    } finally {
      await first.stop();
    }
    for (const topic of [stack.topics.truck, stack.topics.turbine, stack.topics.solar]) {
      const partitions = (await stack.admin.fetchTopicOffsets(topic)).map((p) => ({
        partition: p.partition,
        offset: '0',
      }));
      await stack.admin.setGroupOffsets(groupId, topic, partitions);
    }

    const mark = await outputMark(stack);
    const later = generateStream({ seed: 6, minutes: 2, trucks: 4, turbines: 2, solars: 2 }).map((e) => {
      const value = { ...e.value, ts: e.value.ts + 13 * 60_000, seq: e.value.seq + 10_000 };
      return { ...e, value: { ...value, eventId: `${value.deviceId}-${value.seq}` } } as typeof e;
    });
    await produceEvents(stack, serde, later);
    const second = await startProcessor(stack, serde, { groupId: 'rewind' });
    try {
      await waitCaughtUp(stack, groupId);
    } finally {
      await second.stop();
    }
    // Only what the rewound processor emitted: it must cover the first 12 minutes again.
    const actual = await processorOutputs(stack, serde, mark);
    const expected = await referenceOutputs(stack, serde, coreConfig());
    expect(newestRevisions(actual.aggregates)).toEqual(newestRevisions(expected.aggregates));
    expect(alertSet(actual.alerts)).toEqual(alertSet(expected.alerts));
  });
});
