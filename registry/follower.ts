/**
 * Follows the registry's CDC topics from their beginning and folds every record into a
 * registry table (registry/table.ts): how a reader holds the registry as a table. The
 * tests, the CDC benchmark, the notifier and the processors' global table
 * (processors/runner/global-table.ts) read the topics through it.
 *
 * It also knows how far it has read each topic (`position`, transaction markers and
 * compacted gaps included, from the consumer's batch ends) and where the topic ended at
 * the last fetch (`highWatermark`), so a reader can tell "restored up to the end offsets
 * taken at start" and its lag from a quiet registry.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { FleetgridError } from '../lib/errors.ts';
import { consumerGroupId } from '../lib/stream/index.ts';
import { IDLE_READER_MAX_WAIT_MS, type KafkaClient } from '../lib/kafka/index.ts';
import type { EntityName } from './model.ts';
import { createRegistryTable, type ApplyResult, type RegistryTable } from './table.ts';
import { entityOfTopic, registryTopicNames } from './topics.ts';

export interface RegistryChangeSeen {
  entity: EntityName;
  result: ApplyResult;
  /** When the record reached this reader, epoch ms with a fraction (performance clock). */
  receivedAtMs: number;
  /** Debezium's commit time of the change (__source_ts_ms), when the record carries one. */
  sourceTsMs: number | undefined;
  /** The row's version, for upserts. */
  version: number | undefined;
  offset: string;
}

export interface RegistryFollower {
  readonly table: RegistryTable;
  /**
   * Resolves once `predicate` holds after some fetch (or at once); rejects with TIMEOUT
   * after timeoutMs, or when `signal` aborts.
   */
  until(
    predicate: (table: RegistryTable) => boolean,
    timeoutMs: number,
    what?: string,
    signal?: AbortSignal,
  ): Promise<void>;
  /** The next offset to read of the entity's topic (partition 0): everything before it was folded. */
  position(entity: EntityName): bigint;
  /** The topic's log end offset as of the last fetch of it (undefined before the first). */
  highWatermark(entity: EntityName): bigint | undefined;
  stop(): Promise<void>;
}

/** Debezium's commit time (`__source_ts_ms`) and the row's version of a record value, when it has them. */
export function recordCommitInfo(value: Buffer | null): { sourceTsMs?: number; version?: number } {
  if (value === null) return {};
  try {
    const json = JSON.parse(value.toString('utf8'));
    const row = json?.payload ?? json;
    return {
      ...(typeof row?.__source_ts_ms === 'number' ? { sourceTsMs: row.__source_ts_ms } : {}),
      ...(typeof row?.version === 'number' ? { version: row.version } : {}),
    };
  } catch {
    return {};
  }
}

export async function followRegistry(
  kafka: KafkaClient,
  topicPrefix: string,
  options: {
    onChange?: (change: RegistryChangeSeen) => void;
    groupId?: string;
    /** The table to fold into (e.g. with a change lead); a new default one otherwise. */
    table?: RegistryTable;
    /** The reader stopped for good (a failure the client does not restart from): the table is frozen. */
    onCrash?: (error: FleetgridError) => void;
  } = {},
): Promise<RegistryFollower> {
  const table = options.table ?? createRegistryTable();
  const waiters = new Set<() => void>();
  // One partition per registry topic (registry/topics.ts): a position per entity.
  const positions = new Map<EntityName, bigint>();
  const highWatermarks = new Map<EntityName, bigint>();
  const advance = (entity: EntityName, next: bigint) => {
    if (next > (positions.get(entity) ?? 0n)) positions.set(entity, next);
  };
  const wakeAll = () => {
    for (const wake of waiters) wake();
  };
  // A group of its own, read from the beginning: every reader gets the whole table.
  const consumer = kafka.consumer({
    groupId: options.groupId ?? consumerGroupId(topicPrefix, `registry-follower-${randomUUID().slice(0, 8)}`),
    maxWaitTimeMs: IDLE_READER_MAX_WAIT_MS,
  });
  await consumer.connect();
  if (options.onCrash) consumer.on('crash', options.onCrash);
  // A batch of only hidden records (transaction markers) still moves the position.
  consumer.on('batchEnd', ({ topic, lastOffset }) => {
    const entity = entityOfTopic(topic, topicPrefix);
    if (!entity) return;
    advance(entity, BigInt(lastOffset) + 1n);
    wakeAll();
  });
  await consumer.subscribe(Object.values(registryTopicNames(topicPrefix)), { fromBeginning: true });
  await consumer.run({
    concurrency: 1,
    eachBatch: async (batch) => {
      const entity = entityOfTopic(batch.topic, topicPrefix);
      if (!entity) return;
      highWatermarks.set(entity, BigInt(batch.highWatermark));
      for (const message of batch.records) {
        const receivedAtMs = performance.timeOrigin + performance.now();
        const result = table.apply({ entity, key: message.key, value: message.value });
        if (options.onChange) {
          // Only what the table accepted is reported with details.
          const { sourceTsMs, version } =
            result.outcome === 'upserted' || result.outcome === 'unchanged'
              ? recordCommitInfo(message.value)
              : {};
          options.onChange({ entity, result, receivedAtMs, sourceTsMs, version, offset: message.offset });
        }
        batch.resolveOffset(message.offset);
        advance(entity, BigInt(message.offset) + 1n);
      }
      wakeAll();
    },
  });

  return {
    table,
    position: (entity) => positions.get(entity) ?? 0n,
    highWatermark: (entity) => highWatermarks.get(entity),
    until(predicate, timeoutMs, what = 'the registry table', signal) {
      if (predicate(table)) return Promise.resolve();
      if (signal?.aborted)
        return Promise.reject(
          new FleetgridError('TIMEOUT', `stopped while waiting for ${what}`, { retriable: false }),
        );
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(table)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new FleetgridError('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const onAbort = () => {
          cleanup();
          reject(new FleetgridError('TIMEOUT', `stopped while waiting for ${what}`, { retriable: false }));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          signal?.removeEventListener('abort', onAbort);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(check);
      });
    },
    async stop() {
      waiters.clear();
      await consumer.disconnect();
    },
  };
}
