import { describe, expect, it } from 'vitest';
import { RATED_POWER_KW } from '../domain/power-curve.ts';
import {
  capacityFactor,
  capacityOf,
  elapsedHours,
  groupCapacityKw,
  performanceRatio,
  referenceData,
  secondsByStatus,
  statusRuns,
} from './views.ts';

describe('status runs', () => {
  const row = (t: number, status: string, previousT: number) => ({ t, status, previousT, lastT: 100_000 });

  it('runs from one change to the next, the last to the final sample', () => {
    const runs = statusRuns([row(0, 'RUNNING', 0), row(40_000, 'FAULT', 39_000)], 60_000);
    expect(runs).toEqual([
      { from: 0, to: 40_000, status: 'RUNNING' },
      { from: 40_000, to: 100_000, status: 'FAULT' },
    ]);
    expect(secondsByStatus(runs)).toEqual({ RUNNING: 40, FAULT: 60 });
  });

  it('ends a run at the last sample before a silence longer than the gap', () => {
    // Samples up to 10 s, nothing until 90 s (same status): the silence is no run.
    const runs = statusRuns([row(0, 'IDLE', 0), row(90_000, 'IDLE', 10_000)], 60_000);
    expect(runs).toEqual([
      { from: 0, to: 10_000, status: 'IDLE' },
      { from: 90_000, to: 100_000, status: 'IDLE' },
    ]);
    expect(secondsByStatus(runs)).toEqual({ IDLE: 20 });
  });
});

describe('capacity and ratios', () => {
  it('takes a size from the registry, else the documented turbine, and knows no default array size', () => {
    expect(capacityOf('TURBINE', { ratedKw: 2000, kwp: null })).toEqual({ kw: 2000, source: 'registry' });
    expect(capacityOf('TURBINE', undefined)).toEqual({ kw: RATED_POWER_KW, source: 'default' });
    expect(capacityOf('SOLAR', { ratedKw: null, kwp: 250 })).toEqual({ kw: 250, source: 'registry' });
    expect(capacityOf('SOLAR', undefined)).toEqual({ kw: null, source: null });
    expect(capacityOf('TRUCK', undefined)).toEqual({ kw: null, source: null });
  });

  it('adds a group up, and is unknown as soon as one member is', () => {
    const ratings = new Map([
      ['a', { ratedKw: null, kwp: 100 }],
      ['b', { ratedKw: null, kwp: 50 }],
    ]);
    expect(groupCapacityKw('SOLAR', ['a', 'b'], ratings)).toBe(150);
    expect(groupCapacityKw('SOLAR', ['a', 'c'], ratings)).toBeNull();
    expect(groupCapacityKw('TURBINE', ['x', 'y'], ratings)).toBe(2 * RATED_POWER_KW);
  });

  it('counts only the hours before now, and has no ratio without size, time or sun', () => {
    expect(elapsedHours({ from: 0, to: 7_200_000 }, 3_600_000)).toBe(1);
    expect(capacityFactor(1500, 3000, 1)).toBe(0.5);
    expect(capacityFactor(1500, null, 1)).toBeNull();
    expect(capacityFactor(1500, 3000, 0)).toBeNull();
    // 80 kWh from 100 kWp under 1 kWh/m²: 80 / (1 × 100) = 0.8.
    expect(performanceRatio(80, 1, 100)).toBe(0.8);
    expect(performanceRatio(80, 0, 100)).toBeNull();
    expect(performanceRatio(80, 1, null)).toBeNull();
  });
});

describe('reference data', () => {
  it('draws the thresholds of the sustained rules from their own predicates', () => {
    const vibration = referenceData().alertRules.find((r) => r.id === 'turbine.high_vibration');
    expect(vibration?.thresholds).toEqual([
      { field: 'vibrationMmS', op: '>', value: 7, role: 'raise' },
      { field: 'vibrationMmS', op: '<=', value: 5, role: 'resolve' },
    ]);
  });
});
