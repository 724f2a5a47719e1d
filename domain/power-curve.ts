/**
 * The documented power curve of the simulated wind turbines: a generic 3 MW, 112 m rotor,
 * pitch-regulated variable-speed machine (the class of the Vestas V112-3.0 / Siemens
 * SWT-3.0). This module is the single source of truth: the turbine model produces power
 * from it, and the processors' `turbine.underperformance` rule imports the very same
 * function to compute what a turbine should have made at a measured wind speed.
 *
 * Between table points the curve is linear; below cut-in and above cut-out it is 0;
 * from rated wind speed up to cut-out, pitch control holds it at rated power.
 * Air density is the IEC standard 1.225 kg/m³ (no density correction).
 */

/**
 * Name of this turbine model and of its power curve: what the fleet registry records for
 * the simulated turbines (registry `model` and `powerCurve`), so the registry and the
 * simulator name the same machine.
 */
export const TURBINE_MODEL = 'generic-3mw-112';

/** Wind speed (m/s, at hub height) below which the turbine does not produce. */
export const CUT_IN_MS = 3;
/** Wind speed from which the turbine produces its rated power. */
export const RATED_WIND_MS = 12;
/** Wind speed above which the turbine shuts down (feathers) to protect itself. */
export const CUT_OUT_MS = 25;
/** After a high-wind shutdown, the turbine restarts only below this (hysteresis). */
export const RESTART_WIND_MS = 20;
/** Electrical output at rated wind speed and above, kW. */
export const RATED_POWER_KW = 3000;
/** Rotor diameter, m. */
export const ROTOR_DIAMETER_M = 112;
/** Rotor speed range of the variable-speed operation, rpm. */
export const MIN_ROTOR_RPM = 6.2;
export const MAX_ROTOR_RPM = 17.7;

/**
 * [wind speed m/s, power kW] from cut-in to rated, 1 m/s apart. Beyond the last point
 * the curve is flat at RATED_POWER_KW until CUT_OUT_MS.
 */
export const POWER_CURVE_TABLE: readonly (readonly [windMs: number, powerKw: number])[] = [
  [3, 23],
  [4, 133],
  [5, 313],
  [6, 571],
  [7, 911],
  [8, 1362],
  [9, 1913],
  [10, 2464],
  [11, 2864],
  [12, 3000],
];

/** The power (kW) the turbine makes in steady wind of `windSpeedMs`, per the table above. */
export function expectedPowerKw(windSpeedMs: number): number {
  if (!Number.isFinite(windSpeedMs) || windSpeedMs < CUT_IN_MS || windSpeedMs > CUT_OUT_MS) return 0;
  if (windSpeedMs >= RATED_WIND_MS) return RATED_POWER_KW;
  // The table is 1 m/s apart starting at cut-in, so the segment index is the integer part.
  const index = Math.floor(windSpeedMs - CUT_IN_MS);
  const [w0, p0] = POWER_CURVE_TABLE[index] as readonly [number, number];
  const [w1, p1] = POWER_CURVE_TABLE[index + 1] as readonly [number, number];
  return p0 + ((p1 - p0) * (windSpeedMs - w0)) / (w1 - w0);
}

/**
 * The blade pitch (degrees) that holds rated power above rated wind speed: 0 (fine pitch)
 * below rated, rising roughly with the square root of the excess wind, up to about 25°
 * at cut-out. The feathered (parked) position is FEATHERED_PITCH_DEG.
 */
export function pitchForWindDeg(windSpeedMs: number): number {
  if (windSpeedMs <= RATED_WIND_MS) return 0;
  return Math.min(25, 6.9 * Math.sqrt(Math.min(windSpeedMs, CUT_OUT_MS) - RATED_WIND_MS));
}

export const FEATHERED_PITCH_DEG = 90;

/** Rotor speed (rpm) at optimal tip-speed ratio λ = 8, limited to the machine's range. */
export function rotorRpmForWind(windSpeedMs: number): number {
  const tipSpeedRatio = 8;
  const rpm = (tipSpeedRatio * windSpeedMs * 60) / (Math.PI * ROTOR_DIAMETER_M);
  return Math.min(MAX_ROTOR_RPM, Math.max(MIN_ROTOR_RPM, rpm));
}
