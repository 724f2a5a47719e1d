/**
 * Follows the registry's CDC topics from their beginning and folds every record into a
 * registry table (registry/table.ts): how a reader holds the registry as a table. The
 * tests and the CDC benchmark read the topics through it; the processors' global table
 * (issue 13, part 2) will do the same inside their runtime.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { consumerGroupId } from '../lib/stream/index.ts';
import type { KafkaClient } from '../lib/kafka/index.ts';
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
  /** Resolves once `predicate` holds after some record (or at once); rejects after timeoutMs. */
  until(predicate: (table: RegistryTable) => boolean, timeoutMs: number, what?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function followRegistry(
  kafka: KafkaClient,
  topicPrefix: string,
  options: { onChange?: (change: RegistryChangeSeen) => void; groupId?: string } = {},
): Promise<RegistryFollower> {
  const table = createRegistryTable();
  const waiters = new Set<() => void>();
  // A group of its own, read from the beginning: every reader gets the whole table.
  const consumer = kafka.consumer({
    groupId: options.groupId ?? consumerGroupId(topicPrefix, `registry-follower-${randomUUID().slice(0, 8)}`),
    maxWaitTimeMs: 50,
  });
  await consumer.connect();
  await consumer.subscribe(Object.values(registryTopicNames(topicPrefix)), { fromBeginning: true });
  await consumer.run({
    concurrency: 1,
    eachBatch: async (batch) => {
      const entity = entityOfTopic(batch.topic, topicPrefix);
      if (!entity) return;
      for (const message of batch.records) {
        const receivedAtMs = performance.timeOrigin + performance.now();
        const result = table.apply({ entity, key: message.key, value: message.value });
        if (options.onChange) {
          let sourceTsMs: number | undefined;
          let version: number | undefined;
          if (result.outcome === 'upserted' || result.outcome === 'unchanged') {
            try {
              const json = JSON.parse(message.value?.toString('utf8') ?? 'null');
              const row = json?.payload ?? json;
              sourceTsMs = typeof row?.__source_ts_ms === 'number' ? row.__source_ts_ms : undefined;
              version = typeof row?.version === 'number' ? row.version : undefined;
            } catch {
              // Only what the table accepted is reported with details.
            }
          }
          options.onChange({ entity, result, receivedAtMs, sourceTsMs, version, offset: message.offset });
        }
        batch.resolveOffset(message.offset);
      }
      for (const wake of waiters) wake();
    },
  });

  return {
    table,
    until(predicate, timeoutMs, what = 'the registry table') {
      if (predicate(table)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(table)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    },
    async stop() {
      waiters.clear();
      await consumer.disconnect();
    },
  };
}
