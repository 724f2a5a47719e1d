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

/**
 * Trips of a truck that start in [from, to), whole: samples are read from one gap before
 * `from` (to tell a trip starting at `from` from one running through it) to maxTripMs after `to`.
 */
export function tripsSql(deviceId: string, window: TripsWindow, limit: number): Statement {
  const r = TRIP_RULES;
  const cargoAbove = (col: string) => `ifNull(${col} > {cargoMaxC:Float64}, false)`;
  return {
    sql: `SELECT
  min(t) AS start_ms, max(t) AS end_ms,
  argMin(lat, t) AS start_lat, argMin(lon, t) AS start_lon,
  argMax(lat, t) AS end_lat, argMax(lon, t) AS end_lon,
  count() AS samples,
  sum(step_km) AS distance_km,
  sumIf(dt, lag_v >= {idleSpeedKmh:Float64}) AS driving_ms,
  sumIf(dt, lag_v < {idleSpeedKmh:Float64}) AS idle_ms,
  max(v) AS max_speed_kmh,
  sum(lag_v * dt) AS speed_time_sum,
  countIf(dt > 0 AND dt <= {harshMaxGapMs:UInt32} AND lag_v - v >= {harshDropKmh:Float64}) AS harsh_brakings,
  sumIf(dt, lag_v > {overspeedKmh:Float64}) AS overspeed_ms,
  sum(greatest(lag_fuel - fuel, 0)) AS fuel_used_pct,
  countIf(${cargoAbove('cargo')} AND NOT (pair AND ${cargoAbove('lag_cargo')})) AS cargo_excursions,
  sumIf(dt, ${cargoAbove('lag_cargo')}) AS cargo_excursion_ms,
  max(cargo) AS max_cargo_temp_c,
  argMax(next_t, t) AS next_ms,
  argMax(next_on, t) AS next_engine_on
FROM (
  SELECT t, on, v, lat, lon, fuel, cargo, next_t, next_on, pair,
    if(pair, lag_v, 0) AS lag_v,
    if(pair, lag_fuel, fuel) AS lag_fuel,
    if(pair, lag_cargo, NULL) AS lag_cargo,
    if(pair, t - lag_t, 0) AS dt,
    if(pair, 2 * {earthRadiusKm:Float64} * asin(least(1, sqrt(
      pow(sin((lat - lag_lat) * ${RAD} / 2), 2)
      + cos(lag_lat * ${RAD}) * cos(lat * ${RAD}) * pow(sin((lon - lag_lon) * ${RAD} / 2), 2)))), 0) AS step_km,
    sum(toUInt32(start)) OVER (ORDER BY t, seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS trip
  FROM (
    SELECT t, seq, v, lat, lon, fuel, cargo, on, lag_t, lag_v, lag_lat, lag_lon, lag_fuel, lag_cargo, next_t, next_on,
      on AND (lag_t = 0 OR NOT lag_on OR t - lag_t > {maxGapMs:UInt32}) AS start,
      on AND NOT start AS pair
    FROM (
      SELECT toUnixTimestamp64Milli(ts) AS t, seq, toFloat64(speed_kmh) AS v, lat, lon,
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
      WHERE device_id = {deviceId:String} AND ts >= ${t('readFrom')} AND ts < ${t('readTo')}
      WINDOW w AS (ORDER BY ts, seq ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
    )
  )
)
WHERE on
GROUP BY trip
HAVING driving_ms >= {minDrivingMs:UInt32} AND start_ms >= {from:Int64} AND start_ms < {to:Int64}
ORDER BY start_ms
LIMIT {limit:UInt32}`,
    params: {
      deviceId,
      from: window.from,
      to: window.to,
      readFrom: Math.max(0, window.from - r.maxGapMs),
      readTo: window.to + r.maxTripMs,
      idleSpeedKmh: r.idleSpeedKmh,
      overspeedKmh: r.overspeedKmh,
      harshDropKmh: r.harshDropKmh,
      harshMaxGapMs: r.harshMaxGapMs,
      cargoMaxC: r.cargoMaxC,
      earthRadiusKm: r.earthRadiusKm,
      maxGapMs: r.maxGapMs,
      minDrivingMs: r.minDrivingMs,
      limit,
    },
  };
}
