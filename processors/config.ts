/**
 * Options of `fleetgrid process` (the runner). Window and alert options belong to the
 * core and are validated by the core's own `parseCoreConfig`; this file validates what
 * the runner needs: consumer group, checkpoint cadence, output buffer bounds, backoff,
 * timers and the watchdog. Unknown keys are rejected so a typo never falls back to a default.
 */
import { z } from 'zod';
import { parseComponentConfig } from '../lib/config.ts';
import { parseDuration } from '../lib/duration.ts';

const ms = (fallback: number) => z.number().int().nonnegative().default(fallback);
const positive = (fallback: number) => z.number().int().positive().default(fallback);

export const processorConfigSchema = z.strictObject({
  /** The Kafka consumer group; prefixed with TOPIC_PREFIX so test stacks never share a group. */
  groupId: z.string().min(1).default('fleetgrid-processors'),
  /** Partitions per topic when this service creates missing topics at start. */
  partitions: positive(6),
  /** Window/alert options, passed to processors/core parseCoreConfig (validated there). */
  core: z.record(z.string(), z.unknown()).default({}),
  /** How often every owned partition's state and next offset are written to Redis. */
  checkpointIntervalMs: positive(5_000),
  /** How often `core.onTimer(now)` runs: idle close of windows and stream-time timers. */
  timerIntervalMs: positive(1_000),
  /** Output buffer bounds: above either high-water mark the input partitions pause. */
  highWaterRows: positive(20_000),
  highWaterBytes: positive(16 * 1024 * 1024),
  /** Consumption resumes when both rows and bytes fall below this fraction of the high marks. */
  lowWaterRatio: z.number().gt(0).lt(1).default(0.5),
  /** Most records in one produce request (sendBatch) and how long records may wait for company. */
  maxSendRows: positive(5_000),
  /** Most bytes in one produce request: below the broker's message.max.bytes (1 MiB by default). */
  maxSendBytes: positive(512 * 1024),
  lingerMs: ms(20),
  /**
   * Device states coalesce this long (latest per device) before they are sent: the
   * compacted topic only keeps the newest anyway, and at thousands of events per device
   * and minute this cuts the output volume by an order of magnitude.
   */
  stateFlushIntervalMs: positive(1_000),
  /** Full-jitter backoff for produce, Redis and registry retries (lib/retry). */
  backoffBaseMs: positive(100),
  backoffCapMs: positive(10_000),
  /** A consumer that has neither fetched nor processed for this long is restarted. */
  watchdogTimeoutMs: positive(120_000),
  /** Kafka group membership; tests shorten these so a kill -9 is noticed quickly. */
  sessionTimeoutMs: positive(30_000),
  heartbeatIntervalMs: positive(3_000),
  rebalanceTimeoutMs: positive(60_000),
  maxBytesPerPartition: positive(1_048_576),
  /** Port of /metrics; 0 picks a free one, null serves none. */
  metricsPort: z.number().int().min(0).max(65_535).nullable().default(null),
  /** Redis key namespace of checkpoints and device-state hashes. */
  redisKeyPrefix: z.string().default('fleetgrid'),
});

export type ProcessorConfig = z.output<typeof processorConfigSchema>;
export type ProcessorConfigInput = z.input<typeof processorConfigSchema>;

export function parseProcessorConfig(input: unknown): ProcessorConfig {
  return parseComponentConfig('processor', processorConfigSchema, input);
}

// Re-exported: callers of this component's config read durations with the shared parser.
export { parseDuration };
