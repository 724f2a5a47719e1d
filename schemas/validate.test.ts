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

describe('validateRawEvent: ids', () => {
  it.each([
    ['a 10 000-character device id', { deviceId: 'd'.repeat(10_000) }, 'deviceId'],
    ['markup in the site id', { siteId: 'probe-<img src=x onerror=alert(1)>' }, 'siteId'],
    ['a space in the device id', { deviceId: 'truck 1' }, 'deviceId'],
    ['an event id of 500 characters', { eventId: 'e'.repeat(500) }, 'eventId'],
  ])(
    'refuses %s with VALIDATION_INVALID_ID naming the field, and quotes at most a short head of it',
    (_name, overrides, field) => {
      let caught: unknown;
      try {
        validateRawEvent(truck(overrides), NOW);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: 'VALIDATION_INVALID_ID', retriable: false, details: { field } });
      expect((caught as Error).message.length).toBeLessThan(300);
    },
  );

  it('accepts UUIDs and the id-shaped event ids other writers use', () => {
    expect(() => validateRawEvent(truck({ eventId: 'truck-1-17' }), NOW)).not.toThrow();
  });

  it('refuses a diagnostic whose code or description is unbounded (any characters are fine: pages escape them)', () => {
    const diagnostic = (code: string, description: string): RawEvent => ({
      type: 'DiagnosticReported',
      value: {
        eventId: 'e-1',
        deviceId: 'truck-1',
        siteId: 'depot',
        ts: NOW,
        seq: 1,
        code,
        severity: 'WARNING',
        description,
        active: true,
      },
    });
    expect(() => validateRawEvent(diagnostic('P0217', 'Engine coolant over temperature'), NOW)).not.toThrow();
    expect(() => validateRawEvent(diagnostic('P0217<b>markup</b>', 'x'), NOW)).not.toThrow();
    expect(() => validateRawEvent(diagnostic('P'.repeat(900_000), 'x'), NOW)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_OUT_OF_RANGE' }),
    );
    expect(() => validateRawEvent(diagnostic('P0217', 'x'.repeat(5_000)), NOW)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_OUT_OF_RANGE' }),
    );
  });
});
