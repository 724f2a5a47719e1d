import { describe, expect, it } from 'vitest';
import type { DeviceState } from '../../schemas/types.ts';
import { createPartitionCore, DEFAULT_CORE_CONFIG } from '../core/index.ts';
import { diagnostic, engine, solar, T0, truck, turbine } from '../core/testing.ts';

const MIN = 60_000;

describe('device state', () => {
  it('holds the latest truck position, speed, engine and temperatures', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(truck('t1', T0, { seq: 0, lat: 50, speedKmh: 10 }));
    const [state] = core.apply(
      truck('t1', T0 + 1_000, { seq: 1, lat: 51, lon: 9, speedKmh: 42, cargoTempC: 3, odometerKm: 12 }),
    ).deviceStates;
    expect(state).toMatchObject({
      deviceId: 't1',
      siteId: 'depot-1',
      kind: 'TRUCK',
      lastSeen: T0 + 1_000,
      lastEventId: 't1-1',
      seq: 1,
      eventCount: 2,
      lat: 51,
      lon: 9,
      speedKmh: 42,
      engineOn: true,
      cargoTempC: 3,
      odometerKm: 12,
      energyTodayKwh: null,
      status: null,
    } satisfies Partial<DeviceState>);
  });

  it('does not let an out-of-order event overwrite newer values, but counts it', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(truck('t1', T0 + 5_000, { seq: 1, speedKmh: 70 }));
    const [state] = core.apply(truck('t1', T0, { seq: 0, speedKmh: 20 })).deviceStates;
    expect(state).toMatchObject({ speedKmh: 70, lastSeen: T0 + 5_000, seq: 1, eventCount: 2 });
  });

  it('follows engine state changes and active diagnostic codes', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(engine('t1', T0, true, 0));
    core.apply(diagnostic('t1', T0 + 1_000, 'P0300', true, 1));
    core.apply(diagnostic('t1', T0 + 2_000, 'P0217', true, 2));
    expect(
      core.apply(diagnostic('t1', T0 + 3_000, 'P0300', true, 3)).deviceStates[0]?.activeDiagnosticCodes,
    ).toEqual(['P0217', 'P0300']);
    const [state] = core.apply(diagnostic('t1', T0 + 4_000, 'P0300', false, 4)).deviceStates;
    expect(state).toMatchObject({ engineOn: true, activeDiagnosticCodes: ['P0217'] });
    expect(core.apply(engine('t1', T0 + 5_000, false, 5)).deviceStates[0]).toMatchObject({
      engineOn: false,
      speedKmh: 0,
    });
  });

  it('holds turbine status and power, and the energy of the UTC day', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    let state: DeviceState | undefined;
    // two full minutes at 3600 kW → 60 kWh each
    for (let i = 0; i < 120; i++) {
      state = core.apply(turbine('w1', T0 + i * 1_000, { seq: i, powerKw: 3_600, status: 'RUNNING' }))
        .deviceStates[0];
    }
    expect(state).toMatchObject({ kind: 'TURBINE', status: 'RUNNING', powerKw: 3_600, windSpeedMs: 10 });
    expect(state?.energyTodayKwh).toBeCloseTo(120, 9);
    // the first event of the next UTC day starts a new total
    const [next] = core.apply(turbine('w1', T0 + 86_400_000, { seq: 120, powerKw: 3_600 })).deviceStates;
    expect(next?.energyTodayKwh).toBeCloseTo(1, 9);
  });

  it('counts a late event of an earlier window of the same day in energyToday', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(solar('s1', T0 + 10 * MIN, { seq: 10, acPowerW: 36_000 }));
    const [state] = core.apply(solar('s1', T0, { seq: 0, acPowerW: 36_000 })).deviceStates;
    // two single-sample windows, 1 s each at 36 kW = 0.01 kWh each
    expect(state?.energyTodayKwh).toBeCloseTo(0.02, 12);
    expect(state).toMatchObject({
      status: 'PRODUCING',
      acPowerW: 36_000,
      irradianceWm2: 800,
      lastSeen: T0 + 10 * MIN,
    });
  });

  it('reports a changed device once per call, and nothing for a duplicate', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    const event = truck('t1', T0, { seq: 0 });
    expect(core.apply(event).deviceStates).toHaveLength(1);
    expect(core.apply(structuredClone(event)).deviceStates).toHaveLength(0);
  });

  it('returns copies that later events do not mutate', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    const [first] = core.apply(diagnostic('t1', T0, 'P0300', true, 0)).deviceStates;
    core.apply(diagnostic('t1', T0 + 1_000, 'P0217', true, 1));
    expect(first?.activeDiagnosticCodes).toEqual(['P0300']);
    expect(first?.eventCount).toBe(1);
  });
});
