import { describe, expect, it } from 'vitest';
import type { RawEvent, TruckTelemetry } from './types.ts';
import { validateRawEvent } from './validate.ts';

const NOW = Date.UTC(2026, 10, 22, 12);

function truck(overrides: Partial<TruckTelemetry> = {}): RawEvent {
  return {
    type: 'TruckTelemetry',
    value: {
      eventId: '7f8e2a4c-3b8e-4a57-9d0c-0d1f2e3a4b5c',
      deviceId: 'truck-1',
      siteId: 'depot-ber',
      ts: NOW - 1_000,
      seq: 1,
      lat: 52.5,
      lon: 13.4,
      speedKmh: 80,
      headingDeg: 90,
      engineTempC: 90,
      fuelPct: 50,
      odometerKm: 1_000,
      engineOn: true,
      cargoTempC: null,
      ...overrides,
    },
  };
}

describe('validateRawEvent', () => {
  it('accepts a plausible sample', () => {
    expect(() => validateRawEvent(truck(), NOW)).not.toThrow();
  });

  it.each([
    ['lat above 90', { lat: 91 }, /lat 91 is outside/],
    ['NaN speed', { speedKmh: Number.NaN }, /speedKmh is NaN/],
    ['infinite fuel', { fuelPct: Number.POSITIVE_INFINITY }, /fuelPct is Infinity/],
    ['negative fuel', { fuelPct: -1 }, /fuelPct -1 is outside/],
    ['event time far in the future', { ts: NOW + 3_600_000 }, /in the future/],
    ['event time before 2000', { ts: 0 }, /ts 0 is before/],
    ['negative seq', { seq: -1 }, /seq -1/],
    ['empty device id', { deviceId: '' }, /deviceId is empty/],
    ['cargo hold at 500 °C', { cargoTempC: 500 }, /cargoTempC 500/],
  ])('refuses %s with VALIDATION_OUT_OF_RANGE', (_name, overrides, message) => {
    expect(() => validateRawEvent(truck(overrides), NOW)).toThrow(
      expect.objectContaining({
        code: 'VALIDATION_OUT_OF_RANGE',
        retriable: false,
        message: expect.stringMatching(message),
      }),
    );
  });
});
