/**
 * The sink's registry feed (docs/registry.md "Dimension tables"): a small consumer of the
 * registry's compacted CDC topics (registry.sites|devices|drivers) that writes each change
 * into its dimension table, in a consumer group of its own (GROUPS.sinkDims under
 * TOPIC_PREFIX), so it is independent of the telemetry sink's partitions and read from the
 * beginning by a new group like any projection. The mapping is pure (sinks/dims.ts); this
 * file only fetches, writes and commits:
 *
 * - one fetch of one partition → its changes written in log order (runs, sinks/dims.ts),
 *   records that are not registry rows dead-lettered (REGISTRY_RECORD_INVALID, never
 *   retried), then the offset committed: at least once, and a re-read batch writes the
 *   same rows again, which ReplacingMergeTree folds;
 * - retriable failures (ClickHouse or Kafka away) are retried with backoff while the sink
 *   runs; anything else is a programmer error: reported through `onFatal`, like the sink's.
 */
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import { sourceOf } from '../lib/dlq.ts';
import { FleetgridError, isRetriable } from '../lib/errors.ts';
import {
  type FetchedBatch,
  type GroupConsumer,
  IDLE_READER_MAX_WAIT_MS,
  type KafkaAdmin,
  type KafkaClient,
} from '../lib/kafka/index.ts';
import type { Logger } from '../lib/log.ts';
import { type BackoffPolicy, retry } from '../lib/retry.ts';
import type { DeadLetterSender } from '../lib/stream/index.ts';
import { ensureTopics, type TopicPolicy } from '../lib/topics.ts';
import { entityOfTopic, registryTopicNames, registryTopicSpecs } from '../registry/topics.ts';
import { DIM_ENTITIES, type DimChange, dimDeleteSql, isDimEntity, toDimChange, toRuns } from './dims.ts';
import type { SinkMetrics } from './metrics.ts';

export interface DimsFeedDeps {
  kafka: KafkaClient;
  admin: KafkaAdmin;
  backend: () => ClickHouseBackend;
  deadLetters: DeadLetterSender;
  metrics: Pick<SinkMetrics, 'dimRows' | 'dimRecordsInvalid'>;
  log: Logger;
  policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>;
  /** Ends the retries when the sink stops. */
  signal: AbortSignal;
  onFatal?: (error: unknown) => void;
}

export interface DimsFeed {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createDimsFeed(
  /** topicPolicy: replication and retention of the registry topics if this feed creates them. */
  config: { groupId: string; topicPrefix: string; topicPolicy: TopicPolicy },
  deps: DimsFeedDeps,
): DimsFeed {
  const log = deps.log.child({ component: 'sink-dims' });
  const names = registryTopicNames(config.topicPrefix);
  let consumer: GroupConsumer | undefined;

  const whileRunning = <T>(operation: () => Promise<T>) =>
    retry(operation, {
      policy: { ...deps.policy, maxRetries: Number.POSITIVE_INFINITY },
      signal: deps.signal,
      onRetry: (error, attempt) => {
        if (attempt % 10 === 0) log.warn({ err: error, attempt }, 'registry feed: retrying');
      },
    });

  async function take(batch: FetchedBatch): Promise<void> {
    const entity = entityOfTopic(batch.topic, config.topicPrefix);
    const last = batch.records.at(-1);
    if (!entity || !isDimEntity(entity) || last === undefined) return;
    const changes: { change: DimChange; record: (typeof batch.records)[number] }[] = batch.records.map(
      (record) => ({ record, change: toDimChange(entity, record, record.offset) }),
    );
    const backend = deps.backend();
    for (const run of toRuns(changes.map((c) => c.change))) {
      if (!batch.isActive()) return;
      if (run.action === 'upsert') await whileRunning(() => backend.insert(run.table, run.rows));
      else
        await whileRunning(() => backend.exec(dimDeleteSql(run.table), { ids: run.ids, offset: run.offset }));
      deps.metrics.dimRows.inc(
        { table: run.table, action: run.action },
        run.action === 'upsert' ? run.rows.length : run.ids.length,
      );
    }
    const letters = changes.flatMap(({ change, record }) =>
      change.action === 'invalid'
        ? [
            {
              source: sourceOf(batch, record),
              error: change.error,
            },
          ]
        : [],
    );
    if (letters.length > 0) {
      for (const letter of letters) log.warn({ offset: letter.source.offset }, letter.error.message);
      await whileRunning(async () => {
        const sent = await deps.deadLetters.send(letters);
        // The offset moves past bad records only once their letters are in the DLQ.
        const failed = sent.failed[0];
        if (failed) throw failed.error;
      });
      deps.metrics.dimRecordsInvalid.inc({ entity }, letters.length);
    }
    if (!batch.isActive()) return;
    const c = consumer as GroupConsumer;
    await whileRunning(() =>
      c.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last.offset) + 1n) },
      ]),
    );
    batch.resolveOffset(last.offset);
  }

  return {
    async start() {
      // The topics exist once `registry cdc up` ran; created here too (like the notifier
      // does), so a sink started before the registry waits on empty topics instead of failing.
      await whileRunning(() =>
        ensureTopics(deps.admin, registryTopicSpecs(config.topicPrefix, config.topicPolicy)),
      );
      const c = deps.kafka.consumer({ groupId: config.groupId, maxWaitTimeMs: IDLE_READER_MAX_WAIT_MS });
      consumer = c;
      await whileRunning(() => c.connect());
      await c.subscribe(
        DIM_ENTITIES.map((entity) => names[entity]),
        // A new group is a new projection: the whole compacted topic, every id's newest row.
        { fromBeginning: true },
      );
      await c.run({
        concurrency: 1,
        eachBatch: async (batch) => {
          try {
            await take(batch);
          } catch (error) {
            if (deps.signal.aborted) return;
            if (!isRetriable(error)) {
              log.fatal({ err: error, topic: batch.topic }, 'registry feed failed for good: stopping');
              deps.onFatal?.(error);
            }
            // Thrown: the client restarts the consumer from the committed offset.
            throw error instanceof FleetgridError
              ? error
              : new FleetgridError('INTERNAL', String(error), { cause: error });
          }
        },
      });
      log.info(
        { groupId: config.groupId, topics: DIM_ENTITIES.map((e) => names[e]) },
        'registry feed started',
      );
    },
    async stop() {
      await consumer?.disconnect().catch(() => undefined);
    },
  };
}
