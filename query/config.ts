/**
 * Options of the query side (`fleetgrid serve`), validated once (docs/design.md §5: strict,
 * defaults filled in). Connection settings for ClickHouse and Kafka come from the process
 * environment (lib/config.ts); these are the API's own knobs: where it listens, the
 * bearer token, timeouts and the caps that keep one request from scanning the world.
 */
import { z } from 'zod';
import { parseComponentConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { GROUPS } from '../lib/stream/index.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const millis = z.number().int().positive();

export const queryConfigSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(8080),
  /** When set, every /api request needs `Authorization: Bearer <token>` (env API_TOKEN). */
  apiToken: z.string().min(16, 'API_TOKEN must be at least 16 characters').optional(),
  /**
   * Needed by every request that changes data (the registry's PUT/POST/DELETE); without it
   * those are refused. Env API_WRITE_TOKEN or API_WRITE_TOKEN_FILE; must differ from apiToken.
   */
  apiWriteToken: z.string().min(16, 'API_WRITE_TOKEN must be at least 16 characters').optional(),
  /** Client-side limit of one ClickHouse statement; also sent as max_execution_time. */
  queryTimeoutMs: millis.default(10_000),
  /**
   * Consumer groups whose lag /pipeline/health reports (TOPIC_PREFIX is prepended, as the
   * services do). Defaults: the processors' and the sink's groups.
   */
  consumerGroups: z.array(z.string().min(1)).default([GROUPS.processors, GROUPS.sink]),
  /** Service /metrics URLs read for the backpressure state, e.g. {sink: 'http://127.0.0.1:9464/metrics'}. */
  metricsUrls: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), z.url()).default({}),
  /** Time limit of a health sub-check (Kafka admin, one /metrics fetch): health must answer even when a part is down. */
  healthCheckTimeoutMs: millis.default(2_000),
  /**
   * How often the freshness and consumer-lag gauges of /metrics are refreshed: a scrape
   * reads them from memory and costs no ClickHouse statement nor Kafka admin call.
   */
  metricsRefreshMs: millis.default(15_000),
  /** Processors' window math, needed to rebuild energyTodayKwh at asOf and to call a bucket final. */
  windowSizeMs: millis.default(60_000),
  sampleIntervalMs: millis.default(1_000),
  maxLatenessMs: millis.default(HOUR_MS),
  /** Caps of [from, to) per resolution; a wider range is a 400, not a slow query. */
  caps: z
    .strictObject({
      rawMs: millis.default(HOUR_MS),
      minuteMs: millis.default(7 * DAY_MS),
      hourMs: millis.default(92 * DAY_MS),
      dayMs: millis.default(3_660 * DAY_MS),
      /** Summary, site energy and alert listing. */
      reportMs: millis.default(92 * DAY_MS),
      /** Rows of one raw series answer (the rest is cut and `truncated: true`). */
      rawPoints: millis.default(10_000),
    })
    .prefault({}),
  /**
   * Settled-hour cache of summary and site energy (query/rollup.ts): at most this many
   * hours per report, each recomputed in the background after ttlMs.
   */
  rollupCache: z
    .strictObject({
      maxHours: z
        .number()
        .int()
        .positive()
        .default(24 * 93),
      ttlMs: millis.default(5 * 60_000),
      /** Unsettled (recent) hours of the summary: how far the summary may trail the tables. */
      recentTtlMs: millis.default(10_000),
    })
    .prefault({}),
  /** Static files of the built-in dashboard, served at `/` (the dashboards engineer's folder). */
  dashboardDir: z.string().optional(),
  /**
   * Origins the dashboard may load map tiles from (`/?tiles=https://…/{z}/{x}/{y}.png`): the
   * Content-Security-Policy allows images from these only (default: none, no third party).
   */
  tileOrigins: z
    .array(
      z
        .url({ protocol: /^https$/, error: 'a tile origin is an https URL' })
        .transform((url) => new URL(url).origin),
    )
    .default([]),
});

export type QueryConfig = z.output<typeof queryConfigSchema>;
export type QueryConfigInput = z.input<typeof queryConfigSchema>;
export type QueryCaps = QueryConfig['caps'];

export function parseQueryConfig(input: unknown = {}): QueryConfig {
  const config = parseComponentConfig('query', queryConfigSchema, input);
  if (config.apiWriteToken !== undefined && config.apiWriteToken === config.apiToken)
    throw new FleetgridError(
      'CONFIG_INVALID',
      'invalid query config: API_WRITE_TOKEN must differ from API_TOKEN',
    );
  return config;
}
