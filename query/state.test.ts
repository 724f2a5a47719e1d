import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDeviceState, foldEvent } from '../processors/state/device-state.ts';
import type { RawEvent } from '../schemas/types.ts';
import { eventFromRow, foldState, relevantEvents, stateFromRow, stateView } from './state.ts';

const BASE = Date.UTC(2026, 0, 1);

function truckEvent(kind: number, i: number, ts: number, x: number): RawEvent {
  const base = { eventId: `e${i}`, deviceId: 'truck-1', siteId: 'depot-a', ts, seq: i + 1 };
  if (kind === 0)
    return {
      type: 'TruckTelemetry',
      value: {
        ...base,
        lat: 52 + x,
        lon: 4,
        speedKmh: x * 10,
        headingDeg: 0,
        engineTempC: 80 + x,
        fuelPct: 50,
        odometerKm: 1000 + i,
        engineOn: x % 2 === 0,
        cargoTempC: x % 3 === 0 ? null : x,
      },
    };
  if (kind === 1) return { type: 'EngineStateChanged', value: { ...base, engineOn: x % 2 === 1 } };
  return {
    type: 'DiagnosticReported',
    value: { ...base, code: `P0${x % 4}`, severity: 'WARNING', description: 'd', active: x % 3 !== 0 },
  };
}

/** What the processors would hold after folding every event with ts <= asOf in event-time order. */
function foldAll(events: RawEvent[], asOf: number) {
  const state = createDeviceState('truck-1', 'depot-a', 'TRUCK');
  for (const e of events
    .filter((e) => e.value.ts <= asOf)
    .sort((a, b) => a.value.ts - b.value.ts || a.value.seq - b.value.seq))
    foldEvent(state, e);
  return state;
}

describe('asOf fold', () => {
  it('gives the same state from the relevant events as from all of them', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 2 }),
            fc.integer({ min: 0, max: 50 }),
            fc.integer({ min: 0, max: 9 }),
          ),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        fc.integer({ min: 0, max: 50 }),
        (specs, asOfSec) => {
          const events = specs.map(([kind, sec, x], i) => truckEvent(kind, i, BASE + sec * 1000, x));
          const asOf = BASE + asOfSec * 1000;
          const all = foldAll(events, asOf);
          if (all.eventCount === 0) return;
          const folded = foldState(
            { deviceId: 'truck-1', siteId: 'depot-a', kind: 'TRUCK' },
            relevantEvents(events, asOf),
            {
              eventCount: all.eventCount,
              energyTodayKwh: null,
              openAlerts: [],
            },
          );
          expect(folded).toEqual(all);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps only the newest sample, later engine events and every diagnostic', () => {
    const events = [
      truckEvent(0, 0, BASE, 1),
      truckEvent(1, 1, BASE + 500, 1),
      truckEvent(2, 2, BASE + 600, 1),
      truckEvent(0, 3, BASE + 1000, 2),
      truckEvent(1, 4, BASE + 1500, 1),
      truckEvent(0, 5, BASE + 9000, 3),
    ];
    expect(relevantEvents(events, BASE + 2000).map((e) => e.value.eventId)).toEqual(['e2', 'e3', 'e4']);
  });

  it('sets the facts the fold does not cover: count, energy of the day, open alerts', () => {
    const state = foldState(
      { deviceId: 'w-1', siteId: 'p', kind: 'TURBINE' },
      [
        {
          type: 'TurbineTelemetry',
          value: {
            eventId: 'a',
            deviceId: 'w-1',
            siteId: 'p',
            ts: BASE,
            seq: 7,
            windSpeedMs: 9,
            rotorRpm: 12,
            powerKw: 1200,
            pitchDeg: 1,
            nacelleTempC: 30,
            vibrationMmS: 2,
            status: 'RUNNING',
          },
        },
      ],
      { eventCount: 7, energyTodayKwh: 12.5, openAlerts: ['z.rule', 'a.rule'] },
    );
    expect(state).toMatchObject({
      eventCount: 7,
      energyTodayKwh: 12.5,
      openAlerts: ['a.rule', 'z.rule'],
      powerKw: 1200,
      seq: 7,
    });
  });
});

describe('rows', () => {
  it('read a device_state row into the DeviceState record', () => {
    const state = stateFromRow({
      device_id: 'truck-1',
      site_id: 'depot-a',
      kind: 'TRUCK',
      last_seen_ms: String(BASE),
      last_event_id: 'e',
      seq: '12',
      event_count: '12',
      lat: 52.5,
      lon: 4.25,
      speed_kmh: 80,
      heading_deg: 90,
      engine_on: true,
      engine_temp_c: 85.5,
      fuel_pct: 50.25,
      odometer_km: 1000,
      cargo_temp_c: null,
      active_diagnostic_codes: ['P0217'],
      status: null,
      power_kw: null,
      wind_speed_ms: null,
      ac_power_w: null,
      irradiance_wm2: null,
      energy_today_kwh: null,
      open_alerts: [],
    });
    expect(state).toMatchObject({
      seq: 12,
      eventCount: 12,
      lastSeen: BASE,
      engineOn: true,
      cargoTempC: null,
      status: null,
    });
    expect(stateView(state)).toMatchObject({ kind: 'truck', lastSeen: new Date(BASE).toISOString() });
  });

  it('read raw event rows back into events', () => {
    const event = eventFromRow({
      type: 'DiagnosticReported',
      event_id: 'e1',
      device_id: 'truck-1',
      site_id: 'depot-a',
      ts_ms: String(BASE),
      seq: '3',
      code: 'P0217',
      severity: 'WARNING',
      description: 'hot',
      active: true,
    });
    expect(event).toEqual({
      type: 'DiagnosticReported',
      value: {
        eventId: 'e1',
        deviceId: 'truck-1',
        siteId: 'depot-a',
        ts: BASE,
        seq: 3,
        code: 'P0217',
        severity: 'WARNING',
        description: 'hot',
        active: true,
      },
    });
    expect(() => eventFromRow({ type: 'Nope' })).toThrow(/unexpected event type/);
  });
});
