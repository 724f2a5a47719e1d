/**
 * ClickHouse RowBinary encoding, pure: the sink's insert format for the raw tables
 * (sinks/rows.ts). Why binary: a JSON row costs twice, JSON.stringify in JS and the
 * engine's JSON parser, and the parser was half of the sink's per-row cost; RowBinary is
 * copied into columns almost as it is (docs/BENCHMARKS.md has the figures).
 *
 * Rows are written one after another into shared slabs and handed out as views (no copy
 * per row, no allocation per row but a view); a row that does not fit the rest of a slab
 * moves to a new one. The views keep their slab alive until the batch that holds them is
 * written, so a batch costs its bytes plus at most one slab.
 *
 * Values written follow ClickHouse's RowBinary: little-endian integers and IEEE floats,
 * strings as a LEB128 length and UTF-8 bytes, Bool as one byte, Nullable(T) as one byte
 * (1 = NULL) followed by T when not null, DateTime64(3) as Int64 milliseconds,
 * LowCardinality(T) as T. Non-finite numbers are written as the JSON rows stored them
 * (JSON has no NaN: JSON.stringify made them null, which the engine stored as the
 * column's default, 0, or NULL in a Nullable column), so both formats store the same rows.
 */

const TWO_32 = 4_294_967_296;

export class RowBinaryWriter {
  private slab: Buffer;
  private view: DataView;
  private at = 0;
  private start = 0;
  private readonly slabBytes: number;

  constructor(slabBytes = 64 * 1024) {
    this.slabBytes = slabBytes;
    this.slab = Buffer.allocUnsafe(slabBytes);
    this.view = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.length);
  }

  /** Starts a row. */
  begin(): this {
    this.start = this.at;
    return this;
  }

  /** Ends the row: its bytes, a view of the slab. */
  end(): Buffer {
    return this.slab.subarray(this.start, this.at);
  }

  /** Makes room for `bytes` more in the current slab, moving the row begun so far if needed. */
  private ensure(bytes: number): void {
    if (this.at + bytes <= this.slab.length) return;
    const begun = this.at - this.start;
    const slab = Buffer.allocUnsafe(Math.max(this.slabBytes, 2 * (begun + bytes)));
    this.slab.copy(slab, 0, this.start, this.at);
    this.slab = slab;
    this.view = new DataView(slab.buffer, slab.byteOffset, slab.length);
    this.start = 0;
    this.at = begun;
  }

  string(value: string): this {
    // UTF-8 needs at most 3 bytes per UTF-16 unit: short strings have a one-byte length,
    // written after the bytes are (their count is only known then).
    const most = value.length * 3;
    if (most < 128) {
      this.ensure(1 + most);
      const n = this.slab.write(value, this.at + 1, 'utf8');
      this.slab[this.at] = n;
      this.at += 1 + n;
      return this;
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.ensure(10 + n);
    let rest = n;
    while (rest >= 0x80) {
      this.slab[this.at++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.slab[this.at++] = rest;
    this.at += this.slab.write(value, this.at, 'utf8');
    return this;
  }

  nullableString(value: string | null | undefined): this {
    if (value === null || value === undefined) return this.null();
    this.notNull();
    return this.string(value);
  }

  bool(value: boolean): this {
    this.ensure(1);
    this.slab[this.at++] = value ? 1 : 0;
    return this;
  }

  uint16(value: number): this {
    this.ensure(2);
    this.view.setUint16(this.at, value, true);
    this.at += 2;
    return this;
  }

  uint32(value: number): this {
    this.ensure(4);
    this.view.setUint32(this.at, value, true);
    this.at += 4;
    return this;
  }

  /**
   * Int64 (and DateTime64(3), in milliseconds) from a safe integer. `>>> 0` is the value
   * modulo 2^32, the low word of its two's complement for negative values too.
   */
  int64(value: number): this {
    this.ensure(8);
    this.view.setUint32(this.at, value >>> 0, true);
    this.view.setInt32(this.at + 4, Math.floor(value / TWO_32), true);
    this.at += 8;
    return this;
  }

  /** UInt64 from a non-negative safe integer: the same bytes as its Int64 (below 2^53). */
  uint64(value: number): this {
    return this.int64(value);
  }

  /** UInt64 from its decimal text (Kafka offsets), exact beyond 2^53 too. */
  uint64Text(value: string): this {
    const n = Number(value);
    if (Number.isSafeInteger(n) && n >= 0) return this.uint64(n);
    this.ensure(8);
    this.view.setBigUint64(this.at, BigInt(value), true);
    this.at += 8;
    return this;
  }

  float32(value: number): this {
    this.ensure(4);
    this.view.setFloat32(this.at, Number.isFinite(value) ? value : 0, true);
    this.at += 4;
    return this;
  }

  float64(value: number): this {
    this.ensure(8);
    this.view.setFloat64(this.at, Number.isFinite(value) ? value : 0, true);
    this.at += 8;
    return this;
  }

  nullableFloat32(value: number | null | undefined): this {
    if (value === null || value === undefined || !Number.isFinite(value)) return this.null();
    this.notNull();
    return this.float32(value);
  }

  private null(): this {
    this.ensure(1);
    this.slab[this.at++] = 1;
    return this;
  }

  private notNull(): void {
    this.ensure(1);
    this.slab[this.at++] = 0;
  }
}
