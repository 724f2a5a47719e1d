/**
 * Claiming input partitions (ownership): what a member does for the partitions a join
 * gave it, before it processes a single record of them.
 *
 *   1. connect each partition's transactional producer (id from lib/stream/naming.ts):
 *      Kafka fences every older producer of the id and completes or aborts its open
 *      transaction, so from here on no zombie can commit for the partition;
 *   2. read the group's committed offsets (their metadata points at the checkpoints);
 *   3. read those checkpoint records from the changelogs (restore.ts), read_committed.
 *
 * The order matters: only after step 1 is the last committed checkpoint final.
 */
import { FleetgridError, isRetriable } from '../../lib/errors.ts';
import { type KafkaClient, kafkaReconnectPolicy, type TransactionalProducer } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { retry } from '../../lib/retry.ts';
import { type PartitionRef, transactionalId } from '../../lib/stream/index.ts';
import { type Checkpoint, decodeCheckpoint } from './changelog.ts';
import { planRestore, readCheckpointRecords, type RestorePlan } from './restore.ts';

export interface ClaimedPartition {
  ref: PartitionRef;
  producer: TransactionalProducer;
  plan: RestorePlan;
  /** The restored checkpoint (plan 'checkpoint' with its record found). */
  checkpoint: Checkpoint | undefined;
  /** Where processing continues: the checkpoint's offset, else the committed one, else unknown. */
  nextOffset: number | undefined;
}

export interface ClaimDeps {
  kafka: KafkaClient;
  groupId: string;
  /** Input topic → its changelog topic. */
  changelogs: Readonly<Record<string, string>>;
  transactionTimeoutMs: number;
  policy: { baseMs: number; capMs: number };
  signal: AbortSignal;
  /** Whether the claim still matters (the partition is still ours, we are not stopping). */
  stillWanted: (ref: PartitionRef) => boolean;
  onRetry: (operation: string) => void;
  log: Logger;
}

/** Claims `refs` together (one offsets fetch, one changelog read per topic). */
export async function claimPartitions(
  refs: readonly PartitionRef[],
  deps: ClaimDeps,
): Promise<ClaimedPartition[]> {
  const keepTrying = (operation: string) => ({
    // Every claim step is a Kafka request (InitProducerId, offsets, the changelog): after a
    // broker restart they fail only until its coordinators have loaded, so they retry at
    // the reconnect cap, not the processor's longer backoff.
    policy: { ...kafkaReconnectPolicy(deps.policy), maxRetries: Number.POSITIVE_INFINITY },
    signal: deps.signal,
    shouldRetry: (error: unknown) =>
      isRetriable(error) && !deps.signal.aborted && refs.some((ref) => deps.stillWanted(ref)),
    onRetry: () => deps.onRetry(operation),
  });
  const producers = await Promise.all(
    refs.map(async (ref) => {
      const producer = deps.kafka.transactionalProducer(
        transactionalId(deps.groupId, ref.topic, ref.partition),
        {
          transactionTimeoutMs: deps.transactionTimeoutMs,
        },
      );
      await retry(() => producer.connect(), keepTrying('claim'));
      return producer;
    }),
  );
  const release = () => Promise.all(producers.map((p) => p.disconnect().catch(() => {})));
  try {
    const admin = deps.kafka.admin();
    const topics = [...new Set(refs.map((r) => r.topic))];
    const committed = await retry(async () => {
      await admin.connect();
      try {
        return await admin.fetchCommittedOffsets(deps.groupId, topics);
      } finally {
        await admin.disconnect().catch(() => {});
      }
    }, keepTrying('claim'));
    const plans = refs.map((ref) => planRestore(committed, ref.topic, ref.partition));
    const records = new Map<string, Map<number, Buffer | null>>();
    for (const topic of topics) {
      const offsets = new Map<number, string>();
      refs.forEach((ref, i) => {
        const plan = plans[i]!;
        if (ref.topic === topic && plan.kind === 'checkpoint')
          offsets.set(ref.partition, plan.changelogOffset);
      });
      const changelog = deps.changelogs[topic];
      if (!changelog) throw new FleetgridError('INTERNAL', `no changelog topic for ${topic}`);
      records.set(
        topic,
        await retry(
          () =>
            readCheckpointRecords(deps.kafka, {
              readerGroup: deps.groupId,
              topic: changelog,
              offsets,
              timeoutMs: 30_000,
            }),
          keepTrying('claim'),
        ),
      );
    }
    return refs.map((ref, i) => {
      const plan = plans[i]!;
      let checkpoint: Checkpoint | undefined;
      if (plan.kind === 'checkpoint') {
        const value = records.get(ref.topic)?.get(ref.partition);
        if (value) {
          checkpoint = decodeCheckpoint(value);
          // One transaction commits the offset and the record it points to with the same offset
          // (transactions.ts): a difference means the pointer led to another checkpoint.
          if (checkpoint.offset !== plan.committedOffset) {
            deps.log.warn(
              {
                partition: `${ref.topic}:${ref.partition}`,
                changelogOffset: plan.changelogOffset,
                committedOffset: plan.committedOffset,
                checkpointOffset: checkpoint.offset,
              },
              'restored checkpoint is not the one of the committed offset: continuing from the checkpoint',
            );
          }
        } else {
          // The committed offset points at a record the changelog no longer has (the topic was
          // deleted or truncated by hand). Said loudly; processing continues from the offset.
          deps.log.error(
            { partition: `${ref.topic}:${ref.partition}`, changelogOffset: plan.changelogOffset },
            'checkpoint record missing from the changelog: state restarts empty at the committed offset',
          );
        }
      }
      const nextOffset = checkpoint?.offset ?? (plan.kind === 'empty' ? undefined : plan.committedOffset);
      return { ref, producer: producers[i]!, plan, checkpoint, nextOffset };
    });
  } catch (error) {
    await release();
    throw error;
  }
}
