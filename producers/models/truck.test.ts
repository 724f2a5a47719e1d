import { describe, expect, it } from 'vitest';
import type { RawEvent, TruckTelemetry } from '../../schemas/types.ts';
import { createRng } from '../rng.ts';
import { ROUTES, type Route } from './routes.ts';
import {
  createTruck,
  type DriverProfile,
  stepTruck,
  TANK_LITERS,
  TRUCK_MAX_SPEED_KMH,
  type TruckState,
} from './truck.ts';

const START = Date.UTC(2026, 2, 10, 6, 0, 0);

function drive(state: TruckState, steps: number, dtMs: number, seed: number) {
  const rng = createRng(seed);
  const events: RawEvent[] = [];
  const states: TruckState[] = [];
  let current = state;
  for (let i = 0; i < steps; i++) {
    const result = stepTruck(current, dtMs, rng);
    current = result.state;
    states.push(current);
    events.push(...result.events);
  }
  return { events, states, final: current };
}

function newTruck(routeIndex: number, profile: DriverProfile, refrigerated: boolean, seed = 1): TruckState {
  return createTruck(
    {
      identity: { deviceId: `truck-${routeIndex}`, siteId: 'depot', idKey: seed },
      startMs: START,
      routeIndex,
      profile,
      refrigerated,
      legacySchema: false,
    },
    createRng(seed),
  );
}

/** Distance (in degrees) from a point to the nearest segment of the route's polyline. */
function distanceToRoute(route: Route, lat: number, lon: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (const s of route.segments) {
    const dx = s.toLon - s.fromLon;
    const dy = s.toLat - s.fromLat;
    const len2 = dx * dx + dy * dy;
    const t =
      len2 === 0 ? 0 : Math.max(0, Math.min(1, ((lon - s.fromLon) * dx + (lat - s.fromLat) * dy) / len2));
    best = Math.min(best, Math.hypot(lon - (s.fromLon + t * dx), lat - (s.fromLat + t * dy)));
  }
  return best;
}

const telemetry = (events: RawEvent[]) =>
  events
    .filter((e): e is { type: 'TruckTelemetry'; value: TruckTelemetry } => e.type === 'TruckTelemetry')
    .map((e) => e.value);

describe('the truck model', () => {
  const profiles: DriverProfile[] = ['calm', 'normal', 'aggressive'];
  const runs = ROUTES.map((_, routeIndex) =>
    drive(
      newTruck(routeIndex, profiles[routeIndex % 3] as DriverProfile, routeIndex % 2 === 0, routeIndex + 1),
      4 * 3600,
      1000,
      routeIndex + 100,
    ),
  );

  it('keeps speed within [0, the governor] and stops at the cities', () => {
    for (const run of runs) {
      const samples = telemetry(run.events);
      expect(samples.length).toBeGreaterThan(1000);
      expect(samples.filter((s) => !(s.speedKmh >= 0 && s.speedKmh <= TRUCK_MAX_SPEED_KMH))).toEqual([]);
      expect(samples.some((s) => s.speedKmh > 60)).toBe(true);
      expect(run.states.some((s) => s.mode === 'dwelling' && s.positionKm > 0)).toBe(true);
    }
  });

  it('reports positions that lie on the route polyline', () => {
    runs.forEach((run, routeIndex) => {
      const route = ROUTES[routeIndex] as Route;
      const off = telemetry(run.events).filter((s) => distanceToRoute(route, s.lat, s.lon) >= 1e-9);
      expect(off).toEqual([]);
    });
  });

  it('numbers events 0, 1, 2, … with non-decreasing time and a growing odometer', () => {
    for (const run of runs) {
      expect(run.events.every((event, i) => event.value.seq === i)).toBe(true);
      const ts = run.events.map((e) => e.value.ts);
      expect(ts.every((t, i) => i === 0 || t >= (ts[i - 1] as number))).toBe(true);
      const odometer = telemetry(run.events).map((s) => s.odometerKm);
      expect(odometer.every((km, i) => i === 0 || km >= (odometer[i - 1] as number))).toBe(true);
      expect(telemetry(run.events).every((s) => s.headingDeg >= 0 && s.headingDeg < 360)).toBe(true);
    }
  });

  it('alternates engine on and off and matches telemetry to the engine state', () => {
    for (const run of runs) {
      const changes = run.events.filter((e) => e.type === 'EngineStateChanged').map((e) => e.value.engineOn);
      expect(changes.length).toBeGreaterThan(0);
      expect(changes.every((on, i) => i === 0 || on === !changes[i - 1])).toBe(true);
      let engineOn: boolean | undefined;
      let mismatches = 0;
      for (const event of run.events) {
        if (event.type === 'EngineStateChanged') engineOn = event.value.engineOn;
        if (event.type === 'TruckTelemetry' && engineOn !== undefined && event.value.engineOn !== engineOn)
          mismatches++;
      }
      expect(mismatches).toBe(0);
    }
  });

  it('never lets fuel fall below 0: a nearly empty truck pulls over and refuels', () => {
    const start = newTruck(0, 'normal', false);
    const { events } = drive(
      { ...start, fuelLiters: 0.5, mode: 'driving', dwellTotalMs: 0 },
      3 * 3600,
      1000,
      9,
    );
    const fuel = telemetry(events).map((s) => s.fuelPct);
    expect(fuel.every((value) => value >= 0 && value <= 100)).toBe(true);
    expect(Math.max(...fuel)).toBeGreaterThan((100 * 0.5) / TANK_LITERS + 50);
  });

  it('sends cargo temperature only from refrigerated trucks that write the v2 schema', () => {
    runs.forEach((run, routeIndex) => {
      const cargo = telemetry(run.events).map((s) => s.cargoTempC);
      if (routeIndex % 2 === 0) expect(cargo.every((c) => typeof c === 'number')).toBe(true);
      else expect(cargo.every((c) => c === null)).toBe(true);
    });
    const legacy = createTruck(
      {
        identity: { deviceId: 'x', siteId: 'd', idKey: 1 },
        startMs: START,
        routeIndex: 0,
        profile: 'calm',
        refrigerated: false,
        legacySchema: true,
      },
      createRng(1),
    );
    expect(telemetry(drive(legacy, 60, 1000, 1).events).every((s) => s.cargoTempC === null)).toBe(true);
  });

  it('raises P0217 when the engine overheats and clears it when it cools down', () => {
    // Force an overheating episode that is about to start pulling the truck over.
    const hot = {
      ...newTruck(0, 'normal', false),
      mode: 'driving' as const,
      engineOn: true,
      engineTempC: 90,
      overheatingMs: 10 * 60_000,
    };
    const { events } = drive(hot, 3600, 1000, 5);
    const dtc = events
      .filter((e) => e.type === 'DiagnosticReported' && e.value.code === 'P0217')
      .map((e) => e.value);
    expect(dtc.map((d) => (d as { active: boolean }).active)).toEqual([true, false]);
    expect(Math.max(...telemetry(events).map((s) => s.engineTempC))).toBeGreaterThan(105);
  });

  it('does not change the state it was given (a pure step)', () => {
    const state = newTruck(1, 'normal', true);
    const copy = structuredClone(state);
    stepTruck(state, 1000, createRng(3));
    expect(state).toEqual(copy);
  });
});
