import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import { FleetgridError } from '../../lib/errors.ts';
import { topicNames } from '../../lib/topics.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { DeviceState, WindowAggregate } from '../../schemas/types.ts';
import { OutputBuffer } from './buffer.ts';
import { createOutputRouter } from './outputs.ts';
import { deviceStateFields } from './read-model.ts';

// encode is the only serde method the router uses; JSON stands in for Avro here.
const serde = {
  encode: (_record: string, value: unknown) => Buffer.from(JSON.stringify(value)),
} as unknown as Serde;
const topics = topicNames('u.');
const source = {
  topic: 'u.telemetry.truck',
  partition: 2,
  offset: '17',
  key: Buffer.from('truck-1'),
  value: Buffer.from([0xde, 0xad]),
  headers: { traceparent: 'abc', [DLQ_HEADERS.code]: 'spoofed' },
};

function setup() {
  const buffer = new OutputBuffer<DeviceState>();
  const router = createOutputRouter({
    serde,
    topics,
    buffer,
    clock: new ManualClock(1_000),
    metrics: undefined,
  });
  return { buffer, router };
}

describe('output router', () => {
  it('dead-letters the original bytes and headers with the error headers on top', () => {
    const { buffer, router } = setup();
    router.deadLetter(source, new FleetgridError('DECODE_BAD_MAGIC', 'first byte is 0xde'), 'decode');
    const [letter] = buffer.take()!.records;
    expect(letter!.topic).toBe('u.telemetry.dlq');
    expect(letter!.message.value).toEqual(source.value);
    expect(letter!.message.key).toEqual(source.key);
    expect(letter!.message.headers).toMatchObject({
      traceparent: 'abc',
      [DLQ_HEADERS.code]: 'DECODE_BAD_MAGIC',
      [DLQ_HEADERS.stage]: 'decode',
      [DLQ_HEADERS.sourceOffset]: '17',
      [DLQ_HEADERS.sourcePartition]: '2',
    });
  });

  it('routes aggregates and alerts keyed by device, coalesces states, and dead-letters TOO_LATE rejections', () => {
    const { buffer, router } = setup();
    const aggregate = { deviceId: 'truck-1', windowEnd: 0 } as WindowAggregate;
    const state = (seq: number) => ({ deviceId: 'truck-1', seq }) as DeviceState;
    router.route(
      {
        aggregates: [aggregate],
        alerts: [],
        deviceStates: [state(1)],
        rejected: [
          {
            event: { type: 'TruckTelemetry', value: {} as never },
            error: new FleetgridError('TOO_LATE', 'late'),
          },
        ],
      },
      source,
    );
    router.route({ aggregates: [], alerts: [], deviceStates: [state(2)], rejected: [] }, source);
    const take = buffer.take()!;
    expect(take.records.map((r) => [r.topic, String(r.message.key)])).toEqual([
      ['u.telemetry.aggregates', 'truck-1'],
      ['u.telemetry.dlq', 'truck-1'],
    ]);
    expect(take.records[1]!.message.headers?.[DLQ_HEADERS.code]).toBe('TOO_LATE');
    expect(take.states.map((s) => s.state.seq)).toEqual([2]);
  });

  it('flattens a device state into string hash fields', () => {
    expect(
      deviceStateFields({ deviceId: 'd', seq: 3, lat: null, activeDiagnosticCodes: ['P0217'] } as never),
    ).toEqual({
      deviceId: 'd',
      seq: '3',
      lat: 'null',
      activeDiagnosticCodes: '["P0217"]',
    });
  });
});
