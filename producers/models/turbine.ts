/**
 * The wind turbine model: a pure step function `(state, dtMs, rng) → { state, events }`.
 *
 * Wind at hub height = the site's weather (Weibull-distributed hourly means blended
 * smoothly, the same for every turbine of the site) × a daily pattern (windier in the
 * afternoon) + turbulence (an AR(1) process, 10 % intensity, 20 s memory) + gusts. The
 * reported wind is the nacelle anemometer's short average, and power follows the
 * documented curve of domain/power-curve.ts at that wind, so a RUNNING turbine never
 * makes power below cut-in or above cut-out, nor more than rated. Above rated wind the
 * blades pitch to hold rated power; above cut-out the turbine feathers and waits for the
 * wind to drop below the restart speed.
 *
 * Episodes (rates in TURBINE_EPISODES, docs/producers.md): converter/pitch faults
 * (FAULT), scheduled maintenance (MAINTENANCE), bearing wear that raises vibration past
 * 7 mm/s until a maintenance visit (turbine.high_vibration), and degraded operation —
 * icing, yaw misalignment — making 35-60 % of the curve (turbine.underperformance).
 */
import type { Rng } from '../rng.ts';
import type { RawEvent, TurbineStatus } from '../../schemas/types.ts';
import {
  ambientTempC,
  approach,
  clamp,
  type DeviceClock,
  type DeviceIdentity,
  f32,
  type StepResult,
  stamp,
  valueNoise,
} from './common.ts';
import {
  CUT_IN_MS,
  CUT_OUT_MS,
  expectedPowerKw,
  FEATHERED_PITCH_DEG,
  MAX_ROTOR_RPM,
  pitchForWindDeg,
  RATED_POWER_KW,
  RESTART_WIND_MS,
  rotorRpmForWind,
} from '../../domain/power-curve.ts';

export interface WindSite {
  siteId: string;
  lat: number;
  lon: number;
  /** Weibull scale of the hourly mean wind at hub height, m/s (shape k = 2). */
  weibullScaleMs: number;
}

export const WIND_SITES: readonly WindSite[] = [
  { siteId: 'wf-horns-rev', lat: 55.53, lon: 7.91, weibullScaleMs: 10.5 },
  { siteId: 'wf-roscoe', lat: 32.45, lon: -100.54, weibullScaleMs: 9 },
  { siteId: 'wf-altamont', lat: 37.73, lon: -121.65, weibullScaleMs: 8 },
];

export const TURBINE_EPISODES = {
  /** Converter, pitch or grid faults, per running hour. */
  faultPerHour: 0.02,
  faultMinutes: [10, 60] as const,
  /** Scheduled maintenance visits, per hour. */
  maintenancePerHour: 0.006,
  maintenanceMinutes: [120, 300] as const,
  /** Bearing wear onset, per running hour; vibration climbs over `wearRampMinutes`. */
  bearingWearPerHour: 0.02,
  wearRampMinutes: [20, 90] as const,
  /** Time from full wear to the technicians stopping the turbine. */
  wearToMaintenanceMinutes: [60, 240] as const,
  /** Degraded operation (icing, yaw misalignment), per running hour. */
  underperformancePerHour: 0.02,
  underperformanceMinutes: [40, 180] as const,
  underperformanceFactor: [0.35, 0.6] as const,
  /** Gusts, per hour: +2..7 m/s for 4..15 s. */
  gustsPerHour: 6,
} as const;

export interface TurbineState extends DeviceClock {
  kind: 'turbine';
  site: WindSite;
  /** Key of the site's shared weather noise. */
  siteKey: number;
  turbulenceMs: number;
  gustMs: number;
  gustElapsedMs: number;
  gustAmplitudeMs: number;
  windMs: number;
  status: TurbineStatus;
  /** Remaining time of a FAULT or MAINTENANCE. */
  statusRemainingMs: number;
  stormShutdown: boolean;
  rotorRpm: number;
  pitchDeg: number;
  powerKw: number;
  nacelleTempC: number;
  /** Bearing wear, 0 healthy .. 1 worn; grows during a wear episode. */
  bearingWear: number;
  wearRampRatePerMs: number;
  wearToMaintenanceMs: number;
  underperformanceMs: number;
  underperformanceFactor: number;
  /** This machine's share of the curve when healthy (manufacturing spread, soiling). */
  efficiency: number;
}

export interface TurbineInit {
  identity: DeviceIdentity;
  startMs: number;
  site: WindSite;
  siteKey: number;
}

export function createTurbine(init: TurbineInit, rng: Rng): TurbineState {
  return {
    kind: 'turbine',
    identity: init.identity,
    timeMs: init.startMs,
    lastSeq: -1,
    site: init.site,
    siteKey: init.siteKey,
    turbulenceMs: 0,
    gustMs: 0,
    gustElapsedMs: 0,
    gustAmplitudeMs: 0,
    windMs: siteMeanWindMs(init.site, init.siteKey, init.startMs),
    status: 'IDLE',
    statusRemainingMs: 0,
    stormShutdown: false,
    rotorRpm: 0,
    pitchDeg: FEATHERED_PITCH_DEG,
    powerKw: 0,
    nacelleTempC: ambientTempC(init.startMs, init.site.lat, init.site.lon) + 8,
    bearingWear: 0,
    wearRampRatePerMs: 0,
    wearToMaintenanceMs: 0,
    underperformanceMs: 0,
    underperformanceFactor: 1,
    efficiency: rng.uniform(0.95, 1),
  };
}

/**
 * The site's mean wind: hourly Weibull(k=2) draws shared by all turbines of the site,
 * blended smoothly (3-hour weather systems), times a daily cycle peaking mid-afternoon.
 */
export function siteMeanWindMs(site: WindSite, siteKey: number, timeMs: number): number {
  const u = Math.min(valueNoise(siteKey, timeMs, 3 * 3_600_000), 0.999_999);
  const weibull = site.weibullScaleMs * Math.sqrt(-Math.log(1 - u));
  const hour = (((timeMs / 3_600_000 + site.lon / 15) % 24) + 24) % 24;
  return weibull * (1 + 0.15 * Math.cos((2 * Math.PI * (hour - 15)) / 24));
}

const perStep = (ratePerHour: number, dtMs: number) => (ratePerHour * dtMs) / 3_600_000;
const minutes = (rng: Rng, [lo, hi]: readonly [number, number]) => rng.uniform(lo, hi) * 60_000;

export function stepTurbine(previous: TurbineState, dtMs: number, rng: Rng): StepResult<TurbineState> {
  const s: TurbineState = { ...previous, timeMs: previous.timeMs + dtMs };
  const E = TURBINE_EPISODES;
  const mean = siteMeanWindMs(s.site, s.siteKey, s.timeMs);

  // Turbulence: AR(1) with 20 s memory and a standard deviation of 10 % of the mean.
  const decay = Math.exp(-dtMs / 20_000);
  s.turbulenceMs = s.turbulenceMs * decay + 0.1 * mean * Math.sqrt(1 - decay * decay) * rng.normal();
  if (s.gustMs > 0) {
    s.gustElapsedMs += dtMs;
    if (s.gustElapsedMs >= s.gustMs) s.gustMs = 0;
  } else if (rng.chance(perStep(E.gustsPerHour, dtMs))) {
    s.gustMs = rng.uniform(4_000, 15_000);
    s.gustElapsedMs = 0;
    s.gustAmplitudeMs = rng.uniform(2, 7);
  }
  const gust = s.gustMs > 0 ? s.gustAmplitudeMs * Math.sin((Math.PI * s.gustElapsedMs) / s.gustMs) : 0;
  const instantaneous = Math.max(0, mean + s.turbulenceMs + gust);
  // The anemometer's short average (about 3 s), which is what SCADA reports.
  s.windMs = approach(s.windMs, instantaneous, dtMs, 3_000);
  const wind = f32(s.windMs);

  // Status transitions.
  const running = s.status === 'RUNNING';
  // A worn bearing gets a technician after a while: the clock runs once wear is complete.
  if (s.bearingWear >= 1) s.wearToMaintenanceMs -= dtMs;
  if (s.status === 'FAULT' || s.status === 'MAINTENANCE') {
    s.statusRemainingMs -= dtMs;
    if (s.statusRemainingMs <= 0) {
      if (s.status === 'MAINTENANCE') {
        s.bearingWear = 0;
        s.wearRampRatePerMs = 0;
        s.wearToMaintenanceMs = 0;
      }
      s.status = 'IDLE';
      s.statusRemainingMs = 0;
    }
  } else if (s.bearingWear >= 1 && s.wearToMaintenanceMs <= 0) {
    s.status = 'MAINTENANCE';
    s.statusRemainingMs = minutes(rng, E.maintenanceMinutes);
  } else if (rng.chance(perStep(E.maintenancePerHour, dtMs))) {
    s.status = 'MAINTENANCE';
    s.statusRemainingMs = minutes(rng, E.maintenanceMinutes);
  } else if (running && rng.chance(perStep(E.faultPerHour, dtMs))) {
    s.status = 'FAULT';
    s.statusRemainingMs = minutes(rng, E.faultMinutes);
  } else {
    if (wind > CUT_OUT_MS) s.stormShutdown = true;
    else if (s.stormShutdown && wind < RESTART_WIND_MS) s.stormShutdown = false;
    // Start at cut-in, stop half a metre per second below it, so it does not chatter.
    const canRun = !s.stormShutdown && (running ? wind >= CUT_IN_MS - 0.5 : wind >= CUT_IN_MS);
    s.status = canRun ? 'RUNNING' : 'IDLE';
  }

  if (s.status === 'RUNNING') {
    if (s.bearingWear === 0 && rng.chance(perStep(E.bearingWearPerHour, dtMs))) {
      s.wearRampRatePerMs = 1 / minutes(rng, E.wearRampMinutes);
      s.wearToMaintenanceMs = minutes(rng, E.wearToMaintenanceMinutes);
      s.bearingWear = 1e-6;
    }
    if (s.underperformanceMs === 0 && rng.chance(perStep(E.underperformancePerHour, dtMs))) {
      s.underperformanceMs = minutes(rng, E.underperformanceMinutes);
      s.underperformanceFactor = rng.uniform(E.underperformanceFactor[0], E.underperformanceFactor[1]);
    }
  }
  if (s.bearingWear > 0 && s.bearingWear < 1)
    s.bearingWear = Math.min(1, s.bearingWear + s.wearRampRatePerMs * dtMs);
  if (s.underperformanceMs > 0) {
    s.underperformanceMs = Math.max(0, s.underperformanceMs - dtMs);
    if (s.underperformanceMs === 0) s.underperformanceFactor = 1;
  }

  if (s.status === 'RUNNING') {
    s.pitchDeg = approach(s.pitchDeg, pitchForWindDeg(wind), dtMs, 4_000);
    s.rotorRpm = approach(s.rotorRpm, rotorRpmForWind(wind), dtMs, 6_000);
    const curve = expectedPowerKw(wind);
    const noise = 1 + 0.015 * rng.normal();
    s.powerKw = clamp(
      curve * s.efficiency * s.underperformanceFactor * noise,
      0,
      Math.min(curve, RATED_POWER_KW),
    );
  } else {
    s.pitchDeg = approach(s.pitchDeg, FEATHERED_PITCH_DEG, dtMs, 8_000);
    // Feathered rotors idle slowly in wind; braked ones (fault, maintenance) stop.
    const idleRpm = s.status === 'IDLE' && !s.stormShutdown ? Math.min(1.5, wind * 0.3) : 0;
    s.rotorRpm = approach(s.rotorRpm, idleRpm, dtMs, 20_000);
    s.powerKw = 0;
  }

  const ambient = ambientTempC(s.timeMs, s.site.lat, s.site.lon);
  s.nacelleTempC = approach(s.nacelleTempC, ambient + 8 + 17 * (s.powerKw / RATED_POWER_KW), dtMs, 1_200_000);
  const rpmShare = s.rotorRpm / MAX_ROTOR_RPM;
  // Healthy: grows with the square of rotor speed. A worn bearing adds a defect component
  // that is there as soon as the rotor turns (7-12 mm/s over the speed range).
  const turning = Math.min(1, s.rotorRpm / 2);
  const vibration =
    (0.3 + 1.9 * rpmShare * rpmShare + s.bearingWear * turning * (4.5 + 7 * rpmShare)) *
      (1 + 0.06 * rng.normal()) +
    0.05 * Math.abs(rng.normal());

  const seq = s.lastSeq + 1;
  s.lastSeq = seq;
  const event: RawEvent = {
    type: 'TurbineTelemetry',
    value: {
      ...stamp(s.identity, s.timeMs, seq),
      windSpeedMs: wind,
      rotorRpm: f32(s.rotorRpm),
      powerKw: f32(s.powerKw),
      pitchDeg: f32(s.pitchDeg),
      nacelleTempC: f32(s.nacelleTempC + 0.1 * rng.normal()),
      vibrationMmS: f32(Math.max(0, vibration)),
      status: s.status,
    },
  };
  return { state: s, events: [event] };
}
