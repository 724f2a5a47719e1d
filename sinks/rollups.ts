/**
 * The stored hourly rollups (clickhouse/migrations/007_rollups.sql, docs/query.md "Stored
 * rollups"), kept by the process that writes the aggregates. A window is inserted once per
 * revision, so an hour is rolled up only once it is SETTLED: no window of it can be revised
 * any more. The processors refuse an event more than maxLateness behind their stream time,
 * so an hour is settled once the loaded data (its newest window, in event time) is past the
 * hour's end + a window + grace (≤ a window) + maxLateness + a margin for batching: the
 * same rule the query side applies to its cache (query/rollup.ts), here against the loaded
 * data's event time rather than the clock, so a sink that lags does not settle hours whose
 * windows it has not loaded yet.
 *
 * Each refresh:
 *  1. rolls the settled hours after `rollup_progress` (oldest window's hour on the first run)
 *     from `aggregates_1m FINAL`, in spans of at most a day, recording progress after each;
 *  2. re-rolls the hours of the last `recheckHours` before the progress mark whose windows
 *     were loaded after the hour was rolled (a partition that lagged behind the others, a
 *     replay): `ingested_at` of the windows against `rolled_at` of the rollup rows, both the
 *     server's clock. A later roll of an hour replaces the earlier (ReplacingMergeTree).
 * The planning is pure (planRollups, changedHours); refreshRollups does the I/O.
 */
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';

export const HOUR_MS = 3_600_000;
/** The rollup's name in rollup_progress. */
export const ROLLUP_1H = 'rollups_1h';

export interface Lateness {
  maxLatenessMs: number;
  windowSizeMs: number;
}

export interface TimeSpan {
  from: number;
  to: number;
}

/** Hours whose windows can no longer change at `now` (event time): those ending at or before this instant. */
export function settledBefore(now: number, lateness: Lateness): number {
  // Window end + grace (≤ one window) + maxLateness, and a margin for the sink's batching.
  const margin = 5 * 60_000;
  return Math.floor((now - lateness.maxLatenessMs - 2 * lateness.windowSizeMs - margin) / HOUR_MS) * HOUR_MS;
}

/**
 * Contiguous spans covering `hours` (any order), each at most `maxHours` long: one grouped
 * statement per span that stays well within the statement time limit.
 */
export function hourSpans(hours: readonly number[], maxHours = 24): TimeSpan[] {
  const spans: TimeSpan[] = [];
  for (const hour of [...hours].sort((a, b) => a - b)) {
    const last = spans.at(-1);
    if (last && last.to === hour && last.to - last.from < maxHours * HOUR_MS) last.to = hour + HOUR_MS;
    else spans.push({ from: hour, to: hour + HOUR_MS });
  }
  return spans;
}

/**
 * Hours to roll again: loaded after they were rolled (with `marginMs` for an insert that
 * began before the roll's snapshot and committed after it), or loaded and never rolled.
 */
export function changedHours(
  loaded: ReadonlyMap<number, number>,
  rolled: ReadonlyMap<number, number>,
  marginMs = 60_000,
): number[] {
  const out: number[] = [];
  for (const [hour, loadedAt] of loaded) {
    const rolledAt = rolled.get(hour);
    if (rolledAt === undefined || loadedAt > rolledAt - marginMs) out.push(hour);
  }
  return out.sort((a, b) => a - b);
}

export interface RollupPlan {
  /** New settled hours, ascending; progress moves to each span's end once it is written. */
  spans: TimeSpan[];
  /** Where the progress mark ends up. */
  settledUntil: number | null;
}

/** The new settled hours to roll, from the progress mark (or the oldest window's hour) to the settled instant. */
export function planRollups(input: {
  /** rollup_progress (null: never rolled). */
  progress: number | null;
  /** Oldest and newest window starts of aggregates_1m (null: empty). */
  oldestWindow: number | null;
  newestWindow: number | null;
  now: number;
  lateness: Lateness;
  maxSpanHours?: number;
}): RollupPlan {
  const { progress, oldestWindow, newestWindow } = input;
  if (oldestWindow === null || newestWindow === null) return { spans: [], settledUntil: progress };
  // The loaded data's event time; the clock bounds it (a window stamped in the future).
  const loadedUntil = Math.min(input.now, newestWindow + input.lateness.windowSizeMs);
  const target = settledBefore(loadedUntil, input.lateness);
  const start = progress ?? Math.floor(oldestWindow / HOUR_MS) * HOUR_MS;
  if (target <= start) return { spans: [], settledUntil: progress };
  const hours: number[] = [];
  for (let h = start; h < target; h += HOUR_MS) hours.push(h);
  return { spans: hourSpans(hours, input.maxSpanHours ?? 24), settledUntil: target };
}

const t = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`;

/**
 * The rollup rows of the windows starting in [from, to): newest revisions only (FINAL),
 * per hour, device, site and kind; the same formulas as the aggregates_1h view, and per
 * derived figure its count, min and max too (a derived figure is one value per window).
 * On a cluster the insert returns once every shard has its rows (insert_distributed_sync,
 * the older name of distributed_foreground_insert): only then is the progress recorded,
 * so no reader takes an hour from the rollups before its rows are there.
 */
export function rollHoursSql(span: TimeSpan): { sql: string; params: Record<string, number> } {
  return {
    sql: `INSERT INTO ${ROLLUP_1H} (bucket_start, device_id, site_id, kind, windows, max_revision, event_count,
  first_event_ts, last_event_ts, field_count, field_min, field_max, field_sum,
  derived_count, derived_min, derived_max, derived_sum, rolled_at)
SELECT toStartOfHour(window_start) AS bucket, device_id, site_id, kind, count(), max(revision), sum(event_count),
  min(first_event_ts), max(last_event_ts), sumMap(field_count), minMap(field_min), maxMap(field_max), sumMap(field_sum),
  sumMap(mapApply((k, v) -> (k, toUInt64(1)), derived)), minMap(derived), maxMap(derived), sumMap(derived), now64(3)
FROM aggregates_1m FINAL
WHERE window_start >= ${t('from')} AND window_start < ${t('to')}
GROUP BY bucket, device_id, site_id, kind
SETTINGS insert_distributed_sync = 1`,
    params: { from: span.from, to: span.to },
  };
}

export interface RollupReport {
  /** New hours rolled, and hours rolled again. */
  rolledHours: number;
  rerolledHours: number;
  /** The progress mark after the refresh (epoch ms; null: nothing rolled yet). */
  settledUntil: number | null;
}

const ms = (value: unknown): number | null =>
  value === null || value === undefined || value === '' ? null : Number(value);

/**
 * The progress mark: every hour before it is in rollups_1h (`until`; no row: never rolled).
 * The newest row counts; rows of one refresh share updated_at, and the furthest of them counts.
 * The query side reads it with the same statement (query/templates.ts `rollupProgress`).
 */
export function rollupProgressSql(): { sql: string; params: Record<string, never> } {
  return {
    sql: `SELECT toUnixTimestamp64Milli(argMax(settled_until, (updated_at, settled_until))) AS until, count() AS n
FROM rollup_progress WHERE rollup = '${ROLLUP_1H}'`,
    params: {},
  };
}

/** The progress mark of a rollupProgressSql row (null: never rolled). */
export function progressOf(row: Record<string, unknown> | undefined): number | null {
  return row && Number(row.n) > 0 ? ms(row.until) : null;
}

export async function rollupProgress(backend: ClickHouseBackend): Promise<number | null> {
  const [row] = await backend.query(rollupProgressSql().sql);
  return progressOf(row);
}

/** Hours of [from, to) whose windows were loaded after their rollup rows were written. */
async function hoursToReroll(backend: ClickHouseBackend, span: TimeSpan): Promise<number[]> {
  const params = { from: span.from, to: span.to };
  const [loaded, rolled] = await Promise.all([
    backend.query<{ hour: string; at: string }>(
      `SELECT toUnixTimestamp(toStartOfHour(window_start)) * 1000 AS hour, toUnixTimestamp64Milli(max(ingested_at)) AS at
FROM aggregates_1m WHERE window_start >= ${t('from')} AND window_start < ${t('to')} GROUP BY hour`,
      params,
    ),
    backend.query<{ hour: string; at: string }>(
      `SELECT toUnixTimestamp(bucket_start) * 1000 AS hour, toUnixTimestamp64Milli(max(rolled_at)) AS at
FROM ${ROLLUP_1H} WHERE bucket_start >= ${t('from')} AND bucket_start < ${t('to')} GROUP BY hour`,
      params,
    ),
  ]);
  const toMap = (rows: { hour: string; at: string }[]) =>
    new Map(rows.map((r) => [Number(r.hour), Number(r.at)] as const));
  return changedHours(toMap(loaded), toMap(rolled));
}

/**
 * Brings the rollups up to date (see the file comment). Idempotent: a refresh interrupted
 * after a span's rows and before its progress row rolls that span again, and the newer
 * roll replaces the rows. `now` is the caller's clock (epoch ms).
 */
export async function refreshRollups(
  backend: ClickHouseBackend,
  options: Lateness & { now: number; recheckHours?: number; maxSpanHours?: number },
): Promise<RollupReport> {
  const progress = await rollupProgress(backend);
  const [bounds] = await backend.query<{ oldest: string; newest: string; n: string }>(
    'SELECT toUnixTimestamp64Milli(min(window_start)) AS oldest, toUnixTimestamp64Milli(max(window_start)) AS newest, count() AS n FROM aggregates_1m',
  );
  const empty = !bounds || Number(bounds.n) === 0;
  const recheck = (options.recheckHours ?? 24) * HOUR_MS;
  // Re-rolls first: they are older than anything the new spans hold.
  const reroll =
    progress === null ? [] : await hoursToReroll(backend, { from: progress - recheck, to: progress });
  for (const span of hourSpans(reroll, options.maxSpanHours ?? 24)) {
    const statement = rollHoursSql(span);
    await backend.exec(statement.sql, statement.params);
  }
  const plan = planRollups({
    progress,
    oldestWindow: empty ? null : ms(bounds.oldest),
    newestWindow: empty ? null : ms(bounds.newest),
    now: options.now,
    lateness: options,
    ...(options.maxSpanHours === undefined ? {} : { maxSpanHours: options.maxSpanHours }),
  });
  let rolledHours = 0;
  for (const span of plan.spans) {
    const statement = rollHoursSql(span);
    await backend.exec(statement.sql, statement.params);
    await backend.insert('rollup_progress', [
      { rollup: ROLLUP_1H, settled_until: span.to, updated_at: options.now },
    ]);
    rolledHours += (span.to - span.from) / HOUR_MS;
  }
  return { rolledHours, rerolledHours: reroll.length, settledUntil: plan.settledUntil };
}

/**
 * Refreshes the rollups every `intervalMs` until stopped: one refresh at a time, a failed
 * one logged and tried again at the next tick (it is idempotent, and the query side reads
 * the windows for whatever the rollups do not hold yet).
 */
export function startRollupKeeper(options: {
  backend: ClickHouseBackend;
  intervalMs: number;
  lateness: Lateness;
  clock: Clock;
  log: Logger;
}): { stop(): Promise<void> } {
  const { backend, clock, log } = options;
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const report = await refreshRollups(backend, { ...options.lateness, now: clock.now() });
        if (report.rolledHours > 0 || report.rerolledHours > 0) log.info({ ...report }, 'rollups refreshed');
      } catch (error) {
        if (!stopping.signal.aborted)
          log.warn({ err: error }, 'rollup refresh failed; retried at the next tick');
      }
      await clock.sleep(options.intervalMs, stopping.signal).catch(() => undefined);
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
