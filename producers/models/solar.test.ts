import { describe, expect, it } from 'vitest';
import type { SolarTelemetry } from '../../schemas/types.ts';
import { createRng } from '../rng.ts';
import { createSolarArray, inverterEfficiency, SOLAR_SITES, type SolarState, stepSolar } from './solar.ts';
import { sunPosition } from './sun.ts';

const MIDSUMMER = Date.UTC(2026, 5, 21, 0, 0, 0);

function run(state: SolarState, steps: number, dtMs: number, seed: number): SolarTelemetry[] {
  const rng = createRng(seed);
  const out: SolarTelemetry[] = [];
  let current = state;
  for (let i = 0; i < steps; i++) {
    const result = stepSolar(current, dtMs, rng);
    current = result.state;
    for (const event of result.events) if (event.type === 'SolarTelemetry') out.push(event.value);
  }
  return out;
}

function array(siteIndex: number, seed: number, startMs = MIDSUMMER): SolarState {
  const site = SOLAR_SITES[siteIndex] as (typeof SOLAR_SITES)[number];
  return createSolarArray(
    { identity: { deviceId: `pv${seed}`, siteId: site.siteId, idKey: seed }, startMs, site, siteKey: seed },
    createRng(seed),
  );
}

describe('the sun', () => {
  it('stands about 90° − latitude + 23.44° high at solstice noon and below the horizon at midnight', () => {
    // Solar noon at 12.1°E is about 11:13 UTC.
    const noon = sunPosition(Date.UTC(2026, 5, 21, 11, 13), 48.9, 12.1);
    expect(noon.elevationDeg).toBeCloseTo(90 - 48.9 + 23.44, 0);
    expect(Math.abs(noon.azimuthDeg - 180)).toBeLessThan(3);
    expect(sunPosition(Date.UTC(2026, 5, 21, 23, 13), 48.9, 12.1).elevationDeg).toBeLessThan(0);
    // Southern winter: low noon sun in the north.
    const south = sunPosition(Date.UTC(2026, 5, 21, 2, 0), -23.4, 150.5);
    expect(south.elevationDeg).toBeCloseTo(90 - 23.4 - 23.44, 0);
  });
});

describe('the solar array model', () => {
  const days = SOLAR_SITES.map((_, i) => ({
    state: array(i, i + 1),
    samples: run(array(i, i + 1), 2 * 8640, 10_000, i + 5),
  }));

  it('produces nothing at night', () => {
    for (const { state, samples } of days) {
      const night = samples.filter(
        (s) => sunPosition(s.ts, state.site.lat, state.site.lon).elevationDeg <= 0,
      );
      expect(night.length).toBeGreaterThan(1000);
      expect(
        night.filter(
          (s) => s.irradianceWm2 !== 0 || s.acPowerW !== 0 || s.dcCurrentA !== 0 || s.status !== 'IDLE',
        ),
      ).toEqual([]);
    }
  });

  it('never exceeds the inverter rating and clips on a clear noon', () => {
    for (const { state, samples } of days) {
      expect(samples.filter((s) => !(s.acPowerW >= 0 && s.acPowerW <= state.inverterRatedW))).toEqual([]);
      expect(samples.filter((s) => !(s.irradianceWm2 >= 0 && s.irradianceWm2 < 1400))).toEqual([]);
      expect(samples.some((s) => s.status === 'PRODUCING')).toBe(true);
    }
    const sunny = days[2] as (typeof days)[number];
    expect(sunny.samples.some((s) => s.acPowerW === sunny.state.inverterRatedW)).toBe(true);
  });

  it('reports FAULT with no AC power while the inverter is tripped', () => {
    const tripped = { ...array(0, 3, Date.UTC(2026, 5, 21, 11, 0)), inverterFaultMs: 20 * 60_000 };
    const samples = run(tripped, 60, 10_000, 1);
    expect(samples.every((s) => s.status === 'FAULT' && s.acPowerW === 0 && s.irradianceWm2 > 300)).toBe(
      true,
    );
  });

  it('has an inverter efficiency that rises with load and tops out at 97.5 %', () => {
    expect(inverterEfficiency(0)).toBe(0);
    expect(inverterEfficiency(0.05)).toBeLessThan(inverterEfficiency(0.5));
    expect(inverterEfficiency(1)).toBeLessThanOrEqual(0.975);
  });
});
