/**
 * What the load test watches while the load runs: consumer lag per group (Kafka admin),
 * backpressure counters (the services' /metrics), CPU and RSS per process (/proc), and
 * what is visible in ClickHouse (freshness histograms, stored counts for reconciliation).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { KafkaAdmin } from '../lib/kafka.ts';
import type { TopicNames } from '../lib/topics.ts';
import type { ClickHouseBackend } from '../sinks/backend.ts';
import {
  backpressureOf,
  meanInsertMs,
  parsePrometheusText,
  parseProcStat,
  parseProcStatusRss,
} from './probes.ts';
import { RAW_TABLES, type StoredTally } from './reconcile.ts';
import { addToHistogram, type Histogram, latencyBucketSql } from './stats.ts';

// ---------------------------------------------------------------------------------------
// Consumer lag

export interface WatchedGroup {
  groupId: string;
  /** The topics the group consumes; lag counts only these. */
  topics: string[];
  /**
   * For a group named with --group, whose topics are not known: count only the topics it
   * has committed on (a topic it does not read would otherwise count as all backlog).
   */
  committedTopicsOnly?: boolean;
}

/** The groups of a pipeline on `prefix`: processors (raw topics) and the sink (everything). */
export function pipelineGroups(topics: TopicNames, prefix: string, sinkGroupId: string): WatchedGroup[] {
  return [
    { groupId: `${prefix}fleetgrid-processors`, topics: [topics.truck, topics.turbine, topics.solar] },
    { groupId: sinkGroupId, topics: Object.values(topics) },
  ];
}

/**
 * Records behind per group: high watermark minus committed offset, summed over the
 * group's partitions; a partition with no commit yet counts from its low watermark (the
 * services read from the beginning), so a group that has not committed shows its whole
 * backlog rather than none.
 */
export async function sampleLag(
  admin: KafkaAdmin,
  groups: readonly WatchedGroup[],
): Promise<Record<string, number>> {
  const topicSet = [...new Set(groups.flatMap((g) => g.topics))];
  const ends = new Map<string, Map<number, { high: number; low: number }>>();
  await Promise.all(
    topicSet.map(async (topic) => {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends.set(
        topic,
        new Map(offsets.map((o) => [o.partition, { high: Number(o.high), low: Number(o.low) }])),
      );
    }),
  );
  const out: Record<string, number> = {};
  await Promise.all(
    groups.map(async (group) => {
      const committed = await admin.fetchOffsets({ groupId: group.groupId, topics: group.topics });
      let lag = 0;
      for (const topic of committed) {
        if (group.committedTopicsOnly && !topic.partitions.some((p) => Number(p.offset) >= 0)) continue;
        const topicEnds = ends.get(topic.topic);
        for (const p of topic.partitions) {
          const end = topicEnds?.get(p.partition);
          if (!end) continue;
          const offset = Number(p.offset);
          lag += Math.max(0, end.high - (offset >= 0 ? offset : end.low));
        }
      }
      out[group.groupId] = lag;
    }),
  );
  return out;
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
          if (previous && nowMs > previous.atMs)
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

const RAW_TABLE_NAMES = [...new Set(Object.values(RAW_TABLES).map((t) => t.table))];

/** Only run-tag characters that are literal in SQL LIKE and string literals. */
export function assertRunTag(tag: string): string {
  if (!/^[a-z0-9]+$/.test(tag)) throw new Error(`run tag must be [a-z0-9]+: ${tag}`);
  return tag;
}

const ms = (column: string) => `toUnixTimestamp64Milli(${column})`;

/** Per second of event time (relative to `startMs`): the latency histogram and the count. */
export type SecondHistograms = Map<number, Histogram>;

async function histogramQuery(backend: ClickHouseBackend, sql: string): Promise<SecondHistograms> {
  const rows = await backend.query<{ s: number | string; b: number | string; n: number | string }>(sql);
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
export function rawFreshness(
  backend: ClickHouseBackend,
  runTag: string,
  startMs: number,
  fromMs: number,
  toMs: number,
): Promise<SecondHistograms> {
  const tag = assertRunTag(runTag);
  const parts = RAW_TABLE_NAMES.map(
    (table) =>
      `SELECT intDiv(${ms('ts')} - ${Math.floor(startMs)}, 1000) AS s, ${latencyBucketSql(`${ms('ingested_at')} - ${ms('ts')}`)} AS b, count() AS n FROM ${table} WHERE device_id LIKE '${tag}-%' AND ${ms('ts')} >= ${Math.floor(fromMs)} AND ${ms('ts')} < ${Math.floor(toMs)} GROUP BY s, b`,
  );
  return histogramQuery(
    backend,
    `SELECT s, b, sum(n) AS n FROM (${parts.join(' UNION ALL ')}) GROUP BY s, b`,
  );
}

/**
 * Aggregate freshness: `ingested_at − (window_end + grace)` for the first revision of each
 * window that stream time closed during the load (window end + grace before `closedByMs`);
 * windows closed later by the idle timer measure the timer, not the pipeline.
 */
export function aggregateFreshness(
  backend: ClickHouseBackend,
  runTag: string,
  startMs: number,
  graceMs: number,
  closedByMs: number,
): Promise<SecondHistograms> {
  const tag = assertRunTag(runTag);
  const due = `(${ms('window_end')} + ${Math.floor(graceMs)})`;
  return histogramQuery(
    backend,
    `SELECT intDiv(${ms('window_end')} - ${Math.floor(startMs)}, 1000) AS s, ${latencyBucketSql(`${ms('ingested_at')} - ${due}`)} AS b, count() AS n FROM aggregates_1m WHERE device_id LIKE '${tag}-%' AND revision = 0 AND ${due} <= ${Math.floor(closedByMs)} GROUP BY s, b`,
  );
}

/** Stored rows, distinct ids, the sink's dead letters and per-device seq ranges of the run. */
export async function storedTally(
  backend: ClickHouseBackend,
  runTag: string,
  topics: TopicNames,
  sinkStage: string,
): Promise<StoredTally> {
  const tag = assertRunTag(runTag);
  const tables: StoredTally['tables'] = {};
  for (const table of RAW_TABLE_NAMES) {
    const [row] = await backend.query<{ rows: string | number; distinct: string | number }>(
      `SELECT count() AS rows, uniqExact(event_id) AS distinct FROM ${table} WHERE device_id LIKE '${tag}-%'`,
    );
    tables[table] = { rows: Number(row?.rows ?? 0), distinct: Number(row?.distinct ?? 0) };
  }
  const kindOfTopic = new Map<string, 'truck' | 'turbine' | 'solar'>([
    [topics.truck, 'truck'],
    [topics.turbine, 'turbine'],
    [topics.solar, 'solar'],
  ]);
  const deadLettered: StoredTally['deadLettered'] = {};
  const dead = await backend.query<{ source_topic: string; n: string | number }>(
    `SELECT source_topic, uniqExact(source_topic, source_partition, source_offset) AS n FROM dead_letters WHERE key LIKE '${tag}-%' AND stage = '${sinkStage.replace(/'/g, '')}' GROUP BY source_topic`,
  );
  for (const row of dead) {
    const kind = kindOfTopic.get(row.source_topic);
    if (kind) deadLettered[kind] = (deadLettered[kind] ?? 0) + Number(row.n);
  }
  const union = RAW_TABLE_NAMES.map(
    (table) => `SELECT device_id, event_id, seq FROM ${table} WHERE device_id LIKE '${tag}-%'`,
  ).join(' UNION ALL ');
  const devices = await backend.query<{
    device_id: string;
    n: string | number;
    lo: string | number;
    hi: string | number;
  }>(
    `SELECT device_id, uniqExact(event_id) AS n, min(seq) AS lo, max(seq) AS hi FROM (${union}) GROUP BY device_id`,
  );
  const byDevice = new Map(
    devices.map((d) => [d.device_id, { count: Number(d.n), minSeq: Number(d.lo), maxSeq: Number(d.hi) }]),
  );
  return { tables, deadLettered, byDevice };
}

/** Rows of the run visible so far in the raw tables (a cheap progress figure). */
export async function storedRawCount(backend: ClickHouseBackend, runTag: string): Promise<number> {
  const tag = assertRunTag(runTag);
  const parts = RAW_TABLE_NAMES.map(
    (table) => `SELECT count() AS n FROM ${table} WHERE device_id LIKE '${tag}-%'`,
  );
  const [row] = await backend.query<{ n: string | number }>(
    `SELECT sum(n) AS n FROM (${parts.join(' UNION ALL ')})`,
  );
  return Number(row?.n ?? 0);
}
