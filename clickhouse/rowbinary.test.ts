import { describe, expect, it } from 'vitest';
import { RowBinaryWriter } from './rowbinary.ts';

const hex = (b: Buffer) => b.toString('hex');

describe('RowBinaryWriter', () => {
  it('writes strings as a LEB128 length and their UTF-8 bytes', () => {
    const w = new RowBinaryWriter();
    expect(hex(w.begin().string('').end())).toBe('00');
    expect(hex(w.begin().string('ab').end())).toBe('026162');
    expect(w.begin().string('é😀').end()).toEqual(Buffer.concat([Buffer.from([6]), Buffer.from('é😀')]));
    // 200 bytes: a two-byte length (0xc8 0x01); 43 three-byte characters: 129 bytes.
    const long = w.begin().string('x'.repeat(200)).end();
    expect(hex(long.subarray(0, 2))).toBe('c801');
    expect(long.length).toBe(202);
    const wide = w.begin().string('€'.repeat(43)).end();
    expect(hex(wide.subarray(0, 2))).toBe('8101');
    expect(wide.subarray(2).toString('utf8')).toBe('€'.repeat(43));
  });

  it('writes little-endian integers, 64-bit ones past 2^32 and 2^53 and negative ones exactly', () => {
    const w = new RowBinaryWriter();
    expect(hex(w.begin().uint16(65_535).uint32(4_294_967_295).end())).toBe('ffffffffffff');
    expect(w.begin().uint64(Number.MAX_SAFE_INTEGER).end().readBigUInt64LE()).toBe(2n ** 53n - 1n);
    expect(w.begin().uint64(4_294_967_296).end().readBigUInt64LE()).toBe(4_294_967_296n);
    expect(w.begin().int64(-1).end().readBigInt64LE()).toBe(-1n);
    expect(w.begin().int64(-4_294_967_297).end().readBigInt64LE()).toBe(-4_294_967_297n);
    expect(w.begin().int64(1_796_228_508_365).end().readBigInt64LE()).toBe(1_796_228_508_365n);
    expect(w.begin().uint64Text('9007199254740993').end().readBigUInt64LE()).toBe(9_007_199_254_740_993n);
    expect(w.begin().uint64Text('18446744073709551615').end().readBigUInt64LE()).toBe(2n ** 64n - 1n);
  });

  it('writes floats, bools and Nullable values; non-finite numbers as JSON stored them', () => {
    const w = new RowBinaryWriter();
    const row = w.begin().float32(61.5).float64(52.1).bool(true).bool(false).end();
    expect(row.readFloatLE(0)).toBe(61.5);
    expect(row.readDoubleLE(4)).toBe(52.1);
    expect(hex(row.subarray(12))).toBe('0100');
    expect(hex(w.begin().nullableFloat32(null).nullableFloat32(undefined).end())).toBe('0101');
    const some = w.begin().nullableFloat32(4.5).end();
    expect(some[0]).toBe(0);
    expect(some.readFloatLE(1)).toBe(4.5);
    // JSON.stringify(NaN) is null: 0 in a plain column, NULL in a Nullable one.
    expect(w.begin().float32(Number.NaN).float64(Number.POSITIVE_INFINITY).end().readFloatLE(0)).toBe(0);
    expect(hex(w.begin().nullableFloat32(Number.NaN).end())).toBe('01');
    expect(hex(w.begin().nullableString(null).nullableString('a').end())).toBe('01000161');
  });

  it('moves a row that outgrows its slab whole, leaving the rows before it intact', () => {
    const w = new RowBinaryWriter(16);
    const first = w.begin().uint32(7).uint32(8).end();
    const second = w.begin().uint32(9).string('y'.repeat(40)).uint16(3).end();
    const third = w.begin().string('z').end();
    expect(hex(first)).toBe('0700000008000000');
    expect(second.readUInt32LE(0)).toBe(9);
    expect(second.subarray(5, 45).toString()).toBe('y'.repeat(40));
    expect(second.readUInt16LE(45)).toBe(3);
    expect(second.length).toBe(47);
    expect(hex(third)).toBe('017a');
    expect(hex(first)).toBe('0700000008000000');
  });
});
