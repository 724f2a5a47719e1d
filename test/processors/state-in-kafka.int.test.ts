/**
 * Issue 12 items 1 and 6: the processor's state lives in Kafka (changelog + transactions),
 * Redis is only the device-state read model.
 *
 * - A private Redis (nothing on disk, like the machine's) killed and started EMPTY
 *   mid-stream changes nothing in the outputs: every window and every device's event count
 *   equal those of the fault-free reference, and the read model is whole again.
 * - A frozen Redis (SIGSTOP) never stalls Kafka outputs; after SIGCONT it catches up to
 *   the newest state of every device.
 * - A zombie (an old owner still holding state) cannot commit once a newer producer
 *   claimed the partition's transactional id: its transaction is fenced, it rejoins and
 *   re-derives from the last committed checkpoint, and nothing is lost or repeated.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../lib/metrics.ts';
import { transactionalId } from '../../lib/stream/index.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { TestStack } from '../helpers.ts';
import { type PrivateRedis, startPrivateRedis } from '../support/index.ts';
import {
  alertSet,
  cleanupRedis,
  coreConfig,
  createProcessorStack,
  createTestSerde,
  generateStream,
  newestRevisions,
  processorDeviceStates,
  processorOutputs,
  produceEvents,
  readTopic,
  referenceDeviceStates,
  referenceOutputs,
  startProcessor,
  waitCaughtUp,
  waitFor,
} from './helpers.ts';

/** What must equal the reference: newest window revisions, alerts, and per-device counts. */
async function expectReferenceResults(stack: TestStack, serde: Serde): Promise<void> {
  const actual = await processorOutputs(stack, serde);
  const expected = await referenceOutputs(stack, serde, coreConfig());
  expect(expected.aggregates.length).toBeGreaterThan(30);
  expect(newestRevisions(actual.aggregates)).toEqual(newestRevisions(expected.aggregates));
  expect(alertSet(actual.alerts)).toEqual(alertSet(expected.alerts));
  // Nothing replayed twice into a visible output, nothing lost.
  expect(actual.aggregates.length).toBe(expected.aggregates.length);
  const states = await processorDeviceStates(stack, serde);
  const reference = await referenceDeviceStates(stack, serde, coreConfig());
  expect(reference.size).toBeGreaterThan(5);
  const counts = (m: Map<string, { eventCount: number; lastEventId: string }>) =>
    Object.fromEntries([...m].map(([id, s]) => [id, `${s.eventCount}/${s.lastEventId}`]).sort());
  expect(counts(states)).toEqual(counts(reference));
}

/** Every device's Redis hash holds its newest state from the device-state topic. */
async function expectReadModelWhole(
  stack: TestStack,
  serde: Serde,
  redis: { hget(key: string, field: string): Promise<string | null> },
  namespace: string,
): Promise<void> {
  const states = await processorDeviceStates(stack, serde);
  const inRedis: Record<string, string | null> = {};
  const inKafka: Record<string, string> = {};
  for (const [id, state] of states) {
    inRedis[id] = await redis.hget(`${namespace}:device:${stack.prefix}${id}`, 'eventCount');
    inKafka[id] = String(state.eventCount);
  }
  expect(inRedis).toEqual(inKafka);
}

describe('processor state in Kafka', () => {
  let stack: TestStack;
  let serde: Serde;
  let redis: PrivateRedis | undefined;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-state', 3);
    serde = await createTestSerde(stack);
  });
  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('a Redis restarted empty mid-stream changes no window and no device count', async () => {
    redis = await startPrivateRedis({ persistence: 'none', name: 'proc-redis-empty' });
    const stream = generateStream({ seed: 31, minutes: 12, trucks: 4, turbines: 2, solars: 2 });
    const half = Math.floor(stream.length / 2);
    const running = await startProcessor(stack, serde, { groupId: 'redis-empty' }, { redisUrl: redis.url });
    try {
      await produceEvents(stack, serde, stream.slice(0, half));
      await waitCaughtUp(stack, running.processor.groupId);
      await waitFor('the read model written', async () => (await running.redis.dbsize()) > 5);
      await redis.kill(); // kill -9: nothing on disk, so it comes back empty
      await redis.start();
      await produceEvents(stack, serde, stream.slice(half));
      await waitCaughtUp(stack, running.processor.groupId);
      await waitFor('the read model caught up', () => running.processor.stats().readModelPending === 0);
      await waitFor('the read model whole again', async () => (await running.redis.dbsize()) >= 8);
      expect(
        await metricValue(running.metrics, 'fleetgrid_processor_checkpoints_total', { result: 'fenced' }),
      ).toBe(0);
      await expectReadModelWhole(stack, serde, running.redis, 'fleetgrid');
    } finally {
      await running.stop();
    }
    await expectReferenceResults(stack, serde);
  });
});

describe('processor with a frozen Redis', () => {
  let stack: TestStack;
  let serde: Serde;
  let redis: PrivateRedis | undefined;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-freeze', 3);
    serde = await createTestSerde(stack);
  });
  afterAll(async () => {
    redis?.resume();
    await redis?.stop();
    if (!stack) return;
    await stack.cleanup();
  });

  it('keeps emitting to Kafka while Redis is SIGSTOPped and catches the read model up after SIGCONT', async () => {
    redis = await startPrivateRedis({ persistence: 'none', name: 'proc-redis-freeze' });
    const stream = generateStream({ seed: 37, minutes: 12, trucks: 4, turbines: 2, solars: 2 });
    const half = Math.floor(stream.length / 2);
    const running = await startProcessor(
      stack,
      serde,
      { groupId: 'redis-freeze', redisWriteTimeoutMs: 300, backoffCapMs: 500 },
      { redisUrl: redis.url },
    );
    try {
      await produceEvents(stack, serde, stream.slice(0, half));
      await waitCaughtUp(stack, running.processor.groupId);
      const before = (await readTopic(stack, stack.topics.aggregates)).length;
      redis.pause();
      try {
        await produceEvents(stack, serde, stream.slice(half));
        // Outputs and offsets commit in Kafka while Redis answers nothing.
        await waitCaughtUp(stack, running.processor.groupId, 30_000);
        expect((await readTopic(stack, stack.topics.aggregates)).length).toBeGreaterThan(before);
        await waitFor(
          'failed read-model writes counted',
          async () =>
            (await metricValue(running.metrics, 'fleetgrid_processor_read_model_writes_total', {
              result: 'failed',
            })) >= 1,
        );
        await waitFor('device states held for Redis', () => running.processor.stats().readModelPending > 0);
        // Bounded by devices, not by states: 8 devices in this stream.
        expect(running.processor.stats().readModelPending).toBeLessThanOrEqual(8);
      } finally {
        redis.resume();
      }
      await waitFor(
        'the read model caught up',
        () => running.processor.stats().readModelPending === 0,
        30_000,
      );
      await expectReadModelWhole(stack, serde, running.redis, 'fleetgrid');
    } finally {
      await running.stop();
    }
    await expectReferenceResults(stack, serde);
  });
});

describe('processor zombie fencing', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createProcessorStack('proc-zombie', 2);
    serde = await createTestSerde(stack);
  });
  afterAll(async () => {
    if (!stack) return;
    await cleanupRedis(stack);
    await stack.cleanup();
  });

  it('an old owner cannot commit once a newer producer claimed the partition, and the results stay exact', async () => {
    const stream = generateStream({ seed: 41, minutes: 12, trucks: 4, turbines: 2, solars: 2 });
    const half = Math.floor(stream.length / 2);
    const running = await startProcessor(stack, serde, { groupId: 'zombie' });
    try {
      await produceEvents(stack, serde, stream.slice(0, half));
      await waitCaughtUp(stack, running.processor.groupId);
      const [victim] = running.processor.stats().ownedPartitions.filter((p) => p.includes('truck'));
      expect(victim).toBeDefined();
      const at = victim!.lastIndexOf(':');
      const topic = victim!.slice(0, at);
      const partition = Number(victim!.slice(at + 1));
      const offsetBefore = await committedOffset(stack, running.processor.groupId, topic, partition);
      // A new owner takes the partition's transactional id: the running member is a zombie now.
      const successor = stack.kafka.transactionalProducer(
        transactionalId(running.processor.groupId, topic, partition),
      );
      await successor.connect();
      try {
        await produceEvents(stack, serde, stream.slice(half));
        await waitFor(
          'the zombie commit fenced',
          async () =>
            (await metricValue(running.metrics, 'fleetgrid_processor_checkpoints_total', {
              result: 'fenced',
            })) >= 1,
        );
        // The zombie dropped the state and rejoined the group to learn who owns what.
        expect(
          await metricValue(running.metrics, 'fleetgrid_processor_consumer_restarts_total', {
            reason: 'fenced',
          }),
        ).toBeGreaterThanOrEqual(1);
        // Its fenced transaction left no trace: the offset moved only by later, legitimate commits.
        expect(
          await committedOffset(stack, running.processor.groupId, topic, partition),
        ).toBeGreaterThanOrEqual(offsetBefore);
      } finally {
        await successor.disconnect().catch(() => {});
      }
      // As the group's member it claims the partition again (fencing the successor in turn).
      await waitCaughtUp(stack, running.processor.groupId);
    } finally {
      await running.stop();
    }
    await expectReferenceResults(stack, serde);
  });
});

async function committedOffset(
  stack: TestStack,
  groupId: string,
  topic: string,
  partition: number,
): Promise<number> {
  const [offsets] = await stack.admin.fetchCommittedOffsets(groupId, [topic]);
  return Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
}
