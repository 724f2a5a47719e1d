import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../../lib/errors.ts';
import type { ConsumedRecord } from '../../lib/kafka/index.ts';
import type { Serde } from '../../schemas/serde.ts';
import { createPartitionCore, parseCoreConfig } from '../core/index.ts';
import { T0, truck } from '../core/testing.ts';
import type { OutputRouter, SourceRecord } from './outputs.ts';
import { applyRecord, decodeRecord } from './records.ts';

function setup() {
  const letters: { source: SourceRecord; code: string; stage: string }[] = [];
  const routed: number[] = [];
  const router: OutputRouter = {
    route: (output) => routed.push(output.deviceStates.length),
    deadLetter: (source, error, stage) => letters.push({ source, code: error.code, stage }),
  };
  const core = createPartitionCore(parseCoreConfig({}));
  return { letters, routed, target: { topic: 't', partition: 1, core, router } };
}

const record = (offset: string): ConsumedRecord => ({
  offset,
  key: Buffer.from('k'),
  value: Buffer.from([0xde]),
  timestamp: '0',
});

describe('record intake', () => {
  it('applies a valid raw event and routes its outputs; an older event counts as late', () => {
    const { target, routed, letters } = setup();
    const now = T0 + 60_000;
    expect(
      applyRecord(
        target,
        record('0'),
        { record: 'TruckTelemetry', value: truck('a', T0 + 5_000).value } as never,
        now,
      ),
    ).toBe('applied');
    expect(
      applyRecord(
        target,
        record('1'),
        { record: 'TruckTelemetry', value: truck('a', T0 + 1_000).value } as never,
        now,
      ),
    ).toBe('late');
    expect(routed.length).toBe(2);
    expect(letters).toEqual([]);
  });

  it('dead-letters decode errors, non-raw records and invalid events with the source record', () => {
    const { target, letters } = setup();
    const now = T0;
    expect(applyRecord(target, record('5'), new FleetgridError('DECODE_BAD_MAGIC', 'x'), now)).toBe(
      'dead-lettered',
    );
    expect(applyRecord(target, record('6'), { record: 'Alert', value: {} } as never, now)).toBe(
      'dead-lettered',
    );
    const future = truck('a', T0 + 3_600_000).value;
    expect(applyRecord(target, record('7'), { record: 'TruckTelemetry', value: future } as never, now)).toBe(
      'dead-lettered',
    );
    expect(letters.map((l) => [l.source.offset, l.code, l.stage])).toEqual([
      ['5', 'DECODE_BAD_MAGIC', 'decode'],
      ['6', 'DECODE_UNEXPECTED_TYPE', 'decode'],
      ['7', 'VALIDATION_OUT_OF_RANGE', 'validate'],
    ]);
    expect(letters[0]!.source).toMatchObject({ topic: 't', partition: 1, value: Buffer.from([0xde]) });
  });

  it('returns a registry outage as a retriable error (the caller holds the partition), never throws', async () => {
    const serde = {
      decodeCached: () => undefined,
      decode: async () => {
        throw new FleetgridError('REGISTRY_UNAVAILABLE', 'registry away');
      },
    } as unknown as Serde;
    const decoded = await decodeRecord(serde, Buffer.from([0]));
    expect(decoded).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retriable: true });
  });
});
