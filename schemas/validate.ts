/**
 * Validation of raw events at ingestion (docs/design.md §3 "bad input"). Avro guarantees the
 * types; this guarantees the values make sense:
 *
 * - ids: deviceId, siteId and eventId follow the one id rule (schemas/ids.ts: 1–128 letters,
 *   digits, '.', '_', ':' or '-'), else VALIDATION_INVALID_ID naming the field. The eventId
 *   is meant to be a UUID (the simulator writes one), but any id-shaped value is accepted:
 *   what matters is that it is bounded, because every stage keeps event ids (dedup state,
 *   the raw tables' sort key). Diagnostic codes (128 characters) and descriptions (1 000)
 *   are bounded too, so no valid event can make an output record too large for Kafka;
 * - physical ranges: finite numbers, coordinates on Earth, percentages in 0..100, an event
 *   time that is not far in the future, else VALIDATION_OUT_OF_RANGE naming the field.
 *
 * Failures are non-retriable; the event is dead-lettered by the stage that found it. The
 * ids are checked first, so no error message ever quotes an unbounded id.
 */
import { FleetgridError } from '../lib/errors.ts';
import { ID_MAX_LENGTH, ID_RULE_TEXT, isValidId } from './ids.ts';
import type { RawEvent } from './types.ts';

/** Longest DiagnosticReported description accepted (the simulator's are under 60 characters). */
export const MAX_DESCRIPTION_LENGTH = 1_000;
/** Longest diagnostic code accepted (OBD codes have 5 characters). */
export const MAX_CODE_LENGTH = 128;

const ID_FIELDS = ['deviceId', 'siteId', 'eventId'] as const;

/** A value shown in an error message: quoted, escaped, and cut to a readable length. */
function shown(value: string): string {
  const head = JSON.stringify(value.slice(0, 40));
  return value.length > 40 ? `${head}… (${value.length} characters)` : head;
}

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
  for (const field of ID_FIELDS) {
    const id = value[field];
    if (!isValidId(id)) {
      throw new FleetgridError(
        'VALIDATION_INVALID_ID',
        `${event.type}: ${field} ${shown(id)} is not an id (${ID_RULE_TEXT})`,
        {
          details: { field, length: id.length, maxLength: ID_MAX_LENGTH },
        },
      );
    }
  }
  if (event.type === 'DiagnosticReported') {
    // Codes are texts, not ids (any character; the pages escape them), but bounded.
    if (event.value.code.length > MAX_CODE_LENGTH) {
      fail('code', `has ${event.value.code.length} characters, more than ${MAX_CODE_LENGTH}`);
    }
    if (event.value.description.length > MAX_DESCRIPTION_LENGTH) {
      fail(
        'description',
        `has ${event.value.description.length} characters, more than ${MAX_DESCRIPTION_LENGTH}`,
      );
    }
  }
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
