/**
 * Sink benchmark: `node sinks/bench.ts` (≤ 60 s). Three figures per table kind:
 *  - engine: inserts of 50 000-row batches (with a deduplication token) into the embedded
 *    engine in the table's format (sinks/rows.ts ROW_FORMAT), rows/s and µs per row;
 *  - cpu: decode (serde, cached path) + validate + map to the encoded row, µs per row;
 *  - for a RowBinary table, the same two figures for the JSONCompactEachRow rows it had
 *    before (`<table> (json)`): the format's gain measured in the same run;
 *  - kafka: the whole sink process end to end for raw truck events: produced first, then
 *    the sink reads, decodes, batches, inserts and commits; rows/s from its start to the
 *    last commit (the target: ≥ 150 000 raw rows/s from one process).
 * Prints a table, then one `BENCH_JSON {...}` line.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../lib/config.ts';
import { createKafkaClient } from '../lib/kafka/index.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry, metricValue } from '../lib/metrics.ts';
import { ensureTopics, topicNames, topicSpecs } from '../lib/topics.ts';
import { createSerde, type Decoded } from '../schemas/serde.ts';
import type { RawEvent, RecordName, RecordTypes } from '../schemas/types.ts';
import { validateRawEvent } from '../schemas/validate.ts';
import { createEmbeddedBackend } from '../clickhouse/index.ts';
import { parseSinkConfig } from './config.ts';
import { migrate } from '../clickhouse/index.ts';
import {
  type EncodedRow,
  mapRecord,
  RECORD_TABLES,
  ROW_FORMAT,
  rowObject,
  TABLE_COLUMNS,
  type TableName,
} from './rows.ts';
import { createClickHouseSink } from './runner.ts';
import { insertPayload } from './writer.ts';

const BATCH = 50_000;
const BATCHES = Number(process.env.BENCH_BATCHES ?? 4);
const KAFKA_EVENTS = Number(process.env.BENCH_KAFKA_EVENTS ?? 300_000);
const now = Date.now();
const t0 = now - 3_600_000;

const samples: { [N in RecordName]?: (i: number) => RecordTypes[N] } = {
  TruckTelemetry: (i) => ({
    eventId: randomUUID(),
    deviceId: `truck-${i % 500}`,
    siteId: 'depot-1',
    ts: t0 + i,
    seq: i,
    lat: 52 + (i % 100) / 1000,
    lon: 4.3,
    speedKmh: i % 120,
    headingDeg: i % 360,
    engineTempC: 85,
    fuelPct: 50,
    odometerKm: 1000 + i,
    engineOn: true,
    cargoTempC: i % 3 === 0 ? 4 : null,
  }),
  TurbineTelemetry: (i) => ({
    eventId: randomUUID(),
    deviceId: `wt-${i % 200}`,
    siteId: 'plant-w',
    ts: t0 + i,
    seq: i,
    windSpeedMs: 9,
    rotorRpm: 14,
    powerKw: 1500,
    pitchDeg: 3,
    nacelleTempC: 40,
    vibrationMmS: 2,
    status: 'RUNNING',
  }),
  SolarTelemetry: (i) => ({
    eventId: randomUUID(),
    deviceId: `pv-${i % 200}`,
    siteId: 'plant-s',
    ts: t0 + i,
    seq: i,
    irradianceWm2: 700,
    panelTempC: 45,
    dcVoltageV: 600,
    dcCurrentA: 10,
    acPowerW: 5800,
    status: 'PRODUCING',
  }),
  WindowAggregate: (i) => ({
    deviceId: `truck-${i % 500}`,
    siteId: 'depot-1',
    kind: 'TRUCK',
    model: null,
    driverId: null,
    windowStart: t0 + Math.floor(i / 500) * 60_000,
    windowEnd: t0 + Math.floor(i / 500) * 60_000 + 60_000,
    revision: 0,
    eventCount: 12,
    firstEventTs: t0,
    lastEventTs: t0 + 59_000,
    fields: ['speedKmh', 'engineTempC', 'fuelPct', 'headingDeg'].map((name) => ({
      name,
      count: 12,
      min: 1,
      max: 9,
      sum: 60,
    })),
    derived: { distanceKm: 1.2 },
  }),
};
const TOPIC_OF: Record<string, 'truck' | 'turbine' | 'solar' | 'aggregates'> = {
  TruckTelemetry: 'truck',
  TurbineTelemetry: 'turbine',
  SolarTelemetry: 'solar',
  WindowAggregate: 'aggregates',
};

const app = loadConfig({ ...process.env, TOPIC_PREFIX: `bench-sink-${randomUUID().slice(0, 8)}.` });
const log = createLogger('bench-sink', process.env.LOG_LEVEL ?? 'warn');
const topics = topicNames(app.topicPrefix);
const serde = createSerde(app.registry, { topics });
await serde.registerAll();
const dataDir = mkdtempSync(join(tmpdir(), 'fleetgrid-bench-sink-'));
const results: Record<
  string,
  { cpuUsPerRow: number; engineRowsPerS: number; engineUsPerRow: number; engineRowsPerCpuS: number }
> = {};
/** CPU seconds of this process (all threads, the engine's included) since `from`. */
const cpuSeconds = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};
const backend = await createEmbeddedBackend({
  mode: 'embedded',
  dataDir: join(dataDir, 'a'),
  database: 'fleetgrid',
});
await migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
// Warm-up: the first inserts pay one-time costs (JIT, parser set-up, first parts).
{
  const make = samples.SolarTelemetry as (i: number) => RecordTypes['SolarTelemetry'];
  const lines = Array.from(
    { length: 5_000 },
    (_, i) =>
      mapRecord(
        'solar',
        { record: 'SolarTelemetry', schemaId: 1, value: make(i) },
        { partition: 0, offset: String(i) },
      ).row,
  );
  for (let i = 0; i < 3; i++)
    await backend.insert('solar_telemetry', insertPayload(ROW_FORMAT.solar_telemetry, lines), {
      dedupToken: `warm:${i}`,
      columns: TABLE_COLUMNS.solar_telemetry,
      format: ROW_FORMAT.solar_telemetry,
      rows: lines.length,
    });
}

for (const [record, make] of Object.entries(samples) as [RecordName, (i: number) => unknown][]) {
  const topicKey = TOPIC_OF[record] as 'truck' | 'turbine' | 'solar' | 'aggregates';
  const encoded = Array.from({ length: BATCH }, (_, i) => serde.encode(record, make(i) as never));
  // The sink's encoding, and for a RowBinary table the JSON line it had before.
  const encoders: [string, 'JSONCompactEachRow' | undefined][] = [['', undefined]];
  if (ROW_FORMAT[RECORD_TABLES[record]] === 'RowBinary') encoders.push([' (json)', 'JSONCompactEachRow']);
  for (const [suffix, json] of encoders) {
    // cpu: the per-record work of the sink before the insert.
    let rows: EncodedRow[] = [];
    let table = '' as TableName;
    const cpuStart = process.hrtime.bigint();
    for (let round = 0; round < 2; round++) {
      rows = [];
      for (let i = 0; i < encoded.length; i++) {
        const decoded = serde.decodeCached(encoded[i] as Buffer) as Decoded;
        if (topicKey !== 'aggregates')
          validateRawEvent({ type: decoded.record, value: decoded.value } as RawEvent, now);
        const at = { partition: 0, offset: String(i) };
        const mapped = mapRecord(topicKey, decoded, at);
        table = mapped.table;
        rows.push(json ? `${JSON.stringify(Object.values(rowObject(decoded, at)))}\n` : mapped.row);
      }
    }
    const cpuUsPerRow = Number(process.hrtime.bigint() - cpuStart) / 1_000 / (2 * BATCH);
    const format = json ?? ROW_FORMAT[table];
    const payload = insertPayload(format, rows);
    // engine: the same batch inserted BATCHES times under distinct tokens (distinct blocks).
    const engineStart = process.hrtime.bigint();
    const engineCpu = process.cpuUsage();
    for (let b = 0; b < BATCHES; b++) {
      await backend.insert(table, payload, {
        dedupToken: `bench:${record}${suffix}:${b}`,
        columns: TABLE_COLUMNS[table],
        format,
        rows: rows.length,
      });
    }
    const seconds = Number(process.hrtime.bigint() - engineStart) / 1e9;
    results[`${table}${suffix}`] = {
      cpuUsPerRow,
      engineRowsPerS: Math.round((BATCHES * BATCH) / seconds),
      engineUsPerRow: (seconds * 1e6) / (BATCHES * BATCH),
      engineRowsPerCpuS: Math.round((BATCHES * BATCH) / cpuSeconds(engineCpu)),
    };
  }
}
await backend.close();

// kafka: the sink process end to end on raw truck events.
const kafka = createKafkaClient(app.kafka, { log });
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, topicSpecs(app.topicPrefix, 6));
const producer = kafka.producer();
await producer.connect();
const make = samples.TruckTelemetry as (i: number) => RecordTypes['TruckTelemetry'];
for (let i = 0; i < KAFKA_EVENTS; i += 20_000) {
  const messages = [];
  for (let j = i; j < Math.min(KAFKA_EVENTS, i + 20_000); j++) {
    const event = make(j);
    messages.push({ key: event.deviceId, value: serde.encode('TruckTelemetry', event) });
  }
  await producer.send(topics.truck, messages);
}
await producer.disconnect();
const registry = createMetricsRegistry('bench-sink', { defaultMetrics: false });
const sink = createClickHouseSink(
  { ...app, clickhouse: { mode: 'embedded', dataDir: join(dataDir, 'b'), database: 'fleetgrid' } },
  parseSinkConfig({
    groupId: `${app.topicPrefix}sink`,
    queryPort: 0,
    fetchMaxBytesPerPartition: 4 * 1024 * 1024,
  }),
  { kafka, serde: createSerde(app.registry, { topics }), log, registry },
);
const kafkaStart = process.hrtime.bigint();
const kafkaCpu = process.cpuUsage();
await sink.start();
const deadline = Date.now() + 40_000;
let written = 0;
// Steady state: from the first record received (after migrations and the group join).
let firstReceived: bigint | undefined;
while (Date.now() < deadline) {
  written = await metricValue(registry, 'fleetgrid_sink_written_rows_total', { table: 'truck_telemetry' });
  if (
    firstReceived === undefined &&
    (await metricValue(registry, 'fleetgrid_sink_received_records_total')) > 0
  ) {
    firstReceived = process.hrtime.bigint();
  }
  if (written >= KAFKA_EVENTS && sink.buffered().records === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const kafkaSeconds = Number(process.hrtime.bigint() - kafkaStart) / 1e9;
const kafkaCpuSeconds = cpuSeconds(kafkaCpu);
const steadySeconds = Number(process.hrtime.bigint() - (firstReceived ?? kafkaStart)) / 1e9;
await sink.stop();
await admin.deleteTopics(Object.values(topics)).catch(() => {});
await admin.disconnect();
rmSync(dataDir, { recursive: true, force: true });

const kafkaRowsPerS = Math.round(written / kafkaSeconds);
const steadyRowsPerS = Math.round(written / steadySeconds);
console.log('\nsink benchmark (embedded chDB, one process)');
console.log(
  `load average ${(await import('node:os')).loadavg()[0]?.toFixed(1)} on ${(await import('node:os')).cpus().length} cores`,
);
console.log('table                        cpu µs/row   engine rows/s   engine µs/row   engine rows/CPU-s');
for (const [table, r] of Object.entries(results)) {
  console.log(
    `${table.padEnd(27)}  ${r.cpuUsPerRow.toFixed(2).padStart(10)}   ${String(r.engineRowsPerS).padStart(13)}   ${r.engineUsPerRow.toFixed(2).padStart(13)}   ${String(r.engineRowsPerCpuS).padStart(17)}`,
  );
}
console.log(
  `\nend to end through Kafka: ${written} truck rows in ${kafkaSeconds.toFixed(2)} s = ${kafkaRowsPerS} rows/s (${((kafkaSeconds * 1e6) / Math.max(1, written)).toFixed(2)} µs/row, incl. start-up and group join); ${Math.round(written / kafkaCpuSeconds)} rows per CPU-second of the process`,
);
console.log(
  `steady state (first record received → last commit): ${steadySeconds.toFixed(2)} s = ${steadyRowsPerS} rows/s`,
);
console.log(
  `BENCH_JSON ${JSON.stringify({
    component: 'sinks',
    batchRows: BATCH,
    tables: results,
    kafka: {
      rows: written,
      seconds: kafkaSeconds,
      rowsPerS: kafkaRowsPerS,
      steadyRowsPerS,
      rowsPerCpuS: Math.round(written / kafkaCpuSeconds),
    },
    loadAverage: (await import('node:os')).loadavg()[0],
  })}`,
);
process.exit(0);
