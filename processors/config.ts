/**
 * Options of `fleetgrid process` (the runner). Window and alert options belong to the
 * core and are validated by the core's own `parseCoreConfig`; this file validates what
 * the runner needs: consumer group, checkpoint cadence, output buffer bounds, backoff,
 * timers and the watchdog. Unknown keys are rejected so a typo never falls back to a default.
 */
import { z } from 'zod';
import { parseComponentConfig } from '../lib/config.ts';
import { parseDuration } from '../lib/duration.ts';
import { UNKNOWN_DEVICE_POLICIES, type UnknownDevicePolicy } from './core/join.ts';

const positive = (fallback: number) => z.number().int().positive().default(fallback);

export const processorConfigSchema = z.strictObject({
  /** The Kafka consumer group; prefixed with TOPIC_PREFIX so test stacks never share a group. */
  groupId: z.string().min(1).default('fleetgrid-processors'),
  /** Partitions per topic when this service creates missing topics at start. */
  partitions: positive(6),
  /** Window/alert options, passed to processors/core parseCoreConfig (validated there). */
  core: z.record(z.string(), z.unknown()).default({}),
  /**
   * How often each owned partition commits its transaction: outputs since the last one,
   * its checkpoint record (changelog) and its input offset. Outputs become visible to
   * read_committed readers at the commit, so this is also the output latency's floor.
   */
  checkpointIntervalMs: positive(1_000),
  /**
   * A quiet partition's interval (runner/cadence.ts): at most `quietMaxRows` rows pending, at
   * most `quietMaxEvents` input events since its last commit, and no alert or dead letter. Its aggregates and device states may then lag this long;
   * set it to checkpointIntervalMs for the old cadence.
   */
  quietCheckpointIntervalMs: positive(5_000),
  quietMaxRows: positive(100),
  quietMaxEvents: positive(100),
  /** Kafka aborts a transaction left open this long (a member that died mid-commit). */
  transactionTimeoutMs: positive(60_000),
  /** max.message.bytes of the changelog topics: bounds one partition's gzipped snapshot. */
  changelogMaxMessageBytes: positive(16 * 1024 * 1024),
  /** A Redis read-model write unanswered this long counts as failed and is retried. */
  redisWriteTimeoutMs: positive(2_000),
  /** How often `core.onTimer(now)` runs: idle close of windows and stream-time timers. */
  timerIntervalMs: positive(1_000),
  /** Output buffer bounds: above either high-water mark the input partitions pause. */
  highWaterRows: positive(20_000),
  highWaterBytes: positive(16 * 1024 * 1024),
  /** Consumption resumes when both rows and bytes fall below this fraction of the high marks. */
  lowWaterRatio: z.number().gt(0).lt(1).default(0.5),
  /** Most records in one produce request inside a transaction; a partition with this many pending commits early. */
  maxSendRows: positive(5_000),
  /** Most bytes in one produce request: below the broker's message.max.bytes (1 MiB by default). */
  maxSendBytes: positive(512 * 1024),
  /** Full-jitter backoff for transaction, claim, Redis and registry retries (lib/retry). */
  backoffBaseMs: positive(100),
  backoffCapMs: positive(10_000),
  /** A consumer whose owned partitions had no successful fetch for this long is restarted. */
  watchdogTimeoutMs: positive(120_000),
  /** Kafka group membership; tests shorten these so a kill -9 is noticed quickly. */
  sessionTimeoutMs: positive(30_000),
  heartbeatIntervalMs: positive(3_000),
  rebalanceTimeoutMs: positive(60_000),
  maxBytesPerPartition: positive(1_048_576),
  /** On stop, how long the final transactions and read-model writes may wait for Kafka and Redis. */
  drainTimeoutMs: positive(30_000),
  /** Port of /metrics; 0 picks a free one, null serves none. */
  metricsPort: z.number().int().min(0).max(65_535).nullable().default(null),
  /** Redis key namespace of the device-state read model. */
  redisKeyPrefix: z.string().default('fleetgrid'),
  /**
   * The stream–table join (docs/registry.md "Stream–table join"): the process holds the
   * registry as a table from its CDC topics and the cores enrich, filter and alert with it.
   * Off: the cores run without a registry (every device accepted, built-in rules).
   */
  registryJoin: z.boolean().default(true),
  /** Telemetry of a device the registry does not know: dead-lettered UNKNOWN_DEVICE, or processed as it is. */
  unknownDevice: z
    .enum(UNKNOWN_DEVICE_POLICIES as readonly [UnknownDevicePolicy, ...UnknownDevicePolicy[]])
    .default('quarantine'),
  /** A registry change applies from its commit time + this much, in event time (the change point). */
  changeLeadMs: z.number().int().min(0).default(10_000),
  /**
   * At start, reading the registry topics up to their end offsets may take this long; at a
   * claim, so may waiting for the registry version a restored checkpoint was taken at.
   */
  registryRestoreTimeoutMs: positive(120_000),
});

export type ProcessorConfig = z.output<typeof processorConfigSchema>;
export type ProcessorConfigInput = z.input<typeof processorConfigSchema>;

export function parseProcessorConfig(input: unknown): ProcessorConfig {
  return parseComponentConfig('processor', processorConfigSchema, input);
}

// Re-exported: callers of this component's config read durations with the shared parser.
export { parseDuration };
