/**
 * Consumer lag of /pipeline/health against the real broker: a group that committed part
 * of a partition must show exactly the records behind it, through lib/kafka.ts admin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchConsumerLag } from '../../query/main.ts';
import { createTestStack, type TestStack } from '../helpers.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack('query-lag', { partitions: 2 });
});

afterAll(async () => {
  await stack?.cleanup();
});

describe('consumer lag', () => {
  it('is the records between the committed offset and the end, per partition and in total', async () => {
    const producer = stack.kafka.producer();
    await producer.connect();
    try {
      const messages = Array.from({ length: 10 }, (_, i) => ({
        key: 'truck-1',
        value: `m${i}`,
        partition: 0,
      }));
      await producer.send(stack.topics.truck, messages);
      await producer.send(stack.topics.truck, [{ key: 'truck-2', value: 'x', partition: 1 }]);
    } finally {
      await producer.disconnect();
    }
    const group = stack.group('sink');
    // The group has read 4 records of partition 0 and nothing of partition 1 (no commit).
    await stack.admin.setGroupOffsets(group, stack.topics.truck, [{ partition: 0, offset: '4' }]);

    const [lag, empty] = await fetchConsumerLag(stack.admin, [group, stack.group('never-started')]);
    expect(lag?.groupId).toBe(group);
    const partition0 = lag?.partitions.find((p) => p.topic === stack.topics.truck && p.partition === 0);
    expect(partition0).toEqual({ topic: stack.topics.truck, partition: 0, committed: 4, end: 10, lag: 6 });
    // Partition 1 has no committed offset: everything from its start is still ahead.
    const partition1 = lag?.partitions.find((p) => p.topic === stack.topics.truck && p.partition === 1);
    expect(partition1).toMatchObject({ committed: null, end: 1, lag: 1 });
    expect(lag?.lag).toBe(7);
    expect(empty).toMatchObject({ lag: 0, partitions: [] });
  });
});
