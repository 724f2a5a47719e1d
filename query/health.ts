/**
 * Pipeline health, pure parts: consumer lag from committed offsets and high watermarks,
 * freshness from the newest stored event times, and the backpressure state read off the
 * services' own /metrics (Prometheus text). The I/O (Kafka admin, HTTP, ClickHouse) is in
 * server.ts; everything that decides a number is here and unit-tested.
 */

export interface PartitionLag {
  topic: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number;
}

export interface GroupLag {
  groupId: string;
  /** Sum over partitions; a partition without a committed offset counts from its start offset. */
  lag: number;
  partitions: PartitionLag[];
  error?: string;
}

/**
 * Lag of one group. `committed` is what fetchOffsets reports ('-1' = none yet); `ends`
 * and `starts` what fetchTopicOffsets reports (high watermark, low watermark). With no
 * committed offset a group that reads from the beginning still has everything from the
 * low watermark ahead of it.
 */
export function computeLag(
  groupId: string,
  committed: { topic: string; partitions: { partition: number; offset: string }[] }[],
  watermarks: Map<string, { partition: number; high: string; low: string }[]>,
): GroupLag {
  const partitions: PartitionLag[] = [];
  for (const { topic, partitions: parts } of committed) {
    const marks = watermarks.get(topic) ?? [];
    for (const mark of marks) {
      const done = parts.find((p) => p.partition === mark.partition);
      const offset = done === undefined ? -1 : Number(done.offset);
      const end = Number(mark.high);
      const from = offset >= 0 ? offset : Number(mark.low);
      partitions.push({
        topic,
        partition: mark.partition,
        committed: offset >= 0 ? offset : null,
        end,
        lag: Math.max(0, end - from),
      });
    }
  }
  partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return { groupId, lag: partitions.reduce((sum, p) => sum + p.lag, 0), partitions };
}

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

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (the sample lines; comments skipped). */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split('\n')) {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = line.exec(trimmed);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(label))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1');
    const value = Number(m[3]);
    if (!Number.isNaN(value)) samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

const total = (samples: readonly Sample[], name: string) =>
  samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
const has = (samples: readonly Sample[], name: string) => samples.some((s) => s.name === name);

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
 * Backpressure of one service from its metrics (DESIGN §5 names). Processors export a
 * paused-partitions gauge; the sink exports pause/resume and buffered added/removed
 * counter pairs, whose differences are the current values.
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
  }
  return {
    service,
    pausedPartitions: paused,
    bufferedRows: buffered,
    pauses,
    state: paused === null ? 'unknown' : paused > 0 ? 'paused' : 'flowing',
  };
}
