import { describe, expect, it } from 'vitest';
import { RECORD_NAMES, RECORDS, subjectOf } from './catalog.ts';
import { frame, readHeader } from './serde.ts';
import { topicNames } from '../lib/topics.ts';

describe('Confluent framing', () => {
  it('writes magic byte 0 and a big-endian schema id before the body', () => {
    const framed = frame(258, Buffer.from([9, 8]));
    expect([...framed]).toEqual([0, 0, 0, 1, 2, 9, 8]);
    expect(readHeader(framed)).toBe(258);
  });

  it.each([
    ['an empty value', Buffer.alloc(0), 'DECODE_EMPTY'],
    ['a null value', null, 'DECODE_EMPTY'],
    ['a wrong magic byte', Buffer.from([1, 0, 0, 0, 1, 2]), 'DECODE_BAD_MAGIC'],
    ['JSON text', Buffer.from('{"deviceId":"x"}'), 'DECODE_BAD_MAGIC'],
    ['a header cut short', Buffer.from([0, 0, 1]), 'DECODE_TRUNCATED'],
  ])('refuses %s with a typed, non-retriable error', (_name, buffer, code) => {
    expect(() => readHeader(buffer)).toThrow(expect.objectContaining({ code, retriable: false }));
  });
});

describe('record catalogue', () => {
  it('registers every record under <topic>-<full record name>', () => {
    const topics = topicNames();
    expect(subjectOf('TruckTelemetry', topics)).toBe('telemetry.truck-fleetgrid.telemetry.TruckTelemetry');
    expect(subjectOf('DeviceState', topics)).toBe('telemetry.device-state-fleetgrid.telemetry.DeviceState');
    for (const name of RECORD_NAMES) expect(RECORDS[name].fullName).toBe(`fleetgrid.telemetry.${name}`);
  });

  it('gives TruckTelemetry v2 a nullable cargoTempC defaulting to null', () => {
    const field = (
      RECORDS.TruckTelemetry.schema as { fields: { name: string; default?: unknown }[] }
    ).fields.find((f) => f.name === 'cargoTempC');
    expect(field).toMatchObject({ type: ['null', 'float'], default: null });
  });
});
