/**
 * Restoring claimed partitions from Kafka: the committed offsets of the group (with the
 * checkpoint pointers in their metadata, transactions.ts) say where each partition's
 * newest committed checkpoint record is in its changelog; this reads exactly those
 * records, read_committed, with a short-lived reader of its own (a consumer in a
 * throwaway group that seeks to the pointers: kafkajs has no group-less assign).
 *
 * `planRestore` is the pure decision per partition; `readCheckpointRecords` the I/O.
 */
import { randomUUID } from 'node:crypto';
import { FleetgridError } from '../../lib/errors.ts';
import type { CommittedOffsets, KafkaClient } from '../../lib/kafka/index.ts';
import { parseCheckpointPointer } from './changelog.ts';

/** Where a claimed partition starts. */
export type RestorePlan =
  /** Restore the checkpoint record at `changelogOffset`. */
  | { kind: 'checkpoint'; changelogOffset: string; committedOffset: number }
  /** An offset without a checkpoint (an operator reset it, or the group predates changelogs). */
  | { kind: 'offset'; committedOffset: number }
  /** Nothing committed: an empty core at the group's start position. */
  | { kind: 'empty' };

export function planRestore(
  committed: readonly CommittedOffsets[],
  topic: string,
  partition: number,
): RestorePlan {
  const entry = committed.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition);
  const offset = Number(entry?.offset ?? -1);
  if (!entry || !Number.isSafeInteger(offset) || offset < 0) return { kind: 'empty' };
  const pointer = parseCheckpointPointer(entry.metadata);
  return pointer === undefined
    ? { kind: 'offset', committedOffset: offset }
    : { kind: 'checkpoint', changelogOffset: pointer, committedOffset: offset };
}

/**
 * Reads the records at `offsets` (partition → offset) of `topic`. A record that is not
 * there any more (the reader passed its offset without seeing it) is `null`; the caller
 * decides what a lost checkpoint means. Rejects with a retriable error after `timeoutMs`.
 */
export async function readCheckpointRecords(
  kafka: Pick<KafkaClient, 'consumer'>,
  options: { readerGroup: string; topic: string; offsets: ReadonlyMap<number, string>; timeoutMs: number },
): Promise<Map<number, Buffer | null>> {
  const found = new Map<number, Buffer | null>();
  if (options.offsets.size === 0) return found;
  const consumer = kafka.consumer({
    groupId: `${options.readerGroup}-restore-${randomUUID()}`,
    maxWaitTimeMs: 100,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    maxBytesPerPartition: 16 * 1024 * 1024,
  });
  const done = Promise.withResolvers<void>();
  const settle = () => {
    if (found.size === options.offsets.size) done.resolve();
  };
  const timer = setTimeout(
    () =>
      done.reject(
        new FleetgridError(
          'KAFKA_UNAVAILABLE',
          `reading checkpoints of ${options.topic} timed out after ${options.timeoutMs} ms`,
        ),
      ),
    options.timeoutMs,
  );
  // A position passed without the wanted record: compacted or deleted, it is gone.
  consumer.on('batchEnd', ({ topic, partition, lastOffset }) => {
    const want = options.offsets.get(partition);
    if (topic !== options.topic || want === undefined || found.has(partition)) return;
    if (BigInt(lastOffset) >= BigInt(want)) {
      found.set(partition, null);
      settle();
    }
  });
  try {
    await consumer.connect();
    await consumer.subscribe([options.topic], { fromBeginning: false });
    await consumer.run({
      concurrency: 1,
      eachBatch: async (batch) => {
        const want = options.offsets.get(batch.partition);
        if (want === undefined || found.has(batch.partition)) return;
        for (const record of batch.records) {
          if (record.offset === want) {
            found.set(batch.partition, record.value);
            settle();
            return;
          }
        }
      },
    });
    for (const [partition, offset] of options.offsets) consumer.seek(options.topic, partition, offset);
    await done.promise;
    return found;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
}
