/**
 * The truck model: a pure step function `(state, dtMs, rng) → { state, events }`.
 *
 * A truck drives its route (models/routes.ts) out and back, stopping at every city to
 * load or unload. Its speed follows the road type's limit scaled by the driver profile
 * and by traffic, accelerating and braking at rates a loaded truck can manage, and it
 * brakes in time to stop exactly at the next city. While stopped it idles, then turns the
 * engine off for long stops and back on before leaving (EngineStateChanged events).
 *
 * Episodes, each a small state machine started at a documented rate (docs/producers.md),
 * make every truck alert rule of docs/design.md §3 fire now and then: speeding (overspeed),
 * cooling faults (engine overheat, with DTC P0217 raised and cleared), emergency braking
 * (harsh braking), reefer door openings and compressor failures (cargo temperature
 * breach), and modem dropouts during which no telemetry is sent (heartbeat lost).
 */
import type { Rng } from '../rng.ts';
import type { DiagnosticSeverity, RawEvent } from '../../schemas/types.ts';
import {
  ambientTempC,
  approach,
  clamp,
  type DeviceClock,
  type DeviceIdentity,
  f32,
  type StepResult,
  stamp,
} from './common.ts';
import { positionAt, ROAD_SPEED_LIMIT_KMH, ROUTES, type Route } from './routes.ts';

export type DriverProfile = 'calm' | 'normal' | 'aggressive';

/** The speed governor: no truck can go faster, whatever the driver does. */
/** Model names the fleet registry records for the simulated trucks. */
export const TRUCK_MODELS = { dry: 'tractor-40t', refrigerated: 'tractor-40t-reefer' } as const;
export const TRUCK_MAX_SPEED_KMH = 110;
export const TANK_LITERS = 600;

/** Episode rates (per hour of the relevant activity) and durations; see docs/producers.md. */
export const TRUCK_EPISODES = {
  /** Speeding, per hour on motorways, by driver profile. */
  speedingPerHour: { calm: 0.01, normal: 0.04, aggressive: 0.2 } as Record<DriverProfile, number>,
  speedingMinutes: [1, 5] as const,
  /** Emergency stops (≥ 25 km/h lost within a second or two), per driving hour. */
  harshBrakingPerHour: { calm: 0.03, normal: 0.15, aggressive: 0.6 } as Record<DriverProfile, number>,
  /** Traffic jams on motorways, per driving hour. */
  trafficJamPerHour: 0.3,
  trafficJamMinutes: [3, 20] as const,
  /** Cooling faults (thermostat, coolant leak), per engine hour. */
  overheatingPerHour: 0.06,
  /** How long the driver keeps going before pulling over to let the engine cool. */
  overheatingMinutes: [4, 12] as const,
  /** Modem dropouts (no telemetry at all), per engine hour. */
  dropoutPerHour: 0.12,
  dropoutSeconds: [70, 180] as const,
  /** Other diagnostic trouble codes, per engine hour, active for a while then cleared. */
  diagnosticPerHour: 0.1,
  diagnosticMinutes: [10, 90] as const,
  /** Reefer compressor failures, per hour of refrigerated operation. */
  compressorFailurePerHour: 0.06,
  compressorFailureMinutes: [20, 120] as const,
  /** Chance that the hold's door is opened at a stop, and for how long. */
  doorOpenChancePerStop: 0.8,
  doorOpenMinutes: [2, 14] as const,
} as const;

const DIAGNOSTIC_CODES: readonly { code: string; severity: DiagnosticSeverity; description: string }[] = [
  { code: 'P0171', severity: 'WARNING', description: 'System too lean (bank 1)' },
  { code: 'P0300', severity: 'WARNING', description: 'Random/multiple cylinder misfire detected' },
  { code: 'P0420', severity: 'INFO', description: 'Catalyst system efficiency below threshold' },
  { code: 'P2463', severity: 'WARNING', description: 'Diesel particulate filter soot accumulation' },
  { code: 'P0128', severity: 'INFO', description: 'Coolant thermostat below regulating temperature' },
  { code: 'U0100', severity: 'CRITICAL', description: 'Lost communication with ECM/PCM' },
];
const OVERHEAT_CODE = {
  code: 'P0217',
  severity: 'CRITICAL' as const,
  description: 'Engine over temperature condition',
};
/** P0217 is raised above this temperature and cleared once the engine is back below 100 °C. */
const OVERHEAT_DTC_RAISE_C = 110;
const OVERHEAT_DTC_CLEAR_C = 100;

const DRIVER_SPEED_FACTOR: Record<DriverProfile, number> = { calm: 0.93, normal: 0.97, aggressive: 1.0 };
/** Comfortable acceleration of a loaded truck, km/h per second. */
const DRIVER_ACCEL_KMH_S: Record<DriverProfile, number> = { calm: 1.1, normal: 1.5, aggressive: 2.2 };
/** Service braking, km/h per second (about 1.4 m/s²), and the planning value for stops. */
const SERVICE_BRAKE_KMH_S = 5;
const PLANNED_DECEL_MS2 = 1.0;

export type TruckMode = 'driving' | 'dwelling';

export interface ReeferState {
  setpointC: number;
  cargoTempC: number;
  doorOpenMs: number;
  compressorFailedMs: number;
}

export interface TruckState extends DeviceClock {
  kind: 'truck';
  profile: DriverProfile;
  routeIndex: number;
  /** Distance along the route, km. */
  positionKm: number;
  /** +1 outbound, -1 on the way back to the depot. */
  direction: 1 | -1;
  /** Index into the route's stopsKm of the stop the truck is heading for. */
  nextStop: number;
  mode: TruckMode;
  speedKmh: number;
  /** Slow, autocorrelated deviation of the driver from the target speed, km/h. */
  speedWander: number;
  dwellElapsedMs: number;
  dwellTotalMs: number;
  refuelling: boolean;
  engineOn: boolean;
  engineTempC: number;
  fuelLiters: number;
  odometerKm: number;
  speedingMs: number;
  speedingTargetKmh: number;
  trafficMs: number;
  trafficFactor: number;
  harshBrakeMs: number;
  overheatingMs: number;
  /** Set when the driver must stop as soon as possible (low fuel, overheating). */
  pullOver: 'fuel' | 'overheat' | null;
  dropoutMs: number;
  overheatDtcActive: boolean;
  /** Active diagnostic codes other than P0217, with the time until they clear. */
  diagnostics: readonly { code: string; remainingMs: number }[];
  reefer: ReeferState | null;
  /** Writes TruckTelemetry v1 (no cargoTempC): set by the fleet for legacy trucks. */
  legacySchema: boolean;
}

export interface TruckInit {
  identity: DeviceIdentity;
  startMs: number;
  routeIndex: number;
  profile: DriverProfile;
  refrigerated: boolean;
  legacySchema: boolean;
}

export function routeOf(state: TruckState): Route {
  return ROUTES[state.routeIndex % ROUTES.length] as Route;
}

/** A truck parked at its depot with the engine off, late in its first stop. */
export function createTruck(init: TruckInit, rng: Rng): TruckState {
  const dwellTotalMs = rng.uniform(2, 30) * 60_000;
  return {
    kind: 'truck',
    identity: init.identity,
    timeMs: init.startMs,
    lastSeq: -1,
    profile: init.profile,
    routeIndex: init.routeIndex,
    positionKm: 0,
    direction: 1,
    nextStop: 1,
    mode: 'dwelling',
    speedKmh: 0,
    speedWander: 0,
    // Late in the first stop: a fleet that has just started is mostly about to leave, so the
    // first minutes of a run (a demo, a short test) already show trucks on the road.
    dwellElapsedMs: rng.uniform(0.6, 1) * dwellTotalMs,
    dwellTotalMs,
    refuelling: false,
    engineOn: false,
    engineTempC: 20,
    fuelLiters: TANK_LITERS * rng.uniform(0.4, 0.95),
    odometerKm: Math.round(rng.uniform(20_000, 600_000)),
    speedingMs: 0,
    speedingTargetKmh: 0,
    trafficMs: 0,
    trafficFactor: 1,
    harshBrakeMs: 0,
    overheatingMs: 0,
    pullOver: null,
    dropoutMs: 0,
    overheatDtcActive: false,
    diagnostics: [],
    reefer: init.refrigerated
      ? { setpointC: rng.uniform(2, 5), cargoTempC: rng.uniform(2, 5), doorOpenMs: 0, compressorFailedMs: 0 }
      : null,
    legacySchema: init.legacySchema && !init.refrigerated,
  };
}

const perStep = (ratePerHour: number, dtMs: number) => (ratePerHour * dtMs) / 3_600_000;
const minutes = (rng: Rng, [lo, hi]: readonly [number, number]) => rng.uniform(lo, hi) * 60_000;

export function stepTruck(previous: TruckState, dtMs: number, rng: Rng): StepResult<TruckState> {
  const s: TruckState = { ...previous, timeMs: previous.timeMs + dtMs };
  const dtS = dtMs / 1000;
  const events: RawEvent[] = [];
  let seq = s.lastSeq;
  const route = routeOf(s);
  const here = positionAt(route, s.positionKm);
  const ambient = ambientTempC(s.timeMs, here.lat, here.lon);
  const E = TRUCK_EPISODES;

  const setEngine = (on: boolean) => {
    if (s.engineOn === on) return;
    s.engineOn = on;
    events.push({
      type: 'EngineStateChanged',
      value: { ...stamp(s.identity, s.timeMs, ++seq), engineOn: on },
    });
  };
  const diagnostic = (code: string, severity: DiagnosticSeverity, description: string, active: boolean) => {
    events.push({
      type: 'DiagnosticReported',
      value: { ...stamp(s.identity, s.timeMs, ++seq), code, severity, description, active },
    });
  };

  // Episode timers run down whatever the truck does.
  s.speedingMs = Math.max(0, s.speedingMs - dtMs);
  s.trafficMs = Math.max(0, s.trafficMs - dtMs);
  s.dropoutMs = Math.max(0, s.dropoutMs - dtMs);
  if (s.trafficMs === 0) s.trafficFactor = 1;

  let distanceKm = 0;
  if (s.mode === 'driving') {
    const road = here.segment.road;
    // Episodes that only start while driving.
    if (
      road === 'motorway' &&
      s.speedingMs === 0 &&
      rng.chance(perStep(E.speedingPerHour[s.profile], dtMs))
    ) {
      s.speedingMs = minutes(rng, E.speedingMinutes);
      s.speedingTargetKmh = rng.uniform(94, 106);
    }
    if (road === 'motorway' && s.trafficMs === 0 && rng.chance(perStep(E.trafficJamPerHour, dtMs))) {
      s.trafficMs = minutes(rng, E.trafficJamMinutes);
      s.trafficFactor = rng.uniform(0.1, 0.45);
    }
    if (
      s.speedKmh > 45 &&
      s.harshBrakeMs === 0 &&
      rng.chance(perStep(E.harshBrakingPerHour[s.profile], dtMs))
    ) {
      s.harshBrakeMs = rng.uniform(1000, 1800);
    }
    if (s.overheatingMs === 0 && s.pullOver === null && rng.chance(perStep(E.overheatingPerHour, dtMs))) {
      s.overheatingMs = minutes(rng, E.overheatingMinutes);
    }
    if (s.dropoutMs === 0 && rng.chance(perStep(E.dropoutPerHour, dtMs))) {
      s.dropoutMs = rng.uniform(E.dropoutSeconds[0], E.dropoutSeconds[1]) * 1000;
    }
    if (s.overheatingMs > 0) {
      s.overheatingMs = Math.max(0, s.overheatingMs - dtMs);
      if (s.overheatingMs === 0) s.pullOver = 'overheat';
    }
    if (s.pullOver === null && s.fuelLiters < TANK_LITERS * 0.08) s.pullOver = 'fuel';

    // Target speed: the road's limit, the driver, traffic, and a slow wander.
    s.speedWander = approach(s.speedWander, 0, dtMs, 60_000) + rng.normal() * 0.6 * Math.sqrt(dtS);
    s.speedWander = clamp(s.speedWander, -6, 3);
    let target =
      ROAD_SPEED_LIMIT_KMH[road] * DRIVER_SPEED_FACTOR[s.profile] * s.trafficFactor + s.speedWander;
    if (s.speedingMs > 0 && road === 'motorway' && s.trafficFactor === 1) target = s.speedingTargetKmh;
    // Plan the stop: the highest speed from which the truck can still stop at the next city.
    const stopKm = route.stopsKm[s.nextStop] ?? 0;
    const toStopM = Math.max(0, (stopKm - s.positionKm) * s.direction * 1000);
    target = Math.min(target, 3.6 * Math.sqrt(2 * PLANNED_DECEL_MS2 * toStopM));
    if (s.pullOver !== null) target = 0;
    target = clamp(target, 0, TRUCK_MAX_SPEED_KMH);

    const before = s.speedKmh;
    if (s.harshBrakeMs > 0) {
      // An emergency stop: about 0.85 g for one to two seconds.
      const brakingS = Math.min(dtMs, s.harshBrakeMs) / 1000;
      s.harshBrakeMs = Math.max(0, s.harshBrakeMs - dtMs);
      s.speedKmh = Math.max(0, s.speedKmh - rng.uniform(27, 34) * brakingS);
    } else if (target > s.speedKmh) {
      s.speedKmh = Math.min(target, s.speedKmh + DRIVER_ACCEL_KMH_S[s.profile] * dtS);
    } else {
      s.speedKmh = Math.max(target, s.speedKmh - SERVICE_BRAKE_KMH_S * dtS);
    }
    s.speedKmh = clamp(s.speedKmh, 0, TRUCK_MAX_SPEED_KMH);
    distanceKm = Math.min(((before + s.speedKmh) / 2) * (dtS / 3600), toStopM / 1000);
    s.positionKm = clamp(s.positionKm + distanceKm * s.direction, 0, route.lengthKm);

    const arrived = toStopM / 1000 - distanceKm < 0.002 && (s.speedKmh < 8 || toStopM < 1);
    if (arrived) {
      s.positionKm = stopKm;
      startDwell(s, rng, 'stop');
    } else if (s.pullOver !== null && s.speedKmh === 0) {
      startDwell(s, rng, s.pullOver);
    }
  } else {
    s.dwellElapsedMs += dtMs;
    s.speedKmh = 0;
    // A truck pump delivers about 60 l/min.
    if (s.refuelling) s.fuelLiters = Math.min(TANK_LITERS * 0.98, s.fuelLiters + 1 * dtS);
    const remaining = s.dwellTotalMs - s.dwellElapsedMs;
    // Long stops: idle a couple of minutes, engine off, back on two minutes before leaving.
    if (s.dwellTotalMs > 6 * 60_000) setEngine(s.dwellElapsedMs < 120_000 || remaining < 120_000);
    else setEngine(true);
    if (remaining <= 0) {
      s.mode = 'driving';
      s.refuelling = false;
      s.pullOver = null;
      if (s.nextStop === 0 || s.nextStop === route.stopsKm.length - 1) {
        // The ends of the route: turn around.
        if (s.positionKm >= route.lengthKm - 1e-9) s.direction = -1;
        else if (s.positionKm <= 1e-9) s.direction = 1;
      }
      if (Math.abs((route.stopsKm[s.nextStop] ?? 0) - s.positionKm) < 1e-6) s.nextStop += s.direction;
      setEngine(true);
    }
  }

  // Engine temperature: warm running temperature with load, cooling when off, and the
  // overheating episode pushing it past the alert threshold until the driver stops.
  const load = s.speedKmh / ROAD_SPEED_LIMIT_KMH.motorway;
  const engineTarget = s.engineOn ? (s.overheatingMs > 0 ? 121 : 86 + 6 * load + 0.05 * ambient) : ambient;
  const engineTau = s.engineOn ? (s.overheatingMs > 0 ? 90_000 : 240_000) : 1_200_000;
  s.engineTempC = approach(s.engineTempC, engineTarget, dtMs, engineTau) + rng.normal() * 0.15;
  if (!s.overheatDtcActive && s.engineTempC > OVERHEAT_DTC_RAISE_C) {
    s.overheatDtcActive = true;
    diagnostic(OVERHEAT_CODE.code, OVERHEAT_CODE.severity, OVERHEAT_CODE.description, true);
  } else if (s.overheatDtcActive && s.engineTempC < OVERHEAT_DTC_CLEAR_C) {
    s.overheatDtcActive = false;
    diagnostic(OVERHEAT_CODE.code, OVERHEAT_CODE.severity, OVERHEAT_CODE.description, false);
  }

  // Other trouble codes: raised now and then while the engine runs, cleared after a while.
  const raiseDiagnostic = s.engineOn && rng.chance(perStep(E.diagnosticPerHour, dtMs));
  if (s.diagnostics.length > 0 || raiseDiagnostic) {
    const kept: { code: string; remainingMs: number }[] = [];
    for (const active of s.diagnostics) {
      const left = active.remainingMs - dtMs;
      if (left > 0) kept.push({ code: active.code, remainingMs: left });
      else {
        const spec = DIAGNOSTIC_CODES.find((d) => d.code === active.code);
        if (spec) diagnostic(spec.code, spec.severity, spec.description, false);
      }
    }
    if (raiseDiagnostic) {
      const spec = rng.pick(DIAGNOSTIC_CODES);
      if (!kept.some((d) => d.code === spec.code)) {
        kept.push({ code: spec.code, remainingMs: minutes(rng, E.diagnosticMinutes) });
        diagnostic(spec.code, spec.severity, spec.description, true);
      }
    }
    s.diagnostics = kept;
  }

  // Fuel: about 30 l/100 km on the road, 2.5 l/h idling.
  if (s.engineOn) {
    const burned = (distanceKm * (26 + 8 * load)) / 100 + (s.speedKmh < 1 ? (2.5 * dtS) / 3600 : 0);
    s.fuelLiters = Math.max(0, s.fuelLiters - burned);
  }
  s.odometerKm += distanceKm;

  if (s.reefer) s.reefer = stepReefer(s.reefer, s, ambient, dtMs, rng);

  // A modem dropout silences the telemetry; a real unit would not send it later either.
  if (s.dropoutMs > 0 && s.mode === 'driving') {
    s.lastSeq = seq;
    return { state: s, events };
  }
  const position = positionAt(route, s.positionKm);
  const heading = s.direction === 1 ? position.segment.bearingDeg : (position.segment.bearingDeg + 180) % 360;
  events.push({
    type: 'TruckTelemetry',
    value: {
      ...stamp(s.identity, s.timeMs, ++seq),
      lat: position.lat,
      lon: position.lon,
      speedKmh: f32(s.speedKmh),
      headingDeg: f32(heading) >= 360 ? 0 : f32(heading),
      engineTempC: f32(s.engineTempC),
      fuelPct: f32(clamp((100 * s.fuelLiters) / TANK_LITERS, 0, 100)),
      odometerKm: s.odometerKm,
      engineOn: s.engineOn,
      cargoTempC: s.reefer && !s.legacySchema ? f32(s.reefer.cargoTempC) : null,
    },
  });
  s.lastSeq = seq;
  return { state: s, events };
}

function startDwell(s: TruckState, rng: Rng, reason: 'stop' | 'fuel' | 'overheat'): void {
  const route = routeOf(s);
  const atDepot = reason === 'stop' && (s.nextStop === 0 || s.nextStop === route.stopsKm.length - 1);
  s.mode = 'dwelling';
  s.speedKmh = 0;
  s.harshBrakeMs = 0;
  s.dwellElapsedMs = 0;
  s.dwellTotalMs =
    reason === 'overheat'
      ? rng.uniform(25, 45) * 60_000
      : reason === 'fuel'
        ? rng.uniform(12, 20) * 60_000
        : rng.uniform(atDepot ? 30 : 12, atDepot ? 90 : 45) * 60_000;
  s.refuelling = reason === 'fuel' || s.fuelLiters < TANK_LITERS * 0.3;
  s.overheatingMs = 0;
  s.speedingMs = 0;
  if (s.reefer && reason === 'stop' && rng.chance(TRUCK_EPISODES.doorOpenChancePerStop)) {
    s.reefer = { ...s.reefer, doorOpenMs: minutes(rng, TRUCK_EPISODES.doorOpenMinutes) };
  }
}

/**
 * The refrigerated hold: the compressor pulls the cargo toward its setpoint; an open door
 * or a failed compressor lets it drift toward the outside air. Time constants reflect the
 * thermal mass of a loaded hold (tens of minutes), so a short door opening warms it a
 * little and a compressor failure of more than half an hour breaches 8 °C.
 */
function stepReefer(
  reefer: ReeferState,
  truck: TruckState,
  ambient: number,
  dtMs: number,
  rng: Rng,
): ReeferState {
  const r = { ...reefer };
  r.doorOpenMs = Math.max(0, r.doorOpenMs - dtMs);
  if (r.compressorFailedMs > 0) r.compressorFailedMs = Math.max(0, r.compressorFailedMs - dtMs);
  else if (truck.engineOn && rng.chance(perStep(TRUCK_EPISODES.compressorFailurePerHour, dtMs))) {
    r.compressorFailedMs = minutes(rng, TRUCK_EPISODES.compressorFailureMinutes);
  }
  const outside = Math.max(ambient, 14);
  if (r.doorOpenMs > 0) r.cargoTempC = approach(r.cargoTempC, outside, dtMs, 40 * 60_000);
  else if (r.compressorFailedMs > 0) r.cargoTempC = approach(r.cargoTempC, outside, dtMs, 55 * 60_000);
  else r.cargoTempC = approach(r.cargoTempC, r.setpointC, dtMs, 12 * 60_000);
  r.cargoTempC += rng.normal() * 0.03;
  return r;
}
