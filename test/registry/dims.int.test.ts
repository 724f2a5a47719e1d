/**
 * The registry's read side end to end on real servers: rows written through the registry
 * service into a scratch PostgreSQL database, streamed by Debezium (Kafka Connect) into the
 * test's compacted topics, fed by the sink's registry feed (sinks/dims-feed.ts) into the
 * dimension tables of an embedded chDB ClickHouse. After an update, a decommission and two
 * deletes, the dimension tables (FINAL) equal the registry; a record that is no registry row
 * is dead-lettered and the feed carries on; and the fleet summary grouped by model and by
 * driver over the query side's known dataset (test/query/dataset.ts) equals figures
 * computed by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localQueryBackend } from '../../clickhouse/index.ts';
import { TURBINE_MODEL } from '../../domain/index.ts';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import { consumerGroupId, GROUPS } from '../../lib/stream/index.ts';
import { parseQueryConfig } from '../../query/config.ts';
import * as bodies from '../../query/responses.ts';
import { createQueryService, type QueryService } from '../../query/service.ts';
import { registryTopicNames } from '../../registry/index.ts';
import { consumeAll } from '../helpers.ts';
import { buildQueryDataset, datasetBase, HOUR, loadQueryDataset } from '../query/dataset.ts';
import { embeddedConfig, type RunningSink, startSink, tempDataDir } from '../sinks/harness.ts';
import { type CdcHarness, createCdcHarness } from './cdc-harness.ts';

let h: CdcHarness;
let sink: RunningSink;
let data: ReturnType<typeof tempDataDir>;
let query: QueryService;
let base: number;

// biome-ignore lint/suspicious/noExplicitAny: rows are compared field by field.
type Row = Record<string, any>;

const site = (id: string, kind: string) => ({
  id,
  kind,
  name: `Site ${id}`,
  lat: 52,
  lon: 5,
  timeZone: 'Europe/Amsterdam',
  ...(kind === 'depot' ? { vehicleCapacity: 10 } : { capacityKw: 5_000 }),
});
const truck = (id: string, model: string, driverId: string | null) => ({
  id,
  kind: 'truck',
  siteId: 'depot-a',
  model,
  plate: `FG-${id}`,
  refrigerated: false,
  driverId,
});

/** The dimension rows the query side reads: FINAL, deletes left out. */
async function dimRows(table: string, columns: string): Promise<Row[]> {
  return sink.sink
    .backend()
    .query(`SELECT ${columns} FROM ${table} FINAL WHERE deleted = 0 ORDER BY id`) as Promise<Row[]>;
}

/** The same columns from PostgreSQL through the registry service. */
async function registryRows(): Promise<Record<string, Row[]>> {
  const rows = await h.databaseRows();
  return {
    dim_sites: (rows.sites as Row[]).map((s) => ({
      id: s.id,
      kind: s.kind,
      name: s.name,
      version: s.version,
    })),
    dim_devices: (rows.devices as Row[]).map((d) => ({
      id: d.id,
      model: d.model,
      status: d.status,
      driver_id: d.driverId,
      version: d.version,
    })),
    dim_drivers: (rows.drivers as Row[]).map((d) => ({ id: d.id, name: d.name, version: d.version })),
  };
}

async function dimensionTables(): Promise<Record<string, Row[]>> {
  const numeric = (rows: Row[]) => rows.map((r) => ({ ...r, version: Number(r.version) }));
  return {
    dim_sites: numeric(await dimRows('dim_sites', 'id, kind, name, version')),
    dim_devices: numeric(await dimRows('dim_devices', 'id, model, status, driver_id, version')),
    dim_drivers: numeric(await dimRows('dim_drivers', 'id, name, version')),
  };
}

/** Polls until the dimension tables equal the registry (the feed is asynchronous). */
async function untilDimsEqualRegistry(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const expected = await registryRows();
  for (;;) {
    const actual = await dimensionTables();
    if (JSON.stringify(actual) === JSON.stringify(expected)) return;
    if (Date.now() > deadline) {
      expect(actual).toEqual(expected);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  h = await createCdcHarness('dims');
  const s = h.service;
  for (const [id, kind] of [
    ['depot-a', 'depot'],
    ['farm-1', 'wind_farm'],
    ['park-1', 'solar_park'],
    ['depot-x', 'depot'],
  ] as const)
    await s.create('sites', site(id, kind));
  await s.create('drivers', { id: 'driver-1', name: 'Ada', licenceNumber: 'NL-1', licenceClass: 'CE' });
  await s.create('drivers', { id: 'driver-2', name: 'Bo', licenceNumber: 'NL-2', licenceClass: 'CE' });
  await s.create('devices', truck('truck-1', 'tractor-40t', 'driver-1'));
  await s.create('devices', truck('truck-2', 'tractor-40t', 'driver-2'));
  await s.create('devices', truck('truck-9', 'tractor-18t', null));
  await s.create('devices', {
    id: 'turbine-1',
    kind: 'turbine',
    siteId: 'farm-1',
    model: 'v112-3.0',
    ratedKw: 3_000,
    powerCurve: TURBINE_MODEL,
  });
  // solar-2 of the dataset stays unregistered.
  await s.create('devices', { id: 'solar-1', kind: 'solar', siteId: 'park-1', model: 'sp-6k', kwp: 6.25 });
  await h.up();
  data = tempDataDir('dims');
  sink = await startSink(h.stack, embeddedConfig(h.stack, data.dir), {
    dimsGroupId: consumerGroupId(h.stack.prefix, GROUPS.sinkDims),
  });
  base = datasetBase();
  await loadQueryDataset(sink.sink.backend(), buildQueryDataset(base));
  query = createQueryService(parseQueryConfig({ port: 0 }), {
    backend: localQueryBackend(sink.sink.backend()),
  });
});

afterAll(async () => {
  await sink?.stop();
  data?.remove();
  await h?.teardown();
});

describe('the registry in ClickHouse', () => {
  it('copies the snapshot into the dimension tables', async () => {
    await untilDimsEqualRegistry();
    expect((await dimensionTables()).dim_devices?.map((d) => d.id)).toEqual([
      'solar-1',
      'truck-1',
      'truck-2',
      'truck-9',
      'turbine-1',
    ]);
  });

  it('dead-letters a record that is no registry row and carries on', async () => {
    const topic = registryTopicNames(h.stack.prefix).devices;
    const producer = h.stack.kafka.producer();
    await producer.connect();
    await producer.send(topic, [{ key: Buffer.from('truck-bad'), value: Buffer.from('not json') }]);
    await producer.disconnect();
    const [letter] = await consumeAll(h.stack, h.stack.topics.dlq, 1, 30_000);
    expect(letter?.headers[DLQ_HEADERS.code]).toBe('REGISTRY_RECORD_INVALID');
    expect(letter?.headers[DLQ_HEADERS.stage]).toBe('sink-dims');
    expect(letter?.headers[DLQ_HEADERS.sourceTopic]).toBe(topic);
    expect(letter?.value?.toString()).toBe('not json');
  });

  it('follows updates, a decommission and deletes: FINAL equals the registry', async () => {
    const s = h.service;
    const truck2 = await s.get('devices', 'truck-2');
    await s.put('devices', 'truck-2', truck('truck-2', 'tractor-18t', 'driver-2'), truck2.version);
    const driver2 = await s.get('drivers', 'driver-2');
    await s.put(
      'drivers',
      'driver-2',
      { id: 'driver-2', name: 'Bo Berg', licenceNumber: 'NL-2', licenceClass: 'CE' },
      driver2.version,
    );
    await s.decommission('truck-1');
    await s.remove('devices', 'truck-9', (await s.get('devices', 'truck-9')).version);
    await s.remove('sites', 'depot-x', (await s.get('sites', 'depot-x')).version);
    await untilDimsEqualRegistry();
    const devices = (await dimensionTables()).dim_devices ?? [];
    expect(devices.map((d) => [d.id, d.model, d.status])).toEqual([
      ['solar-1', 'sp-6k', 'active'],
      ['truck-1', 'tractor-40t', 'decommissioned'],
      ['truck-2', 'tractor-18t', 'active'],
      ['turbine-1', 'v112-3.0', 'active'],
    ]);
    // The deletes are rows marked deleted at the id's newest version, not missing rows.
    const deleted = await sink.sink
      .backend()
      .query<Row>(
        "SELECT id, deleted FROM dim_devices FINAL WHERE id = 'truck-9' UNION ALL SELECT id, deleted FROM dim_sites FINAL WHERE id = 'depot-x'",
      );
    expect(deleted.map((r) => [r.id, Number(r.deleted)]).sort()).toEqual([
      ['depot-x', 1],
      ['truck-9', 1],
    ]);
  });

  it('summarises the known dataset by model, the unregistered devices in a bucket of their own', async () => {
    const answer = (await query.summary({ from: base, to: base + HOUR, groupBy: 'model' })) as Row;
    expect(bodies.summaryGroupsBody.safeParse(answer).success).toBe(true);
    // truck-1: 120 samples + 3 diagnostics + engine off = 124 events, distance 2 · 59 · 0.02 km;
    // truck-2: 60 + 1 = 61 events, 59 · 0.025 km, the overspeed alert; turbine-1: 120 samples,
    // 50 kWh, the vibration alert (open); solar-1 and solar-2: 60 samples each, 4/60 and 2/60 kWh.
    expect(
      answer.groups.map((g: Row) => [
        g.model,
        g.registered,
        g.kind,
        g.devices,
        g.events,
        g.alertsRaised,
        g.alertsOpen,
      ]),
    ).toEqual([
      ['sp-6k', true, 'solar', 1, 60, 0, 0],
      ['tractor-18t', true, 'truck', 1, 61, 1, 0],
      ['tractor-40t', true, 'truck', 1, 124, 0, 0],
      ['v112-3.0', true, 'turbine', 1, 120, 1, 1],
      [null, false, 'solar', 1, 60, 0, 0],
    ]);
    const [solar1, truck2, truck1, turbine, solar2] = answer.groups;
    expect(truck1.distanceKm).toBeCloseTo(2 * 59 * 0.02, 6);
    expect(truck2.distanceKm).toBeCloseTo(59 * 0.025, 6);
    expect(turbine.energyKwh).toBeCloseTo(50, 6);
    expect(solar1.energyKwh).toBeCloseTo(4 / 60, 6);
    expect(solar2.energyKwh).toBeCloseTo(2 / 60, 6);
  });

  it('summarises it by driver, with names, and one site only when asked', async () => {
    const answer = (await query.summary({ from: base, to: base + HOUR, groupBy: 'driver' })) as Row;
    expect(bodies.summaryGroupsBody.safeParse(answer).success).toBe(true);
    expect(
      answer.groups.map((g: Row) => [g.driverId, g.driverName, g.registered, g.kind, g.devices, g.events]),
    ).toEqual([
      // Registered without a driver: the turbine and solar-1.
      [null, null, true, 'turbine', 1, 120],
      [null, null, true, 'solar', 1, 60],
      ['driver-1', 'Ada', true, 'truck', 1, 124],
      ['driver-2', 'Bo Berg', true, 'truck', 1, 61],
      [null, null, false, 'solar', 1, 60],
    ]);
    // plant-2 holds solar-2 only (the dataset's sites, from the telemetry).
    const one = (await query.summary({
      from: base,
      to: base + HOUR,
      siteId: 'plant-2',
      groupBy: 'driver',
    })) as Row;
    expect(one.groups.map((g: Row) => [g.registered, g.kind, g.events])).toEqual([[false, 'solar', 60]]);
  });
});
