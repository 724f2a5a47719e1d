/**
 * The sink's per-partition batching: one bounded buffer per owned partition (sinks/batch.ts),
 * primed with the batch plan its last owner committed, one writer at a time per partition
 * (batches are written and committed in offset order), and backpressure: a buffer over its
 * high-water mark pauses its partition (reason `backpressure`), resumed below the low-water
 * mark. A revoked partition's buffer is dropped: its new owner reads the range again.
 */
import type { Logger } from '../lib/log.ts';
import { type PartitionRef, partitionKey } from '../lib/stream/index.ts';
import { type Batch, type BatchLimits, type Entry, PartitionBuffer, parsePlan } from './batch.ts';
import type { SinkMetrics } from './metrics.ts';

export interface Watermarks {
  highWaterRows: number;
  highWaterBytes: number;
  lowWaterRatio: number;
}

export interface PartitionBuffersDeps {
  limits: BatchLimits;
  watermarks: Watermarks;
  /** The partition's committed offset and metadata (the plan), from the group. */
  committed(
    topic: string,
    partition: number,
  ): Promise<{ offset: string; metadata: string | null } | undefined>;
  /** Writes and commits one batch; resolves false when it was abandoned (revoked, stopping). */
  write(buffer: PartitionBuffer, batch: Batch): Promise<boolean>;
  pause(ref: PartitionRef): void;
  resume(ref: PartitionRef): void;
  /** Labels metrics by topic key. */
  topicKeyOf(topic: string): string;
  now(): number;
  metrics: SinkMetrics;
  log: Logger;
  /** A batch failed for good (neither retriable nor bad data): the sink stops. */
  onFatal(error: unknown, batch: Batch): void;
  /** The partition's last fetched range with nothing visible (lib/stream member.hiddenTail). */
  hiddenTail?(ref: PartitionRef): { from: string; to: string } | undefined;
  /** Commits a position past such a range (no plan: nothing is pending). */
  commitPosition?(ref: PartitionRef, offset: string): Promise<void>;
}

export interface PartitionBuffers {
  /** The buffer of an owned partition, created (and primed with its plan) on first use. */
  bufferFor(topic: string, partition: number): Promise<PartitionBuffer>;
  /** Adds an entry; returns false for a record already buffered (a refetch). */
  add(buffer: PartitionBuffer, entry: Entry): boolean;
  /** After a fetch was added: pause at the high-water mark, write what is due. */
  afterFetch(buffer: PartitionBuffer): void;
  /** Writes what is due in every buffer (the linger timer). */
  tick(): void;
  /** Drops the buffers of partitions no longer owned. */
  revoke(refs: readonly PartitionRef[]): void;
  /**
   * Whether `buffer` is still its partition's buffer: false once revoked, even when the
   * partition was assigned back (a consumer restart). A write of an older buffer must stop
   * then: the new buffer cuts its ranges from the group's committed offset and plan, and
   * an older range written beside them would carry another token (duplicate rows).
   */
  isCurrent(buffer: PartitionBuffer): boolean;
  /** Seals every buffer and waits for their writes (draining). */
  flushAll(): Promise<void>;
  buffered(): { rows: number; bytes: number; records: number };
}

function countRecords(buffer: PartitionBuffer): number {
  let records = buffer.open?.records ?? 0;
  for (const batch of buffer.sealed) records += batch.records;
  return records;
}

export function createPartitionBuffers(deps: PartitionBuffersDeps): PartitionBuffers {
  const { metrics, log } = deps;
  const buffers = new Map<string, PartitionBuffer>();
  const loading = new Map<string, Promise<PartitionBuffer>>();
  const writing = new Map<string, Promise<void>>();
  const paused = new Set<string>();
  /** Positions past hidden ranges whose commit failed (see skipHidden). */
  const uncommitted = new Map<string, bigint>();
  const keyOfBuffer = (buffer: PartitionBuffer) => partitionKey(buffer.topic, buffer.partition);
  const owns = (buffer: PartitionBuffer) => buffers.get(keyOfBuffer(buffer)) === buffer;

  async function load(topic: string, partition: number, key: string): Promise<PartitionBuffer> {
    const entry = await deps.committed(topic, partition);
    const plan = parsePlan(entry?.metadata);
    const committedOffset = entry && Number(entry.offset) >= 0 ? BigInt(entry.offset) : undefined;
    const usable = plan !== undefined && (committedOffset === undefined || plan >= committedOffset);
    if (usable) {
      log.info(
        { topic, partition, committed: entry?.offset, plannedLast: String(plan) },
        'resuming a planned batch',
      );
    }
    const buffer = new PartitionBuffer(topic, partition, deps.limits, usable ? plan : undefined);
    buffers.set(key, buffer);
    return buffer;
  }

  function maybeResume(buffer: PartitionBuffer): void {
    const key = keyOfBuffer(buffer);
    if (!paused.has(key)) return;
    const { highWaterRows, highWaterBytes, lowWaterRatio } = deps.watermarks;
    if (buffer.rows < highWaterRows * lowWaterRatio && buffer.bytes < highWaterBytes * lowWaterRatio) {
      paused.delete(key);
      deps.resume(buffer);
      metrics.resumes.inc({ topic: deps.topicKeyOf(buffer.topic) });
    }
  }

  /** Writes a partition's due batches one after another; one writer per partition. */
  function schedule(buffer: PartitionBuffer): void {
    const key = keyOfBuffer(buffer);
    if (writing.has(key) || !buffer.due(deps.now())) return;
    const run = (async () => {
      for (let batch = buffer.next(deps.now()); batch && owns(buffer); batch = buffer.next(deps.now())) {
        let done: boolean;
        try {
          done = await deps.write(buffer, batch);
        } catch (error) {
          if (owns(buffer)) deps.onFatal(error, batch);
          return;
        }
        if (!done) return;
        buffer.done(batch);
        metrics.bufferedRowsRemoved.inc(batch.records);
        metrics.bufferedBytesRemoved.inc(batch.bytes);
        maybeResume(buffer);
      }
    })().finally(() => writing.delete(key));
    writing.set(key, run);
  }

  /**
   * Commits an idle partition's position past transaction markers (lib/stream
   * positionPastHidden says when), and again after a failed commit.
   */
  function skipHidden(buffer: PartitionBuffer): void {
    const key = keyOfBuffer(buffer);
    if (!deps.hiddenTail || !deps.commitPosition || writing.has(key)) return;
    // A position whose commit failed is committed again while the partition still rests
    // there; once it took records, their batch's commit moves past it.
    const failed = uncommitted.get(key);
    if (failed !== undefined && buffer.restingAt() !== failed) uncommitted.delete(key);
    const position = buffer.skipHidden(deps.hiddenTail(buffer)) ?? uncommitted.get(key);
    if (position === undefined) return;
    uncommitted.delete(key);
    const run = deps
      .commitPosition(buffer, String(position))
      .catch((error: unknown) => {
        if (owns(buffer)) uncommitted.set(key, position);
        log.debug(
          { err: error, topic: buffer.topic, partition: buffer.partition },
          'position commit failed; tried again on the next tick',
        );
      })
      .finally(() => writing.delete(key));
    writing.set(key, run);
  }

  return {
    isCurrent: owns,
    bufferFor(topic, partition) {
      const key = partitionKey(topic, partition);
      const existing = buffers.get(key);
      if (existing) return Promise.resolve(existing);
      let pending = loading.get(key);
      if (!pending) {
        pending = load(topic, partition, key).finally(() => loading.delete(key));
        loading.set(key, pending);
      }
      return pending;
    },
    add(buffer, entry) {
      return buffer.add(entry, deps.now());
    },
    afterFetch(buffer) {
      const key = keyOfBuffer(buffer);
      const { highWaterRows, highWaterBytes } = deps.watermarks;
      if (!paused.has(key) && (buffer.rows >= highWaterRows || buffer.bytes >= highWaterBytes)) {
        paused.add(key);
        deps.pause(buffer);
        metrics.pauses.inc({ topic: deps.topicKeyOf(buffer.topic) });
        log.debug(
          { topic: buffer.topic, partition: buffer.partition, rows: buffer.rows },
          'partition paused',
        );
      }
      schedule(buffer);
    },
    tick() {
      for (const buffer of buffers.values()) {
        schedule(buffer);
        skipHidden(buffer);
      }
    },
    revoke(refs) {
      for (const ref of refs) {
        const key = partitionKey(ref.topic, ref.partition);
        const buffer = buffers.get(key);
        if (!buffer) continue;
        buffers.delete(key);
        uncommitted.delete(key);
        const records = countRecords(buffer);
        metrics.bufferedRowsRemoved.inc(records);
        metrics.bufferedBytesRemoved.inc(buffer.bytes);
        if (paused.delete(key)) metrics.resumes.inc({ topic: deps.topicKeyOf(buffer.topic) });
        log.info(
          { topic: buffer.topic, partition: buffer.partition, records },
          'partition revoked: buffer dropped',
        );
      }
    },
    async flushAll() {
      for (const buffer of buffers.values()) {
        buffer.flushAll();
        schedule(buffer);
      }
      await Promise.allSettled([...writing.values()]);
    },
    buffered() {
      let rows = 0;
      let bytes = 0;
      let records = 0;
      for (const buffer of buffers.values()) {
        rows += buffer.rows;
        bytes += buffer.bytes;
        records += countRecords(buffer);
      }
      return { rows, bytes, records };
    },
  };
}
