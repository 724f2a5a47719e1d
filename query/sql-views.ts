/**
 * SQL builders of the dashboard's drill-down pages (docs/query.md "Device pages"), pure,
 * with the rules of sql.ts: request values only as bound parameters, identifiers only from
 * the allow-lists. Tables and columns: docs/sinks.md.
 */
import type { DeviceKindSymbol } from '../schemas/types.ts';
import { RAW_TABLES, TELEMETRY_TABLE } from './catalog.ts';
import type { Step, TimeRange } from './params.ts';
import type { Statement } from './sql.ts';

const t = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`;
const IN_RANGE = `ts >= ${t('from')} AND ts < ${t('to')}`;

/**
 * The oldest and newest stored data (where a dashboard's range can start): raw events of
 * every raw table and the 1-minute windows, whose retention is longer than the raw
 * tables' (a week of windows may remain where raw samples are gone). min/max of a
 * partition key column and count() come from part metadata (the implicit min-max-count
 * projection), so no table is scanned; an empty table is left out.
 */
export function extentSql(): Statement {
  const parts = [
    ...RAW_TABLES.map(
      (table) =>
        `SELECT toUnixTimestamp64Milli(min(ts)) AS lo, toUnixTimestamp64Milli(max(ts)) AS hi, count() AS n FROM ${table}`,
    ),
    'SELECT toUnixTimestamp64Milli(min(window_start)) AS lo, toUnixTimestamp64Milli(max(window_start)) AS hi, count() AS n FROM aggregates_1m',
  ];
  return {
    sql: `SELECT min(lo) AS oldest_ms, max(hi) AS newest_ms, sum(n) AS rows FROM (${parts.join(' UNION ALL ')}) WHERE n > 0`,
    params: {},
  };
}

/** A truck's diagnostic reports in the range (raised and cleared codes), in event-time order. */
export function diagnosticsSql(deviceId: string, range: TimeRange, limit: number): Statement {
  return {
    sql: `SELECT toUnixTimestamp64Milli(ts) AS t, code, severity, description, active
FROM truck_diagnostics FINAL
WHERE device_id = {deviceId:String} AND ${IN_RANGE}
ORDER BY ts, seq
LIMIT {limit:UInt32}`,
    params: { deviceId, from: range.from, to: range.to, limit },
  };
}

/**
 * Where a turbine's or solar array's reported status changes: the samples whose status
 * differs from the previous sample's, or that follow a silence longer than `gapMs` (the
 * previous run ends at the last sample before it). Each row carries the previous sample's
 * time and the range's last sample time, so that views.ts statusRuns can close the runs.
 */
export function statusChangesSql(
  deviceId: string,
  kind: Exclude<DeviceKindSymbol, 'TRUCK'>,
  range: TimeRange,
  gapMs: number,
  limit: number,
): Statement {
  return {
    sql: `SELECT t, status, previous_t, last_t FROM (
  SELECT toUnixTimestamp64Milli(ts) AS t, toString(status) AS status,
    lagInFrame(toString(status), 1, '') OVER w AS previous,
    lagInFrame(toUnixTimestamp64Milli(ts), 1, 0) OVER w AS previous_t,
    max(toUnixTimestamp64Milli(ts)) OVER () AS last_t
  FROM ${TELEMETRY_TABLE[kind]} FINAL
  WHERE device_id = {deviceId:String} AND ${IN_RANGE}
  WINDOW w AS (ORDER BY ts, seq ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE status != previous OR t - previous_t > {gapMs:UInt32}
ORDER BY t
LIMIT {limit:UInt32}`,
    params: { deviceId, from: range.from, to: range.to, gapMs, limit },
  };
}

/**
 * A truck's positions in the range, at most one per `bucketMs` (the last of the bucket, so
 * every point lies on the driven track); track.ts simplifies them for the map's zoom.
 */
export function trackSql(deviceId: string, range: TimeRange, bucketMs: number, limit: number): Statement {
  return {
    sql: `SELECT max(toUnixTimestamp64Milli(ts)) AS t, argMax(lat, ts) AS lat, argMax(lon, ts) AS lon
FROM truck_telemetry FINAL
WHERE device_id = {deviceId:String} AND ${IN_RANGE}
GROUP BY intDiv(toUnixTimestamp64Milli(ts) - {from:Int64}, {bucketMs:UInt32})
ORDER BY t
LIMIT {limit:UInt32}`,
    params: { deviceId, from: range.from, to: range.to, bucketMs, limit },
  };
}

const BUCKET: Record<Exclude<Step, 'raw'>, string> = {
  '1m': 'toUnixTimestamp64Milli(window_start)',
  '1h': 'toUnixTimestamp(toStartOfHour(window_start)) * 1000',
  '1d': 'toUnixTimestamp(toStartOfDay(window_start)) * 1000',
};

/**
 * Per step, a power device's energy and the time it reported, from its 1-minute windows
 * (newest revision): energy (kWh), covered and available seconds, and for solar arrays the
 * plane-of-array irradiation (kWh/m²) = Σ window mean irradiance × covered seconds, the
 * same weighting as the window's energy (mean power × covered time), so the performance
 * ratio compares like with like (docs/query.md).
 */
export function performanceSql(deviceId: string, step: Exclude<Step, 'raw'>, range: TimeRange): Statement {
  return {
    sql: `SELECT ${BUCKET[step]} AS t,
  sum(derived['energyKwh']) AS energy_kwh,
  sum(derived['coveredSeconds']) AS covered_seconds,
  sum(derived['availableSeconds']) AS available_seconds,
  sum(if(field_count['irradianceWm2'] > 0, field_sum['irradianceWm2'] / field_count['irradianceWm2'], 0) * derived['coveredSeconds']) / 3600000 AS irradiation_kwh_m2,
  count() AS windows
FROM aggregates_1m FINAL
WHERE device_id = {deviceId:String} AND window_start >= ${t('from')} AND window_start < ${t('to')}
GROUP BY t
ORDER BY t`,
    params: { deviceId, from: range.from, to: range.to },
  };
}
