/**
 * Memory of the pipeline's services while a load test runs (issue 12 item 8: "retention by
 * design or a leak" is decided from these series). At every sample and per service: the
 * resident set (VmRSS of /proc/<pid>/status) and the V8 heap (used and total, from the
 * service's /metrics, prom-client's default `nodejs_heap_size_*_bytes` with the project's
 * `fleetgrid_` prefix). The pid is read at each sample, so a service restarted by a fault
 * is followed under its new pid (its series shows the drop and the climb again).
 *
 * The parsers are the project's own (probes.ts: /proc and the one Prometheus text parser);
 * the figures and summaries are pure, the sampler is the only part that reads.
 */
import { readFileSync } from 'node:fs';
import {
  hasMetric,
  type MetricSample,
  parsePrometheusText,
  parseProcStatusRss,
  sumMetric,
} from './probes.ts';

const MIB = 1_048_576;

/** prom-client's default heap gauges, as the services export them (lib/metrics.ts prefixes `fleetgrid_`). */
export const HEAP_USED_METRICS = ['fleetgrid_nodejs_heap_size_used_bytes', 'nodejs_heap_size_used_bytes'];
export const HEAP_TOTAL_METRICS = ['fleetgrid_nodejs_heap_size_total_bytes', 'nodejs_heap_size_total_bytes'];

export interface HeapFigures {
  usedBytes: number;
  totalBytes: number;
}

/** The heap gauges of one scrape, or undefined when the service does not export them. */
export function heapOf(samples: readonly MetricSample[]): HeapFigures | undefined {
  const used = HEAP_USED_METRICS.find((name) => hasMetric(samples, name));
  const total = HEAP_TOTAL_METRICS.find((name) => hasMetric(samples, name));
  if (!used || !total) return undefined;
  return { usedBytes: sumMetric(samples, used), totalBytes: sumMetric(samples, total) };
}

/** One sample of one service; a figure that could not be read is left out (a gap in the chart). */
export interface MemoryPoint {
  /** Seconds since the start of the load. */
  t: number;
  pid: number;
  rssMiB?: number;
  heapUsedMiB?: number;
  heapTotalMiB?: number;
}

export interface MemoryFigure {
  first: number;
  last: number;
  min: number;
  max: number;
}

export interface ServiceMemory {
  /** Every pid the service ran under, in order (more than one: it was restarted; 0: not known). */
  pids: number[];
  rssMiB: MemoryFigure | undefined;
  heapUsedMiB: MemoryFigure | undefined;
  heapTotalMiB: MemoryFigure | undefined;
  series: MemoryPoint[];
}

export interface MemoryReport {
  intervalMs: number;
  services: Record<string, ServiceMemory>;
}

/** first, last, min and max of the values present, in series order. */
export function memoryFigure(values: readonly (number | undefined)[]): MemoryFigure | undefined {
  const present = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (present.length === 0) return undefined;
  return {
    first: present[0] as number,
    last: present.at(-1) as number,
    min: Math.min(...present),
    max: Math.max(...present),
  };
}

/** The report section of one service, from its series. */
export function serviceMemory(series: readonly MemoryPoint[]): ServiceMemory {
  const pids: number[] = [];
  for (const point of series) if (pids.at(-1) !== point.pid) pids.push(point.pid);
  return {
    pids,
    rssMiB: memoryFigure(series.map((p) => p.rssMiB)),
    heapUsedMiB: memoryFigure(series.map((p) => p.heapUsedMiB)),
    heapTotalMiB: memoryFigure(series.map((p) => p.heapTotalMiB)),
    series: [...series],
  };
}

const mib = (value: number) => Math.round(value * 10) / 10;
const whole = (value: number) => Math.round(value).toLocaleString('en-US');

/**
 * One line for the end of a run: per service, RSS and heap used first → last (MiB), the
 * lowest heap used (after a GC: what is really retained), and restarts.
 */
export function memorySummaryLine(memory: MemoryReport): string {
  const parts = Object.entries(memory.services).map(([name, s]) => {
    const figures: string[] = [];
    if (s.rssMiB)
      figures.push(`RSS ${whole(s.rssMiB.first)}→${whole(s.rssMiB.last)} (max ${whole(s.rssMiB.max)})`);
    if (s.heapUsedMiB)
      figures.push(
        `heap used ${whole(s.heapUsedMiB.first)}→${whole(s.heapUsedMiB.last)} (min ${whole(s.heapUsedMiB.min)})`,
      );
    if (s.heapTotalMiB)
      figures.push(`heap total ${whole(s.heapTotalMiB.first)}→${whole(s.heapTotalMiB.last)}`);
    if (s.pids.length > 1) figures.push(`${s.pids.length - 1} restart${s.pids.length > 2 ? 's' : ''}`);
    return `${name} ${figures.length ? figures.join(', ') : 'no figures'}`;
  });
  return `memory (MiB, first→last): ${parts.length ? parts.join('; ') : 'no services sampled'}`;
}

// ---------------------------------------------------------------------------------------
// Sampling (reads /proc and /metrics)

/** A service to watch: its pid is read at every sample, so a restart is followed. */
export interface MemoryTarget {
  name: string;
  /** Its pid now; absent for a service of an external pipeline (heap from /metrics only). */
  pid?: () => number;
  /** Its /metrics (a started child); without it, `heap` or no heap figures. */
  metricsUrl?: string;
  /** The heap of a process read without /metrics (the load test's own). */
  heap?: () => HeapFigures | undefined;
}

export interface MemoryReader {
  /** /proc/<pid>/status as text; throws when the process is gone. */
  status(pid: number): string;
  /** The text of a /metrics URL. */
  metrics(url: string): Promise<string>;
}

const systemReader: MemoryReader = {
  status: (pid) => readFileSync(`/proc/${pid}/status`, 'utf8'),
  metrics: async (url) => {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return response.text();
  },
};

export interface MemorySampler {
  /** Samples every target once, at `t` seconds since the start of the load. */
  sample(t: number): Promise<void>;
  report(): MemoryReport;
}

export function createMemorySampler(
  targets: readonly MemoryTarget[],
  intervalMs: number,
  reader: MemoryReader = systemReader,
): MemorySampler {
  const series = new Map<string, MemoryPoint[]>(targets.map((target) => [target.name, []]));
  const sampleOne = async (target: MemoryTarget, t: number): Promise<void> => {
    const pid = target.pid?.() ?? 0;
    const point: MemoryPoint = { t: Math.round(t * 100) / 100, pid };
    try {
      const rss = pid > 0 ? parseProcStatusRss(reader.status(pid)) : undefined;
      if (rss !== undefined) point.rssMiB = mib(rss / MIB);
    } catch {
      // gone (killed, not restarted yet): no RSS this time
    }
    let heap: HeapFigures | undefined;
    try {
      heap = target.metricsUrl
        ? heapOf(parsePrometheusText(await reader.metrics(target.metricsUrl)))
        : target.heap?.();
    } catch {
      // busy or restarting: a gap in the heap series, not a zero
    }
    if (heap) {
      point.heapUsedMiB = mib(heap.usedBytes / MIB);
      point.heapTotalMiB = mib(heap.totalBytes / MIB);
    }
    if (point.rssMiB !== undefined || point.heapUsedMiB !== undefined) series.get(target.name)?.push(point);
  };
  return {
    async sample(t) {
      await Promise.all(targets.map((target) => sampleOne(target, t)));
    },
    report() {
      return {
        intervalMs,
        services: Object.fromEntries([...series].map(([name, points]) => [name, serviceMemory(points)])),
      };
    },
  };
}
