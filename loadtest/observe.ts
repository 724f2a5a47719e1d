/**
 * What the load test watches while the load runs: consumer lag per group (Kafka admin),
 * backpressure counters (the services' /metrics), CPU and RSS per process (/proc), and
 * what is visible in ClickHouse (freshness histograms, stored counts for reconciliation).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { KafkaAdmin } from '../lib/kafka/index.ts';
import {
  fetchGroupLag,
  type WatchedGroup,
  pipelineGroupIds,
  parsePrometheusText,
} from '../lib/stream/index.ts';
import { RAW_TOPIC_KEYS, type TopicNames } from '../lib/topics.ts';
import type { QueryBackend } from '../clickhouse/index.ts';
import { backpressureOf, meanInsertMs, parseProcStat, parseProcStatusRss } from './probes.ts';
import type { StoredTally } from './reconcile.ts';
import type { AlertTransition, StoredDeviceState, WindowFigures } from './outputs.ts';
import { addToHistogram, type Histogram } from './stats.ts';

// ---------------------------------------------------------------------------------------
// Consumer lag

export type { WatchedGroup };

/** The groups of the pipeline on `prefix`: processors (raw topics) and the sink (everything). */
export function pipelineGroups(topics: TopicNames, prefix: string): WatchedGroup[] {
  const ids = pipelineGroupIds(prefix);
  return [
    { groupId: ids.processors, topics: RAW_TOPIC_KEYS.map((key) => topics[key]) },
    { groupId: ids.sink, topics: Object.values(topics) },
  ];
}

/** Records behind per group (lib/stream/lag.ts); a group that cannot be read counts as 0 this sample. */
export async function sampleLag(
  admin: KafkaAdmin,
  groups: readonly WatchedGroup[],
): Promise<Record<string, number>> {
  const lags = await fetchGroupLag(admin, groups);
  const failed = lags.find((lag) => lag.error !== undefined);
  if (failed) throw new Error(`lag of ${failed.groupId}: ${failed.error}`);
  return Object.fromEntries(lags.map((lag) => [lag.groupId, lag.lag]));
}

// ---------------------------------------------------------------------------------------
// Backpressure from /metrics

export async function scrapeBackpressure(
  urls: readonly string[],
): Promise<{ pauses: number; paused: number; ok: number; failed: number }> {
  let pauses = 0;
  let paused = 0;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    urls.map(async (url) => {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const figures = backpressureOf(parsePrometheusText(await response.text()));
        pauses += figures.pauses;
        paused += figures.paused;
        ok++;
      } catch {
        // A service busy or gone for one scrape: the next scrape counts again (counters).
        failed++;
      }
    }),
  );
  return { pauses, paused, ok, failed };
}

/** The sink's mean insert time over the run (the first service that exports it). */
export async function scrapeMeanInsertMs(urls: readonly string[]): Promise<number | undefined> {
  for (const url of urls) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const mean = meanInsertMs(parsePrometheusText(await response.text()));
      if (mean !== undefined) return mean;
    } catch {
      // not reachable: try the next
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Processes: CPU and RSS

export interface WatchedProcess {
  name: string;
  pid: number;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** The local stack's processes (broker, registry, Redis), found by their command lines. */
export function findStackProcesses(): WatchedProcess[] {
  const wanted: [string, RegExp][] = [
    ['kafka', /kafka\.Kafka\b/],
    ['registry', /apicurio|quarkus-run\.jar/i],
    ['redis', /redis-server/],
  ];
  const out: WatchedProcess[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out; // not Linux: no process figures
  }
  for (const entry of entries) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    for (const [name, pattern] of wanted)
      if (pattern.test(cmdline) && !out.some((p) => p.name === name)) out.push({ name, pid: Number(entry) });
  }
  return out;
}

export interface ProcessSampler {
  /** CPU % of one core since the previous sample, and RSS in MiB, per process name. */
  sample(nowMs: number): { cpuPct: Record<string, number>; rssMiB: Record<string, number> };
}

export function createProcessSampler(processes: readonly WatchedProcess[]): ProcessSampler {
  const last = new Map<string, { cpuS: number; atMs: number }>();
  return {
    sample(nowMs) {
      const cpuPct: Record<string, number> = {};
      const rssMiB: Record<string, number> = {};
      for (const p of processes) {
        try {
          const stat = parseProcStat(readFileSync(`/proc/${p.pid}/stat`, 'utf8'), ticksPerSecond());
          const rss = parseProcStatusRss(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
          if (rss !== undefined) rssMiB[p.name] = rss / 1_048_576;
          if (!stat) continue;
          const previous = last.get(p.name);
          // A restarted child (a fault run) starts its CPU time again from zero.
          if (previous && nowMs > previous.atMs && stat.cpuS >= previous.cpuS)
            cpuPct[p.name] = ((stat.cpuS - previous.cpuS) / ((nowMs - previous.atMs) / 1_000)) * 100;
          last.set(p.name, { cpuS: stat.cpuS, atMs: nowMs });
        } catch {
          // The process ended: no figure for it from now on.
        }
      }
      return { cpuPct, rssMiB };
    },
  };
}

// ---------------------------------------------------------------------------------------
// ClickHouse

/** Only run-tag characters that are literal in SQL LIKE and string literals. */
export function assertRunTag(tag: string): string {
  if (!/^[a-z0-9]+$/.test(tag)) throw new Error(`run tag must be [a-z0-9]+: ${tag}`);
  return tag;
}

/** Per second of event time (relative to `startMs`): the latency histogram and the count. */
export type SecondHistograms = Map<number, Histogram>;

function histograms(rows: Record<string, unknown>[]): SecondHistograms {
  const out: SecondHistograms = new Map();
  for (const row of rows) {
    const second = Number(row.s);
    const h = out.get(second) ?? new Map<number, number>();
    out.set(second, h);
    addToHistogram(h, Number(row.b), Number(row.n));
  }
  return out;
}

/**
 * Raw freshness: `ingested_at − ts` per row (the producer stamps ts at send time; the
 * table sets ingested_at when the insert lands, i.e. when the row becomes visible), as a
 * histogram per second of event time in [fromMs, toMs).
 */
export async function rawFreshness(
  backend: QueryBackend,
  runTag: string,
  startMs: number,
  fromMs: number,
  toMs: number,
): Promise<SecondHistograms> {
  return histograms(
    await backend.run('runRawFreshness', {
      runTag: assertRunTag(runTag),
      startMs: Math.floor(startMs),
      fromMs: Math.floor(fromMs),
      toMs: Math.floor(toMs),
    }),
  );
}

/**
 * Aggregate freshness: `ingested_at − (window_end + grace)` for the first revision of each
 * window that stream time closed during the load (window end + grace before `closedByMs`);
 * windows closed later by the idle timer measure the timer, not the pipeline.
 */
export async function aggregateFreshness(
  backend: QueryBackend,
  runTag: string,
  startMs: number,
  graceMs: number,
  closedByMs: number,
): Promise<SecondHistograms> {
  return histograms(
    await backend.run('runAggregateFreshness', {
      runTag: assertRunTag(runTag),
      startMs: Math.floor(startMs),
      graceMs: Math.floor(graceMs),
      closedByMs: Math.floor(closedByMs),
    }),
  );
}

/** Stored rows, distinct ids, the sink's dead letters and per-device seq ranges of the run. */
export async function storedTally(
  backend: QueryBackend,
  runTag: string,
  topics: TopicNames,
  sinkStage: string,
): Promise<StoredTally> {
  const tag = assertRunTag(runTag);
  const tables: StoredTally['tables'] = {};
  for (const row of await backend.run('runTableTally', { runTag: tag })) {
    tables[String(row.table)] = { rows: Number(row.rows ?? 0), distinct: Number(row.distinct ?? 0) };
  }
  const kindOfTopic = new Map<string, 'truck' | 'turbine' | 'solar'>([
    [topics.truck, 'truck'],
    [topics.turbine, 'turbine'],
    [topics.solar, 'solar'],
  ]);
  const deadLettered: StoredTally['deadLettered'] = {};
  for (const row of await backend.run('runDeadLetters', { runTag: tag, stage: sinkStage })) {
    const kind = kindOfTopic.get(String(row.source_topic));
    if (kind) deadLettered[kind] = (deadLettered[kind] ?? 0) + Number(row.n);
  }
  const devices = await backend.run('runDeviceSeqRanges', { runTag: tag });
  const byDevice = new Map(
    devices.map((d) => [
      String(d.device_id),
      { count: Number(d.n), minSeq: Number(d.lo), maxSeq: Number(d.hi) },
    ]),
  );
  return { tables, deadLettered, byDevice };
}

/** Map columns arrive as JSON objects; UInt64 values as strings. */
function numberMap(value: unknown): Record<string, number> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, Number(v)]));
}

/** The run's derived outputs as stored: windows (FINAL), alert transitions, device states. */
export async function storedOutputs(
  backend: QueryBackend,
  runTag: string,
): Promise<{ windows: WindowFigures[]; alerts: AlertTransition[]; states: StoredDeviceState[] }> {
  const tag = assertRunTag(runTag);
  const windows = (await backend.run('runWindows', { runTag: tag })).map((row): WindowFigures => {
    const count = numberMap(row.field_count);
    const min = numberMap(row.field_min);
    const max = numberMap(row.field_max);
    const sum = numberMap(row.field_sum);
    return {
      deviceId: String(row.device_id),
      windowStart: Number(row.window_start),
      count: Number(row.event_count),
      fields: Object.fromEntries(
        Object.keys(count).map((name) => [
          name,
          {
            count: count[name] ?? 0,
            min: min[name] ?? Number.NaN,
            max: max[name] ?? Number.NaN,
            sum: sum[name] ?? Number.NaN,
          },
        ]),
      ),
    };
  });
  const alerts = (await backend.run('runAlertTransitions', { runTag: tag })).map(
    (row): AlertTransition => ({
      alertId: String(row.alert_id),
      rule: String(row.rule),
      deviceId: String(row.device_id),
      state: row.state === 'RESOLVED' ? 'RESOLVED' : 'RAISED',
      ts: Number(row.ts),
    }),
  );
  const states = (await backend.run('runDeviceStates', { runTag: tag })).map(
    (row): StoredDeviceState => ({
      deviceId: String(row.device_id),
      eventCount: Number(row.event_count),
      seq: Number(row.seq),
    }),
  );
  return { windows, alerts, states };
}

/** Rows of the run visible so far in the raw tables (a cheap progress figure). */
export async function storedRawCount(backend: QueryBackend, runTag: string): Promise<number> {
  const [row] = await backend.run('runRawCount', { runTag: assertRunTag(runTag) });
  return Number(row?.n ?? 0);
}
