/**
 * When and how each owned partition commits (transactions.ts does one commit): capture
 * the partition's outputs, snapshot and position at one instant, run its transaction, and
 * book the outcome — buffer acknowledged, metrics, committed states handed on — or report
 * a fence or a failure to the runner, which decides what that means for ownership.
 * At most one transaction runs per partition; partitions commit independently.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../lib/clock.ts';
import { FleetgridError } from '../../lib/errors.ts';
import type { RateLimitedLog } from '../../lib/stream/index.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { DeviceState } from '../../schemas/types.ts';
import type { BufferedState, Take } from './buffer.ts';
import { commitDue } from './cadence.ts';
import { encodeCheckpoint } from './changelog.ts';
import type { ProcessorMetrics } from './metrics.ts';
import type { PartitionTask } from './task.ts';
import { type CommitCapture, commitPartition, type OutputRecord } from './transactions.ts';

export interface CommitterDeps {
  config: {
    checkpointIntervalMs: number;
    quietCheckpointIntervalMs: number;
    quietMaxRows: number;
    quietMaxEvents: number;
    changelogMaxMessageBytes: number;
    maxSendBytes: number;
    maxSendRows: number;
  };
  groupId: string;
  /** Input topic → its changelog topic. */
  changelogs: Readonly<Record<string, string>>;
  serde: Serde;
  metrics: ProcessorMetrics;
  clock: Clock;
  policy: { baseMs: number; capMs: number };
  /** Aborted at the drain deadline or after a failure for good: every retry ends. */
  signal: AbortSignal;
  rateLog: RateLimitedLog;
  /** A transaction committed: these device states are now visible in Kafka. */
  onCommitted(task: PartitionTask, states: readonly BufferedState<DeviceState>[]): void;
  /** A newer producer owns the partition's transactional id: this member must let go. */
  onFenced(task: PartitionTask): void;
  /**
   * The producer cannot go on (a transaction it could not end, or a produce that failed and
   * may have been written: transactions.ts): the partition must be claimed again.
   */
  onLost(task: PartitionTask, error: unknown): void;
  /** A failure for good (not retriable, not fenced, not the drain deadline). */
  onFailure(error: unknown): void;
  /** A transaction ended, however: buffers shrank, backpressure may lift. */
  onSettled(task: PartitionTask): void;
}

export interface Committer {
  /** Starts the partition's next transaction unless one runs or nothing changed. */
  start(task: PartitionTask, reason: string): Promise<void> | undefined;
  /** Commits each of `tasks` now, after the transaction each may be running. */
  all(tasks: Iterable<PartitionTask>, reason: string): Promise<void>;
  /** Starts the transactions that are due (cadence.ts: interval elapsed, or a full request pending). */
  due(tasks: Iterable<PartitionTask>): void;
}

export function createCommitter(deps: CommitterDeps): Committer {
  const { config, metrics, clock } = deps;

  /** The take's outputs as transaction records; device states are encoded now. */
  function outputRecords(take: Take<DeviceState> | undefined): OutputRecord[] {
    if (!take) return [];
    const records: OutputRecord[] = take.records.map((r) => ({
      topic: r.topic,
      message: r.message,
      bytes: r.bytes,
    }));
    for (const s of take.states) {
      const value = deps.serde.encode('DeviceState', s.state);
      records.push({ topic: s.topic, message: { key: s.key, value }, bytes: value.length + s.key.length });
    }
    return records;
  }

  function booked(task: PartitionTask, take: Take<DeviceState> | undefined, capture: CommitCapture): void {
    if (take) task.buffer.ack(take);
    task.lastCommitAt = clock.now();
    task.checkpointBytes = capture.checkpoint.length;
    metrics.checkpoints.inc({ result: 'saved' });
    const perTopic = new Map<string, number>();
    for (const r of capture.outputs) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
    for (const [topic, n] of perTopic) metrics.emitted.inc({ topic }, n);
    // Rows that left the buffer: sent, or replaced by a newer state of the same device.
    metrics.outputAcked.inc((take?.rows ?? 0) + task.buffer.coalesced - task.coalescedReported);
    task.coalescedReported = task.buffer.coalesced;
  }

  function start(task: PartitionTask, reason: string): Promise<void> | undefined {
    if (task.committing || task.dropped || deps.signal.aborted) return task.committing;
    if (task.nextOffset === undefined || task.version === task.committedVersion) return undefined;
    // Captured synchronously: outputs, state and offset are consistent at this instant, and
    // later events go to the next transaction.
    const take = task.buffer.take({ includeStates: true });
    const version = task.version;
    const checkpoint = encodeCheckpoint({ offset: task.nextOffset, snapshot: task.core.snapshot() });
    if (checkpoint.length > config.changelogMaxMessageBytes - 1024) {
      deps.onFailure(
        new FleetgridError(
          'INTERNAL',
          `checkpoint of ${task.id} is ${checkpoint.length} bytes, above the changelog's max.message.bytes ${config.changelogMaxMessageBytes}: raise changelogMaxMessageBytes (and the topic's max.message.bytes)`,
        ),
      );
      return undefined;
    }
    const capture: CommitCapture = {
      topic: task.ref.topic,
      partition: task.ref.partition,
      outputs: outputRecords(take),
      checkpoint,
      offset: task.nextOffset,
    };
    const startedAt = performance.now();
    task.committing = commitPartition(task.producer, capture, {
      groupId: deps.groupId,
      changelogTopic: deps.changelogs[task.ref.topic]!,
      maxRequestBytes: config.maxSendBytes,
      maxRequestRows: config.maxSendRows,
      policy: deps.policy,
      clock,
      signal: deps.signal,
      onRetry: (error) => {
        metrics.backoffAttempts.inc({ operation: 'transaction' });
        deps.rateLog.warn(
          `txn:${task.id}`,
          { err: error, partition: task.id },
          'checkpoint transaction failed; retrying',
        );
      },
    })
      .then((result) => {
        if (result.outcome === 'fenced') {
          metrics.checkpoints.inc({ result: 'fenced' });
          deps.onFenced(task);
          return;
        }
        if (result.outcome === 'lost') {
          metrics.checkpoints.inc({ result: 'lost' });
          deps.onLost(task, result.error);
          return;
        }
        task.committedVersion = Math.max(task.committedVersion, version);
        booked(task, take, capture);
        metrics.produceDuration.observe(result.produceMs / 1000);
        metrics.checkpointDuration.observe({ reason }, (performance.now() - startedAt) / 1000);
        // Only committed states are handed on: a read model never shows what Kafka may roll back.
        if (take && take.states.length > 0) deps.onCommitted(task, take.states);
      })
      .catch((error: unknown) => {
        // Ended by the drain deadline: what did not commit is read again by the next owner.
        if (deps.signal.aborted) return;
        deps.onFailure(error);
      })
      .finally(() => {
        task.committing = undefined;
        deps.onSettled(task);
      });
    return task.committing;
  }

  return {
    start,
    async all(tasks, reason) {
      await Promise.all(
        [...tasks].map(async (task) => {
          while (task.committing) await task.committing;
          await start(task, reason);
        }),
      );
    },
    due(tasks) {
      const now = clock.now();
      for (const task of tasks) {
        const { buffer } = task;
        const pending = {
          sinceCommitMs: now - task.lastCommitAt,
          records: buffer.pendingRecords,
          rows: buffer.pendingRows,
          urgent: buffer.pendingUrgent,
          events: task.version - task.committedVersion,
        };
        if (commitDue(pending, config)) start(task, 'interval');
      }
    },
  };
}
