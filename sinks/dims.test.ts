import { describe, expect, it } from 'vitest';
import { dimDeleteSql, entityToDimRow, toDimChange, toRuns } from './dims.ts';

/** A record as Debezium writes it: ExtractNewRecordState, JsonConverter with schemas, key = the id. */
const debezium = (row: Record<string, unknown>) => ({
  key: Buffer.from(String(row.id)),
  value: Buffer.from(
    JSON.stringify({
      schema: { type: 'struct', optional: false },
      payload: { ...row, __deleted: 'false', __op: 'u', __lsn: 27073072, __source_ts_ms: 1796091477384 },
    }),
  ),
});

const truckRow = (version: number, extra: Record<string, unknown> = {}) => ({
  id: 'truck-7',
  kind: 'truck',
  site_id: 'depot-lyon',
  site_kind: 'depot',
  model: 'tractor-40t-reefer',
  status: 'active',
  plate: 'FG-7',
  refrigerated: true,
  cargo_min_c: 2,
  cargo_max_c: 8,
  driver_id: 'driver-7',
  rated_kw: null,
  power_curve: null,
  kwp: null,
  version,
  updated_at: '2026-12-01T02:17:54.977096Z',
  ...extra,
});

describe('toDimChange', () => {
  it('maps a device row onto dim_devices with the registry columns, version and lineage', () => {
    expect(toDimChange('devices', debezium(truckRow(57)), '12')).toEqual({
      action: 'upsert',
      table: 'dim_devices',
      id: 'truck-7',
      row: {
        id: 'truck-7',
        kind: 'truck',
        site_id: 'depot-lyon',
        model: 'tractor-40t-reefer',
        status: 'active',
        plate: 'FG-7',
        refrigerated: true,
        cargo_min_c: 2,
        cargo_max_c: 8,
        driver_id: 'driver-7',
        rated_kw: null,
        power_curve: null,
        kwp: null,
        version: 57,
        updated_at: Date.parse('2026-12-01T02:17:54.977Z'),
        deleted: 0,
        kafka_offset: '12',
      },
    });
  });

  it('reads a driver licence date as Debezium sends it (days since the epoch)', () => {
    const change = toDimChange(
      'drivers',
      debezium({
        id: 'driver-7',
        name: 'Ada',
        licence_number: 'NL-7',
        licence_class: 'CE',
        licence_expires: 20_454,
        version: 3,
        updated_at: '2026-01-01T00:00:00Z',
      }),
      '0',
    );
    expect(change).toMatchObject({
      action: 'upsert',
      table: 'dim_drivers',
      row: { licence_number: 'NL-7', licence_expires: '2026-01-01', version: 3 },
    });
  });

  it('turns a delete marker and a tombstone into deletes of the id', () => {
    const marker = {
      key: 'truck-7',
      value: JSON.stringify({ payload: { id: 'truck-7', __deleted: 'true' }, schema: {} }),
    };
    expect(toDimChange('devices', marker, '13')).toEqual({
      action: 'delete',
      table: 'dim_devices',
      id: 'truck-7',
      offset: '13',
    });
    expect(toDimChange('sites', { key: 'depot-lyon', value: null }, '14')).toEqual({
      action: 'delete',
      table: 'dim_sites',
      id: 'depot-lyon',
      offset: '14',
    });
  });

  it('refuses what is not a registry row, with a code for the dead-letter queue', () => {
    const cases = [
      { key: null, value: '{}' },
      { key: 'truck-7', value: 'not json' },
      { key: 'truck-7', value: JSON.stringify({ payload: truckRow(5, { status: 'flying' }), schema: {} }) },
      // The key names another row than the value.
      { key: 'truck-8', value: JSON.stringify({ payload: truckRow(5), schema: {} }) },
    ];
    for (const record of cases) {
      const change = toDimChange('devices', record, '1');
      expect(change.action).toBe('invalid');
      if (change.action === 'invalid') {
        expect(change.error.code).toBe('REGISTRY_RECORD_INVALID');
        expect(change.error.retriable).toBe(false);
      }
    }
  });
});

describe('entityToDimRow', () => {
  it('keeps the nulls of attributes a kind does not have', () => {
    const row = entityToDimRow(
      'sites',
      {
        id: 'farm-1',
        kind: 'wind_farm',
        name: 'Farm',
        lat: 1,
        lon: 2,
        timeZone: 'UTC',
        capacityKw: 9000,
        vehicleCapacity: null,
        version: 9,
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
      '4',
    );
    expect(row).toMatchObject({ capacity_kw: 9000, vehicle_capacity: null, time_zone: 'UTC', version: 9 });
  });
});

describe('toRuns', () => {
  it('keeps log order: consecutive upserts in one insert, deletes between them on their own', () => {
    const up = (version: number, offset: string) =>
      toDimChange('devices', debezium(truckRow(version)), offset);
    const runs = toRuns([
      up(1, '0'),
      up(2, '1'),
      toDimChange('devices', { key: 'truck-7', value: null }, '2'),
      toDimChange('devices', { key: 'truck-7', value: null }, '3'),
      toDimChange('devices', { key: null, value: null }, '4'),
      up(9, '5'),
    ]);
    expect(
      runs.map((r) => (r.action === 'upsert' ? r.rows.map((x) => x.version) : [r.ids, r.offset])),
    ).toEqual([[1, 2], [['truck-7'], '3'], [9]]);
  });
});

describe('dimDeleteSql', () => {
  it('writes deletes only into the dimension tables, at the newest version held', () => {
    expect(dimDeleteSql('dim_devices')).toContain('max(version)');
    expect(() => dimDeleteSql('aggregates_1m')).toThrow(/not a dimension table/);
  });
});
