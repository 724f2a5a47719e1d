/**
 * The sink's write/commit protocol for one batch (a fixed offset range of one partition):
 *
 *   1. the plan: the group's offset is committed unchanged (= first) with metadata
 *      `fleetgrid-plan:v1:<last>`, so whoever writes this range after a crash cuts it the
 *      same way (sinks/batch.ts);
 *   2. the inserts, one per table, each with `insert_deduplication_token =
 *      topic:partition:first-last` (sinks/writer.ts), held while a replay swaps a table;
 *   3. the batch's bad records to the DLQ, through the batching producer (bounded by bytes,
 *      never retried for a non-retriable failure);
 *   4. the commit of `last + 1`: only now is the range done.
 *
 * A crash anywhere re-inserts the same range with the same token, which ClickHouse drops.
 * Retriable failures are retried with capped full-jitter backoff while the partition is
 * still ours and the sink is not stopping (`signal`); a batch abandoned that way is simply
 * not committed. Anything else is a failure for good: the caller stops the sink rather
 * than skip data.
 */
import { FleetgridError, isRetriable } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { type BackoffPolicy, retry } from '../lib/retry.ts';
import type { DeadLetterSender, GroupMember } from '../lib/stream/index.ts';
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import { type Batch, formatPlan, type PartitionBuffer, type Rejected } from './batch.ts';
import type { SinkMetrics } from './metrics.ts';
import { writeBatch } from './writer.ts';

/**
 * Holds the sink's inserts while a replay copies and swaps a table (sinks/replay.ts): no row
 * the live sink writes can fall between its catch-up copy and the EXCHANGE.
 */
export interface WriteGate {
  /** Holds new inserts and waits for those in flight; returns the release. */
  hold(): Promise<() => void>;
  /** Runs an insert unless held (it waits for the release first). */
  run<T>(insert: () => Promise<T>): Promise<T>;
}

export function createWriteGate(): WriteGate {
  let held: PromiseWithResolvers<void> | undefined;
  let drained: PromiseWithResolvers<void> | undefined;
  let inFlight = 0;
  return {
    async hold() {
      while (held) await held.promise;
      const gate = Promise.withResolvers<void>();
      held = gate;
      while (inFlight > 0) {
        drained = Promise.withResolvers<void>();
        await drained.promise;
      }
      return () => {
        if (held === gate) held = undefined;
        gate.resolve();
      };
    },
    async run(insert) {
      while (held) await held.promise;
      inFlight++;
      try {
        return await insert();
      } finally {
        inFlight--;
        if (inFlight === 0) drained?.resolve();
      }
    },
  };
}

export interface BatchCommitterDeps {
  member: Pick<GroupMember, 'commit' | 'owns'>;
  backend: () => ClickHouseBackend;
  deadLetters: DeadLetterSender;
  gate: WriteGate;
  metrics: SinkMetrics;
  policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>;
  /** Aborts every retry (the drain deadline). */
  signal: AbortSignal;
  /** Whether this buffer is still the partition's (not revoked meanwhile). */
  owns(buffer: PartitionBuffer): boolean;
  topicKeyOf(topic: string): string;
  log: Logger;
}

/** Writes and commits one batch; false when abandoned (revoked, stopping); throws when failed for good. */
export type BatchCommitter = (buffer: PartitionBuffer, batch: Batch) => Promise<boolean>;

export function createBatchCommitter(deps: BatchCommitterDeps): BatchCommitter {
  const { metrics, log } = deps;
  const abandoned = (buffer: PartitionBuffer) => deps.signal.aborted || !deps.owns(buffer);

  /** A commit through the group, retried while the partition is ours. */
  function commit(buffer: PartitionBuffer, offset: bigint, metadata?: string): Promise<void> {
    return retry(
      () =>
        deps.member.commit([
          {
            topic: buffer.topic,
            partition: buffer.partition,
            offset: String(offset),
            ...(metadata ? { metadata } : {}),
          },
        ]),
      {
        policy: { ...deps.policy, maxRetries: Number.POSITIVE_INFINITY },
        signal: deps.signal,
        shouldRetry: (error) => isRetriable(error) && !abandoned(buffer),
        onRetry: (error) =>
          metrics.insertRetries.inc({
            table: 'commit',
            code: error instanceof FleetgridError ? error.code : 'UNKNOWN',
          }),
      },
    );
  }

  async function deadLetter(batch: Batch, dead: Rejected[]): Promise<void> {
    const topicKey = deps.topicKeyOf(batch.topic);
    if (topicKey === 'dlq') {
      // Never dead-letter the DLQ (it would loop): log what could not be loaded.
      log.error(
        { count: dead.length, first: String(dead[0]?.offset) },
        'dead letters that ClickHouse refused: skipped',
      );
      return;
    }
    const result = await deps.deadLetters.send(
      dead.map((d) => ({
        source: {
          topic: batch.topic,
          partition: batch.partition,
          offset: String(d.offset),
          key: d.key,
          value: d.value,
        },
        error: d.error,
      })),
    );
    const failure = result.failed[0];
    if (failure) {
      // Not committed: the range is written again (same token) by whoever owns it next.
      throw failure.error;
    }
    for (const d of dead) metrics.deadLettered.inc({ topic: topicKey, code: d.error.code });
  }

  return async (buffer, batch) => {
    try {
      await commit(buffer, batch.first, formatPlan(batch.last));
      const refused = await deps.gate.run(() =>
        writeBatch(batch, { backend: deps.backend(), metrics, policy: deps.policy, signal: deps.signal }),
      );
      const dead = [...batch.rejected, ...refused];
      if (dead.length > 0) await deadLetter(batch, dead);
      await commit(buffer, batch.last + 1n);
      metrics.batches.inc({ topic: deps.topicKeyOf(batch.topic) });
      return true;
    } catch (error) {
      if (abandoned(buffer)) return false;
      throw error;
    }
  };
}
