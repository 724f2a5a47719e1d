/**
 * The trips' known dataset: one truck's samples, with the trips they make computed by hand
 * (query/trip-rules.ts: engine on → off or a silence over 10 min; an interval takes the
 * state of its first sample; overspeed > 90 km/h; harsh braking ≥ 25 km/h lost within 2 s;
 * cargo excursion > 8 °C). Loaded through the sink's row mapping (test/query/dataset.ts
 * loadQueryDataset), with the device state the processors' own core derives.
 *
 * truck-t @depot-t, on the meridian 4.5° E, so a distance is R · Δlat (radians):
 *  - trip A, 60-123 s: idles, drives, overspeeds 20 s, a cargo excursion of 20 s, two harsh
 *    brakings, idles, engine off at 133 s. Its sample at 111 s arrives LATE (a second
 *    load): before it the brakings are one 60 km/h drop in 3 s (not harsh).
 *    Its sample at 80 s is delivered twice (a resend: FINAL keeps one).
 *  - engine off 133-500 s, with an engine-on run at 400-410 s that never moves (not a trip).
 *  - trip B, 600-650 s: refuelled while stopped, two cargo excursions (30 s), overspeed 10 s;
 *    then silence for 11 min (it ends by silence).
 *  - trip C, 1310-1320 s: starts after the silence, still open (no later sample).
 */
import { expect } from 'vitest';
import { createPartitionCore, DEFAULT_CORE_CONFIG } from '../../processors/core/index.ts';
import { EARTH_RADIUS_KM } from '../../producers/models/routes.ts';
import type { DeviceState, RawEvent } from '../../schemas/types.ts';
import type { QueryDataset } from './dataset.ts';

export const TRIP_DEVICE = 'truck-t';
const LAT0 = 52;
/** Latitude step of the dataset (degrees) and its length on the ground (km). */
export const LAT_UNIT = 0.001;
export const UNIT_KM = (EARTH_RADIUS_KM * LAT_UNIT * Math.PI) / 180;

/** [second, speed, latitude units, fuel %, cargo °C or null, engine on] */
type Row = [number, number, number, number, number | null, boolean];

const ROWS: Row[] = [
  // trip A
  [60, 0, 0, 80, 4, true],
  [70, 60, 0, 80, 4, true],
  [80, 60, 1, 79.5, 4, true],
  [90, 100, 2, 79, 9, true],
  [100, 100, 3, 78.5, 9.5, true],
  [110, 60, 4, 78, 7, true],
  [111, 30, 4.5, 78, 7, true], // the late sample
  [113, 0, 4.5, 78, 7, true],
  [123, 0, 4.5, 78, 7, true],
  // stopped, engine off; an engine run at 400-410 that never moves
  [133, 0, 4.5, 78, 7, false],
  [300, 0, 4.5, 78, 7, false],
  [400, 0, 4.5, 78, 7, true],
  [410, 0, 4.5, 78, 7, true],
  [500, 0, 4.5, 90, 5, false],
  // trip B
  [600, 0, 10, 90, 5, true],
  [610, 40, 10, 90, 8.5, true],
  [620, 40, 11, 89, 8.2, true],
  [630, 40, 12, 88.5, 6, true],
  [640, 95, 13, 88, 8.1, true],
  [650, 95, 14, 87.5, null, true],
  // silence of 11 min, then trip C
  [1310, 50, 20, 87, null, true],
  [1320, 50, 21, 87, null, true],
];
export const LATE_SECOND = 111;
const RESENT_SECOND = 80;

const uuid = (seq: number) => `00000000-0000-4000-8000-7717${seq.toString().padStart(8, '0')}`;

/** The truck's events: `first` as delivered at once (with the resend), `late` afterwards. */
export function buildTripEvents(base: number): { first: RawEvent[]; late: RawEvent[] } {
  const events = ROWS.map(
    ([sec, speedKmh, units, fuelPct, cargoTempC, engineOn], i): RawEvent => ({
      type: 'TruckTelemetry',
      value: {
        eventId: uuid(i + 1),
        deviceId: TRIP_DEVICE,
        siteId: 'depot-t',
        ts: base + sec * 1000,
        seq: i + 1,
        lat: LAT0 + units * LAT_UNIT,
        lon: 4.5,
        speedKmh,
        headingDeg: 0,
        engineTempC: 88,
        fuelPct,
        odometerKm: 5000 + units * UNIT_KM,
        engineOn,
        cargoTempC,
      },
    }),
  );
  const first: RawEvent[] = [];
  let late: RawEvent | undefined;
  for (const e of events) {
    if (e.value.ts === base + LATE_SECOND * 1000) late = e;
    else first.push(e);
    if (e.value.ts === base + RESENT_SECOND * 1000) first.push(e);
  }
  return { first, late: late ? [late] : [] };
}

/** A dataset of raw events with the device state the processors' core derives from them. */
export function tripDataset(base: number, events: RawEvent[]): QueryDataset {
  const core = createPartitionCore(DEFAULT_CORE_CONFIG);
  const states = new Map<string, DeviceState>();
  const keep = (out: ReturnType<typeof core.apply>) => {
    for (const state of out.deviceStates) states.set(state.deviceId, state);
  };
  for (const event of events) keep(core.apply(event));
  keep(core.onTimer(base + 2 * 3_600_000));
  return { base, events, aggregates: [], alerts: [], deviceStates: [...states.values()], deadLetters: [] };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The trips of the dataset, by hand. Each interval between consecutive engine-on samples
 * of a trip takes the state of its first sample. `withLate`: after the late sample at 111 s.
 */
export function expectedTrips(base: number, withLate: boolean) {
  const at = (sec: number) => iso(base + sec * 1000);
  const id = (sec: number) => `${TRIP_DEVICE}:${base + sec * 1000}`;
  const lat = (units: number) => LAT0 + units * LAT_UNIT;
  return [
    {
      tripId: id(60),
      deviceId: TRIP_DEVICE,
      startedAt: at(60),
      endedAt: at(123),
      startLat: lat(0),
      startLon: 4.5,
      endLat: lat(4.5),
      endLon: 4.5,
      endedBy: 'engine_off',
      durationS: 63,
      // Driving: 70-110 (4 × 10 s at 60, 60, 100, 100 km/h), then 110-111 at 60 and
      // 111-113 at 30 (3 s at 60 without the late sample); idle 60-70 and 113-123.
      drivingS: 43,
      idleS: 20,
      distanceKm: 4.5 * UNIT_KM,
      maxSpeedKmh: 100,
      // Σ speed × seconds / 63: 60·10 + 60·10 + 100·10 + 100·10 + 60·1 + 30·2 (or 60·3).
      avgSpeedKmh: withLate ? 3320 / 63 : 3380 / 63,
      // 60 → 30 in 1 s and 30 → 0 in 2 s; without the late sample, 60 → 0 in 3 s is not harsh.
      harshBrakings: withLate ? 2 : 0,
      // 90-110 at 100 km/h.
      overspeedS: 20,
      // 80 → 78 %.
      fuelUsedPct: 2,
      // 9 and 9.5 °C at 90 and 100 s: one excursion, 90-110 s.
      cargoExcursions: 1,
      cargoExcursionS: 20,
      maxCargoTempC: 9.5,
      samples: withLate ? 9 : 8,
    },
    {
      tripId: id(600),
      deviceId: TRIP_DEVICE,
      startedAt: at(600),
      endedAt: at(650),
      startLat: lat(10),
      startLon: 4.5,
      endLat: lat(14),
      endLon: 4.5,
      endedBy: 'silence',
      durationS: 50,
      drivingS: 40,
      idleS: 10,
      distanceKm: 4 * UNIT_KM,
      maxSpeedKmh: 95,
      // (0·10 + 40·30 + 95·10) / 50.
      avgSpeedKmh: 43,
      harshBrakings: 0,
      overspeedS: 10,
      // 90 → 87.5 % (the refuel to 90 happened while stopped, outside the trip).
      fuelUsedPct: 2.5,
      // 8.5, 8.2 at 610-630 s (20 s); 8.1 at 640-650 s (10 s; the null sample ends it).
      cargoExcursions: 2,
      cargoExcursionS: 30,
      maxCargoTempC: 8.5,
      samples: 6,
    },
    {
      tripId: id(1310),
      deviceId: TRIP_DEVICE,
      startedAt: at(1310),
      endedAt: at(1320),
      startLat: lat(20),
      startLon: 4.5,
      endLat: lat(21),
      endLon: 4.5,
      endedBy: 'open',
      durationS: 10,
      drivingS: 10,
      idleS: 0,
      distanceKm: UNIT_KM,
      maxSpeedKmh: 50,
      avgSpeedKmh: 50,
      harshBrakings: 0,
      overspeedS: 0,
      fuelUsedPct: 0,
      cargoExcursions: 0,
      cargoExcursionS: 0,
      maxCargoTempC: null,
      samples: 2,
    },
  ];
}

/** Expected trips with float figures compared to 5 decimals (sums of Float32 samples and sines). */
export function closeTrips(trips: ReturnType<typeof expectedTrips>) {
  return trips.map((t) => ({
    ...t,
    distanceKm: expect.closeTo(t.distanceKm, 5),
    avgSpeedKmh: expect.closeTo(t.avgSpeedKmh, 5),
  }));
}
