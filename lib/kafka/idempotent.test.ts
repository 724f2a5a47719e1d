import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../errors.ts';
import {
  createIdempotentSender,
  type PartitionRequest,
  partitionRequests,
  unansweredPartitions,
} from './idempotent.ts';
import type { OutgoingMessage } from './types.ts';

const message = (partition: number, value: string): OutgoingMessage => ({ partition, value });
const byPartition = (_topic: string, m: OutgoingMessage) => m.partition as number;
const unavailable = () => new FleetgridError('KAFKA_UNAVAILABLE', 'connection closed', { retriable: true });

/** A partition send that records what left and fails the partitions in `failing`. */
function recorder() {
  const sent: PartitionRequest[] = [];
  const failing = new Set<number>();
  let offset = 0;
  const send = async (request: PartitionRequest) => {
    sent.push(request);
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (failing.has(request.partition)) throw unavailable();
    const baseOffset = String(offset);
    offset += request.messages.length;
    return { topic: request.topic, partition: request.partition, baseOffset };
  };
  return { sent, failing, send };
}

describe('idempotent sends', () => {
  it('cut a call into one request per partition, each partition’s records in order', () => {
    const a = [message(0, 'a0'), message(1, 'a1'), message(0, 'a2')];
    const requests = partitionRequests([{ topic: 't', messages: a }], byPartition);
    expect(requests.map((r) => [r.partition, r.messages.map((m) => m.value)])).toEqual([
      [0, ['a0', 'a2']],
      [1, ['a1']],
    ]);
  });

  it('never write twice what a failed call had already landed when the caller retries it', async () => {
    const { sent, failing, send } = recorder();
    const sender = createIdempotentSender(send, byPartition);
    const batch = [{ topic: 't', messages: [message(0, 'x'), message(1, 'y'), message(2, 'z')] }];
    failing.add(1);
    await expect(sender.send(batch)).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    failing.clear();
    const results = await sender.send(batch);
    // Partitions 0 and 2 went once; partition 1 twice (its retry carries the same records).
    expect(sent.map((r) => r.partition).sort()).toEqual([0, 1, 1, 2]);
    expect(results.map((r) => r.partition)).toEqual([0, 1, 2]);
  });

  it('keep one request per partition in flight, in call order', async () => {
    const inFlight = new Map<number, number>();
    let most = 0;
    const order: string[] = [];
    const sender = createIdempotentSender(async (request) => {
      const now = (inFlight.get(request.partition) ?? 0) + 1;
      inFlight.set(request.partition, now);
      most = Math.max(most, now);
      await new Promise((resolve) => setTimeout(resolve, 2));
      order.push(String(request.messages[0]?.value));
      inFlight.set(request.partition, now - 1);
      return { topic: request.topic, partition: request.partition, baseOffset: '0' };
    }, byPartition);
    await Promise.all(
      ['1', '2', '3'].map((n) =>
        sender.send([{ topic: 't', messages: [message(0, n), message(1, `b${n}`)] }]),
      ),
    );
    expect(most).toBe(1);
    expect(order.filter((v) => !v.startsWith('b'))).toEqual(['1', '2', '3']);
  });

  it('refuse, as final, other records on a partition whose request failed, and let the retry go', async () => {
    const { sent, failing, send } = recorder();
    const sender = createIdempotentSender(send, byPartition);
    const first = [{ topic: 't', messages: [message(0, 'first')] }];
    failing.add(0);
    await expect(sender.send(first)).rejects.toMatchObject({ retriable: true });
    failing.clear();
    const other = sender.send([{ topic: 't', messages: [message(0, 'other')] }]);
    await expect(other).rejects.toMatchObject({ code: 'INTERNAL', retriable: false });
    await expect(sender.send(first)).resolves.toHaveLength(1);
    await expect(sender.send([{ topic: 't', messages: [message(0, 'next')] }])).resolves.toHaveLength(1);
    expect(sent.map((r) => r.messages[0]?.value)).toEqual(['first', 'first', 'next']);
  });

  it('report a final failure before a retriable one, so the caller does not retry in vain', async () => {
    const sender = createIdempotentSender(async (request) => {
      if (request.partition === 0) throw unavailable();
      throw new FleetgridError('INTERNAL', 'out of order sequence number', { retriable: false });
    }, byPartition);
    await expect(
      sender.send([{ topic: 't', messages: [message(0, 'a'), message(1, 'b')] }]),
    ).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});

describe('a transaction’s one request', () => {
  it('names every partition it carried and finds those the answer leaves out', () => {
    const requests = partitionRequests(
      [
        {
          topic: 'aggs',
          messages: [
            { key: 'd1', value: 'a' },
            { key: 'd2', value: 'b' },
          ],
        },
      ],
      (_topic, m) => (m.key === 'd1' ? 0 : 3),
    );
    expect(requests.map((r) => r.partition)).toEqual([0, 3]);
    // kafkajs resolved with partition 3 missing (its new leader had answered already).
    expect(unansweredPartitions(requests, [{ topic: 'aggs', partition: 0, baseOffset: '7' }])).toEqual([
      'aggs[3]',
    ]);
    expect(
      unansweredPartitions(requests, [
        { topic: 'aggs', partition: 0, baseOffset: '7' },
        { topic: 'aggs', partition: 3, baseOffset: '2' },
      ]),
    ).toEqual([]);
  });
});
