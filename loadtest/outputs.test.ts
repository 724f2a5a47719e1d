import { describe, expect, it } from 'vitest';
import { createPartitionCore, parseCoreConfig } from '../processors/core/index.ts';
import type { OutboundMessage } from '../producers/types.ts';
import type { RawEvent, WindowAggregate } from '../schemas/types.ts';
import { createLoadFleet } from './driver.ts';
import {
  type AlertTransition,
  alertStatesAt,
  createOutputManifest,
  foldWindow,
  measurements,
  reconcileOutputs,
  type WindowFigures,
  windowDifference,
  windowKey,
} from './outputs.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

function truck(seq: number, ts: number, speedKmh: number, cargoTempC: number | null = null): RawEvent {
  return {
    type: 'TruckTelemetry',
    value: {
      eventId: `e${seq}`,
      deviceId: 'truck-1',
      siteId: 's1',
      ts,
      seq,
      lat: 50,
      lon: 8,
      speedKmh,
      headingDeg: 90,
      engineTempC: 80,
      fuelPct: 50,
      odometerKm: 1_000 + seq,
      engineOn: true,
      cargoTempC,
    },
  };
}

/** Every event a load fleet of `devices` makes in `seconds`, stamped one second apart per tick. */
function fleetEvents(devices: number, seconds: number): RawEvent[] {
  const fleet = createLoadFleet(devices, 7, T0);
  const out: RawEvent[] = [];
  for (let s = 0; s < seconds; s++) {
    const buffer: OutboundMessage[] = [];
    fleet.generate(Number.MAX_SAFE_INTEGER, devices, buffer);
    for (const m of buffer)
      out.push({ ...m.event, value: { ...m.event.value, ts: T0 + s * 1_000 } } as RawEvent);
  }
  return out;
}

function figures(aggregate: WindowAggregate): WindowFigures {
  return {
    deviceId: aggregate.deviceId,
    windowStart: aggregate.windowStart,
    count: aggregate.eventCount,
    fields: Object.fromEntries(
      aggregate.fields.map((f) => [f.name, { count: f.count, min: f.min, max: f.max, sum: f.sum }]),
    ),
  };
}

describe('expected windows', () => {
  it('folds count, min, max and sum of every measurement, without ts, seq or nulls', () => {
    const windows = new Map<string, WindowFigures>();
    foldWindow(windows, truck(1, T0 + 1_000, 40, 4), MIN);
    foldWindow(windows, truck(2, T0 + 2_000, 60), MIN);
    foldWindow(windows, truck(3, T0 + MIN, 10), MIN);
    expect(windows.size).toBe(2);
    const first = windows.get(windowKey('truck-1', T0)) as WindowFigures;
    expect(first.count).toBe(2);
    expect(first.fields.speedKmh).toEqual({ count: 2, min: 40, max: 60, sum: 100 });
    expect(first.fields.cargoTempC).toEqual({ count: 1, min: 4, max: 4, sum: 4 });
    expect(first.fields.ts).toBeUndefined();
    expect(first.fields.seq).toBeUndefined();
    expect(measurements({ a: 1, ts: 2, seq: 3, b: 'x', c: null, d: true })).toEqual([['a', 1]]);
  });

  it('equals what the processor core emits for the same events (count, min, max, sum of every field)', () => {
    const config = parseCoreConfig({ windowSizeMs: 10_000, graceMs: 2_000 });
    const events = fleetEvents(12, 45);
    const manifest = createOutputManifest(config);
    const core = createPartitionCore(config);
    const newest = new Map<string, WindowAggregate>();
    for (const event of events) {
      manifest.add('raw', 0, event);
      for (const a of core.apply(event, event.value.ts).aggregates)
        newest.set(windowKey(a.deviceId, a.windowStart), a);
    }
    const horizon = manifest.maxTs;
    const closed = [...manifest.windows.values()].filter((w) => w.windowStart + 12_000 <= horizon);
    expect(closed.length).toBeGreaterThan(12 * 3);
    for (const expected of closed) {
      const emitted = newest.get(windowKey(expected.deviceId, expected.windowStart));
      expect(emitted, `${expected.deviceId} ${expected.windowStart}`).toBeDefined();
      expect(windowDifference(expected, figures(emitted as WindowAggregate))).toBeUndefined();
    }
  });
});

describe('reconcileOutputs', () => {
  const w = (deviceId: string, windowStart: number, count: number, speed = 10): WindowFigures => ({
    deviceId,
    windowStart,
    count,
    fields: { speedKmh: { count, min: speed, max: speed, sum: speed * count } },
  });
  const expectedWindows = new Map(
    [w('d1', T0, 3), w('d2', T0, 2), w('d1', T0 + MIN, 1)].map((x) => [
      windowKey(x.deviceId, x.windowStart),
      x,
    ]),
  );
  const base = {
    expectedWindows,
    storedWindows: [w('d1', T0, 3), w('d2', T0, 2)],
    expectedAlerts: [] as AlertTransition[],
    storedAlerts: [] as AlertTransition[],
    producedByDevice: new Map([
      ['d1', { count: 4, minSeq: 0, maxSeq: 3 }],
      ['d2', { count: 2, minSeq: 0, maxSeq: 1 }],
    ]),
    storedStates: [
      { deviceId: 'd1', eventCount: 4, seq: 3 },
      { deviceId: 'd2', eventCount: 2, seq: 1 },
    ],
    windowSizeMs: MIN,
    graceMs: 5_000,
    horizonMs: T0 + MIN + 5_000,
  };

  it('passes when every due window, alert and device state matches; later windows stay open', () => {
    const r = reconcileOutputs(base);
    expect(r.ok).toBe(true);
    expect(r.windows).toMatchObject({ expected: 3, judged: 2, open: 1, wrong: 0 });
  });

  it('fails on a window with a wrong figure, a missing one and an unexpected one', () => {
    const r = reconcileOutputs({
      ...base,
      storedWindows: [w('d1', T0, 3, 11), w('d3', T0, 1)],
    });
    expect(r.ok).toBe(false);
    expect(r.windows).toMatchObject({ judged: 2, wrong: 3, missing: 1, unexpected: 1 });
    expect(r.windows.examples.find((e) => e.problem === 'wrong')?.detail).toBe(
      'speedKmh min 11, expected 10',
    );
    expect(windowDifference(w('d1', T0, 3), w('d1', T0, 4))).toBe('event_count 4, expected 3');
  });

  it('judges alerts by their state at the horizon', () => {
    const t = (alertId: string, state: 'RAISED' | 'RESOLVED', ts: number): AlertTransition => ({
      alertId,
      rule: 'truck.overspeed',
      deviceId: 'd1',
      state,
      ts,
    });
    const expectedAlerts = [
      t('a1', 'RAISED', T0),
      t('a1', 'RESOLVED', T0 + 1_000),
      t('a2', 'RAISED', T0 + 2_000),
    ];
    expect(alertStatesAt(expectedAlerts, T0 + 1_500).get('a1')?.state).toBe('RESOLVED');
    expect(alertStatesAt(expectedAlerts, T0 + 1_500).has('a2')).toBe(false);
    // A transition after the horizon (a timer's) is not judged.
    const later = [...expectedAlerts, t('a3', 'RAISED', base.horizonMs + 1)];
    expect(reconcileOutputs({ ...base, expectedAlerts, storedAlerts: later }).alerts.wrong).toBe(0);
    const r = reconcileOutputs({ ...base, expectedAlerts, storedAlerts: [t('a1', 'RAISED', T0)] });
    expect(r.ok).toBe(false);
    expect(r.alerts.wrong).toBe(2);
    expect(r.alerts.examples[0]).toMatchObject({ alertId: 'a1', expected: 'RESOLVED', stored: 'RAISED' });
  });

  it('fails on a device state with a wrong count or last seq, or none', () => {
    const r = reconcileOutputs({ ...base, storedStates: [{ deviceId: 'd1', eventCount: 3, seq: 3 }] });
    expect(r.deviceState.wrong).toBe(2);
    expect(r.deviceState.examples[0]).toEqual({
      deviceId: 'd1',
      expected: { eventCount: 4, seq: 3 },
      stored: { eventCount: 3, seq: 3 },
    });
    expect(r.ok).toBe(false);
  });
});
