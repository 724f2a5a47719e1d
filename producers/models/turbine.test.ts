import { describe, expect, it } from 'vitest';
import type { TurbineTelemetry } from '../../schemas/types.ts';
import { createRng } from '../rng.ts';
import {
  CUT_IN_MS,
  CUT_OUT_MS,
  expectedPowerKw,
  RATED_POWER_KW,
  RESTART_WIND_MS,
} from '../../domain/power-curve.ts';
import { createTurbine, stepTurbine, type TurbineState, WIND_SITES } from './turbine.ts';

const START = Date.UTC(2026, 0, 15, 0, 0, 0);

function run(state: TurbineState, steps: number, dtMs: number, seed: number): TurbineTelemetry[] {
  const rng = createRng(seed);
  const out: TurbineTelemetry[] = [];
  let current = state;
  for (let i = 0; i < steps; i++) {
    const result = stepTurbine(current, dtMs, rng);
    current = result.state;
    for (const event of result.events) if (event.type === 'TurbineTelemetry') out.push(event.value);
  }
  return out;
}

function turbine(siteIndex: number, seed: number, overrides: Partial<TurbineState> = {}): TurbineState {
  const site = WIND_SITES[siteIndex] as (typeof WIND_SITES)[number];
  return {
    ...createTurbine(
      {
        identity: { deviceId: `t${seed}`, siteId: site.siteId, idKey: seed },
        startMs: START,
        site,
        siteKey: seed,
      },
      createRng(seed),
    ),
    ...overrides,
  };
}

describe('the wind turbine model', () => {
  const samples = WIND_SITES.flatMap((_, i) => run(turbine(i, i + 1), 12 * 3600, 1000, i + 10));

  it('makes no power below cut-in or above cut-out, and never more than rated or the curve', () => {
    const outside = samples.filter((s) => s.windSpeedMs < CUT_IN_MS || s.windSpeedMs > CUT_OUT_MS);
    expect(outside.length).toBeGreaterThan(0);
    expect(outside.filter((s) => s.powerKw !== 0)).toEqual([]);
    expect(samples.filter((s) => !(s.powerKw >= 0 && s.powerKw <= RATED_POWER_KW))).toEqual([]);
    expect(samples.filter((s) => s.powerKw > expectedPowerKw(s.windSpeedMs) + 1e-3)).toEqual([]);
    expect(samples.filter((s) => s.status !== 'RUNNING' && s.powerKw !== 0)).toEqual([]);
    expect(samples.some((s) => s.powerKw > 1000)).toBe(true);
  });

  it('produces close to the curve when healthy, on average', () => {
    const healthy = run(turbine(0, 3, { efficiency: 1, underperformanceMs: 0 }), 3600, 1000, 4).filter(
      (s) => s.status === 'RUNNING' && s.windSpeedMs > 5 && s.windSpeedMs < 11,
    );
    const ratio =
      healthy.reduce((sum, s) => sum + s.powerKw, 0) /
      healthy.reduce((sum, s) => sum + expectedPowerKw(s.windSpeedMs), 0);
    expect(ratio).toBeGreaterThan(0.9);
  });

  it('stays feathered after a storm shutdown until the wind drops below the restart speed', () => {
    const storm = run(turbine(0, 7, { windMs: 24, stormShutdown: true, status: 'IDLE' }), 120, 1000, 1);
    const stillWindy = storm.filter((s) => s.windSpeedMs >= RESTART_WIND_MS);
    expect(stillWindy.length).toBeGreaterThan(0);
    expect(stillWindy.every((s) => s.status === 'IDLE' && s.powerKw === 0)).toBe(true);
    expect(storm.at(-1)?.status).toBe('RUNNING');
  });

  it('raises vibration past 7 mm/s with a worn bearing at speed', () => {
    const worn = run(
      turbine(0, 9, {
        bearingWear: 1,
        wearToMaintenanceMs: 3_600_000,
        rotorRpm: 17,
        status: 'RUNNING',
        windMs: 14,
      }),
      600,
      1000,
      2,
    );
    const running = worn.filter((s) => s.status === 'RUNNING' && s.rotorRpm > 14);
    expect(running.length).toBeGreaterThan(0);
    expect(running.filter((s) => s.vibrationMmS > 7).length / running.length).toBeGreaterThan(0.9);
  });

  it('goes through faults and maintenance and back in a long run', () => {
    const long = run(turbine(1, 21), 4 * 24 * 360, 10_000, 22);
    const statuses = new Set(long.map((s) => s.status));
    expect(statuses).toEqual(new Set(['RUNNING', 'IDLE', 'FAULT', 'MAINTENANCE']));
  });
});
