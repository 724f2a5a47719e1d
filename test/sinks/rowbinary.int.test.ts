/**
 * The raw tables' RowBinary rows (sinks/rows.ts, clickhouse/rowbinary.ts) store exactly
 * the rows the JSONCompactEachRow lines stored before them: the same records go through
 * both encodings into two databases of one embedded engine, and every stored column is
 * compared — every raw kind, null and non-null Nullable fields, the edges of the
 * validation ranges, 64-bit values past 2^53, long and non-ASCII strings, and the
 * non-finite numbers only an unvalidated replay can bring. Also: the deduplication token
 * still makes a repeated RowBinary insert a no-op, and a broken RowBinary payload is a
 * non-retriable rejection (what the writer bisects).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedBackend, migrate } from '../../clickhouse/index.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import type { Decoded } from '../../schemas/serde.ts';
import type { TopicKey } from '../../lib/topics.ts';
import { createSinkMetrics } from '../../sinks/metrics.ts';
import {
  type EncodedRow,
  mapRecord,
  RAW_TABLES,
  ROW_FORMAT,
  rowObject,
  TABLE_COLUMNS,
  type TableName,
} from '../../sinks/rows.ts';
import { insertPayload, writeTableRows } from '../../sinks/writer.ts';
import { diagnostic, engine, solar, truck, turbine } from './fixtures.ts';
import { tempDataDir } from './harness.ts';

const MIN_TS = Date.UTC(2000, 0, 1);
const now = Date.now();
const longId = `${'a'.repeat(64)}:${'b'.repeat(63)}`; // 128 characters: a two-byte length
const text = 'über 5 °C — 😀 "quoted" \\ back\tslash\nnew line \u0000 nul';

/** Records of every raw kind, with the values at the edges of what each column holds. */
function records(): { topicKey: TopicKey; decoded: Decoded }[] {
  const list: { topicKey: TopicKey; record: Decoded['record']; value: unknown }[] = [
    { topicKey: 'truck', record: 'TruckTelemetry', value: truck('truck-1', now, 1) },
    {
      topicKey: 'truck',
      record: 'TruckTelemetry',
      value: {
        ...truck(longId, MIN_TS, Number.MAX_SAFE_INTEGER),
        siteId: 'depot-é',
        lat: -90,
        lon: 180,
        speedKmh: 249.99,
        headingDeg: 359.9,
        engineTempC: -60,
        fuelPct: 0.1,
        odometerKm: 9_999_999.987,
        engineOn: false,
        cargoTempC: -59.95,
      },
    },
    {
      topicKey: 'truck',
      record: 'TruckTelemetry',
      value: { ...truck('truck-2', now, 3), lat: 90, lon: -180, cargoTempC: null, fuelPct: 100 },
    },
    // Only a replay maps unvalidated records: JSON had no NaN, so both store what JSON did.
    {
      topicKey: 'truck',
      record: 'TruckTelemetry',
      value: {
        ...truck('truck-3', now, 4),
        speedKmh: Number.NaN,
        lat: Number.POSITIVE_INFINITY,
        cargoTempC: Number.NaN,
      },
    },
    { topicKey: 'truck', record: 'EngineStateChanged', value: engine('truck-1', now, 5) },
    {
      topicKey: 'truck',
      record: 'EngineStateChanged',
      value: { ...engine('truck-1', now, 6), engineOn: true },
    },
    { topicKey: 'truck', record: 'DiagnosticReported', value: diagnostic('truck-1', now, 7) },
    {
      topicKey: 'truck',
      record: 'DiagnosticReported',
      value: {
        ...diagnostic('truck-1', now, 8),
        code: `P${'9'.repeat(127)}`,
        severity: 'CRITICAL',
        description: `${text} ${'x'.repeat(1_000 - text.length - 1)}`,
        active: false,
      },
    },
    {
      topicKey: 'truck',
      record: 'DiagnosticReported',
      value: { ...diagnostic('truck-1', now, 9), description: '' },
    },
    { topicKey: 'turbine', record: 'TurbineTelemetry', value: turbine('wt-1', now, 1) },
    {
      topicKey: 'turbine',
      record: 'TurbineTelemetry',
      value: {
        ...turbine('wt-2', now, 2),
        windSpeedMs: 100,
        rotorRpm: 0,
        powerKw: -500,
        pitchDeg: -10,
        nacelleTempC: 149.99,
        vibrationMmS: 0.001,
        status: 'MAINTENANCE',
      },
    },
    { topicKey: 'solar', record: 'SolarTelemetry', value: solar('pv-1', now, 1) },
    {
      topicKey: 'solar',
      record: 'SolarTelemetry',
      value: {
        ...solar('pv-2', now, 2),
        irradianceWm2: 2_000,
        panelTempC: -60,
        dcVoltageV: 1_999.9,
        dcCurrentA: 4_999.95,
        acPowerW: 9_999_999.5,
        status: 'FAULT',
      },
    },
  ];
  return list.map(({ topicKey, record, value }, i) => ({
    topicKey,
    decoded: { record, value, schemaId: i === 1 ? 4_294_967_295 : 3 } as Decoded,
  }));
}

/** Offsets past 2^32 and 2^53 and partition numbers up to UInt16's maximum. */
const positionOf = (i: number) =>
  i === 1
    ? { partition: 65_535, offset: '9007199254740993' }
    : { partition: i % 7, offset: String(4_294_967_296 + i) };

describe('RowBinary rows of the raw tables', () => {
  const data = tempDataDir('rowbinary');
  let jsonRows: ClickHouseBackend;
  let binaryRows: ClickHouseBackend;
  const deps = () => ({
    backend: binaryRows,
    metrics: createSinkMetrics(createMetricsRegistry('rowbinary-test', { defaultMetrics: false })),
    policy: { baseMs: 1, capMs: 2 },
  });

  beforeAll(async () => {
    const dataDir = join(data.dir, 'ch');
    jsonRows = await createEmbeddedBackend({ mode: 'embedded', dataDir, database: 'json_rows' });
    binaryRows = await createEmbeddedBackend({ mode: 'embedded', dataDir, database: 'binary_rows' });
    await migrate(jsonRows, { RAW_TTL_DAYS: '10000', AGG_TTL_DAYS: '400' });
    await migrate(binaryRows, { RAW_TTL_DAYS: '10000', AGG_TTL_DAYS: '400' });
  });

  afterAll(async () => {
    await jsonRows?.close();
    await binaryRows?.close();
    data.remove();
  });

  it('are the raw tables, and only they', () => {
    expect(
      Object.entries(ROW_FORMAT)
        .filter(([, f]) => f === 'RowBinary')
        .map(([t]) => t),
    ).toEqual([...RAW_TABLES]);
  });

  it('store the same rows as the JSON lines of the same records', async () => {
    const json = new Map<TableName, string[]>();
    const binary = new Map<TableName, { encoded: EncodedRow[]; sources: number[]; offsets: bigint[] }>();
    records().forEach(({ topicKey, decoded }, i) => {
      const at = positionOf(i);
      const { table, row } = mapRecord(topicKey, decoded, at);
      expect(Buffer.isBuffer(row)).toBe(true);
      // The JSON line the sink wrote before: the row object's values in column order.
      json.set(table, [
        ...(json.get(table) ?? []),
        `${JSON.stringify(Object.values(rowObject(decoded, at)))}\n`,
      ]);
      const rows = binary.get(table) ?? { encoded: [], sources: [], offsets: [] };
      rows.encoded.push(row);
      rows.sources.push(i);
      rows.offsets.push(BigInt(at.offset));
      binary.set(table, rows);
    });
    expect([...binary.keys()].sort()).toEqual([...RAW_TABLES].sort());
    for (const [table, lines] of json) {
      await jsonRows.insert(table, insertPayload('JSONCompactEachRow', lines), {
        columns: TABLE_COLUMNS[table],
      });
    }
    for (const [table, rows] of binary) {
      const batch = { topic: 'rb', partition: 0, first: 0n, last: BigInt(rows.encoded.length) };
      expect(await writeTableRows(batch, table, rows, deps())).toEqual([]);
    }
    for (const table of RAW_TABLES) {
      const sql = `SELECT * EXCEPT ingested_at FROM ${table} ORDER BY kafka_offset`;
      const stored = await binaryRows.query(sql);
      expect(stored).toHaveLength(json.get(table)?.length ?? 0);
      expect(stored).toEqual(await jsonRows.query(sql));
    }
    // The edges came through as themselves (not only equal to each other).
    const [edge] = await binaryRows.query<Record<string, unknown>>(
      `SELECT device_id, seq, kafka_offset, kafka_partition, schema_id, toUnixTimestamp64Milli(ts) AS ms,
              cargo_temp_c FROM truck_telemetry WHERE kafka_partition = 65535`,
    );
    expect(edge).toEqual({
      device_id: longId,
      seq: String(Number.MAX_SAFE_INTEGER),
      kafka_offset: '9007199254740993',
      kafka_partition: 65_535,
      schema_id: 4_294_967_295,
      ms: String(MIN_TS),
      cargo_temp_c: -59.95,
    });
    const [diag] = await binaryRows.query<{ description: string }>(
      "SELECT description FROM truck_diagnostics WHERE severity = 'CRITICAL'",
    );
    expect(diag?.description.startsWith(text)).toBe(true);
  });

  it('keep the deduplication token: the same batch inserted twice is stored once', async () => {
    const rows = { encoded: [] as EncodedRow[], sources: [] as number[], offsets: [] as bigint[] };
    for (let i = 0; i < 3; i++) {
      rows.encoded.push(
        mapRecord(
          'solar',
          { record: 'SolarTelemetry', schemaId: 1, value: solar('pv-dedup', now, i) } as Decoded,
          { partition: 1, offset: String(i) },
        ).row,
      );
      rows.sources.push(i);
      rows.offsets.push(BigInt(i));
    }
    const batch = { topic: 'rb.dedup', partition: 1, first: 0n, last: 2n };
    await writeTableRows(batch, 'solar_telemetry', rows, deps());
    await writeTableRows(batch, 'solar_telemetry', rows, deps());
    const [row] = await binaryRows.query<{ n: string }>(
      "SELECT count() AS n FROM solar_telemetry WHERE device_id = 'pv-dedup'",
    );
    expect(row?.n).toBe('3');
  });

  it('reports a broken RowBinary payload as non-retriable CLICKHOUSE_REJECTED', async () => {
    const { row } = mapRecord(
      'truck',
      { record: 'EngineStateChanged', schemaId: 1, value: engine('truck-9', now, 1) } as Decoded,
      { partition: 0, offset: '1' },
    );
    await expect(
      binaryRows.insert('truck_engine_events', (row as Buffer).subarray(0, (row as Buffer).length - 3), {
        columns: TABLE_COLUMNS.truck_engine_events,
        format: 'RowBinary',
        rows: 1,
      }),
    ).rejects.toMatchObject({ code: 'CLICKHOUSE_REJECTED', retriable: false });
  });
});
