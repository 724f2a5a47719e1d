/**
 * Trips' pure parts: their ids and the shape of a trip in answers, from the rows of
 * sql-trips.ts (docs/query.md "Trips"). No I/O.
 */
import { z } from 'zod';
import { ID_PATTERN } from '../schemas/ids.ts';

/**
 * A trip's id: its truck and the epoch ms of its first sample, `truck-7:1764633600000`.
 * Stable as long as the trip's first sample is (a late sample before it, or a corrected
 * engine state there, starts the trip elsewhere and so gives it another id).
 */
export function tripId(deviceId: string, startMs: number): string {
  return `${deviceId}:${startMs}`;
}

const TRIP_ID = /^(.+):(\d{1,15})$/;

/** The truck and start of a trip id, or undefined when it is not one. */
export function parseTripId(id: string): { deviceId: string; startMs: number } | undefined {
  const m = TRIP_ID.exec(id);
  if (!m || !ID_PATTERN.test(m[1] as string)) return undefined;
  return { deviceId: m[1] as string, startMs: Number(m[2]) };
}

/** The path parameter: a device id (schemas/ids.ts), a colon and epoch milliseconds. */
export const tripIdParam = z
  .string()
  .max(150)
  .refine((id) => parseTripId(id) !== undefined, 'tripId must be <deviceId>:<epoch ms of its start>');

/** Why a trip ended: the engine went off, the truck fell silent longer than the gap, or not yet (open). */
export type TripEnd = 'engine_off' | 'silence' | 'open';

export interface Trip {
  tripId: string;
  deviceId: string;
  startedAt: string;
  endedAt: string;
  startLat: number;
  startLon: number;
  endLat: number;
  endLon: number;
  endedBy: TripEnd;
  durationS: number;
  drivingS: number;
  idleS: number;
  distanceKm: number;
  maxSpeedKmh: number;
  avgSpeedKmh: number;
  harshBrakings: number;
  overspeedS: number;
  fuelUsedPct: number;
  cargoExcursions: number;
  cargoExcursionS: number;
  maxCargoTempC: number | null;
  samples: number;
}

/** Every field of a trip, in the order of CSV columns and tables. */
export const TRIP_FIELDS = [
  'tripId',
  'deviceId',
  'startedAt',
  'endedAt',
  'startLat',
  'startLon',
  'endLat',
  'endLon',
  'endedBy',
  'durationS',
  'drivingS',
  'idleS',
  'distanceKm',
  'maxSpeedKmh',
  'avgSpeedKmh',
  'harshBrakings',
  'overspeedS',
  'fuelUsedPct',
  'cargoExcursions',
  'cargoExcursionS',
  'maxCargoTempC',
  'samples',
] as const satisfies readonly (keyof Trip)[];

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
/** Float sums differ in the last bits between engines and runs; answers keep 6 decimals. */
const round = (v: number, digits = 6) => Math.round(v * 10 ** digits) / 10 ** digits;
const iso = (ms: number) => new Date(ms).toISOString();

/** One row of tripsSql as the API's trip. */
export function tripOfRow(deviceId: string, r: Record<string, unknown>): Trip {
  const start = num(r.start_ms);
  const durationMs = num(r.end_ms) - start;
  const endedBy: TripEnd =
    num(r.next_ms) === 0
      ? 'open'
      : r.next_engine_on === true || r.next_engine_on === 1
        ? 'silence'
        : 'engine_off';
  return {
    tripId: tripId(deviceId, start),
    deviceId,
    startedAt: iso(start),
    endedAt: iso(num(r.end_ms)),
    startLat: num(r.start_lat),
    startLon: num(r.start_lon),
    endLat: num(r.end_lat),
    endLon: num(r.end_lon),
    endedBy,
    durationS: durationMs / 1000,
    drivingS: num(r.driving_ms) / 1000,
    idleS: num(r.idle_ms) / 1000,
    distanceKm: round(num(r.distance_km)),
    maxSpeedKmh: round(num(r.max_speed_kmh)),
    // Time-weighted mean of the reported speed over the trip (each sample holds until the next).
    avgSpeedKmh: durationMs > 0 ? round(num(r.speed_time_sum) / durationMs) : 0,
    harshBrakings: num(r.harsh_brakings),
    overspeedS: num(r.overspeed_ms) / 1000,
    fuelUsedPct: round(num(r.fuel_used_pct)),
    cargoExcursions: num(r.cargo_excursions),
    cargoExcursionS: num(r.cargo_excursion_ms) / 1000,
    maxCargoTempC:
      r.max_cargo_temp_c === null || r.max_cargo_temp_c === undefined ? null : round(num(r.max_cargo_temp_c)),
    samples: num(r.samples),
  };
}
