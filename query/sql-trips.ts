/**
 * A truck's trips, computed in ClickHouse at query time from its raw positions
 * (`truck_telemetry FINAL`: a resend or a corrected sample counts once, as its newest
 * version, so a trip over a late revision is computed over the corrected data). Pure SQL
 * builder with the rules of sql.ts: request values only as bound parameters. The
 * definitions are trip-rules.ts's (docs/query.md "Trips").
 *
 * How: the samples in time order, each with its neighbours (lagInFrame/leadInFrame); a trip
 * starts at an engine-on sample whose predecessor is engine-off, missing, or more than
 * maxGapMs before it; a running sum of starts numbers the trips. Each engine-on sample that
 * is not a start closes the interval from its predecessor, and the interval takes the
 * predecessor's state (a sample holds until the next one): its length goes to driving or
 * idle time, overspeed and cargo-excursion time, its great-circle length to the distance,
 * its speed drop to harsh braking, its fuel drop to fuel used. One row per trip.
 */
import type { Statement } from './sql.ts';
import { TRIP_RULES } from './trip-rules.ts';

const t = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`;
const RAD = 'pi() / 180';

export interface TripsWindow {
  /** Trips that start in [from, to) are answered. */
  from: number;
  to: number;
}

/** The rule values the SQL uses, with their ClickHouse types. */
const RULE_VALUES = {
  idleSpeedKmh: 'Float64',
  overspeedKmh: 'Float64',
  harshDropKmh: 'Float64',
  harshMaxGapMs: 'UInt32',
  cargoMaxC: 'Float64',
  earthRadiusKm: 'Float64',
  maxGapMs: 'UInt32',
  minDrivingMs: 'UInt32',
} as const satisfies Partial<Record<keyof typeof TRIP_RULES, string>>;
type RuleName = keyof typeof RULE_VALUES;

/**
 * The statement, with its inputs as SQL fragments: `rule` writes a rule value (a bound
 * parameter for the API, a literal for Grafana), `samples` the filter of the rows read,
 * `starts` the filter on a trip's start (epoch ms). Trips are numbered per device, so one
 * statement serves one truck (the API) or several (Grafana's table).
 */
function tripsStatement(
  rule: (name: RuleName) => string,
  samples: string,
  starts: string,
  tail: string,
): string {
  const cargoAbove = (col: string) => `ifNull(${col} > ${rule('cargoMaxC')}, false)`;
  return `SELECT
  device_id,
  min(t) AS start_ms, max(t) AS end_ms,
  argMin(lat, t) AS start_lat, argMin(lon, t) AS start_lon,
  argMax(lat, t) AS end_lat, argMax(lon, t) AS end_lon,
  count() AS samples,
  sum(step_km) AS distance_km,
  sumIf(dt, lag_v >= ${rule('idleSpeedKmh')}) AS driving_ms,
  sumIf(dt, lag_v < ${rule('idleSpeedKmh')}) AS idle_ms,
  max(v) AS max_speed_kmh,
  sum(lag_v * dt) AS speed_time_sum,
  countIf(dt > 0 AND dt <= ${rule('harshMaxGapMs')} AND lag_v - v >= ${rule('harshDropKmh')}) AS harsh_brakings,
  sumIf(dt, lag_v > ${rule('overspeedKmh')}) AS overspeed_ms,
  sum(greatest(lag_fuel - fuel, 0)) AS fuel_used_pct,
  countIf(${cargoAbove('cargo')} AND NOT (pair AND ${cargoAbove('lag_cargo')})) AS cargo_excursions,
  sumIf(dt, ${cargoAbove('lag_cargo')}) AS cargo_excursion_ms,
  max(cargo) AS max_cargo_temp_c,
  argMax(next_t, t) AS next_ms,
  argMax(next_on, t) AS next_engine_on
FROM (
  SELECT device_id, t, on, v, lat, lon, fuel, cargo, next_t, next_on, pair,
    if(pair, lag_v, 0) AS lag_v,
    if(pair, lag_fuel, fuel) AS lag_fuel,
    if(pair, lag_cargo, NULL) AS lag_cargo,
    if(pair, t - lag_t, 0) AS dt,
    if(pair, 2 * ${rule('earthRadiusKm')} * asin(least(1, sqrt(
      pow(sin((lat - lag_lat) * ${RAD} / 2), 2)
      + cos(lag_lat * ${RAD}) * cos(lat * ${RAD}) * pow(sin((lon - lag_lon) * ${RAD} / 2), 2)))), 0) AS step_km,
    sum(toUInt32(start)) OVER (PARTITION BY device_id ORDER BY t, seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS trip
  FROM (
    SELECT device_id, t, seq, v, lat, lon, fuel, cargo, on, lag_t, lag_v, lag_lat, lag_lon, lag_fuel, lag_cargo, next_t, next_on,
      on AND (lag_t = 0 OR NOT lag_on OR t - lag_t > ${rule('maxGapMs')}) AS start,
      on AND NOT start AS pair
    FROM (
      SELECT device_id, toUnixTimestamp64Milli(ts) AS t, seq, toFloat64(speed_kmh) AS v, lat, lon,
        toFloat64(fuel_pct) AS fuel, toNullable(toFloat64(cargo_temp_c)) AS cargo, engine_on AS on,
        lagInFrame(toUnixTimestamp64Milli(ts), 1, 0) OVER w AS lag_t,
        lagInFrame(engine_on, 1, false) OVER w AS lag_on,
        lagInFrame(toFloat64(speed_kmh), 1, 0) OVER w AS lag_v,
        lagInFrame(lat, 1, 0) OVER w AS lag_lat,
        lagInFrame(lon, 1, 0) OVER w AS lag_lon,
        lagInFrame(toFloat64(fuel_pct), 1, 0) OVER w AS lag_fuel,
        lagInFrame(toNullable(toFloat64(cargo_temp_c)), 1, NULL) OVER w AS lag_cargo,
        leadInFrame(toUnixTimestamp64Milli(ts), 1, 0) OVER w AS next_t,
        leadInFrame(engine_on, 1, false) OVER w AS next_on
      FROM truck_telemetry FINAL
      WHERE ${samples}
      WINDOW w AS (PARTITION BY device_id ORDER BY ts, seq ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
    )
  )
)
WHERE on
GROUP BY device_id, trip
HAVING driving_ms >= ${rule('minDrivingMs')} AND ${starts}
${tail}`;
}

/**
 * Trips of a truck that start in [from, to), whole: samples are read from one gap before
 * `from` (to tell a trip starting at `from` from one running through it) to maxTripMs after `to`.
 */
export function tripsSql(deviceId: string, window: TripsWindow, limit: number): Statement {
  const r = TRIP_RULES;
  const rules = Object.fromEntries(Object.keys(RULE_VALUES).map((name) => [name, r[name as RuleName]]));
  return {
    sql: tripsStatement(
      (name) => `{${name}:${RULE_VALUES[name]}}`,
      `device_id = {deviceId:String} AND ts >= ${t('readFrom')} AND ts < ${t('readTo')}`,
      'start_ms >= {from:Int64} AND start_ms < {to:Int64}',
      'ORDER BY start_ms\nLIMIT {limit:UInt32}',
    ),
    params: {
      deviceId,
      from: window.from,
      to: window.to,
      readFrom: Math.max(0, window.from - r.maxGapMs),
      readTo: window.to + r.maxTripMs,
      ...rules,
      limit,
    },
  };
}

/**
 * The Grafana form of the same statement (infra/grafana/dashboards/fleet.json, "Trips in
 * the range"; a unit test holds the dashboard to it): the trucks of the dashboard's
 * variables, trips starting in its time range, the rules as literals. `from_ms` and `to_ms`
 * are hidden columns for the row's link, which opens the dashboard on the trip's exact range
 * (Grafana's `from`/`to` take epoch ms) so the map's track layer draws that trip. They are
 * text: a link interpolates a field's display value, and a number's could be reformatted.
 */
export function grafanaTripsSql(): string {
  const r = TRIP_RULES;
  const inner = tripsStatement(
    (name) => String(r[name]),
    [
      // Grafana's variable syntax, not template placeholders.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variables
      '$__conditionalAll(site_id IN (${depot:singlequote}), $depot)',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variables
      'AND $__conditionalAll(device_id IN (${truck:singlequote}), $truck)',
      `AND ts >= $__fromTime - INTERVAL ${r.maxGapMs / 1000} SECOND AND ts < $__toTime + INTERVAL ${r.maxTripMs / 1000} SECOND`,
    ].join(' '),
    'start_ms >= toUnixTimestamp($__fromTime) * 1000 AND start_ms < toUnixTimestamp($__toTime) * 1000',
    '',
  ).trimEnd();
  return `SELECT fromUnixTimestamp64Milli(start_ms, 'UTC') AS time, toString(device_id) AS device_id,
  fromUnixTimestamp64Milli(end_ms, 'UTC') AS end, round(distance_km, 2) AS distance_km,
  (end_ms - start_ms) / 60000 AS duration_min, driving_ms / 60000 AS driving_min, idle_ms / 60000 AS idle_min,
  round(max_speed_kmh, 1) AS max_speed_kmh, round(if(end_ms > start_ms, speed_time_sum / (end_ms - start_ms), 0), 1) AS avg_speed_kmh,
  harsh_brakings, overspeed_ms / 1000 AS overspeed_s, round(fuel_used_pct, 2) AS fuel_used_pct,
  cargo_excursions, cargo_excursion_ms / 1000 AS cargo_excursion_s,
  multiIf(next_ms = 0, 'open', next_engine_on, 'silence', 'engine off') AS ended_by,
  toString(start_ms) AS from_ms, toString(end_ms) AS to_ms
FROM (
${inner}
)
ORDER BY time DESC
LIMIT ${r.maxTrips}`;
}
