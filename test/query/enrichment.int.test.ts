/**
 * The read side of the registry enrichment end to end (docs/query.md "Groupings"): a data
 * directory holding rows written before migration 006 (no registry columns), then the sink
 * on real Kafka and the schema registry, which applies 006, loads enriched WindowAggregate,
 * Alert and DeviceState records (model, driverId, ruleVersion as the processors' join sets
 * them) and the registry's compacted topics into the dimension tables; the query API over
 * it. The summaries per model and per driver and the alert listing equal figures computed
 * by hand below, including truck-1, whose driver changed between its two windows (each
 * window counts under the driver of its own time), truck-2, re-modelled in the registry
 * since (its rows keep the model they were processed with), the old rows of truck-old
 * (NULL fields: they fall back to the device's current model and driver) and truck-x, which
 * no registry knows (join off: the unregistered bucket).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedBackend, loadMigrations, localQueryBackend, migrate } from '../../clickhouse/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { ensureTopics } from '../../lib/topics.ts';
import { consumerGroupId, GROUPS } from '../../lib/stream/index.ts';
import { parseQueryConfig } from '../../query/config.ts';
import * as bodies from '../../query/responses.ts';
import { createQueryApi } from '../../query/server.ts';
import { registryTopicNames, registryTopicSpecs } from '../../registry/index.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import type { Alert, DeviceState, RecordTypes, WindowAggregate } from '../../schemas/types.ts';
import { migrationVariables, parseSinkConfig } from '../../sinks/config.ts';
import { expandQuery } from '../dashboards/grafana-expand.ts';
import type { TestStack } from '../helpers.ts';
import { alert, baseTime, deviceState, MINUTE, message, waitFor } from '../sinks/fixtures.ts';
import {
  count,
  createSinkTestStack,
  embeddedConfig,
  type RunningSink,
  startSink,
  tempDataDir,
} from '../sinks/harness.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field against hand-computed values.
type Json = Record<string, any>;

const HOUR = 3_600_000;
const base = baseTime();
const iso = (ms: number) => new Date(ms).toISOString();

type Registry = { model: string | null; driverId: string | null };
const join = (model: string, driverId: string | null): Registry => ({ model, driverId });
const JOIN_OFF: Registry = { model: null, driverId: null };

/** A truck's 1-minute window: `events` samples at `speed` km/h, `km` driven. */
function window(deviceId: string, minute: number, events: number, speed: number, km: number, r: Registry) {
  const start = base + minute * MINUTE;
  const w: WindowAggregate = {
    deviceId,
    siteId: 'depot-a',
    kind: 'TRUCK',
    ...r,
    windowStart: start,
    windowEnd: start + MINUTE,
    revision: 0,
    eventCount: events,
    firstEventTs: start,
    lastEventTs: start + 59_000,
    fields: [{ name: 'speedKmh', count: events, min: speed, max: speed, sum: speed * events }],
    derived: { distanceKm: km, engineOnSeconds: 60, idleSeconds: 0 },
  };
  return w;
}

function transition(
  deviceId: string,
  raisedAt: number,
  state: 'RAISED' | 'RESOLVED',
  r: Registry,
  ruleVersion: number,
) {
  const a: Alert = { ...alert(deviceId, raisedAt, state), siteId: 'depot-a', ...r, ruleVersion };
  return a;
}

function stateOf(deviceId: string, seq: number, r: Registry): DeviceState {
  return { ...deviceState(deviceId, seq, base + 2 * MINUTE), siteId: 'depot-a', ...r };
}

/** A registry row as the CDC topics carry it (Debezium's unwrapped JSON, registry/table.ts). */
function registryRecord(row: Record<string, unknown>) {
  return {
    key: String(row.id),
    value: JSON.stringify({
      schema: { type: 'struct', optional: false },
      payload: { ...row, version: 1, updated_at: iso(base), __op: 'c' },
    }),
  };
}

const device = (id: string, model: string, driverId: string | null) => ({
  id,
  kind: 'truck',
  site_id: 'depot-a',
  model,
  status: 'active',
  plate: `FG-${id}`,
  refrigerated: false,
  cargo_min_c: null,
  cargo_max_c: null,
  driver_id: driverId,
  rated_kw: null,
  power_curve: null,
  kwp: null,
});
const driver = (id: string, name: string) => ({
  id,
  name,
  licence_number: `NL-${id}`,
  licence_class: 'CE',
  licence_expires: null,
});

/**
 * What truck-old's rows looked like before migration 006 (the columns of 002 and 003 only),
 * as an older sink wrote them.
 */
const OLD_ROWS = {
  aggregates_1m: {
    device_id: 'truck-old',
    site_id: 'depot-a',
    kind: 'TRUCK',
    window_start: base,
    window_end: base + MINUTE,
    revision: 0,
    event_count: 7,
    first_event_ts: base,
    last_event_ts: base + 59_000,
    field_count: { speedKmh: 7 },
    field_min: { speedKmh: 55 },
    field_max: { speedKmh: 55 },
    field_sum: { speedKmh: 55 * 7 },
    derived: { distanceKm: 0.7 },
    kafka_partition: 0,
    kafka_offset: '0',
  },
  alerts: {
    alert_id: 'old-alert',
    rule: 'truck.overspeed',
    device_id: 'truck-old',
    site_id: 'depot-a',
    kind: 'TRUCK',
    state: 'RAISED',
    severity: 'WARNING',
    raised_at: base + 20_000,
    resolved_at: null,
    ts: base + 20_000,
    value: 95,
    threshold: 90,
    message: 'speed above 90 km/h for 30 s',
    kafka_partition: 0,
    kafka_offset: '0',
  },
  device_state: {
    device_id: 'truck-old',
    site_id: 'depot-a',
    kind: 'TRUCK',
    last_seen: base + 59_000,
    last_event_id: 'old-event',
    seq: 7,
    event_count: 7,
    active_diagnostic_codes: [],
    open_alerts: ['old-alert'],
    kafka_partition: 0,
    kafka_offset: '0',
  },
};

let stack: TestStack;
let serde: Serde;
let running: RunningSink;
let app: FastifyInstance;
const data = tempDataDir('enrichment');

async function get(path: string) {
  const response = await app.inject({ method: 'GET', url: path });
  const json = response.headers['content-type']?.startsWith('application/json');
  return { status: response.statusCode, body: (json ? response.json() : {}) as Json, text: response.body };
}

const range = `from=${iso(base)}&to=${iso(base + HOUR)}`;

beforeAll(async () => {
  // The data directory as it was before 006: migrations 001-005 and rows without the fields.
  const old = await createEmbeddedBackend({ mode: 'embedded', dataDir: data.dir, database: 'fleetgrid' });
  const variables = migrationVariables(parseSinkConfig());
  expect(
    (
      await migrate(
        old,
        variables,
        loadMigrations().filter((m) => m.version <= 5),
      )
    ).applied,
  ).toEqual([1, 2, 3, 4, 5]);
  for (const [table, row] of Object.entries(OLD_ROWS)) await old.insert(table, [row]);
  await old.close();

  stack = await createSinkTestStack('enrichment', { partitions: 1 });
  serde = createSerde(stack.config.registry, { topics: stack.topics });
  await serde.registerAll(['WindowAggregate', 'Alert', 'DeviceState']);
  await ensureTopics(stack.admin, registryTopicSpecs(stack.prefix));
  running = await startSink(stack, embeddedConfig(stack, data.dir), {
    dimsGroupId: consumerGroupId(stack.prefix, GROUPS.sinkDims),
  });

  const producer = stack.kafka.producer();
  await producer.connect();
  // The registry now: truck-1 drives with driver-2 (driver-1 before), truck-2 was re-modelled
  // to tractor-18t, truck-old is a tractor-18t of driver-1; truck-x is not registered.
  const topics = registryTopicNames(stack.prefix);
  await producer.send(topics.sites, [
    registryRecord({
      id: 'depot-a',
      kind: 'depot',
      name: 'Depot A',
      lat: 52,
      lon: 5,
      time_zone: 'Europe/Amsterdam',
      capacity_kw: null,
      vehicle_capacity: 10,
    }),
  ]);
  await producer.send(topics.drivers, [
    registryRecord(driver('driver-1', 'Ada')),
    registryRecord(driver('driver-2', 'Bo')),
  ]);
  await producer.send(topics.devices, [
    registryRecord(device('truck-1', 'tractor-40t', 'driver-2')),
    registryRecord(device('truck-2', 'tractor-18t', 'driver-1')),
    registryRecord(device('truck-old', 'tractor-18t', 'driver-1')),
  ]);
  const encode = <R extends 'WindowAggregate' | 'Alert' | 'DeviceState'>(record: R, value: RecordTypes[R]) =>
    message(value.deviceId, serde.encode(record, value));
  await producer.send(stack.topics.aggregates, [
    encode('WindowAggregate', window('truck-1', 0, 10, 60, 1.0, join('tractor-40t', 'driver-1'))),
    encode('WindowAggregate', window('truck-1', 1, 20, 70, 2.5, join('tractor-40t', 'driver-2'))),
    encode('WindowAggregate', window('truck-2', 0, 5, 50, 0.5, join('tractor-40t', 'driver-1'))),
    encode('WindowAggregate', window('truck-x', 0, 3, 40, 0.3, JOIN_OFF)),
  ]);
  await producer.send(stack.topics.alerts, [
    encode('Alert', transition('truck-1', base + 70_000, 'RAISED', join('tractor-40t', 'driver-2'), 4)),
    encode('Alert', transition('truck-2', base + 30_000, 'RAISED', join('tractor-40t', 'driver-1'), 2)),
    encode('Alert', transition('truck-2', base + 30_000, 'RESOLVED', join('tractor-40t', 'driver-1'), 2)),
  ]);
  await producer.send(stack.topics.deviceState, [
    encode('DeviceState', stateOf('truck-1', 30, join('tractor-40t', 'driver-2'))),
    encode('DeviceState', stateOf('truck-2', 5, join('tractor-40t', 'driver-1'))),
    encode('DeviceState', stateOf('truck-x', 3, JOIN_OFF)),
  ]);
  await producer.disconnect();

  const backend = running.sink.backend();
  // FINAL: merges may fold truck-2's two transitions at any time.
  const expected = { windows: 5, alerts: 3, resolved: 1, states: 4, devices: 3, drivers: 2 };
  const observe = async () => ({
    windows: await count(backend, 'SELECT count() AS n FROM aggregates_1m FINAL'),
    alerts: await count(backend, 'SELECT count() AS n FROM alerts FINAL'),
    resolved: await count(backend, "SELECT count() AS n FROM alerts FINAL WHERE state = 'RESOLVED'"),
    states: await count(backend, 'SELECT count() AS n FROM device_state FINAL'),
    devices: await count(backend, 'SELECT count() AS n FROM dim_devices FINAL WHERE deleted = 0'),
    drivers: await count(backend, 'SELECT count() AS n FROM dim_drivers FINAL WHERE deleted = 0'),
  });
  await waitFor(async () => JSON.stringify(await observe()) === JSON.stringify(expected), 60_000);
  expect(await observe()).toEqual(expected);

  app = await createQueryApi(parseQueryConfig({ port: 0, metricsRefreshMs: 600_000 }), {
    backend: localQueryBackend(backend),
    log: silentLogger,
    registry: createMetricsRegistry('enrichment-test', { defaultMetrics: false }),
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await running?.stop();
  await stack?.cleanup();
  data.remove();
});

describe('registry enrichment on the read side', () => {
  it('keeps the rows written before migration 006 readable: NULL registry fields, rule version 0', async () => {
    const backend = running.sink.backend();
    const rows = await backend.query<Json>(
      `SELECT * FROM (
         SELECT 'aggregates_1m' AS t, model, driver_id, 0 AS rule_version FROM aggregates_1m WHERE device_id = 'truck-old'
         UNION ALL SELECT 'alerts', model, driver_id, rule_version FROM alerts WHERE device_id = 'truck-old'
         UNION ALL SELECT 'device_state', model, driver_id, 0 FROM device_state WHERE device_id = 'truck-old')
       ORDER BY t`,
    );
    expect(rows.map((r) => [r.t, r.model, r.driver_id, Number(r.rule_version)])).toEqual([
      ['aggregates_1m', null, null, 0],
      ['alerts', null, null, 0],
      ['device_state', null, null, 0],
    ]);
    const applied = await backend.query<Json>('SELECT version FROM schema_migrations ORDER BY version');
    // Every migration up to 006 (and any later one) applied, in order.
    expect(applied.map((r) => Number(r.version)).slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('summarises per driver: each window under the driver of its own time, old rows under the current one', async () => {
    const { status, body } = await get(`/api/v1/fleet/summary?${range}&groupBy=driver`);
    expect(status).toBe(200);
    expect(bodies.summaryGroupsBody.safeParse(body).success).toBe(true);
    const figures = (g: Json) => [
      g.driverId,
      g.driverName,
      g.registered,
      g.kind,
      g.devices,
      g.activeDevices,
      g.events,
      g.distanceKm,
      g.avgSpeedKmh,
      g.alertsRaised,
      g.alertsOpen,
    ];
    // driver-1: truck-1's first window (10 events, 1.0 km, 60 km/h), truck-2's (5, 0.5, 50)
    // and truck-old's old one (7, 0.7, 55: no fields, so its current driver): 22 events,
    // 2.2 km, (600 + 250 + 385) / 22 km/h; devices by their newest state: truck-2 (its
    // own), truck-old (current); alerts: truck-2's resolved, truck-old's open.
    // driver-2: truck-1's second window (20, 2.5, 70), its state and its open alert.
    // truck-x: no fields and unknown to the registry.
    expect(body.groups.map(figures)).toEqual([
      ['driver-1', 'Ada', true, 'truck', 2, 3, 22, 2.2, Math.round((1235 / 22) * 1e6) / 1e6, 2, 1],
      ['driver-2', 'Bo', true, 'truck', 1, 1, 20, 2.5, 70, 1, 1],
      [null, null, false, 'truck', 1, 1, 3, 0.3, 40, 0, 0],
    ]);
  });

  it('summarises per model: rows keep the model they were processed with', async () => {
    const { status, body } = await get(`/api/v1/fleet/summary?${range}&groupBy=model`);
    expect(status).toBe(200);
    expect(bodies.summaryGroupsBody.safeParse(body).success).toBe(true);
    // tractor-18t: truck-old only (truck-2 is a tractor-18t now, but its rows say 40t).
    // tractor-40t: truck-1's two windows and truck-2's: 35 events, 4.0 km.
    expect(
      body.groups.map((g: Json) => [
        g.model,
        g.registered,
        g.devices,
        g.activeDevices,
        g.events,
        g.distanceKm,
        g.alertsRaised,
        g.alertsOpen,
      ]),
    ).toEqual([
      ['tractor-18t', true, 1, 1, 7, 0.7, 1, 1],
      ['tractor-40t', true, 2, 2, 35, 4, 2, 1],
      [null, false, 1, 1, 3, 0.3, 0, 0],
    ]);
    const csv = await get(`/api/v1/fleet/summary?${range}&groupBy=model&format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.text.split('\r\n').map((line) => line.split(',').slice(2, 7).join(','))).toEqual([
      'model,registered,kind,devices,activeDevices',
      'tractor-18t,true,truck,1,1',
      'tractor-40t,true,truck,2,2',
      ',false,truck,1,1',
      '',
    ]);
  });

  it('lists alerts and device states with the model, driver and rule version they were processed with', async () => {
    const { status, body } = await get(`/api/v1/alerts?state=all&${range}`);
    expect(status).toBe(200);
    expect(bodies.alertsBody.safeParse(body).success).toBe(true);
    expect(body.alerts.map((a: Json) => [a.deviceId, a.state, a.model, a.driverId, a.ruleVersion])).toEqual([
      ['truck-1', 'RAISED', 'tractor-40t', 'driver-2', 4],
      ['truck-2', 'RESOLVED', 'tractor-40t', 'driver-1', 2],
      ['truck-old', 'RAISED', null, null, 0],
    ]);
    const csv = await get(`/api/v1/alerts?state=all&${range}&format=csv`);
    const [header, first] = csv.text.split('\r\n');
    expect(header?.split(',').slice(-3)).toEqual(['model', 'driverId', 'ruleVersion']);
    expect(first?.split(',').slice(-3)).toEqual(['tractor-40t', 'driver-2', '4']);

    const devices = await get('/api/v1/devices');
    expect(bodies.devicesBody.safeParse(devices.body).success).toBe(true);
    expect(devices.body.devices.map((d: Json) => [d.deviceId, d.model, d.driverId])).toEqual([
      ['truck-1', 'tractor-40t', 'driver-2'],
      ['truck-2', 'tractor-40t', 'driver-1'],
      ['truck-old', null, null],
      ['truck-x', null, null],
    ]);
  });

  it("Grafana's fleet-by-model panel counts each truck under its newest state's model, else the registry's", async () => {
    const fleet = JSON.parse(
      readFileSync(resolve(import.meta.dirname, '../../infra/grafana/dashboards/fleet.json'), 'utf8'),
    ) as { panels: Json[] };
    const panels = fleet.panels.flatMap((p) => [p, ...((p.panels as Json[] | undefined) ?? [])]);
    const panel = panels.find((p) => p.title === 'Fleet by model');
    const all = { values: [], all: true, multi: true };
    const sql = expandQuery(
      String(panel?.targets?.[0]?.rawSql),
      { depot: all, truck: all },
      {
        fromMs: base,
        toMs: base + HOUR,
      },
    );
    const rows = await running.sink.backend().query<Json>(sql);
    // truck-2's state says tractor-40t (the registry says 18t now); truck-old's has no
    // model: its current one, tractor-18t.
    expect(rows.map((r) => [r.truck_model, Number(r.trucks)])).toEqual([
      ['(unregistered)', 1],
      ['tractor-18t', 1],
      ['tractor-40t', 2],
    ]);
  });
});
