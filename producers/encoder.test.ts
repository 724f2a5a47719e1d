import { describe, expect, it } from 'vitest';
import { LEGACY_SCHEMAS, parseSchema, RECORDS } from '../schemas/catalog.ts';
import { frame, readHeader } from '../schemas/serde.ts';
import { createMessageEncoder } from './encoder.ts';
import { UNKNOWN_SCHEMA_ID_BASE } from './faults.ts';
import { createFleet } from './fleet.ts';
import type { OutboundMessage } from './types.ts';

const IDS = {
  TruckTelemetry: 11,
  EngineStateChanged: 12,
  DiagnosticReported: 13,
  TurbineTelemetry: 14,
  SolarTelemetry: 15,
};

function messages(count: number, faults = {}): OutboundMessage[] {
  const fleet = createFleet({
    seed: 3,
    trucks: 20,
    turbines: 5,
    solar: 5,
    intervalMs: { truck: 1_000, turbine: 1_000, solar: 1_000 },
    startMs: Date.UTC(2026, 5, 1, 10),
    faults: { late: 0, ooo: 0, dup: 0, poison: 0, skew: 0, v1: 0, ...faults },
  });
  const out: OutboundMessage[] = [];
  fleet.generate(Number.POSITIVE_INFINITY, count, out);
  fleet.drain(out);
  return out;
}

describe('the message encoder', () => {
  it('writes the same bytes as serde.encode: Confluent framing around the cached avsc type', () => {
    const encoder = createMessageEncoder({ ids: IDS });
    const all = messages(30_000);
    // Enough messages to fill several slabs.
    expect(all.length * 100).toBeGreaterThan(2 * (1 << 20));
    for (const message of all) {
      const record = encoder.encode(message);
      const expected = frame(
        IDS[message.event.type],
        RECORDS[message.event.type].type.toBuffer(message.event.value),
      );
      expect(Buffer.compare(record.value as Buffer, expected)).toBe(0);
      expect(String(record.key)).toBe(message.key);
    }
  });

  it('writes legacy trucks with the v1 schema and poison in each of its flavors', () => {
    const legacyType = parseSchema(LEGACY_SCHEMAS.TruckTelemetryV1);
    const encoder = createMessageEncoder({ ids: IDS, legacy: { id: 99, type: legacyType } });
    const all = messages(20_000, { v1: 1, poison: 0.05 });
    const seen = new Set<string>();
    for (const message of all) {
      const value = encoder.encode(message).value as Buffer;
      if (message.poison === 'garbage') {
        expect(value[0]).not.toBe(0);
        expect(() => readHeader(value)).toThrow(/not Confluent-framed/);
      } else if (message.poison === 'unknown-schema') {
        expect(readHeader(value)).toBeGreaterThanOrEqual(UNKNOWN_SCHEMA_ID_BASE);
      } else if (message.poison === 'truncated') {
        expect(readHeader(value)).toBe(IDS[message.event.type]);
        expect(() => RECORDS[message.event.type].type.fromBuffer(value.subarray(5))).toThrow(/truncated/);
      } else if (message.legacy) {
        expect(readHeader(value)).toBe(99);
        const decoded = legacyType.fromBuffer(value.subarray(5)) as Record<string, unknown>;
        expect(decoded.cargoTempC).toBeUndefined();
        expect(decoded.eventId).toBe(message.event.value.eventId);
      }
      seen.add(message.poison ?? (message.legacy ? 'legacy' : 'plain'));
    }
    expect(seen).toEqual(
      new Set(['garbage', 'unknown-schema', 'truncated', 'out-of-range', 'legacy', 'plain']),
    );
  });
});
