/**
 * Options of the ClickHouse sink (docs/design.md §5: strict, defaults filled in). Connection
 * settings come from the process environment (lib/config.ts `clickhouse`); these are the
 * knobs of batching, backpressure and retention.
 */
import { z } from 'zod';
import { parseComponentConfig } from '../lib/config.ts';
import { GROUPS } from '../lib/stream/index.ts';
import type { BatchLimits } from './batch.ts';

const schema = z.strictObject({
  /** The full consumer group id; the service passes consumerGroupId(TOPIC_PREFIX, GROUPS.sink). */
  groupId: z.string().min(1).default(GROUPS.sink),
  /** Flush a partition's batch once it holds this many rows… */
  batchMaxRows: z.number().int().positive().default(50_000),
  /** …or this many bytes of JSON rows… */
  batchMaxBytes: z
    .number()
    .int()
    .positive()
    .default(32 * 1024 * 1024),
  /** …or when its oldest row waited this long. */
  lingerMs: z.number().int().positive().default(1_000),
  /**
   * …except that a batch of fewer than quietBatchRecords records waits until
   * quietLingerMs (default 5 × lingerMs): at a low rate the sink writes a partition every
   * few seconds rather than every second, which is most of its CPU at rest (docs/sinks.md
   * "Delivery: effectively once"). 1 turns it off.
   */
  quietLingerMs: z.number().int().positive().optional(),
  quietBatchRecords: z.number().int().positive().default(100),
  /** A partition is paused when its buffer holds this much (rows or bytes)… */
  highWaterRows: z.number().int().positive().default(100_000),
  highWaterBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  /** …and resumed once it is below this share of the high-water marks. */
  lowWaterRatio: z.number().gt(0).lt(1).default(0.5),
  /** Most bytes of one dead-letter produce request: below the broker's message.max.bytes. */
  maxRequestBytes: z
    .number()
    .int()
    .positive()
    .default(900 * 1024),
  /** On stop, how long buffered batches may take to be written and committed. */
  drainTimeoutMs: z.number().int().positive().default(30_000),
  retryBaseMs: z.number().int().positive().default(200),
  retryCapMs: z.number().int().positive().default(30_000),
  rawTtlDays: z.number().int().positive().default(30),
  aggregatesTtlDays: z.number().int().positive().default(400),
  /** Port of /metrics; 0 picks a free one, undefined serves none. */
  metricsPort: z.number().int().min(0).max(65_535).optional(),
  /** Embedded mode: port of the read-only query endpoint on 127.0.0.1 (see docs/sinks.md). */
  queryPort: z.number().int().min(0).max(65_535).default(8124),
  /** Bytes per partition per fetch: with the high-water marks, what bounds the memory. */
  fetchMaxBytesPerPartition: z.number().int().min(1024).default(1_048_576),
  /**
   * Kafka group session: how long a crashed sink holds its partitions before the group
   * hands them to another member.
   */
  sessionTimeoutMs: z.number().int().min(6_000).default(30_000),
  /** Read the topics from the beginning when the group has no committed offset. */
  fromBeginning: z.boolean().default(true),
  /**
   * The consumer group of the registry feed (sinks/dims-feed.ts: the CDC topics into the
   * dimension tables); the service passes consumerGroupId(TOPIC_PREFIX, GROUPS.sinkDims).
   * Without it the sink runs no feed: an embedding (a test, a load test) opts in, so two of
   * them never share an unprefixed group.
   */
  dimsGroupId: z.string().min(1).optional(),
  /**
   * Stored hourly rollups (sinks/rollups.ts): how often the sink rolls up newly settled
   * hours (0: never, e.g. a second sink of a cluster deployment), and the processors'
   * window size and max lateness that decide when an hour is settled (their defaults,
   * processors/core/config.ts; set them alike when the processors' differ).
   */
  rollupIntervalMs: z.number().int().min(0).default(60_000),
  windowSizeMs: z.number().int().positive().default(60_000),
  maxLatenessMs: z.number().int().positive().default(3_600_000),
});

export type SinkConfig = z.output<typeof schema>;

/** The batch limits of the sink's partition buffers (sinks/batch.ts). */
export function batchLimitsOf(config: SinkConfig): BatchLimits {
  return {
    maxRows: config.batchMaxRows,
    maxBytes: config.batchMaxBytes,
    lingerMs: config.lingerMs,
    quiet: {
      lingerMs: Math.max(config.lingerMs, config.quietLingerMs ?? 5 * config.lingerMs),
      belowRecords: config.quietBatchRecords,
    },
  };
}
export type SinkConfigInput = z.input<typeof schema>;

export function parseSinkConfig(input: unknown = {}): SinkConfig {
  return parseComponentConfig('sink', schema, input);
}

/** Migration placeholders filled from the config. */
export function migrationVariables(config: SinkConfig): Record<string, string> {
  return { RAW_TTL_DAYS: String(config.rawTtlDays), AGG_TTL_DAYS: String(config.aggregatesTtlDays) };
}
