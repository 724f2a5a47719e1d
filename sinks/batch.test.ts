import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../lib/errors.ts';
import { bisect, dedupToken, type Entry, formatPlan, PartitionBuffer, parsePlan } from './batch.ts';

const limits = { maxRows: 3, maxBytes: 10_000, lingerMs: 1_000 };

function row(offset: number, table = 't'): Entry {
  return {
    kind: 'row',
    offset: BigInt(offset),
    key: null,
    value: Buffer.from('vv'),
    table,
    row: `{"o":${offset}}\n`,
  };
}

describe('dedup token and batch plan', () => {
  it('names the fixed offset range of a batch', () => {
    expect(dedupToken('telemetry.truck', 2, 100n, 149n)).toBe('telemetry.truck:2:100-149');
  });

  it('round-trips a plan through commit metadata and ignores foreign metadata', () => {
    expect(parsePlan(formatPlan(12345678901234n))).toBe(12345678901234n);
    expect(parsePlan('')).toBeUndefined();
    expect(parsePlan(null)).toBeUndefined();
    expect(parsePlan('someone-else:7')).toBeUndefined();
    expect(parsePlan('fleetgrid-plan:v1:abc')).toBeUndefined();
  });
});

describe('PartitionBuffer', () => {
  it('seals a batch at the row limit with the range of its offsets', () => {
    const buffer = new PartitionBuffer('t', 0, limits);
    for (const offset of [10, 11, 12, 13]) buffer.add(row(offset), 0);
    expect(buffer.sealed).toHaveLength(1);
    expect(buffer.sealed[0]).toMatchObject({ first: 10n, last: 12n, rows: 3 });
    expect(buffer.open).toMatchObject({ first: 13n, last: 13n });
    expect(buffer.rows).toBe(4);
  });

  it('is due after the linger time and not before', () => {
    const buffer = new PartitionBuffer('t', 0, limits);
    buffer.add(row(1), 5_000);
    expect(buffer.due(5_999)).toBe(false);
    expect(buffer.due(6_000)).toBe(true);
    expect(buffer.next(6_000)).toMatchObject({ first: 1n, last: 1n });
  });

  it('keeps a small batch open until the quiet linger, but seals a full enough one at the linger time', () => {
    const quiet = { ...limits, maxRows: 100, quiet: { lingerMs: 5_000, belowRecords: 3 } };
    const trickle = new PartitionBuffer('t', 0, quiet);
    trickle.add(row(1), 0);
    trickle.add(row(2), 100);
    expect(trickle.due(1_000)).toBe(false);
    expect(trickle.due(4_999)).toBe(false);
    expect(trickle.due(5_000)).toBe(true);
    const busy = new PartitionBuffer('t', 0, quiet);
    for (const offset of [1, 2, 3]) busy.add(row(offset), 0);
    expect(busy.due(999)).toBe(false);
    expect(busy.due(1_000)).toBe(true);
    expect(busy.next(1_000)).toMatchObject({ first: 1n, last: 3n });
  });

  it('cuts the first batch exactly at the planned last offset, whatever the limits and the time', () => {
    const buffer = new PartitionBuffer('t', 0, { ...limits, maxRows: 2 }, 14n);
    for (const offset of [10, 11, 12]) buffer.add(row(offset), 0);
    // Over maxRows and past the linger time, but the plan says 10-14.
    expect(buffer.sealed).toHaveLength(0);
    expect(buffer.due(1_000_000)).toBe(false);
    buffer.add(row(14), 0); // 13 was compacted away
    expect(buffer.sealed[0]).toMatchObject({ first: 10n, last: 14n, rows: 4 });
    expect(buffer.plan).toBeUndefined();
  });

  it('seals a planned batch when the next record is already past the plan', () => {
    const buffer = new PartitionBuffer('t', 0, limits, 11n);
    buffer.add(row(10), 0);
    buffer.add(row(13), 0);
    expect(buffer.sealed[0]).toMatchObject({ first: 10n, last: 10n });
    expect(buffer.open).toMatchObject({ first: 13n });
  });

  it('moves past a hidden range (transaction markers) only when it follows what was written, with nothing pending', () => {
    const buffer = new PartitionBuffer('t', 0, limits);
    expect(buffer.skipHidden({ from: '0', to: '1' })).toBeUndefined(); // nothing taken yet: where it stands is unknown
    buffer.add(row(5), 0);
    expect(buffer.skipHidden({ from: '6', to: '7' })).toBeUndefined(); // record 5 still pending
    buffer.flushAll();
    buffer.done(buffer.next(0) as NonNullable<ReturnType<typeof buffer.next>>);
    expect(buffer.skipHidden({ from: '4', to: '5' })).toBeUndefined(); // not contiguous: an older range
    expect(buffer.skipHidden({ from: '6', to: '7' })).toBe(7n);
    expect(buffer.add(row(6), 0)).toBe(false); // inside the hidden range: not a record
    expect(buffer.add(row(7), 0)).toBe(true);
  });

  it('skips a redelivered offset it already holds', () => {
    const buffer = new PartitionBuffer('t', 0, limits);
    expect(buffer.add(row(5), 0)).toBe(true);
    expect(buffer.add(row(5), 0)).toBe(false);
    expect(buffer.rows).toBe(1);
  });

  it('keeps rejected records in the range but not among the rows, and releases everything when done', () => {
    const buffer = new PartitionBuffer('t', 0, limits);
    buffer.add(row(1, 'a'), 0);
    buffer.add(
      {
        kind: 'rejected',
        offset: 2n,
        key: null,
        value: Buffer.from('x'),
        error: new FleetgridError('DECODE_EMPTY', 'e'),
      },
      0,
    );
    buffer.add(row(3, 'b'), 0);
    buffer.flushAll();
    const batch = buffer.next(0);
    expect(batch).toMatchObject({ first: 1n, last: 3n, rows: 2, records: 3 });
    expect([...(batch?.tables.keys() ?? [])]).toEqual(['a', 'b']);
    expect(batch?.rejected.map((r) => r.offset)).toEqual([2n]);
    buffer.done(batch as NonNullable<typeof batch>);
    expect(buffer.empty).toBe(true);
    expect(buffer.rows).toBe(0);
    expect(buffer.bytes).toBe(0);
  });
});

describe('bisect', () => {
  const rejected = () => new FleetgridError('CLICKHOUSE_REJECTED', 'bad row');

  it('finds every bad row with inserts of the good ranges only', async () => {
    const bad = new Set([3, 4, 9]);
    const inserted: number[] = [];
    const found = await bisect(
      { from: 0, to: 10 },
      async ({ from, to }) => {
        for (let i = from; i < to; i++) if (bad.has(i)) throw rejected();
        for (let i = from; i < to; i++) inserted.push(i);
      },
      (error) => error instanceof FleetgridError && error.code === 'CLICKHOUSE_REJECTED',
    );
    expect(found).toEqual([3, 4, 9]);
    expect(inserted.sort((a, b) => a - b)).toEqual([0, 1, 2, 5, 6, 7, 8]);
  });

  it('does not bisect errors that are not bad data', async () => {
    const outage = new FleetgridError('CLICKHOUSE_UNAVAILABLE', 'down');
    await expect(
      bisect(
        { from: 0, to: 4 },
        async () => {
          throw outage;
        },
        () => false,
      ),
    ).rejects.toBe(outage);
  });
});
