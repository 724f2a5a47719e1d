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

describe('a dead letter too large for the dead-letter topic', () => {
  it('keeps the head of its key and value within the bound and says what was cut, why and from what size', () => {
    const key = 'd'.repeat(500_000);
    const value = Buffer.alloc(998_000, 7);
    const letter = toDeadLetter(
      { topic: 't', partition: 1, offset: '9', key, value },
      new FleetgridError('VALIDATION_INVALID_ID', 'deviceId is not an id'),
      'sink',
      0,
      { maxBytes: 900_000 },
    );
    const keyBytes = (letter.key as Buffer).length;
    const valueBytes = (letter.value as Buffer).length;
    expect(keyBytes + valueBytes).toBeLessThan(900_000);
    expect((letter.value as Buffer).equals(value.subarray(0, valueBytes))).toBe(true);
    expect((letter.key as Buffer).toString()).toBe(key.slice(0, keyBytes));
    expect(letter.headers).toMatchObject({
      [DLQ_HEADERS.code]: 'VALIDATION_INVALID_ID',
      [DLQ_HEADERS.truncated]: 'key,value',
      [DLQ_HEADERS.originalKeySize]: '500000',
      [DLQ_HEADERS.originalValueSize]: '998000',
    });
    expect(String(letter.headers?.[DLQ_HEADERS.truncatedReason])).toContain('exceeds the dead-letter bound');
  });

  it('leaves a letter that fits untouched, and carries the original headers under its own', () => {
    const value = Buffer.alloc(1_000, 1);
    const letter = toDeadLetter(
      {
        topic: 't',
        partition: 0,
        offset: '0',
        key: 'k',
        value,
        headers: { trace: 'abc', [DLQ_HEADERS.stage]: 'x' },
      },
      new FleetgridError('DECODE_BAD_MAGIC', 'x'),
      'sink',
      0,
      { maxBytes: 900_000 },
    );
    expect(letter.value).toBe(value);
    expect(letter.headers?.trace).toBe('abc');
    expect(letter.headers?.[DLQ_HEADERS.stage]).toBe('sink');
    expect(letter.headers?.[DLQ_HEADERS.truncated]).toBeUndefined();
  });
});
