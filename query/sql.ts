/**
 * SQL builders, pure: each returns `{sql, params}`. Every value from a request travels as
 * a bound parameter (`{name:Type}`); the only text spliced into SQL are identifiers and
 * expressions picked from the allow-lists of catalog.ts and the fixed maps below, and
 * integers from our own validated config. Times are bound as epoch milliseconds (Int64)
 * and converted in SQL, so no date string is ever parsed by ClickHouse from a request.
 * Tables and columns: docs/sinks.md.
 */
import { FleetgridError } from '../lib/errors.ts';
import type { DeviceKindSymbol } from '../schemas/types.ts';
import { latencyBucketSql } from '../loadtest/stats.ts';
import type { TableName } from '../sinks/rows.ts';
import { type MetricInfo, RAW_TABLES, TELEMETRY_TABLE } from './catalog.ts';
import type { Step, TimeRange } from './params.ts';

export interface Statement {
  sql: string;
  params: Record<string, unknown>;
}

const t = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`;

function rangeParams(range: TimeRange): Record<string, number> {
  return { from: range.from, to: range.to };
}

/** Columns of device_state, in the order the API shows them. */
const STATE_COLUMNS = `device_id, site_id, kind, model, driver_id, toUnixTimestamp64Milli(last_seen) AS last_seen_ms, last_event_id,
  seq, event_count, lat, lon, speed_kmh, heading_deg, engine_on, engine_temp_c, fuel_pct, odometer_km,
  cargo_temp_c, active_diagnostic_codes, status, power_kw, wind_speed_ms, ac_power_w, irradiance_wm2,
  energy_today_kwh, open_alerts`;

/**
 * Where the fleet-wide reports read windows: the 1-minute windows themselves (newest
 * revisions, FINAL), or the stored hourly rollups of settled hours (sinks/rollups.ts,
 * docs/query.md "Stored rollups"), whose rows are per hour, device, site and kind and
 * carry each derived figure's sum. The formulas are the same over both: sums of sums.
 */
export type WindowSource = 'windows' | 'rollups';

const SOURCE: Record<WindowSource, { from: string; time: string; derivedSum: string }> = {
  windows: { from: 'aggregates_1m FINAL', time: 'window_start', derivedSum: 'derived' },
  rollups: { from: 'rollups_1h FINAL', time: 'bucket_start', derivedSum: 'derived_sum' },
};

/**
 * Per kind and site (and per hour or per minute, as `bucket`), the additive figures of the summary over the
 * 1-minute windows starting in [from, to), newest revisions only (FINAL) or their stored
 * hourly rollups (`source`), with the set of
 * devices seen so that "active devices" stays exact when hours are merged (rollup.ts).
 * Formulas: docs/query.md.
 */
export function summaryPartialsSql(
  range: TimeRange | readonly TimeRange[],
  group: 'none' | 'hour' | 'minute',
  /**
   * One row per device and registry fields too (the model and driver the windows carry):
   * what the groupings by model and driver resolve (registry-grouping.ts).
   */
  perDevice = false,
  source: WindowSource = 'windows',
): Statement {
  // The rollups hold whole hours and no registry fields (a driver can change mid-hour).
  if (source === 'rollups' && (group === 'minute' || perDevice))
    throw new FleetgridError('INVALID_ARGUMENT', 'the hourly rollups have no minutes nor registry fields');
  const { from, time, derivedSum } = SOURCE[source];
  // Several ranges (the live edges of rollup.ts) are read in one scan.
  const ranges = Array.isArray(range) ? range : [range as TimeRange];
  const params: Record<string, number> = {};
  const where = ranges
    .map((r, i) => {
      params[`from${i}`] = r.from;
      params[`to${i}`] = r.to;
      return `(${time} >= ${t(`from${i}`)} AND ${time} < ${t(`to${i}`)})`;
    })
    .join(' OR ');
  const bucket =
    group === 'hour'
      ? `toUnixTimestamp(toStartOfHour(${time})) * 1000 AS bucket, `
      : group === 'minute'
        ? `toUnixTimestamp64Milli(${time}) AS bucket, `
        : '';
  const device = perDevice ? ', device_id, model, driver_id' : '';
  return {
    sql: `SELECT ${bucket}kind, site_id${device},
  sum(event_count) AS events,
  sum(field_sum['speedKmh']) AS speed_sum,
  sum(field_count['speedKmh']) AS speed_count,
  sum(${derivedSum}['distanceKm']) AS distance_km,
  sum(${derivedSum}['engineOnSeconds']) AS engine_on_seconds,
  sum(${derivedSum}['idleSeconds']) AS idle_seconds,
  sum(${derivedSum}['energyKwh']) AS energy_kwh,
  sum(${derivedSum}['availableSeconds']) AS available_seconds,
  sum(${derivedSum}['coveredSeconds']) AS covered_seconds,
  groupUniqArray(device_id) AS devices
FROM ${from}
WHERE ${where}
GROUP BY ${bucket === '' ? '' : 'bucket, '}kind, site_id${device}`,
    params,
  };
}

/** Energy of every site per hour or minute (the cacheable part of site energy, all sites in one scan). */
export function energyPartialsSql(
  range: TimeRange,
  group: 'hour' | 'minute' = 'hour',
  source: WindowSource = 'windows',
): Statement {
  if (source === 'rollups' && group === 'minute')
    throw new FleetgridError('INVALID_ARGUMENT', 'the hourly rollups have no minutes');
  const { from, time, derivedSum } = SOURCE[source];
  const bucket =
    group === 'hour' ? `toUnixTimestamp(toStartOfHour(${time})) * 1000` : `toUnixTimestamp64Milli(${time})`;
  return {
    sql: `SELECT ${bucket} AS bucket, site_id, kind, sum(${derivedSum}['energyKwh']) AS kwh
FROM ${from}
WHERE kind IN ('TURBINE', 'SOLAR') AND ${time} >= ${t('from')} AND ${time} < ${t('to')}
GROUP BY bucket, site_id, kind`,
    params: rangeParams(range),
  };
}

/** How far the stored hourly rollups reach: the sink's own statement (it keeps them). */
export { rollupProgressSql } from '../sinks/rollups.ts';

/**
 * Devices per kind and site, with their ids (the capacity of a site adds up its devices'
 * ratings); per device with the registry fields of its newest state for the groupings by
 * model and driver.
 */
export function summaryDevicesSql(perDevice = false): Statement {
  return {
    sql: perDevice
      ? 'SELECT kind, site_id, device_id, model, driver_id FROM device_state FINAL'
      : 'SELECT kind, site_id, count() AS devices, groupArray(device_id) AS ids FROM device_state FINAL GROUP BY kind, site_id',
    params: {},
  };
}

/**
 * Per kind and site: alerts raised in the range, and open now (whatever their raise time);
 * per device and the registry fields of each alert's newest transition too (`perDevice`).
 */
export function summaryAlertsSql(range: TimeRange, perDevice = false): Statement {
  const by = perDevice ? 'kind, site_id, device_id, model, driver_id' : 'kind, site_id';
  return {
    sql: `SELECT ${by},
  countIf(raised_at >= ${t('from')} AND raised_at < ${t('to')}) AS raised,
  countIf(state = 'RAISED') AS open
FROM alerts FINAL
GROUP BY ${by}`,
    params: rangeParams(range),
  };
}

/**
 * The registry's devices with the dimensions the summary groups by, from the dimension
 * tables (docs/registry.md "Dimension tables"): the newest row of each id, deletes left out;
 * the driver's name where the driver is registered ('' where not: a LEFT JOIN's default,
 * and no registered name is empty).
 */
export function dimDevicesSql(): Statement {
  return {
    sql: `SELECT d.id AS id, d.model AS model, d.driver_id AS driver_id, r.name AS driver_name
FROM (SELECT id, model, driver_id FROM dim_devices FINAL WHERE deleted = 0) AS d
LEFT JOIN (SELECT id, name FROM dim_drivers FINAL WHERE deleted = 0) AS r ON r.id = d.driver_id`,
    params: {},
  };
}

export function devicesSql(filter: {
  kind?: DeviceKindSymbol | undefined;
  siteId?: string | undefined;
  /** The last id of the previous page… */
  after?: string | undefined;
  /** …or, for a long one, its first code points and SHA-256 (query/params.ts encodeCursor). */
  afterPrefix?: string | undefined;
  afterSha256?: string | undefined;
  limit: number;
}): Statement {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: filter.limit };
  if (filter.kind !== undefined) {
    where.push('kind = {kind:String}');
    params.kind = filter.kind;
  }
  if (filter.siteId !== undefined) {
    where.push('site_id = {siteId:String}');
    params.siteId = filter.siteId;
  }
  if (filter.after !== undefined) {
    where.push('device_id > {after:String}');
    params.after = filter.after;
  } else if (filter.afterPrefix !== undefined && filter.afterSha256 !== undefined) {
    // The id itself, found by its prefix and hash; should it be gone, the prefix (a
    // smaller bound: some devices of the previous page are listed again, none skipped).
    where.push(`device_id > (SELECT if(count() = 0, {afterPrefix:String}, any(device_id)) FROM device_state
  WHERE startsWith(device_id, {afterPrefix:String}) AND lower(hex(SHA256(device_id))) = {afterSha256:String})`);
    params.afterPrefix = filter.afterPrefix;
    params.afterSha256 = filter.afterSha256;
  }
  return {
    sql: `SELECT ${STATE_COLUMNS}
FROM device_state FINAL${where.length > 0 ? `\nWHERE ${where.join(' AND ')}` : ''}
ORDER BY device_id
LIMIT {limit:UInt32}`,
    params,
  };
}

export function deviceStateSql(deviceId: string): Statement {
  return {
    sql: `SELECT ${STATE_COLUMNS}\nFROM device_state FINAL\nWHERE device_id = {deviceId:String}\nLIMIT 1`,
    params: { deviceId },
  };
}

/** The rollup expression of each aggregate step; raw has none. */
const BUCKET: Record<Exclude<Step, 'raw'>, string> = {
  '1m': 'toUnixTimestamp64Milli(window_start)',
  '1h': 'toUnixTimestamp(toStartOfHour(window_start)) * 1000',
  '1d': 'toUnixTimestamp(toStartOfDay(window_start)) * 1000',
};

/**
 * A device's metric per step from aggregates_1m FINAL (the newest revision of each
 * window), rolled up here rather than through the aggregates_1h/1d views so the device
 * and time filters prune by the primary key before the grouping (same formulas as the
 * views). A field's statistics come from the maps; a derived figure is one value per
 * window, so its count is the number of windows.
 */
export function seriesAggregateSql(
  deviceId: string,
  metric: MetricInfo,
  step: Exclude<Step, 'raw'>,
  range: TimeRange,
): Statement {
  const m = '{metric:String}';
  const stats =
    metric.source === 'field'
      ? `sum(field_count[${m}]) AS count, min(field_min[${m}]) AS min, max(field_max[${m}]) AS max, sum(field_sum[${m}]) AS sum`
      : `count() AS count, min(derived[${m}]) AS min, max(derived[${m}]) AS max, sum(derived[${m}]) AS sum`;
  const present = metric.source === 'field' ? `mapContains(field_count, ${m})` : `mapContains(derived, ${m})`;
  return {
    sql: `SELECT ${BUCKET[step]} AS t, ${stats}, max(revision) AS revision
FROM aggregates_1m FINAL
WHERE device_id = {deviceId:String} AND window_start >= ${t('from')} AND window_start < ${t('to')} AND ${present}
GROUP BY t
ORDER BY t`,
    params: { deviceId, metric: metric.name, ...rangeParams(range) },
  };
}

/** Raw samples of a field, deduplicated (FINAL folds a device's resends); LIMIT cap + 1 detects truncation. */
export function seriesRawSql(
  deviceId: string,
  kind: DeviceKindSymbol,
  metric: MetricInfo,
  range: TimeRange,
  limit: number,
): Statement {
  if (metric.source !== 'field' || metric.column === undefined)
    throw new FleetgridError('INVALID_ARGUMENT', `${metric.name} has no raw samples; use step 1m, 1h or 1d`);
  return {
    sql: `SELECT toUnixTimestamp64Milli(ts) AS t, ${metric.column} AS value
FROM ${TELEMETRY_TABLE[kind]} FINAL
WHERE device_id = {deviceId:String} AND ts >= ${t('from')} AND ts < ${t('to')} AND ${metric.column} IS NOT NULL
ORDER BY ts, seq
LIMIT {limit:UInt32}`,
    params: { deviceId, ...rangeParams(range), limit },
  };
}

export function siteExistsSql(siteId: string): Statement {
  return {
    sql: 'SELECT count() AS devices FROM device_state FINAL WHERE site_id = {siteId:String}',
    params: { siteId },
  };
}

/** Energy of a site's turbines and solar arrays per step: the windows' derived energyKwh. */
export function siteEnergySql(siteId: string, step: Exclude<Step, 'raw'>, range: TimeRange): Statement {
  return {
    sql: `SELECT ${BUCKET[step]} AS t, kind, sum(derived['energyKwh']) AS kwh, uniqExact(device_id) AS devices
FROM aggregates_1m FINAL
WHERE site_id = {siteId:String} AND kind IN ('TURBINE', 'SOLAR') AND window_start >= ${t('from')} AND window_start < ${t('to')}
GROUP BY t, kind
ORDER BY t, kind`,
    params: { siteId, ...rangeParams(range) },
  };
}

export function alertsSql(filter: {
  state: 'open' | 'resolved' | 'all';
  rule?: string | undefined;
  deviceId?: string | undefined;
  range?: TimeRange | undefined;
  limit: number;
}): Statement {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: filter.limit };
  if (filter.state !== 'all') {
    where.push('state = {state:String}');
    params.state = filter.state === 'open' ? 'RAISED' : 'RESOLVED';
  }
  if (filter.rule !== undefined) {
    where.push('rule = {rule:String}');
    params.rule = filter.rule;
  }
  if (filter.deviceId !== undefined) {
    where.push('device_id = {deviceId:String}');
    params.deviceId = filter.deviceId;
  }
  if (filter.range !== undefined) {
    where.push(`raised_at >= ${t('from')} AND raised_at < ${t('to')}`);
    Object.assign(params, rangeParams(filter.range));
  }
  return {
    sql: `SELECT ${ALERT_COLUMNS}
FROM alerts FINAL${where.length > 0 ? `\nWHERE ${where.join(' AND ')}` : ''}
ORDER BY raised_at DESC, alert_id
LIMIT {limit:UInt32}`,
    params,
  };
}

/** Columns of an alert row, as the API reads them. */
const ALERT_COLUMNS = `alert_id, rule, device_id, site_id, kind, state, severity,
  toUnixTimestamp64Milli(raised_at) AS raised_at_ms, toUnixTimestamp64Milli(resolved_at) AS resolved_at_ms,
  toUnixTimestamp64Milli(ts) AS ts_ms, value, threshold, message, model, driver_id, rule_version`;

/** One alert's current state (the newest transition), by id. */
export function alertByIdSql(alertId: string): Statement {
  return {
    sql: `SELECT ${ALERT_COLUMNS}
FROM alerts FINAL
WHERE alert_id = {alertId:String}
LIMIT 1`,
    params: { alertId },
  };
}

const ACTION_COLUMNS = `command_id, alert_id, action, rule, device_id, by, comment,
  toUnixTimestamp64Milli(shelved_until) AS shelved_until_ms, silence_id, toUnixTimestamp64Milli(ts) AS ts_ms`;

/** The recorded commands of some alerts (alert_actions, one row per command id), oldest first. */
export function alertActionsSql(alertIds: readonly string[], limit: number): Statement {
  return {
    sql: `SELECT ${ACTION_COLUMNS}
FROM alert_actions FINAL
WHERE alert_id IN {alertIds:Array(String)}
ORDER BY alert_id, ts, command_id
LIMIT {limit:UInt32}`,
    params: { alertIds, limit },
  };
}

/** A recorded command by its client-chosen id: what a repeated command id is answered with. */
export function alertCommandSql(commandId: string): Statement {
  return {
    sql: `SELECT ${ACTION_COLUMNS}
FROM alert_actions FINAL
WHERE command_id = {commandId:String}
LIMIT 1`,
    params: { commandId },
  };
}

/**
 * Newest stored event time per raw table, and of the other projections (aggregates: the
 * newest window start). Each is answered from part metadata or a tiny table.
 */
export function freshnessSql(): Statement {
  const parts = [
    ...RAW_TABLES.map(
      (table) =>
        `SELECT '${table}' AS source, toUnixTimestamp64Milli(max(ts)) AS newest_ms, count() AS rows FROM ${table}`,
    ),
    // max of the partition-key column comes from the parts' min-max indexes, not a scan.
    `SELECT 'aggregates_1m' AS source, toUnixTimestamp64Milli(max(window_start)) AS newest_ms, count() AS rows FROM aggregates_1m`,
    `SELECT 'device_state' AS source, toUnixTimestamp64Milli(max(last_seen)) AS newest_ms, count() AS rows FROM device_state`,
  ];
  return { sql: parts.join('\nUNION ALL\n'), params: {} };
}

/**
 * The source record a dead letter stands for: one bad record is dead-lettered by every
 * stage that reads it (the processor and the sink both refuse an undecodable raw record),
 * so counting records means counting distinct sources. A DLQ record without its source
 * headers stands for itself.
 */
const DEAD_LETTER_SOURCE = `if(source_offset >= 0, concat(source_topic, ':', toString(source_partition), ':', toString(source_offset)), concat('dlq:', toString(dlq_partition), ':', toString(dlq_offset)))`;

/** Per error code and stage: the records that stage refused, and when it last did. */
export function deadLettersSql(): Statement {
  return {
    sql: `SELECT error_code, stage, uniqExact(${DEAD_LETTER_SOURCE}) AS records, toUnixTimestamp64Milli(max(failed_at)) AS last_ms
FROM dead_letters FINAL
GROUP BY error_code, stage
ORDER BY records DESC, error_code, stage`,
    params: {},
  };
}

/** Records refused per stage, and by any stage (`all_stages = 1`): each source record once. */
export function deadLetterTotalsSql(): Statement {
  return {
    sql: `SELECT stage, grouping(stage) AS all_stages, uniqExact(${DEAD_LETTER_SOURCE}) AS records
FROM dead_letters FINAL
GROUP BY GROUPING SETS ((stage), ())
ORDER BY all_stages DESC, stage`,
    params: {},
  };
}

// --- asOf time travel: the events that decide a device's state at a past moment -------

/**
 * Counts of a device's distinct events up to asOf, over every raw table of its kind.
 * FINAL folds a device's resends (same ts and event_id), as the processors' dedup does.
 */
export function asOfCountSql(deviceId: string, kind: DeviceKindSymbol, asOf: number): Statement {
  const tables =
    kind === 'TRUCK'
      ? ['truck_telemetry', 'truck_engine_events', 'truck_diagnostics']
      : [TELEMETRY_TABLE[kind]];
  return {
    sql: `SELECT sum(n) AS events FROM (${tables
      .map(
        (table) =>
          `SELECT count() AS n FROM ${table} FINAL WHERE device_id = {deviceId:String} AND ts <= ${t('asOf')}`,
      )
      .join(' UNION ALL ')})`,
    params: { deviceId, asOf },
  };
}

const COMMON = 'event_id, device_id, site_id, toUnixTimestamp64Milli(ts) AS ts_ms, seq';
const AS_OF_WITHIN = `device_id = {deviceId:String} AND ts <= ${t('asOf')}`;

/**
 * The events whose fold decides the state at asOf (see state.ts for why this subset is
 * exact): the newest telemetry sample up to asOf (this statement); for trucks also the
 * engine events from that sample on and every diagnostic up to asOf (the two below).
 */
export function asOfSampleSql(deviceId: string, kind: DeviceKindSymbol, asOf: number): Statement {
  const columns: Record<DeviceKindSymbol, string> = {
    TRUCK: `'TruckTelemetry' AS type, ${COMMON}, lat, lon, speed_kmh, heading_deg, engine_temp_c, fuel_pct, odometer_km, engine_on, cargo_temp_c`,
    TURBINE: `'TurbineTelemetry' AS type, ${COMMON}, wind_speed_ms, rotor_rpm, power_kw, pitch_deg, nacelle_temp_c, vibration_mm_s, status`,
    SOLAR: `'SolarTelemetry' AS type, ${COMMON}, irradiance_wm2, panel_temp_c, dc_voltage_v, dc_current_a, ac_power_w, status`,
  };
  return {
    sql: `SELECT ${columns[kind]}
FROM ${TELEMETRY_TABLE[kind]} FINAL WHERE ${AS_OF_WITHIN} ORDER BY ts DESC, seq DESC LIMIT 1`,
    params: { deviceId, asOf },
  };
}

/** A truck's engine events from its newest sample's time on (>=: an engine event at the same ms may follow it). */
export function asOfEngineEventsSql(deviceId: string, asOf: number): Statement {
  return {
    sql: `SELECT 'EngineStateChanged' AS type, ${COMMON}, engine_on
FROM truck_engine_events FINAL
WHERE ${AS_OF_WITHIN} AND ts >= (SELECT coalesce(max(ts), toDateTime64(0, 3, 'UTC')) FROM truck_telemetry WHERE ${AS_OF_WITHIN})
ORDER BY ts, seq`,
    params: { deviceId, asOf },
  };
}

/** A truck's diagnostics up to asOf: the active code set depends on all of them. */
export function asOfDiagnosticsSql(deviceId: string, asOf: number, maxDiagnostics: number): Statement {
  return {
    sql: `SELECT 'DiagnosticReported' AS type, ${COMMON}, code, severity, description, active
FROM truck_diagnostics FINAL WHERE ${AS_OF_WITHIN} ORDER BY ts, seq LIMIT {maxDiagnostics:UInt32}`,
    params: { deviceId, asOf, maxDiagnostics },
  };
}

/**
 * Energy of each window of the UTC day [dayStart, asOf], from raw samples up to asOf,
 * with the processors' formula (processors/windows/window.ts windowEnergyKwh): mean power
 * × min(size, last - first + sampleInterval). The window holding asOf is thereby cut at asOf.
 */
export function asOfEnergySql(
  deviceId: string,
  kind: 'TURBINE' | 'SOLAR',
  span: { dayStart: number; asOf: number },
  math: { windowSizeMs: number; sampleIntervalMs: number },
): Statement {
  const [table, power, toKw] =
    kind === 'TURBINE' ? ['turbine_telemetry', 'power_kw', ''] : ['solar_telemetry', 'ac_power_w', ' / 1000'];
  return {
    sql: `SELECT sum(kwh) AS kwh FROM (
  SELECT intDiv(toUnixTimestamp64Milli(ts), {windowSizeMs:UInt32}) AS w,
    (avg(toFloat64(${power}))${toKw}) * least({windowSizeMs:UInt32}, toUnixTimestamp64Milli(max(ts)) - toUnixTimestamp64Milli(min(ts)) + {sampleIntervalMs:UInt32}) / 3600000 AS kwh
  FROM ${table} FINAL
  WHERE device_id = {deviceId:String} AND ts >= ${t('dayStart')} AND ts <= ${t('asOf')}
  GROUP BY w
)`,
    params: {
      deviceId,
      dayStart: span.dayStart,
      asOf: span.asOf,
      windowSizeMs: math.windowSizeMs,
      sampleIntervalMs: math.sampleIntervalMs,
    },
  };
}

/** Rules of the device's alerts open at asOf: raised by then and not resolved by then. */
export function asOfOpenAlertsSql(deviceId: string, asOf: number): Statement {
  return {
    sql: `SELECT DISTINCT rule FROM alerts FINAL
WHERE device_id = {deviceId:String} AND raised_at <= ${t('asOf')} AND (resolved_at IS NULL OR resolved_at > ${t('asOf')})
ORDER BY rule`,
    params: { deviceId, asOf },
  };
}

/** Readiness: whether the sink's migrations have created the projection tables. */
export function projectionTablesSql(): Statement {
  return {
    sql: "SELECT count() AS tables FROM system.tables WHERE database = currentDatabase() AND name IN ('device_state', 'aggregates_1m', 'alerts')",
    params: {},
  };
}

// --- inspection: stored rows of a table (operators, tests, replay checks) ---------------

/** Rows of a table as stored (before merges fold versions); `table` is from the allow-list. */
export function tableRowsSql(table: TableName): Statement {
  return { sql: `SELECT count() AS n FROM ${table}`, params: {} };
}

/** Distinct events of a raw table (a resend folds into one). */
export function tableDistinctEventsSql(table: (typeof RAW_TABLES)[number]): Statement {
  return { sql: `SELECT uniqExact(event_id) AS n FROM ${table}`, params: {} };
}

// --- load test: what one run (its devices are named `<run tag>-…`) left in the tables ----

const ms = (column: string) => `toUnixTimestamp64Milli(${column})`;

/** The run's devices: `<tag>-…`; the tag is [a-z0-9]+, so the pattern has no LIKE wildcard of its own. */
const runPattern = (runTag: string) => `${runTag}-%`;

/**
 * Raw freshness of a run: `ingested_at − ts` per row as a histogram per second of event
 * time (relative to startMs) in [fromMs, toMs).
 */
export function runRawFreshnessSql(run: {
  runTag: string;
  startMs: number;
  fromMs: number;
  toMs: number;
}): Statement {
  const parts = RAW_TABLES.map(
    (table) =>
      `SELECT intDiv(${ms('ts')} - {startMs:Int64}, 1000) AS s, ${latencyBucketSql(`${ms('ingested_at')} - ${ms('ts')}`)} AS b, count() AS n FROM ${table} WHERE device_id LIKE {pattern:String} AND ${ms('ts')} >= {fromMs:Int64} AND ${ms('ts')} < {toMs:Int64} GROUP BY s, b`,
  );
  return {
    sql: `SELECT s, b, sum(n) AS n FROM (${parts.join(' UNION ALL ')}) GROUP BY s, b`,
    params: { pattern: runPattern(run.runTag), startMs: run.startMs, fromMs: run.fromMs, toMs: run.toMs },
  };
}

/**
 * Aggregate freshness of a run: `ingested_at − (window_end + grace)` for the first
 * revision of each window whose end + grace is at or before closedByMs.
 */
export function runAggregateFreshnessSql(run: {
  runTag: string;
  startMs: number;
  graceMs: number;
  closedByMs: number;
}): Statement {
  const due = `(${ms('window_end')} + {graceMs:Int64})`;
  return {
    sql: `SELECT intDiv(${ms('window_end')} - {startMs:Int64}, 1000) AS s, ${latencyBucketSql(`${ms('ingested_at')} - ${due}`)} AS b, count() AS n FROM aggregates_1m WHERE device_id LIKE {pattern:String} AND revision = 0 AND ${due} <= {closedByMs:Int64} GROUP BY s, b`,
    params: {
      pattern: runPattern(run.runTag),
      startMs: run.startMs,
      graceMs: run.graceMs,
      closedByMs: run.closedByMs,
    },
  };
}

/** Stored rows and distinct event ids of a run, per raw table. */
export function runTableTallySql(runTag: string): Statement {
  return {
    sql: RAW_TABLES.map(
      (table) =>
        `SELECT '${table}' AS table, count() AS rows, uniqExact(event_id) AS distinct FROM ${table} WHERE device_id LIKE {pattern:String}`,
    ).join(' UNION ALL '),
    params: { pattern: runPattern(runTag) },
  };
}

/** Source records of a run that one stage dead-lettered, per source topic (each record once). */
export function runDeadLettersSql(runTag: string, stage: string): Statement {
  return {
    sql: `SELECT source_topic, uniqExact(source_topic, source_partition, source_offset) AS n FROM dead_letters WHERE key LIKE {pattern:String} AND stage = {stage:String} GROUP BY source_topic`,
    params: { pattern: runPattern(runTag), stage },
  };
}

/** Per device of a run: distinct events and the seq range stored. */
export function runDeviceSeqRangesSql(runTag: string): Statement {
  const union = RAW_TABLES.map(
    (table) => `SELECT device_id, event_id, seq FROM ${table} WHERE device_id LIKE {pattern:String}`,
  ).join(' UNION ALL ');
  return {
    sql: `SELECT device_id, uniqExact(event_id) AS n, min(seq) AS lo, max(seq) AS hi FROM (${union}) GROUP BY device_id`,
    params: { pattern: runPattern(runTag) },
  };
}

/** Every window of a run, newest revision (FINAL): count and per-field statistics. */
export function runWindowsSql(runTag: string): Statement {
  return {
    sql: `SELECT device_id, ${ms('window_start')} AS window_start, event_count, field_count, field_min, field_max, field_sum FROM aggregates_1m FINAL WHERE device_id LIKE {pattern:String}`,
    params: { pattern: runPattern(runTag) },
  };
}

/** Every alert transition of a run (not FINAL: the history, one row per transition). */
export function runAlertTransitionsSql(runTag: string): Statement {
  return {
    sql: `SELECT DISTINCT alert_id, rule, device_id, state, ${ms('ts')} AS ts FROM alerts WHERE device_id LIKE {pattern:String}`,
    params: { pattern: runPattern(runTag) },
  };
}

/** The newest device state of every device of a run: event count and last seq. */
export function runDeviceStatesSql(runTag: string): Statement {
  return {
    sql: 'SELECT device_id, event_count, seq FROM device_state FINAL WHERE device_id LIKE {pattern:String}',
    params: { pattern: runPattern(runTag) },
  };
}

/** Rows of a run visible so far in the raw tables (a cheap progress figure). */
export function runRawCountSql(runTag: string): Statement {
  const parts = RAW_TABLES.map(
    (table) => `SELECT count() AS n FROM ${table} WHERE device_id LIKE {pattern:String}`,
  );
  return {
    sql: `SELECT sum(n) AS n FROM (${parts.join(' UNION ALL ')})`,
    params: { pattern: runPattern(runTag) },
  };
}
