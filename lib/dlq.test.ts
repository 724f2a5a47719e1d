import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, toDeadLetter } from './dlq.ts';
import { FleetgridError } from './errors.ts';

describe('toDeadLetter', () => {
  it('keeps the original key and bytes and says what, where and from where', () => {
    const value = Buffer.from([1, 2, 3]);
    const letter = toDeadLetter(
      { topic: 'telemetry.truck', partition: 2, offset: '41', key: 'truck-7', value },
      new FleetgridError('DECODE_BAD_MAGIC', 'first byte 0x01'),
      'processor',
      1_700_000_000_000,
    );
    expect(letter.key).toBe('truck-7');
    expect(letter.value).toBe(value);
    expect(letter.headers).toEqual({
      [DLQ_HEADERS.code]: 'DECODE_BAD_MAGIC',
      [DLQ_HEADERS.message]: 'first byte 0x01',
      [DLQ_HEADERS.stage]: 'processor',
      [DLQ_HEADERS.sourceTopic]: 'telemetry.truck',
      [DLQ_HEADERS.sourcePartition]: '2',
      [DLQ_HEADERS.sourceOffset]: '41',
      [DLQ_HEADERS.failedAt]: '1700000000000',
    });
  });

  it('cuts very long messages', () => {
    const letter = toDeadLetter(
      { topic: 't', partition: 0, offset: '0', key: null, value: null },
      new FleetgridError('DECODE_INVALID_AVRO', 'x'.repeat(10_000)),
      'sink',
      0,
    );
    expect(String(letter.headers?.[DLQ_HEADERS.message]).length).toBe(2_000);
  });
});
