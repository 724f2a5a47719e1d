/**
 * The adapter's transactional producer against the real broker, for the processor's
 * per-partition checkpoint transactions to come: records and consumer offsets (with
 * metadata) commit atomically, an aborted transaction stays invisible, and a newer producer
 * with the same transactional id fences the older one (zombie fencing) with a final error.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeAll, createTestStack, type TestStack } from '../helpers.ts';

/** Every visible record of `topic` (read_committed), waiting `ms` for more than `atLeast`. */
async function visible(topic: string, atLeast: number, ms = 5_000): Promise<string[]> {
  return (await consumeAll(stack, topic, atLeast + 1, ms)).map((r) => String(r.value));
}

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack('transactions', { partitions: 1 });
});
afterAll(async () => {
  await stack?.cleanup();
});

describe('transactional producer', () => {
  it('commits records with offsets and their metadata atomically, and keeps an aborted transaction invisible', async () => {
    const topic = stack.topics.aggregates;
    const group = stack.group('tx-group');
    const producer = stack.kafka.transactionalProducer(`${stack.prefix}tx-${randomUUID()}`);
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send([
        {
          topic,
          messages: [
            { key: 'k', value: 'kept-1' },
            { key: 'k', value: 'kept-2' },
          ],
        },
      ]);
      await committed.sendOffsets(group, [
        { topic: stack.topics.truck, partition: 0, offset: '42', metadata: 'checkpoint:v1:7' },
      ]);
      await committed.commit();

      const aborted = await producer.transaction();
      await aborted.send([{ topic, messages: [{ key: 'k', value: 'dropped' }] }]);
      await aborted.abort();
    } finally {
      await producer.disconnect();
    }
    // Transaction markers take offsets but are never delivered: read what is visible.
    expect(await visible(topic, 2)).toEqual(['kept-1', 'kept-2']);
    const [offsets] = await stack.admin.fetchCommittedOffsets(group, [stack.topics.truck]);
    expect(offsets?.partitions.find((p) => p.partition === 0)).toMatchObject({
      offset: '42',
      metadata: 'checkpoint:v1:7',
    });
  });

  it('fences an older producer with the same transactional id: its commit fails for good', async () => {
    const id = `${stack.prefix}tx-fence-${randomUUID()}`;
    const zombie = stack.kafka.transactionalProducer(id);
    await zombie.connect();
    const successor = stack.kafka.transactionalProducer(id);
    try {
      const open = await zombie.transaction();
      await open.send([{ topic: stack.topics.alerts, messages: [{ key: 'k', value: 'zombie' }] }]);
      await successor.connect(); // a new epoch for the id: the zombie is fenced
      const failure = await open.commit().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'KAFKA_PRODUCER_FENCED', retriable: false });
      const fresh = await successor.transaction();
      await fresh.send([{ topic: stack.topics.alerts, messages: [{ key: 'k', value: 'successor' }] }]);
      await fresh.commit();
    } finally {
      await zombie.disconnect().catch(() => {});
      await successor.disconnect();
    }
    expect(await visible(stack.topics.alerts, 1)).toEqual(['successor']);
  });
});
