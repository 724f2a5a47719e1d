/**
 * Physical-range validation of raw events (DESIGN §3 "bad input"). Avro guarantees the
 * types; this guarantees the values make sense: finite numbers, coordinates on Earth,
 * percentages in 0..100, an event time that is not far in the future. A failure is a
 * non-retriable VALIDATION_OUT_OF_RANGE error naming the field, and the event is
 * dead-lettered by the stage that found it.
 */
import { FleetgridError } from '../lib/errors.ts';
import type { RawEvent } from './types.ts';

export interface ValidationOptions {
  /** How far ahead of the validating stage's clock an event time may be. */
  maxFutureMs: number;
  /** Event times before this are refused (clock reset to 1970 on a device). */
  minTs: number;
}

export const DEFAULT_VALIDATION: ValidationOptions = { maxFutureMs: 5 * 60_000, minTs: Date.UTC(2000, 0, 1) };

type Range = readonly [min: number, max: number];

/** Inclusive physical limits per numeric field; wide enough for any real device. */
export const FIELD_RANGES: Record<RawEvent['type'], Record<string, Range>> = {
  TruckTelemetry: {
    lat: [-90, 90],
    lon: [-180, 180],
    speedKmh: [0, 250],
    headingDeg: [0, 360],
    engineTempC: [-60, 200],
    fuelPct: [0, 100],
    odometerKm: [0, 10_000_000],
    cargoTempC: [-60, 80],
  },
  EngineStateChanged: {},
  DiagnosticReported: {},
  TurbineTelemetry: {
    windSpeedMs: [0, 100],
    rotorRpm: [0, 100],
    powerKw: [-500, 20_000],
    pitchDeg: [-10, 100],
    nacelleTempC: [-60, 150],
    vibrationMmS: [0, 200],
  },
  SolarTelemetry: {
    irradianceWm2: [0, 2_000],
    panelTempC: [-60, 150],
    dcVoltageV: [0, 2_000],
    dcCurrentA: [0, 5_000],
    acPowerW: [-1_000, 10_000_000],
  },
};

export function validateRawEvent(
  event: RawEvent,
  nowMs: number,
  options: ValidationOptions = DEFAULT_VALIDATION,
): void {
  const { value } = event;
  const fail = (field: string, detail: string) => {
    throw new FleetgridError(
      'VALIDATION_OUT_OF_RANGE',
      `${event.type} ${value.deviceId}: ${field} ${detail}`,
      {
        details: { field, deviceId: value.deviceId, eventId: value.eventId },
      },
    );
  };
  if (!value.deviceId) fail('deviceId', 'is empty');
  if (!value.eventId) fail('eventId', 'is empty');
  if (!Number.isFinite(value.ts) || value.ts < options.minTs)
    fail('ts', `${value.ts} is before ${new Date(options.minTs).toISOString()}`);
  if (value.ts > nowMs + options.maxFutureMs) {
    fail(
      'ts',
      `${new Date(value.ts).toISOString()} is more than ${options.maxFutureMs / 1000}s in the future`,
    );
  }
  if (!Number.isSafeInteger(value.seq) || value.seq < 0)
    fail('seq', `${value.seq} is not a non-negative integer`);
  const record = value as unknown as Record<string, unknown>;
  for (const [field, [min, max]] of Object.entries(FIELD_RANGES[event.type])) {
    const v = record[field];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || Number.isNaN(v) || !Number.isFinite(v))
      fail(field, `is ${String(v)}, not a finite number`);
    else if (v < min || v > max) fail(field, `${v} is outside [${min}, ${max}]`);
  }
}
