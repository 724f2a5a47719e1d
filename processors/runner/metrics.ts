/**
 * The processor's Prometheus metrics (docs/design.md §3 "every decision is a metric"). Queues are
 * pairs of counters (received/processed, buffered/acked) rather than gauges, so rates and
 * backlogs can both be derived and nothing is lost between scrapes.
 */
import { Counter, Gauge, Histogram, type Registry } from '../../lib/metrics.ts';

export interface ProcessorMetrics {
  received: Counter<'topic'>;
  processed: Counter<'topic'>;
  late: Counter<'topic'>;
  deadLettered: Counter<'topic' | 'code'>;
  emitted: Counter<'topic'>;
  outputBuffered: Counter<never>;
  outputAcked: Counter<never>;
  emitDelay: Histogram<never>;
  checkpointDuration: Histogram<'reason'>;
  produceDuration: Histogram<never>;
  checkpoints: Counter<'result'>;
  pausedPartitions: Gauge<never>;
  pauses: Counter<'reason'>;
  backoffAttempts: Counter<'operation'>;
  stateBytes: Gauge<never>;
  ownedPartitions: Gauge<never>;
  consumerRestarts: Counter<'reason'>;
  replaySkipped: Counter<'topic'>;
  readModelPending: Gauge<never>;
  readModelWrites: Counter<'result'>;
}

/**
 * The stream–table join's metrics (registry-join.ts): the registry table the process holds
 * and what the cores did with it. Gauges are read from `source` at scrape time.
 */
export interface JoinMetrics {
  registryRecords: Counter<'outcome'>;
  applyDelay: Histogram<never>;
  joinEvents: Counter<'outcome'>;
}

export interface JoinMetricsSource {
  rows(): Record<string, number>;
  maxVersion(): number;
  lagRecords(): number;
  restored(): boolean;
  waitingPartitions(): number;
}

/** What the cores count about the join (CoreStats), as `outcome` labels of fleetgrid_processor_join_events_total. */
export const JOIN_OUTCOMES = {
  unknownDevices: 'unknown_device',
  decommissionedIgnored: 'decommissioned',
  maintenanceSuppressed: 'maintenance',
  lateRegistryChanges: 'late_registry_change',
} as const;

export function createJoinMetrics(registry: Registry, source: JoinMetricsSource): JoinMetrics {
  const p = 'fleetgrid_processor_registry_';
  const registers = [registry];
  new Gauge({
    name: `${p}rows`,
    help: 'Rows of the registry table this process holds, per entity',
    labelNames: ['entity'],
    registers,
    collect() {
      for (const [entity, rows] of Object.entries(source.rows())) this.set({ entity }, rows);
    },
  });
  new Gauge({
    name: `${p}version`,
    help: 'The highest registry row version folded into the table (the registry position)',
    registers,
    collect() {
      this.set(source.maxVersion());
    },
  });
  new Gauge({
    name: `${p}lag_records`,
    help: 'Registry records behind the ends of the registry topics, as of the last fetch',
    registers,
    collect() {
      this.set(source.lagRecords());
    },
  });
  new Gauge({
    name: `${p}restored`,
    help: '1 once the registry table has read the registry topics up to their ends at start',
    registers,
    collect() {
      this.set(source.restored() ? 1 : 0);
    },
  });
  new Gauge({
    name: `${p}waiting_partitions`,
    help: 'Claimed partitions waiting for the registry version their checkpoint was taken at',
    registers,
    collect() {
      this.set(source.waitingPartitions());
    },
  });
  const metrics: JoinMetrics = {
    registryRecords: new Counter({
      name: `${p}records_total`,
      help: 'Registry records folded into the table, per outcome (upserted, deleted, unchanged, invalid)',
      labelNames: ['outcome'],
      registers,
    }),
    applyDelay: new Histogram({
      name: `${p}apply_delay_seconds`,
      help: 'From a registry change committed in PostgreSQL (__source_ts_ms) to folded into this table, after restore',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    joinEvents: new Counter({
      name: 'fleetgrid_processor_join_events_total',
      help: 'Events the join decided about: unknown_device (per policy), decommissioned (ignored), maintenance (no alerts), late_registry_change',
      labelNames: ['outcome'],
      registers,
    }),
  };
  // Exported at 0 from the start, so the state is known at rest.
  for (const outcome of ['upserted', 'deleted', 'unchanged', 'invalid'])
    metrics.registryRecords.inc({ outcome }, 0);
  for (const outcome of Object.values(JOIN_OUTCOMES)) metrics.joinEvents.inc({ outcome }, 0);
  return metrics;
}

/** Why a processor pauses its input (processor.ts); each reason's counter exists from the start. */
export const PAUSE_REASONS = ['backpressure', 'registry'] as const;

export function createProcessorMetrics(registry: Registry): ProcessorMetrics {
  const metrics = processorMetrics(registry);
  // Exported at 0 before the first pause, so the state is known at rest.
  for (const reason of PAUSE_REASONS) metrics.pauses.inc({ reason }, 0);
  return metrics;
}

function processorMetrics(registry: Registry): ProcessorMetrics {
  const p = 'fleetgrid_processor_';
  const registers = [registry];
  return {
    received: new Counter({
      name: `${p}received_total`,
      help: 'Input records taken up for processing, per input topic',
      labelNames: ['topic'],
      registers,
    }),
    processed: new Counter({
      name: `${p}processed_total`,
      help: 'Input records fully handled (applied to the core or dead-lettered), per input topic',
      labelNames: ['topic'],
      registers,
    }),
    late: new Counter({
      name: `${p}late_events_total`,
      help: 'Events whose event time is behind the partition stream time (out of order), per input topic',
      labelNames: ['topic'],
      registers,
    }),
    deadLettered: new Counter({
      name: `${p}dead_lettered_total`,
      help: 'Input records sent to the DLQ, per input topic and error code',
      labelNames: ['topic', 'code'],
      registers,
    }),
    emitted: new Counter({
      name: `${p}emitted_total`,
      help: 'Output records acknowledged by Kafka (acks=all), per output topic',
      labelNames: ['topic'],
      registers,
    }),
    outputBuffered: new Counter({
      name: `${p}output_buffered_rows_total`,
      help: 'Rows appended to the output buffer (minus outputAcked = rows held)',
      registers,
    }),
    outputAcked: new Counter({
      name: `${p}output_acked_rows_total`,
      help: 'Rows that left the output buffer acknowledged (after device-state coalescing)',
      registers,
    }),
    emitDelay: new Histogram({
      name: `${p}window_emit_delay_seconds`,
      help: 'Wall-clock time from a window end to the emission of that window revision',
      buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 900, 3600, 86_400],
      registers,
    }),
    checkpointDuration: new Histogram({
      name: `${p}checkpoint_duration_seconds`,
      help: 'One checkpoint transaction of a partition: outputs, changelog record, offsets, commit',
      labelNames: ['reason'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    produceDuration: new Histogram({
      name: `${p}produce_duration_seconds`,
      help: 'The produce part of one checkpoint transaction: outputs and checkpoint record sent (acks=all)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers,
    }),
    checkpoints: new Counter({
      name: `${p}checkpoints_total`,
      help: 'Partition checkpoint transactions committed (saved) or refused because a newer owner fenced the producer (fenced)',
      labelNames: ['result'],
      registers,
    }),
    pausedPartitions: new Gauge({
      name: `${p}paused_partitions`,
      help: 'Input partitions currently paused (backpressure or registry outage)',
      registers,
    }),
    pauses: new Counter({
      name: `${p}pauses_total`,
      help: 'Pause decisions, per reason',
      labelNames: ['reason'],
      registers,
    }),
    backoffAttempts: new Counter({
      name: `${p}backoff_attempts_total`,
      help: 'Retries after a retriable failure, per operation',
      labelNames: ['operation'],
      registers,
    }),
    stateBytes: new Gauge({
      name: `${p}state_bytes`,
      help: 'State held: the newest checkpoint record of every owned partition (gzipped JSON bytes)',
      registers,
    }),
    ownedPartitions: new Gauge({
      name: `${p}owned_partitions`,
      help: 'Input partitions whose state this member holds',
      registers,
    }),
    consumerRestarts: new Counter({
      name: `${p}consumer_restarts_total`,
      help: 'Consumer restarts by the watchdog or after a consumer crash',
      labelNames: ['reason'],
      registers,
    }),
    replaySkipped: new Counter({
      name: `${p}replay_skipped_total`,
      help: 'Fetched records already covered by the restored checkpoint, skipped',
      labelNames: ['topic'],
      registers,
    }),
    readModelPending: new Gauge({
      name: `${p}read_model_pending_devices`,
      help: 'Devices whose newest committed state waits to be written to the Redis read model',
      registers,
    }),
    readModelWrites: new Counter({
      name: `${p}read_model_writes_total`,
      help: 'Batched writes to the Redis read model: ok, or failed (Redis away or frozen; retried)',
      labelNames: ['result'],
      registers,
    }),
  };
}
