import { describe, expect, it } from 'vitest';
import { isFleetgridError } from '../../lib/errors.ts';
import type { WindowAggregate } from '../../schemas/types.ts';
import { parseCoreConfig } from '../core/config.ts';
import { type CoreOutput, createPartitionCore, DEFAULT_CORE_CONFIG } from '../core/index.ts';
import { engine, solar, T0, truck, turbine } from '../core/testing.ts';

const MIN = 60_000;

function collect(outputs: CoreOutput[]): WindowAggregate[] {
  return outputs.flatMap((o) => o.aggregates);
}

function field(aggregate: WindowAggregate | undefined, name: string) {
  return aggregate?.fields.find((f) => f.name === name);
}

describe('event-time windows', () => {
  it('puts an event at the exact window end into the next window ([start, end))', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + MIN - 1, { seq: 0 }));
    core.apply(turbine('w1', T0 + MIN, { seq: 1 }));
    const out = core.apply(turbine('w1', T0 + 3 * MIN, { seq: 2 }));
    expect(out.aggregates.map((a) => [a.windowStart - T0, a.windowEnd - T0, a.eventCount])).toEqual([
      [0, MIN, 1],
      [MIN, 2 * MIN, 1],
    ]);
  });

  it('keeps a window open until stream time reaches end + grace, then emits it once as revision 0', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    const outputs = [core.apply(turbine('w1', T0 + 1_000, { seq: 0 }))];
    outputs.push(core.apply(turbine('w1', T0 + MIN + 29_999, { seq: 1 })));
    expect(collect(outputs)).toHaveLength(0);
    outputs.push(core.apply(turbine('w1', T0 + MIN + 30_000, { seq: 2 })));
    outputs.push(core.apply(turbine('w1', T0 + MIN + 40_000, { seq: 3 })));
    const emitted = collect(outputs);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toMatchObject({
      windowStart: T0,
      revision: 0,
      eventCount: 1,
      firstEventTs: T0 + 1_000,
    });
  });

  it('accepts an out-of-order event within grace into the still open window', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 10_000, { seq: 0, powerKw: 100 }));
    core.apply(turbine('w1', T0 + MIN + 20_000, { seq: 2, powerKw: 100 }));
    core.apply(turbine('w1', T0 + 50_000, { seq: 1, powerKw: 300 }));
    const [window] = core.apply(turbine('w1', T0 + 2 * MIN, { seq: 3 })).aggregates;
    expect(window).toMatchObject({ revision: 0, eventCount: 2, lastEventTs: T0 + 50_000 });
    expect(field(window, 'powerKw')).toEqual({ name: 'powerKw', count: 2, min: 100, max: 300, sum: 400 });
  });

  it('counts a duplicate (same eventId and seq) once and emits nothing for it', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    const event = turbine('w1', T0 + 1_000, { seq: 7 });
    core.apply(event);
    const again = core.apply(structuredClone(event));
    expect(again).toEqual({ aggregates: [], alerts: [], deviceStates: [], rejected: [] });
    const [window] = core.apply(turbine('w1', T0 + 2 * MIN, { seq: 8 })).aggregates;
    expect(window?.eventCount).toBe(1);
    expect(core.stats().duplicates).toBe(1);
  });

  it('ignores a duplicate of an already emitted window: no new revision', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    const event = turbine('w1', T0 + 1_000, { seq: 0 });
    core.apply(event);
    core.apply(turbine('w1', T0 + 2 * MIN, { seq: 1 }));
    expect(core.apply(structuredClone(event)).aggregates).toEqual([]);
  });

  it('re-emits an emitted window with revision + 1 for each distinct late event within max lateness', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 1_000, { seq: 0, powerKw: 10 }));
    core.apply(turbine('w1', T0 + 30 * MIN, { seq: 3 }));
    const first = core.apply(turbine('w1', T0 + 2_000, { seq: 1, powerKw: 20 })).aggregates;
    const second = core.apply(turbine('w1', T0 + 3_000, { seq: 2, powerKw: 30 })).aggregates;
    expect(first.map((a) => [a.windowStart, a.revision, a.eventCount])).toEqual([[T0, 1, 2]]);
    expect(second.map((a) => [a.windowStart, a.revision, a.eventCount])).toEqual([[T0, 2, 3]]);
    expect(field(second[0], 'powerKw')?.sum).toBe(60);
    expect(core.stats().late).toBe(2);
  });

  it('emits a window first created by a late event at once, as revision 0', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 10 * MIN, { seq: 5 }));
    const out = core.apply(turbine('w2', T0 + 1_000, { seq: 0 }));
    expect(out.aggregates.map((a) => [a.deviceId, a.windowStart, a.revision])).toEqual([['w2', T0, 0]]);
  });

  it('rejects an event older than stream time minus max lateness with TOO_LATE and changes nothing', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 1_000, { seq: 0 }));
    core.apply(turbine('w1', T0 + 2 * 3_600_000, { seq: 2 }));
    const late = turbine('w1', T0 + 3_600_000 - 1, { seq: 1 });
    const out = core.apply(late);
    expect(out.aggregates).toEqual([]);
    expect(out.rejected).toHaveLength(1);
    expect(out.rejected[0]?.event).toBe(late);
    expect(isFleetgridError(out.rejected[0]?.error, 'TOO_LATE')).toBe(true);
    expect(core.stats().tooLate).toBe(1);
    // exactly at the horizon is still accepted (ts >= streamTime - maxLateness)
    expect(core.apply(turbine('w1', T0 + 3_600_000, { seq: 3 })).rejected).toEqual([]);
  });

  it('retains emitted windows for max lateness and then evicts them', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 1_000, { seq: 0 }));
    core.apply(turbine('w1', T0 + 5 * MIN, { seq: 1 }));
    expect(core.stats()).toMatchObject({ openWindows: 1, retainedWindows: 1, dedupEntries: 2 });
    core.apply(turbine('w1', T0 + MIN + 3_600_000, { seq: 2 }));
    expect(core.stats()).toMatchObject({ openWindows: 1, retainedWindows: 1 });
  });

  it('closes the windows of an idle partition by the wall-clock timer as if stream time kept flowing', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 50_000, { seq: 0 }), 1_000_000);
    // not idle yet: 9 s of processing time without events
    expect(core.onTimer(1_009_000).aggregates).toEqual([]);
    expect(core.streamTime).toBe(T0 + 50_000);
    // idle for 10 s: stream time follows the wall clock from where it stopped
    expect(core.onTimer(1_010_000).aggregates).toEqual([]);
    expect(core.streamTime).toBe(T0 + 60_000);
    // end (T0 + 60 s) + grace (30 s) is reached after 40 s of idleness
    const out = core.onTimer(1_040_000);
    expect(out.aggregates.map((a) => [a.windowStart, a.revision])).toEqual([[T0, 0]]);
    expect(core.streamTime).toBe(T0 + 90_000);
    // an event restarts the measurement of idleness
    core.apply(turbine('w1', T0 + 95_000, { seq: 1 }), 1_041_000);
    expect(core.onTimer(1_045_000).aggregates).toEqual([]);
    expect(core.streamTime).toBe(T0 + 95_000);
  });

  it('counts no silence while the runner holds idleness (input unknown): only from the hold on', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 50_000, { seq: 0 }), 1_000_000);
    // A 60 s broker outage: the runner holds idleness at every tick instead of onTimer.
    for (let now = 1_001_000; now <= 1_060_000; now += 1_000) core.holdIdle(now);
    // Heard again: the outage does not count as silence, so nothing moves yet.
    expect(core.onTimer(1_061_000).aggregates).toEqual([]);
    expect(core.streamTime).toBe(T0 + 50_000);
    expect(core.onTimer(1_069_000).aggregates).toEqual([]);
    expect(core.streamTime).toBe(T0 + 50_000);
    // 10 s of real silence after the hold: stream time follows from where it stopped.
    core.onTimer(1_070_000);
    expect(core.streamTime).toBe(T0 + 60_000);
  });

  it('advances stream time by idleness no further than size + grace past the newest event', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 50_000, { seq: 0 }), 0);
    core.onTimer(3_600_000 * 5);
    expect(core.streamTime).toBe(T0 + 50_000 + MIN + 30_000);
    // so an event that continues where the device stopped is not too late after a long pause
    expect(core.apply(turbine('w1', T0 + 51_000, { seq: 1 })).rejected).toEqual([]);
  });

  it('measures idleness from the first timer tick when apply gets no processing time', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0 + 50_000, { seq: 0 }));
    core.onTimer(5_000);
    expect(core.onTimer(14_999).aggregates).toEqual([]);
    expect(core.onTimer(45_000).aggregates).toHaveLength(1);
  });

  it('aggregates every numeric truck field, cargoTempC only when present, and engine events in eventCount', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(engine('t1', T0, true, 0));
    core.apply(truck('t1', T0 + 1_000, { seq: 1, speedKmh: 0, odometerKm: 100, cargoTempC: null }));
    core.apply(truck('t1', T0 + 31_000, { seq: 2, speedKmh: 60, odometerKm: 100.5, cargoTempC: 4 }));
    core.apply(truck('t1', T0 + 59_000, { seq: 3, speedKmh: 60, odometerKm: 101, cargoTempC: 5 }));
    const [window] = core.apply(truck('t1', T0 + 2 * MIN, { seq: 4 })).aggregates;
    expect(window?.eventCount).toBe(4);
    expect(window?.fields.map((f) => f.name)).toEqual([
      'lat',
      'lon',
      'speedKmh',
      'headingDeg',
      'engineTempC',
      'fuelPct',
      'odometerKm',
      'cargoTempC',
    ]);
    expect(field(window, 'cargoTempC')).toEqual({ name: 'cargoTempC', count: 2, min: 4, max: 5, sum: 9 });
    // covered: 59 s first to last + 1 s nominal interval = 60 s; 4 engine samples, all on, 2 idle
    expect(window?.derived).toEqual({
      coveredSeconds: 60,
      distanceKm: 1,
      engineOnSeconds: 60,
      idleSeconds: 30,
    });
  });

  it('derives turbine energy and available seconds from mean power and covered time', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    for (let i = 0; i < 30; i++) {
      core.apply(
        turbine('w1', T0 + i * 2_000, { seq: i, powerKw: 1_800, status: i < 15 ? 'RUNNING' : 'FAULT' }),
      );
    }
    const [window] = core.apply(turbine('w1', T0 + 2 * MIN, { seq: 99 })).aggregates;
    // 58 s + 1 s nominal = 59 s covered; 1800 kW × 59 s = 29.5 kWh; half the samples available
    expect(window?.derived.coveredSeconds).toBe(59);
    expect(window?.derived.energyKwh).toBeCloseTo(29.5, 9);
    expect(window?.derived.availableSeconds).toBeCloseTo(29.5, 9);
  });

  it('derives solar energy from AC power in W', () => {
    const core = createPartitionCore(parseCoreConfig({ sampleIntervalMs: 5_000 }));
    for (let i = 0; i < 12; i++) core.apply(solar('s1', T0 + i * 5_000, { seq: i, acPowerW: 12_000 }));
    const [window] = core.apply(solar('s1', T0 + 2 * MIN, { seq: 12 })).aggregates;
    // 55 s + 5 s = 60 s at 12 kW = 0.2 kWh
    expect(window?.derived).toEqual({ coveredSeconds: 60, energyKwh: 0.2 });
  });

  it('rejects an event of another kind for a known device id without changing its state', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(truck('x1', T0, { seq: 0 }));
    const out = core.apply(turbine('x1', T0 + 1_000, { seq: 1 }));
    expect(out.rejected.map((r) => r.error.code)).toEqual(['DECODE_UNEXPECTED_TYPE']);
    expect(core.stats()).toMatchObject({ applied: 1, devices: 1 });
  });

  it('emits the windows closed by one event in window order, then by device id', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w2', T0 + 1_000, { seq: 0 }));
    core.apply(turbine('w1', T0 + 2_000, { seq: 0 }));
    core.apply(turbine('w2', T0 + MIN + 1_000, { seq: 1 }));
    const out = core.apply(turbine('w3', T0 + 5 * MIN, { seq: 0 }));
    expect(out.aggregates.map((a) => [a.windowStart - T0, a.deviceId])).toEqual([
      [0, 'w1'],
      [0, 'w2'],
      [MIN, 'w2'],
    ]);
  });
});

describe('core config', () => {
  it('has the docs/design.md defaults', () => {
    expect(DEFAULT_CORE_CONFIG).toMatchObject({
      windowSizeMs: 60_000,
      graceMs: 30_000,
      maxLatenessMs: 3_600_000,
    });
  });

  it('rejects unknown keys and window sizes that do not divide an hour', () => {
    expect(() => parseCoreConfig({ windowSize: 1 })).toThrow(/CONFIG|windowSize/);
    expect(() => parseCoreConfig({ windowSizeMs: 7_000 })).toThrow(/divide one hour/);
    expect(() => parseCoreConfig({ maxLatenessMs: 1_000 })).toThrow(/maxLatenessMs/);
  });
});
