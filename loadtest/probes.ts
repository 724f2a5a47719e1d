/**
 * Parsers of what the load test observes from outside the pipeline (pure, unit-tested):
 * Prometheus text exposition (the services' /metrics), Linux /proc (CPU and RSS of each
 * process) and the summary line of Kafka's ProducerPerformance tool.
 */

// The Prometheus text parser is the runtime's (lib/stream/prometheus.ts), shared with the query side.
import { type MetricSample, sumMetric } from '../lib/stream/index.ts';

export { hasMetric, type MetricSample, parsePrometheusText, sumMetric } from '../lib/stream/index.ts';

/**
 * The backpressure figures the load test reads from each service: pause decisions
 * (counters) and the partitions paused right now (the processors export a gauge; the sink
 * a pair of counters, pauses − resumes, as docs/design.md §5 prefers for queues).
 */
export const PAUSE_COUNTERS = ['fleetgrid_processor_pauses_total', 'fleetgrid_sink_partition_pauses_total'];
export const PAUSED_GAUGES = ['fleetgrid_processor_paused_partitions'];
export const RESUME_COUNTERS: Record<string, string> = {
  fleetgrid_sink_partition_pauses_total: 'fleetgrid_sink_partition_resumes_total',
};

export function backpressureOf(samples: readonly MetricSample[]): { pauses: number; paused: number } {
  const pauses = PAUSE_COUNTERS.reduce((sum, name) => sum + sumMetric(samples, name), 0);
  let paused = PAUSED_GAUGES.reduce((sum, name) => sum + sumMetric(samples, name), 0);
  for (const [pauseName, resumeName] of Object.entries(RESUME_COUNTERS))
    paused += Math.max(0, sumMetric(samples, pauseName) - sumMetric(samples, resumeName));
  return { pauses, paused };
}

/**
 * CPU time (seconds, user + system) from /proc/<pid>/stat. The command name (field 2) may
 * hold spaces and parentheses, so fields are counted after its last ')'.
 */
export function parseProcStat(text: string, clockTicksPerS = 100): { cpuS: number } | undefined {
  const end = text.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = text.slice(end + 2).split(' ');
  // After the name: state(3) ppid(4) … utime(14) stime(15), i.e. indexes 11 and 12 here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { cpuS: (utime + stime) / clockTicksPerS };
}

/** Resident set size (bytes) from /proc/<pid>/status. */
export function parseProcStatusRss(text: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

export interface ProducerPerfSummary {
  records: number;
  recordsPerS: number;
  mbPerS: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number | undefined;
  p95Ms: number | undefined;
  p99Ms: number | undefined;
}

/**
 * The final summary of org.apache.kafka.tools.ProducerPerformance, e.g.
 * `100000 records sent, 45045.0 records/sec (43.99 MB/sec), 423.5 ms avg latency, 812.0 ms
 * max latency, 420 ms 50th, 700 ms 95th, 780 ms 99th, 810 ms 99.9th.` (the interim lines
 * lack the percentiles, so the last line with them wins).
 */
export function parseProducerPerformance(output: string): ProducerPerfSummary | undefined {
  const line = output
    .split('\n')
    .reverse()
    .find((l) => /records sent/.test(l) && /50th/.test(l));
  if (!line) return undefined;
  const num = (re: RegExp) => {
    const match = re.exec(line);
    return match ? Number(match[1]) : undefined;
  };
  const records = num(/^(\d+) records sent/);
  const recordsPerS = num(/([\d.]+) records\/sec/);
  if (records === undefined || recordsPerS === undefined) return undefined;
  return {
    records,
    recordsPerS,
    mbPerS: num(/\(([\d.]+) MB\/sec\)/) ?? 0,
    avgLatencyMs: num(/([\d.]+) ms avg latency/) ?? 0,
    maxLatencyMs: num(/([\d.]+) ms max latency/) ?? 0,
    p50Ms: num(/(\d+) ms 50th/),
    p95Ms: num(/(\d+) ms 95th/),
    p99Ms: num(/(\d+) ms 99th/),
  };
}

/**
 * Mean duration (ms) of the sink's ClickHouse inserts, from its histogram's _sum and
 * _count: `ingested_at` is stamped when an insert starts and rows become visible when it
 * ends, so this is the size of that bias in the raw freshness figures.
 */
export function meanInsertMs(samples: readonly MetricSample[]): number | undefined {
  const count = sumMetric(samples, 'fleetgrid_sink_insert_duration_seconds_count');
  if (count === 0) return undefined;
  return (sumMetric(samples, 'fleetgrid_sink_insert_duration_seconds_sum') / count) * 1_000;
}
