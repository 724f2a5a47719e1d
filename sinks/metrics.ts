/**
 * The sink's metrics (docs/design.md §3 "every decision is a metric"). Queues are pairs of
 * counters (added/removed), so the buffered amount is their difference and no gauge can
 * go stale. Invariant: received = written + dead_lettered + buffered (in flight).
 */
import { Counter, Histogram, type Registry } from '../lib/metrics.ts';

export interface SinkMetrics {
  received: Counter<'topic'>;
  written: Counter<'table'>;
  deadLettered: Counter<'topic' | 'code'>;
  insertSeconds: Histogram<'table'>;
  insertRetries: Counter<'table' | 'code'>;
  bisections: Counter<'table'>;
  batches: Counter<'topic'>;
  pauses: Counter<'topic'>;
  resumes: Counter<'topic'>;
  bufferedRowsAdded: Counter;
  bufferedRowsRemoved: Counter;
  bufferedBytesAdded: Counter;
  bufferedBytesRemoved: Counter;
  registryHolds: Counter;
  registryWaitSeconds: Counter;
  consumerRestarts: Counter<'reason'>;
  /** The registry feed (sinks/dims-feed.ts): rows written per dimension table, records refused. */
  dimRows: Counter<'table' | 'action'>;
  dimRecordsInvalid: Counter<'entity'>;
}

/**
 * `topics`: the topic keys the sink consumes. Their pause and resume counters are created
 * at 0, so a sink that never paused exports them and its backpressure state is known at
 * rest (a labelled counter exports nothing until its first increment).
 */
export function createSinkMetrics(
  registry: Registry,
  prefix = 'fleetgrid_sink',
  topics: readonly string[] = [],
): SinkMetrics {
  const metrics = sinkMetrics(registry, prefix);
  for (const topic of topics) {
    metrics.pauses.inc({ topic }, 0);
    metrics.resumes.inc({ topic }, 0);
  }
  return metrics;
}

function sinkMetrics(registry: Registry, prefix: string): SinkMetrics {
  const registers = [registry];
  return {
    received: new Counter({
      name: `${prefix}_received_records_total`,
      help: 'Records read from Kafka, per topic',
      labelNames: ['topic'],
      registers,
    }),
    written: new Counter({
      name: `${prefix}_written_rows_total`,
      help: 'Rows acknowledged by ClickHouse, per table',
      labelNames: ['table'],
      registers,
    }),
    deadLettered: new Counter({
      name: `${prefix}_dead_lettered_records_total`,
      help: 'Records sent to the DLQ topic, per source topic and error code',
      labelNames: ['topic', 'code'],
      registers,
    }),
    insertSeconds: new Histogram({
      name: `${prefix}_insert_duration_seconds`,
      help: 'Duration of one ClickHouse insert attempt',
      labelNames: ['table'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    insertRetries: new Counter({
      name: `${prefix}_insert_retries_total`,
      help: 'Retries of retriable ClickHouse or Kafka failures, per table (or "commit"/"dlq") and error code',
      labelNames: ['table', 'code'],
      registers,
    }),
    bisections: new Counter({
      name: `${prefix}_bisections_total`,
      help: 'Inserts rejected as bad data and split to isolate the bad rows',
      labelNames: ['table'],
      registers,
    }),
    batches: new Counter({
      name: `${prefix}_committed_batches_total`,
      help: 'Batches written and committed',
      labelNames: ['topic'],
      registers,
    }),
    pauses: new Counter({
      name: `${prefix}_partition_pauses_total`,
      help: 'Partitions paused because their buffer reached the high-water mark',
      labelNames: ['topic'],
      registers,
    }),
    resumes: new Counter({
      name: `${prefix}_partition_resumes_total`,
      help: 'Paused partitions resumed below the low-water mark (paused now = pauses - resumes)',
      labelNames: ['topic'],
      registers,
    }),
    bufferedRowsAdded: new Counter({
      name: `${prefix}_buffered_rows_added_total`,
      help: 'Records added to partition buffers',
      registers,
    }),
    bufferedRowsRemoved: new Counter({
      name: `${prefix}_buffered_rows_removed_total`,
      help: 'Records removed from partition buffers (written, dead-lettered or dropped on revoke)',
      registers,
    }),
    bufferedBytesAdded: new Counter({
      name: `${prefix}_buffered_bytes_added_total`,
      help: 'Bytes added to partition buffers',
      registers,
    }),
    bufferedBytesRemoved: new Counter({
      name: `${prefix}_buffered_bytes_removed_total`,
      help: 'Bytes removed from partition buffers',
      registers,
    }),
    registryHolds: new Counter({
      name: `${prefix}_registry_holds_total`,
      help: 'Partitions paused because the schema registry could not serve a record’s schema',
      registers,
    }),
    registryWaitSeconds: new Counter({
      name: `${prefix}_registry_wait_seconds_total`,
      help: 'Time partitions were held waiting for the schema registry (summed over partitions)',
      registers,
    }),
    consumerRestarts: new Counter({
      name: `${prefix}_consumer_restarts_total`,
      help: 'Consumers replaced after a crash (leaving the group first), by reason',
      labelNames: ['reason'],
      registers,
    }),
    dimRows: new Counter({
      name: `${prefix}_dim_changes_total`,
      help: 'Registry changes written into the dimension tables, by table and action (upsert, delete)',
      labelNames: ['table', 'action'],
      registers,
    }),
    dimRecordsInvalid: new Counter({
      name: `${prefix}_dim_records_invalid_total`,
      help: 'Registry topic records that are not registry rows, dead-lettered, by entity',
      labelNames: ['entity'],
      registers,
    }),
  };
}
