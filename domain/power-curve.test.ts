import { describe, expect, it } from 'vitest';
import {
  CUT_IN_MS,
  CUT_OUT_MS,
  expectedPowerKw,
  MAX_ROTOR_RPM,
  MIN_ROTOR_RPM,
  pitchForWindDeg,
  POWER_CURVE_TABLE,
  RATED_POWER_KW,
  RATED_WIND_MS,
  rotorRpmForWind,
} from './power-curve.ts';

describe('the documented power curve', () => {
  it('is 0 below cut-in and above cut-out', () => {
    for (const wind of [0, 1, 2.99, CUT_IN_MS - 1e-9, CUT_OUT_MS + 1e-9, 26, 40, Number.NaN, -3]) {
      expect(expectedPowerKw(wind)).toBe(0);
    }
  });

  it('never exceeds rated power and holds it from rated wind to cut-out', () => {
    for (let wind = 0; wind <= 30; wind += 0.05) {
      const power = expectedPowerKw(wind);
      expect(power).toBeGreaterThanOrEqual(0);
      expect(power).toBeLessThanOrEqual(RATED_POWER_KW);
    }
    for (const wind of [RATED_WIND_MS, 15, 20, CUT_OUT_MS])
      expect(expectedPowerKw(wind)).toBe(RATED_POWER_KW);
  });

  it('passes through every table point and rises monotonically between cut-in and rated', () => {
    for (const [wind, power] of POWER_CURVE_TABLE) expect(expectedPowerKw(wind)).toBeCloseTo(power, 9);
    let previous = 0;
    for (let wind = CUT_IN_MS; wind <= RATED_WIND_MS; wind += 0.1) {
      const power = expectedPowerKw(wind);
      expect(power).toBeGreaterThanOrEqual(previous);
      previous = power;
    }
    expect(expectedPowerKw(7.5)).toBeCloseTo((911 + 1362) / 2, 9);
  });

  it('pitches only above rated wind and keeps the rotor in its speed range', () => {
    expect(pitchForWindDeg(10)).toBe(0);
    expect(pitchForWindDeg(13)).toBeGreaterThan(0);
    expect(pitchForWindDeg(25)).toBeLessThanOrEqual(25);
    for (let wind = 0; wind <= 30; wind += 0.5) {
      expect(rotorRpmForWind(wind)).toBeGreaterThanOrEqual(MIN_ROTOR_RPM);
      expect(rotorRpmForWind(wind)).toBeLessThanOrEqual(MAX_ROTOR_RPM);
    }
  });
});
