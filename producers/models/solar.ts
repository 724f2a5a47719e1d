/**
 * The solar array model: a pure step function `(state, dtMs, rng) → { state, events }`.
 *
 * Plane-of-array irradiance comes from the sun's position at the site (models/sun.ts)
 * on panels tilted at 0.9 × latitude toward the equator: direct beam × cos(incidence)
 * + sky diffuse + ground reflection. Passing clouds are a two-state process per array
 * (sun / shadow, 20-80 % of the beam left) whose share of shadow follows the site's
 * cloudiness, a slowly varying value shared by all arrays of the site. At night
 * everything is 0 and the array is IDLE.
 *
 * Cell temperature lags the NOCT model (T = ambient + 0.03 K·m²/W × irradiance). DC
 * power = rated × G/1000 × (1 − 0.4 %/K above 25 °C); the inverter converts it with a
 * part-load efficiency curve and clips at its AC rating (DC/AC ratio 1.2), so AC power
 * never exceeds the rating. Episodes: inverter trips (FAULT, AC 0 → solar.inverter_fault)
 * and hot spots (+35-45 °C on the hottest cell → solar.panel_overheat).
 */
import type { Rng } from '../rng.ts';
import type { RawEvent, SolarStatus } from '../../schemas/types.ts';
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
import { clearSky, cosIncidence, sunPosition } from './sun.ts';

export interface SolarSite {
  siteId: string;
  lat: number;
  lon: number;
  /** Long-run share of time under cloud shadow, 0..1 (mean of the site's cloudiness). */
  cloudiness: number;
}

export const SOLAR_SITES: readonly SolarSite[] = [
  { siteId: 'pv-almeria', lat: 37.09, lon: -2.36, cloudiness: 0.15 },
  { siteId: 'pv-bavaria', lat: 48.9, lon: 12.1, cloudiness: 0.5 },
  { siteId: 'pv-arizona', lat: 33.3, lon: -112.8, cloudiness: 0.1 },
  { siteId: 'pv-queensland', lat: -23.4, lon: 150.5, cloudiness: 0.3 },
];

export const SOLAR_EPISODES = {
  /** Inverter trips, per daylight hour, lasting 10-90 min. */
  inverterFaultPerHour: 0.03,
  inverterFaultMinutes: [10, 90] as const,
  /** Hot spots (failed bypass diode, shading on a cell), per hour of strong sun. */
  hotSpotPerHour: 0.05,
  hotSpotMinutes: [10, 45] as const,
  hotSpotExtraC: [35, 45] as const,
} as const;

/** Model name the fleet registry records for the simulated arrays (string inverter, crystalline panels). */
export const SOLAR_MODEL = 'pv-string-array';

/** Array DC rating / inverter AC rating: oversizing makes clipping at clear noons. */
export const DC_AC_RATIO = 1.2;
const TEMP_COEFF_PER_K = -0.004;
const NOCT_K_PER_WM2 = 0.03;
/** Below this DC power share the inverter stays off (it cannot track the MPP). */
const INVERTER_START_SHARE = 0.005;

/** Part-load inverter efficiency: 97.5 % at full load, falling off below 10 %. */
export function inverterEfficiency(loadShare: number): number {
  if (loadShare <= 0) return 0;
  return clamp(0.975 - 0.004 / loadShare, 0, 0.975);
}

export interface SolarState extends DeviceClock {
  kind: 'solar';
  site: SolarSite;
  siteKey: number;
  tiltDeg: number;
  panelAzimuthDeg: number;
  dcRatedW: number;
  inverterRatedW: number;
  /** String voltage at the maximum power point at 25 °C and 1000 W/m². */
  vmpStcV: number;
  shaded: boolean;
  /** Share of the direct beam left in the current cloud shadow. */
  shadeTransmittance: number;
  panelTempC: number;
  inverterFaultMs: number;
  hotSpotMs: number;
  hotSpotExtraC: number;
}

export interface SolarInit {
  identity: DeviceIdentity;
  startMs: number;
  site: SolarSite;
  siteKey: number;
}

export function createSolarArray(init: SolarInit, rng: Rng): SolarState {
  const dcRatedW = Math.round(rng.uniform(50, 500)) * 1000;
  return {
    kind: 'solar',
    identity: init.identity,
    timeMs: init.startMs,
    lastSeq: -1,
    site: init.site,
    siteKey: init.siteKey,
    tiltDeg: Math.abs(init.site.lat) * 0.9,
    panelAzimuthDeg: init.site.lat >= 0 ? 180 : 0,
    dcRatedW,
    // A whole number of watts is exact in float32, so the clipped AC value never rounds above it.
    inverterRatedW: Math.floor(dcRatedW / DC_AC_RATIO),
    vmpStcV: rng.uniform(600, 800),
    shaded: false,
    shadeTransmittance: 1,
    panelTempC: ambientTempC(init.startMs, init.site.lat, init.site.lon),
    inverterFaultMs: 0,
    hotSpotMs: 0,
    hotSpotExtraC: 0,
  };
}

/** Plane-of-array irradiance, W/m², for a given beam transmittance (1 = clear). */
export function planeOfArrayWm2(state: SolarState, timeMs: number, beamTransmittance: number): number {
  const sun = sunPosition(timeMs, state.site.lat, state.site.lon);
  if (sun.elevationDeg <= 0) return 0;
  const { dni, dhi } = clearSky(sun.elevationDeg);
  const tilt = (state.tiltDeg * Math.PI) / 180;
  const beam = dni * beamTransmittance * Math.max(0, cosIncidence(sun, state.tiltDeg, state.panelAzimuthDeg));
  // Clouds scatter part of the blocked beam into diffuse light.
  const diffuse = (dhi + 0.25 * dni * (1 - beamTransmittance)) * ((1 + Math.cos(tilt)) / 2);
  const ghi = dni * Math.sin((sun.elevationDeg * Math.PI) / 180) + dhi;
  const reflected = 0.2 * ghi * ((1 - Math.cos(tilt)) / 2);
  return beam + diffuse + reflected;
}

const perStep = (ratePerHour: number, dtMs: number) => (ratePerHour * dtMs) / 3_600_000;
const minutes = (rng: Rng, [lo, hi]: readonly [number, number]) => rng.uniform(lo, hi) * 60_000;

export function stepSolar(previous: SolarState, dtMs: number, rng: Rng): StepResult<SolarState> {
  const s: SolarState = { ...previous, timeMs: previous.timeMs + dtMs };
  const E = SOLAR_EPISODES;

  // Clouds: the share of shadow follows the site's cloudiness of the hour; each shadow or
  // sunny spell lasts a minute or two on average.
  const cloudiness = clamp(s.site.cloudiness * 2 * valueNoise(s.siteKey, s.timeMs, 2 * 3_600_000), 0, 0.95);
  const meanSpellMs = 90_000;
  if (
    s.shaded
      ? rng.chance(dtMs / (meanSpellMs * cloudiness * 2 + 1))
      : rng.chance((dtMs / meanSpellMs) * cloudiness)
  ) {
    s.shaded = !s.shaded;
    s.shadeTransmittance = s.shaded ? rng.uniform(0.2, 0.8) : 1;
  }
  const irradiance = planeOfArrayWm2(s, s.timeMs, s.shaded ? s.shadeTransmittance : 1);

  if (s.inverterFaultMs > 0) s.inverterFaultMs = Math.max(0, s.inverterFaultMs - dtMs);
  else if (irradiance > 50 && rng.chance(perStep(E.inverterFaultPerHour, dtMs))) {
    s.inverterFaultMs = minutes(rng, E.inverterFaultMinutes);
  }
  if (s.hotSpotMs > 0) s.hotSpotMs = Math.max(0, s.hotSpotMs - dtMs);
  else if (irradiance > 600 && rng.chance(perStep(E.hotSpotPerHour, dtMs))) {
    s.hotSpotMs = minutes(rng, E.hotSpotMinutes);
    s.hotSpotExtraC = rng.uniform(E.hotSpotExtraC[0], E.hotSpotExtraC[1]);
  }

  const ambient = ambientTempC(s.timeMs, s.site.lat, s.site.lon);
  // At night panels radiate to the sky and end up a little below the air temperature.
  const hotSpot = s.hotSpotMs > 0 && irradiance > 200 ? s.hotSpotExtraC : 0;
  const panelTarget = irradiance > 0 ? ambient + NOCT_K_PER_WM2 * irradiance + hotSpot : ambient - 2;
  s.panelTempC = approach(s.panelTempC, panelTarget, dtMs, 300_000);

  let status: SolarStatus = 'IDLE';
  let dcVoltage = 0;
  let dcCurrent = 0;
  let acPower = 0;
  if (irradiance > 0) {
    const g = irradiance / 1000;
    const tempFactor = 1 + TEMP_COEFF_PER_K * (s.panelTempC - 25);
    const mppPowerW = Math.max(0, s.dcRatedW * g * tempFactor * (1 + 0.01 * rng.normal()));
    // Voltage: falls with temperature, rises with the logarithm of irradiance.
    const vmp = s.vmpStcV * (1 - 0.0035 * (s.panelTempC - 25)) * (1 + 0.05 * Math.log(Math.max(g, 0.01)));
    const voc = vmp * 1.2;
    if (s.inverterFaultMs > 0) {
      // A tripped inverter draws no current: the strings sit at open-circuit voltage.
      status = 'FAULT';
      dcVoltage = Math.max(0, voc);
    } else if (mppPowerW > INVERTER_START_SHARE * s.dcRatedW && vmp > 0) {
      const efficiency = inverterEfficiency(mppPowerW / s.inverterRatedW);
      acPower = Math.min(mppPowerW * efficiency, s.inverterRatedW);
      // When clipping, the inverter moves off the MPP toward Voc and draws only what it can use.
      const dcPower = acPower / Math.max(efficiency, 1e-6);
      dcVoltage = acPower < mppPowerW * efficiency ? vmp * (1 + 0.15 * (1 - dcPower / mppPowerW)) : vmp;
      dcCurrent = dcPower / dcVoltage;
      status = acPower > 0 ? 'PRODUCING' : 'IDLE';
    } else {
      dcVoltage = Math.max(0, voc * Math.min(1, g * 20));
    }
  }

  const seq = s.lastSeq + 1;
  s.lastSeq = seq;
  const event: RawEvent = {
    type: 'SolarTelemetry',
    value: {
      ...stamp(s.identity, s.timeMs, seq),
      irradianceWm2: f32(irradiance),
      panelTempC: f32(s.panelTempC),
      dcVoltageV: f32(dcVoltage),
      dcCurrentA: f32(dcCurrent),
      acPowerW: f32(Math.min(acPower, s.inverterRatedW)),
      status,
    },
  };
  return { state: s, events: [event] };
}
