/**
 * Pipeline health, pure parts: consumer lag from committed offsets and high watermarks,
 * freshness from the newest stored event times, and the backpressure state read off the
 * services' own /metrics (Prometheus text). The I/O (Kafka admin, HTTP, ClickHouse) is in
 * server.ts; everything that decides a number is here and unit-tested.
 */

// Consumer lag and the Prometheus text parser are the runtime's (lib/stream), shared with the load test.
export { computeLag, type GroupLag, type PartitionLag } from '../lib/stream/index.ts';
export { type MetricSample as Sample, parsePrometheusText } from '../lib/stream/index.ts';

import { hasMetric as has, type MetricSample as Sample, sumMetric as total } from '../lib/stream/index.ts';

export interface FreshnessRow {
  source: string;
  newest_ms: unknown;
  rows: unknown;
}

export interface Freshness {
  /** Newest event time in any raw table, ISO; null when the tables are empty. */
  newestEvent: string | null;
  /** now - newestEvent in seconds (the freshness fitness function); null when empty. */
  seconds: number | null;
  /** Per table: newest time and row count, to tell a stalled stage from an idle fleet. */
  sources: { source: string; newest: string | null; seconds: number | null; rows: number }[];
}

export function computeFreshness(
  rows: readonly FreshnessRow[],
  now: number,
  rawTables: readonly string[],
): Freshness {
  const sources = rows.map((row) => {
    const rowsCount = Number(row.rows);
    const ms = Number(row.newest_ms);
    // max() of an empty table is the epoch: no data, not 56 years of staleness.
    const newest = rowsCount > 0 && ms > 0 ? ms : null;
    return {
      source: String(row.source),
      newest: newest === null ? null : new Date(newest).toISOString(),
      seconds: newest === null ? null : Math.max(0, (now - newest) / 1000),
      rows: rowsCount,
    };
  });
  let newestRaw: number | null = null;
  for (const s of sources) {
    if (!rawTables.includes(s.source) || s.newest === null) continue;
    const ms = Date.parse(s.newest);
    if (newestRaw === null || ms > newestRaw) newestRaw = ms;
  }
  return {
    newestEvent: newestRaw === null ? null : new Date(newestRaw).toISOString(),
    seconds: newestRaw === null ? null : Math.max(0, (now - newestRaw) / 1000),
    sources,
  };
}

export interface ServiceBackpressure {
  service: string;
  /** Partitions paused right now because a bounded buffer is full. */
  pausedPartitions: number | null;
  /** Rows held in bounded buffers (in flight between input and acknowledged output). */
  bufferedRows: number | null;
  /** Pauses since the service started. */
  pauses: number | null;
  state: 'flowing' | 'paused' | 'unknown';
}

/**
 * Backpressure of one service from its metrics (docs/design.md §5 names). Processors export a
 * paused-partitions gauge; the sink exports pause/resume and buffered added/removed
 * counter pairs, whose differences are the current values; the simulator a gauge of
 * whether generation waits for the producer now, and its backlog of unacknowledged
 * records. Every one of these is exported from the start (0), so a service at rest is
 * "flowing", not "unknown"; unknown means the service exports none of them.
 */
export function backpressureOf(service: string, samples: readonly Sample[]): ServiceBackpressure {
  let paused: number | null = null;
  let buffered: number | null = null;
  let pauses: number | null = null;
  if (has(samples, 'fleetgrid_processor_paused_partitions')) {
    paused = total(samples, 'fleetgrid_processor_paused_partitions');
    pauses = total(samples, 'fleetgrid_processor_pauses_total');
    buffered =
      total(samples, 'fleetgrid_processor_output_buffered_rows_total') -
      total(samples, 'fleetgrid_processor_output_acked_rows_total');
  } else if (has(samples, 'fleetgrid_sink_partition_pauses_total')) {
    pauses = total(samples, 'fleetgrid_sink_partition_pauses_total');
    paused = pauses - total(samples, 'fleetgrid_sink_partition_resumes_total');
    buffered =
      total(samples, 'fleetgrid_sink_buffered_rows_added_total') -
      total(samples, 'fleetgrid_sink_buffered_rows_removed_total');
  } else if (has(samples, 'fleetgrid_producers_generation_paused')) {
    // One generator: paused (1) or not (0); its pauses are counted in seconds, not times.
    paused = total(samples, 'fleetgrid_producers_generation_paused');
    buffered = total(samples, 'fleetgrid_producers_backlog_messages');
  }
  return {
    service,
    pausedPartitions: paused,
    bufferedRows: buffered,
    pauses,
    state: paused === null ? 'unknown' : paused > 0 ? 'paused' : 'flowing',
  };
}

/** A service's /metrics URL as the health check fetches it, and as answers and logs show it. */
export interface MetricsTarget {
  /** Without credentials: fetch refuses a URL that carries them. */
  url: string;
  headers: Record<string, string>;
  /** Scheme, host and path only: no credentials, no query string (it may hold a token). */
  shown: string;
}

/**
 * Credentials in a metrics URL (`https://user:password@host/metrics`) become an
 * Authorization header; they never appear in an answer or a log line.
 */
export function metricsTarget(raw: string): MetricsTarget {
  const url = new URL(raw);
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { url: url.toString(), headers, shown: `${url.origin}${url.pathname}` };
}
