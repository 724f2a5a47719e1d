import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../lib/dlq.ts';
import type { Decoded } from '../schemas/serde.ts';
import type { TruckTelemetry, WindowAggregate } from '../schemas/types.ts';
import {
  alert,
  alertCommand,
  deviceState,
  diagnostic,
  engine,
  solar,
  turbine,
  truck as truckSample,
  windowOf,
} from '../test/sinks/fixtures.ts';
import {
  type EncodedRow,
  mapDeadLetter,
  mapRecord,
  RECORD_TABLES,
  ROW_FORMAT,
  rowObject,
  TABLE_COLUMNS,
  type TableName,
} from './rows.ts';

/** A compact line back into an object, by the table's column list. */
function parse(table: TableName, line: EncodedRow): Record<string, unknown> {
  expect(ROW_FORMAT[table]).toBe('JSONCompactEachRow');
  if (typeof line !== 'string') throw new Error(`${table} rows are not JSON lines`);
  const values = JSON.parse(line) as unknown[];
  expect(values).toHaveLength(TABLE_COLUMNS[table].length);
  return Object.fromEntries(TABLE_COLUMNS[table].map((column, i) => [column, values[i]]));
}

const at = { partition: 2, offset: '9007199254740993' };
const truck: TruckTelemetry = {
  eventId: 'e-1',
  deviceId: 'truck-1',
  siteId: 'depot',
  ts: 1_763_800_000_123,
  seq: 7,
  lat: 52.1,
  lon: 4.3,
  speedKmh: 61.5,
  headingDeg: 90,
  engineTempC: 88,
  fuelPct: 40,
  odometerKm: 1234.5,
  engineOn: true,
  cargoTempC: null,
};

describe('mapRecord', () => {
  it('maps a truck sample to a snake_case truck_telemetry row with its Kafka lineage', () => {
    const decoded = { record: 'TruckTelemetry', schemaId: 3, value: truck } as Decoded;
    const { table, row } = mapRecord('truck', decoded, at);
    expect(table).toBe('truck_telemetry');
    // Raw rows are RowBinary (test/sinks/rowbinary.int.test.ts stores both encodings and
    // compares); the row object holds the values they carry.
    expect(Buffer.isBuffer(row)).toBe(true);
    expect(rowObject(decoded, at)).toEqual({
      event_id: 'e-1',
      device_id: 'truck-1',
      site_id: 'depot',
      ts: 1_763_800_000_123,
      seq: 7,
      lat: 52.1,
      lon: 4.3,
      speed_kmh: 61.5,
      heading_deg: 90,
      engine_temp_c: 88,
      fuel_pct: 40,
      odometer_km: 1234.5,
      engine_on: true,
      cargo_temp_c: null,
      schema_id: 3,
      kafka_partition: 2,
      // Kept as a string: an offset past 2^53 must not lose precision.
      kafka_offset: '9007199254740993',
    });
  });

  it('turns the field statistics of a window into maps keyed by field name', () => {
    const window: WindowAggregate = {
      deviceId: 'wt-1',
      siteId: 'plant',
      kind: 'TURBINE',
      model: null,
      driverId: null,
      windowStart: 60_000,
      windowEnd: 120_000,
      revision: 2,
      eventCount: 3,
      firstEventTs: 61_000,
      lastEventTs: 119_000,
      fields: [
        { name: 'powerKw', count: 3, min: 1, max: 3, sum: 6 },
        { name: 'rotorRpm', count: 2, min: 10, max: 12, sum: 22 },
      ],
      derived: { energyKwh: 0.1 },
    };
    const { table, row: line } = mapRecord(
      'aggregates',
      { record: 'WindowAggregate', schemaId: 9, value: window } as Decoded,
      at,
    );
    expect(table).toBe('aggregates_1m');
    expect(parse(table, line)).toMatchObject({
      revision: 2,
      field_count: { powerKw: 3, rotorRpm: 2 },
      field_min: { powerKw: 1, rotorRpm: 10 },
      field_max: { powerKw: 3, rotorRpm: 12 },
      field_sum: { powerKw: 6, rotorRpm: 22 },
      derived: { energyKwh: 0.1 },
    });
  });

  it('builds every record type in the column order the insert declares', () => {
    const t = truckSample('d', 1_000, 1);
    const samples: Decoded[] = [
      { record: 'TruckTelemetry', schemaId: 1, value: t },
      { record: 'EngineStateChanged', schemaId: 1, value: engine('d', 1, 1) },
      { record: 'DiagnosticReported', schemaId: 1, value: diagnostic('d', 1, 1) },
      { record: 'TurbineTelemetry', schemaId: 1, value: turbine('d', 1, 1) },
      { record: 'SolarTelemetry', schemaId: 1, value: solar('d', 1, 1) },
      { record: 'WindowAggregate', schemaId: 1, value: windowOf([t], 0, 0) },
      { record: 'Alert', schemaId: 1, value: alert('d', 1, 'RAISED') },
      { record: 'DeviceState', schemaId: 1, value: deviceState('d', 1, 1) },
      { record: 'AlertCommand', schemaId: 1, value: alertCommand('a-1', 'c-1', 1) },
    ] as Decoded[];
    for (const decoded of samples) {
      expect(Object.keys(rowObject(decoded, at))).toEqual(TABLE_COLUMNS[RECORD_TABLES[decoded.record]]);
    }
  });

  it('stores the registry fields of an enriched window, alert and device state', () => {
    const t = truckSample('truck-7', 1_000, 1);
    const enriched = { model: 'Actros 1845', driverId: 'drv-<b>' };
    const window = mapRecord(
      'aggregates',
      { record: 'WindowAggregate', schemaId: 1, value: { ...windowOf([t], 0, 0), ...enriched } } as Decoded,
      at,
    );
    expect(parse(window.table, window.row)).toMatchObject({
      kind: 'TRUCK',
      model: 'Actros 1845',
      driver_id: 'drv-<b>',
    });
    const raised = mapRecord(
      'alerts',
      {
        record: 'Alert',
        schemaId: 1,
        value: { ...alert('truck-7', 1_000, 'RAISED'), ...enriched, ruleVersion: 42 },
      } as Decoded,
      at,
    );
    expect(parse(raised.table, raised.row)).toMatchObject({
      model: 'Actros 1845',
      driver_id: 'drv-<b>',
      rule_version: 42,
      message: expect.any(String),
    });
    const state = mapRecord(
      'deviceState',
      {
        record: 'DeviceState',
        schemaId: 1,
        value: { ...deviceState('truck-7', 1, 1_000), ...enriched },
      } as Decoded,
      at,
    );
    expect(parse(state.table, state.row)).toMatchObject({ model: 'Actros 1845', driver_id: 'drv-<b>' });
  });

  it('stores null registry fields and rule version 0 when the processor ran without the join', () => {
    const raised = mapRecord(
      'alerts',
      { record: 'Alert', schemaId: 1, value: alert('d', 1, 'RAISED') } as Decoded,
      at,
    );
    expect(parse(raised.table, raised.row)).toMatchObject({ model: null, driver_id: null, rule_version: 0 });
    const state = mapRecord(
      'deviceState',
      { record: 'DeviceState', schemaId: 1, value: deviceState('d', 1, 1) } as Decoded,
      at,
    );
    expect(parse(state.table, state.row)).toMatchObject({ model: null, driver_id: null });
  });

  it('refuses a record type that does not belong on the topic', () => {
    const decoded = { record: 'TruckTelemetry', schemaId: 3, value: truck } as Decoded;
    expect(() => mapRecord('solar', decoded, at)).toThrow(
      expect.objectContaining({ code: 'DECODE_UNEXPECTED_TYPE' }),
    );
  });
});

describe('mapDeadLetter', () => {
  it('loads a DLQ record with its headers and its original bytes in base64', () => {
    const value = Buffer.from([0, 255, 10, 13]);
    const { table, row: line } = mapDeadLetter({
      partition: 1,
      offset: '77',
      key: Buffer.from('truck-9'),
      value,
      headers: {
        [DLQ_HEADERS.code]: 'DECODE_BAD_MAGIC',
        [DLQ_HEADERS.message]: 'not framed',
        [DLQ_HEADERS.stage]: 'windows',
        [DLQ_HEADERS.sourceTopic]: 'telemetry.truck',
        [DLQ_HEADERS.sourcePartition]: '4',
        [DLQ_HEADERS.sourceOffset]: '1234',
        [DLQ_HEADERS.failedAt]: '1763800000000',
      },
    });
    expect(table).toBe('dead_letters');
    const row = parse(table, line);
    expect(row).toMatchObject({
      error_code: 'DECODE_BAD_MAGIC',
      stage: 'windows',
      source_topic: 'telemetry.truck',
      source_partition: 4,
      source_offset: 1234,
      failed_at: 1763800000000,
      dlq_partition: 1,
      dlq_offset: '77',
      key: 'truck-9',
      value_size: 4,
    });
    expect(Buffer.from(String(row.value_base64), 'base64').equals(value)).toBe(true);
  });

  it('loads a DLQ record without headers instead of failing (it must never be dead-lettered again)', () => {
    const row = parse(
      'dead_letters',
      mapDeadLetter({ partition: 0, offset: '1', key: null, value: null, headers: {} }).row,
    );
    expect(row).toMatchObject({
      error_code: 'UNKNOWN',
      source_partition: -1,
      source_offset: -1,
      value_base64: '',
      value_size: 0,
    });
  });
});
