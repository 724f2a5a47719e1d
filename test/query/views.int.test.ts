/**
 * The drill-down pages' endpoints on the REAL embedded engine with the query side's known
 * dataset (test/query/dataset.ts, its projections from the processors' own core): per-site
 * and grouped summaries, CSV exports, the condition series (engine and cargo temperature,
 * vibration, nacelle and panel temperature), diagnostic code history, status timelines,
 * tracks, performance figures and the reference data, each against numbers computed by
 * hand from the dataset (comments show the arithmetic).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POWER_CURVE_TABLE } from '../../domain/power-curve.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { runReport } from '../../query/client.ts';
import { parseQueryConfig } from '../../query/config.ts';
import * as bodies from '../../query/responses.ts';
import { createQueryApi } from '../../query/server.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { migrationVariables, parseSinkConfig } from '../../sinks/config.ts';
import { migrate } from '../../clickhouse/index.ts';
import { localQueryBackend } from '../../clickhouse/index.ts';
import { buildQueryDataset, datasetBase, HOUR, loadQueryDataset } from './dataset.ts';

let dir: string;
let engine: ClickHouseBackend;
let app: FastifyInstance;
let url: string;
let base: number;
const iso = (ms: number) => new Date(ms).toISOString();
const sec = (s: number) => base + Math.round(s * 1000);
const range = () => `from=${iso(base)}&to=${iso(base + HOUR)}`;

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field against hand-computed values.
type Answer = Record<string, any>;

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url: path, headers });
  return {
    status: response.statusCode,
    type: String(response.headers['content-type'] ?? ''),
    disposition: String(response.headers['content-disposition'] ?? ''),
    text: response.body,
    body: (String(response.headers['content-type'] ?? '').includes('json') ? response.json() : {}) as Answer,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-views-'));
  engine = await createEmbeddedBackend({ mode: 'embedded', dataDir: dir, database: 'fleetgrid' });
  await migrate(engine, migrationVariables(parseSinkConfig()));
  base = datasetBase();
  await loadQueryDataset(engine, buildQueryDataset(base));
  app = await createQueryApi(parseQueryConfig({ port: 0, metricsRefreshMs: 600_000 }), {
    backend: localQueryBackend(engine),
    log: silentLogger,
    registry: createMetricsRegistry('query-test', { defaultMetrics: false }),
    // What the fleet registry would say: solar-1 is 6.25 kWp, turbine-1 a 2.5 MW machine;
    // solar-2 is not registered.
    ratings: async () =>
      new Map([
        ['solar-1', { ratedKw: null, kwp: 6.25 }],
        ['turbine-1', { ratedKw: 2500, kwp: null }],
      ]),
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('summaries per site and per group', () => {
  it('summarises one site: its devices only, with capacity factors from the registry', async () => {
    const { status, body } = await get(`/api/v1/fleet/summary?siteId=plant-1&${range()}`);
    expect(status).toBe(200);
    expect(bodies.summaryBody.safeParse(body).success).toBe(true);
    expect(body.siteId).toBe('plant-1');
    expect(body.truck).toEqual({
      devices: 0,
      activeDevices: 0,
      events: 0,
      avgSpeedKmh: null,
      distanceKm: 0,
      engineOnHours: 0,
      idleHours: 0,
    });
    // turbine-1: 50 kWh in the hour, 2,500 kW registered: 50 / 2500.
    expect(body.turbine).toEqual({
      devices: 1,
      activeDevices: 1,
      events: 120,
      energyKwh: expect.closeTo(50, 6),
      availability: expect.closeTo(0.75, 6),
      capacityKw: 2500,
      capacityFactor: expect.closeTo(0.02, 6),
    });
    // solar-1 only (solar-2 is at plant-2): 4 kW for 60 s = 4/60 kWh; 6.25 kWp over 1 h.
    expect(body.solar).toEqual({
      devices: 1,
      activeDevices: 1,
      events: 60,
      energyKwh: expect.closeTo(4 / 60, 6),
      capacityKw: 6.25,
      capacityFactor: expect.closeTo(4 / 60 / 6.25, 6),
    });
    // turbine.high_vibration on turbine-1, still open.
    expect(body.alerts).toEqual({ raised: 1, open: 1 });
  });

  it('answers 404 for a site nobody reports from', async () => {
    const { status, body } = await get(`/api/v1/fleet/summary?siteId=nowhere&${range()}`);
    expect(status).toBe(404);
    expect(body.message).toContain('nowhere');
  });

  it('groups by site and kind, one row per group with every figure', async () => {
    const { status, body } = await get(`/api/v1/fleet/summary?groupBy=site&${range()}`);
    expect(status).toBe(200);
    expect(bodies.summaryGroupsBody.safeParse(body).success).toBe(true);
    expect(body.groups.map((g: { siteId: string; kind: string }) => `${g.siteId}/${g.kind}`)).toEqual([
      'depot-a/truck',
      'plant-1/turbine',
      'plant-1/solar',
      'plant-2/solar',
    ]);
    const [trucks, , , solar2] = body.groups;
    expect(trucks).toMatchObject({
      devices: 2,
      events: 185,
      energyKwh: null,
      alertsRaised: 1,
      alertsOpen: 0,
    });
    expect(trucks.distanceKm).toBeCloseTo(3.835, 6);
    // solar-2 has no registry entry: no size, so no capacity factor.
    expect(solar2).toMatchObject({ devices: 1, capacityKw: null, capacityFactor: null });
    expect(solar2.energyKwh).toBeCloseTo(2 / 60, 6);
    const byKind = await get(`/api/v1/fleet/summary?groupBy=kind&${range()}`);
    expect(byKind.body.groups.map((g: { kind: string; devices: number }) => [g.kind, g.devices])).toEqual([
      ['truck', 2],
      ['turbine', 1],
      ['solar', 2],
    ]);
  });

  it('groups by model with an empty registry: every device in the unregistered bucket of its kind', async () => {
    // No registry feed here (test/registry/dims.int.test.ts has one): the dimension tables are empty.
    const { status, body } = await get(`/api/v1/fleet/summary?groupBy=model&${range()}`);
    expect(status).toBe(200);
    expect(bodies.summaryGroupsBody.safeParse(body).success).toBe(true);
    expect(
      body.groups.map((g: Answer) => [g.kind, g.model, g.registered, g.devices, g.events, g.alertsRaised]),
    ).toEqual([
      ['truck', null, false, 2, 185, 1],
      ['turbine', null, false, 1, 120, 1],
      ['solar', null, false, 2, 120, 0],
    ]);
  });
});

describe('the CLI', () => {
  const report = async (name: 'summary' | 'alerts', params: Record<string, string>, csv = false) => {
    let out = '';
    await runReport(name, { params }, { url, csv }, (text) => {
      out += text;
    });
    return out;
  };

  it('summarises one site, or per site and kind', async () => {
    const site = await report('summary', { siteId: 'plant-1', from: iso(base), to: iso(base + HOUR) });
    expect(site).toContain('Fleet summary of site plant-1');
    expect(site).toContain('turbines: energy 50 kWh, availability 75 %, capacity factor 2 %');
    const groups = await report('summary', { groupBy: 'site', from: iso(base), to: iso(base + HOUR) });
    const lines = groups.split('\n').filter((l) => /^(depot|plant)-/.test(l));
    expect(lines.map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'depot-a truck 2',
      'plant-1 turbine 1',
      'plant-1 solar 1',
      'plant-2 solar 1',
    ]);
  });

  it('prints the CSV export as the API sends it', async () => {
    const csv = await report('summary', { groupBy: 'site', from: iso(base), to: iso(base + HOUR) }, true);
    const api = await get(`/api/v1/fleet/summary?groupBy=site&format=csv&${range()}`);
    expect(csv).toBe(api.text);
    await expect(report('health' as 'alerts', {}, true)).rejects.toThrow(
      '--csv exists for summary, series, alerts, trips only',
    );
  });
});

describe('CSV export', () => {
  it('exports the grouped summary as CSV with the range on every line', async () => {
    const { status, type, disposition, text } = await get(
      `/api/v1/fleet/summary?groupBy=site&format=csv&${range()}`,
    );
    expect(status).toBe(200);
    expect(type).toBe('text/csv; charset=utf-8');
    expect(disposition).toBe('attachment; filename="fleetgrid-summary.csv"');
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'from,to,siteId,kind,devices,activeDevices,events,avgSpeedKmh,distanceKm,engineOnHours,idleHours,energyKwh,availability,capacityKw,capacityFactor,alertsRaised,alertsOpen',
    );
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe(
      `${iso(base)},${iso(base + HOUR)},plant-1,turbine,1,1,120,,,,,50,0.75,2500,0.02,1,1`,
    );
  });

  it('exports a series when the Accept header asks for CSV', async () => {
    const { type, text } = await get(`/api/v1/devices/truck-1/series?metric=speedKmh&step=1m&${range()}`, {
      accept: 'text/csv',
    });
    expect(type).toBe('text/csv; charset=utf-8');
    expect(text).toBe(
      [
        'deviceId,metric,t,count,min,max,avg,sum,final,revision',
        `truck-1,speedKmh,${iso(base)},60,60,60,60,3600,true,1`,
        `truck-1,speedKmh,${iso(sec(60))},60,80,80,80,4800,true,0`,
        '',
      ].join('\r\n'),
    );
    // format=json wins over the header.
    const json = await get(`/api/v1/devices/truck-1/series?metric=speedKmh&step=1m&format=json&${range()}`, {
      accept: 'text/csv',
    });
    expect(json.type).toContain('application/json');
  });

  it('exports alerts, one line each', async () => {
    const json = await get('/api/v1/alerts?state=all&format=json');
    const { text } = await get('/api/v1/alerts?state=all&format=csv');
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'alertId,rule,deviceId,siteId,kind,state,severity,raisedAt,resolvedAt,updatedAt,value,threshold,message,model,driverId,ruleVersion',
    );
    expect(lines).toHaveLength(json.body.alerts.length + 1);
    // The dataset's alerts come from processors without the registry join: no model, no driver, built-in rules.
    for (const line of lines.slice(1)) expect(line.endsWith(',,,0')).toBe(true);
    expect(json.body.alerts.length).toBe(2);
  });
});

describe('condition series', () => {
  it('gives engine and cargo temperature per minute exactly (cargo only where the sample has it)', async () => {
    const engine = await get(`/api/v1/devices/truck-1/series?metric=engineTempC&step=1m&${range()}`);
    expect(engine.body.points.map((p: { count: number; avg: number }) => [p.count, p.avg])).toEqual([
      [60, 85.5],
      [60, 85.5],
    ]);
    // cargoTempC is 4.5 on even samples and null on odd ones: 30 per window (sample 10, late, counted).
    const cargo = await get(`/api/v1/devices/truck-1/series?metric=cargoTempC&step=1m&${range()}`);
    expect(
      cargo.body.points.map((p: { count: number; min: number; max: number }) => [p.count, p.min, p.max]),
    ).toEqual([
      [30, 4.5, 4.5],
      [30, 4.5, 4.5],
    ]);
    const raw = await get(
      `/api/v1/devices/truck-1/series?metric=cargoTempC&step=raw&from=${iso(base)}&to=${iso(sec(5))}`,
    );
    expect(raw.body.points).toEqual([0, 2, 4].map((s) => ({ t: iso(sec(s)), value: 4.5 })));
  });

  it('gives vibration and nacelle temperature of a turbine and panel temperature of an array exactly', async () => {
    const vibration = await get(`/api/v1/devices/turbine-1/series?metric=vibrationMmS&step=1h&${range()}`);
    expect(vibration.body.points).toMatchObject([{ t: iso(base), count: 120, min: 8, max: 8, avg: 8 }]);
    const nacelle = await get(`/api/v1/devices/turbine-1/series?metric=nacelleTempC&step=1m&${range()}`);
    expect(nacelle.body.points.map((p: { sum: number }) => p.sum)).toEqual([2400, 2400]);
    const panel = await get(`/api/v1/devices/solar-2/series?metric=panelTempC&step=1m&${range()}`);
    expect(panel.body.points).toMatchObject([{ t: iso(base), count: 60, avg: 40 }]);
  });

  it('lists the diagnostic code history of a truck in event-time order', async () => {
    const { status, body } = await get(`/api/v1/devices/truck-1/diagnostics?${range()}`);
    expect(status).toBe(200);
    expect(bodies.diagnosticsBody.safeParse(body).success).toBe(true);
    expect(body.diagnostics).toEqual([
      { t: iso(sec(30.5)), code: 'P0217', severity: 'WARNING', description: 'P0217 raised', active: true },
      { t: iso(sec(90.5)), code: 'P0217', severity: 'WARNING', description: 'P0217 cleared', active: false },
      { t: iso(sec(100.5)), code: 'P0300', severity: 'WARNING', description: 'P0300 raised', active: true },
    ]);
    const limited = await get(`/api/v1/devices/truck-1/diagnostics?limit=2&${range()}`);
    expect(limited.body.truncated).toBe(true);
    expect(limited.body.diagnostics).toHaveLength(2);
    expect((await get(`/api/v1/devices/turbine-1/diagnostics?${range()}`)).status).toBe(400);
  });

  it('gives the status timeline of a turbine as runs with seconds per status', async () => {
    const { status, body } = await get(`/api/v1/devices/turbine-1/status?${range()}`);
    expect(status).toBe(200);
    expect(bodies.statusBody.safeParse(body).success).toBe(true);
    // RUNNING for samples 0-89, FAULT for 90-119: runs end where the next begins, the last at its last sample.
    expect(body.runs).toEqual([
      { from: iso(sec(0)), to: iso(sec(90)), status: 'RUNNING' },
      { from: iso(sec(90)), to: iso(sec(119)), status: 'FAULT' },
    ]);
    expect(body.seconds).toEqual({ RUNNING: 90, FAULT: 29 });
    expect((await get(`/api/v1/devices/truck-1/status?${range()}`)).status).toBe(400);
  });
});

describe('tracks and performance', () => {
  it('gives every position of a truck without a zoom, and the straight line as its two ends at a zoom', async () => {
    const all = await get(`/api/v1/devices/truck-1/track?${range()}`);
    expect(all.status).toBe(200);
    expect(bodies.trackBody.safeParse(all.body).success).toBe(true);
    // 120 samples, the resend once; lat 52.5 + i/1024 (exact in binary), lon 4.25.
    expect(all.body.positions).toBe(120);
    expect(all.body.points).toEqual(
      Array.from({ length: 120 }, (_, i) => ({ t: iso(sec(i)), lat: 52.5 + i / 1024, lon: 4.25 })),
    );
    const simple = await get(`/api/v1/devices/truck-1/track?zoom=10&${range()}`);
    expect(simple.body.points).toEqual([
      { t: iso(sec(0)), lat: 52.5, lon: 4.25 },
      { t: iso(sec(119)), lat: 52.5 + 119 / 1024, lon: 4.25 },
    ]);
    expect((await get(`/api/v1/devices/turbine-1/track?${range()}`)).status).toBe(400);
    expect((await get(`/api/v1/devices/truck-1/track?zoom=23&${range()}`)).status).toBe(400);
  });

  it('gives a solar array its performance ratio from the registry kWp, and none without', async () => {
    const { status, body } = await get(`/api/v1/devices/solar-1/performance?step=1m&${range()}`);
    expect(status).toBe(200);
    expect(bodies.performanceBody.safeParse(body).success).toBe(true);
    expect(body.capacityKw).toBe(6.25);
    expect(body.capacitySource).toBe('registry');
    // One window: 4 kW × 60 s = 4/60 kWh; 800 W/m² × 60 s = 0.8/60 kWh/m²;
    // PR = (4/60) / (0.8/60 × 6.25) = 0.8; CF over the minute = (4/60) / (6.25 / 60) = 0.64.
    expect(body.points).toEqual([
      {
        t: iso(base),
        energyKwh: expect.closeTo(4 / 60, 6),
        coveredSeconds: 60,
        capacityFactor: expect.closeTo(0.64, 6),
        irradiationKwhM2: expect.closeTo(0.8 / 60, 6),
        performanceRatio: expect.closeTo(0.8, 6),
      },
    ]);
    expect(body.totals.performanceRatio).toBeCloseTo(0.8, 6);
    expect(body.totals.capacityFactor).toBeCloseTo(4 / 60 / 6.25, 6);
    const unregistered = await get(`/api/v1/devices/solar-2/performance?step=1m&${range()}`);
    expect(unregistered.body).toMatchObject({ capacityKw: null, capacitySource: null });
    expect(unregistered.body.totals.performanceRatio).toBeNull();
  });

  it('gives a turbine its availability and capacity factor per step', async () => {
    const { body } = await get(`/api/v1/devices/turbine-1/performance?step=1m&${range()}`);
    expect(body.capacitySource).toBe('registry');
    // 25 kWh a minute of 2,500 kW: 25 / (2500 / 60) = 0.6; RUNNING 60 of 60 s, then 30 of 60 s.
    expect(
      body.points.map((p: { energyKwh: number; availability: number; capacityFactor: number }) => [
        p.energyKwh,
        p.availability,
        p.capacityFactor,
      ]),
    ).toEqual([
      [25, 1, 0.6],
      [25, 0.5, 0.6],
    ]);
    expect(body.totals).toMatchObject({ energyKwh: 50, availability: 0.75, capacityFactor: 0.02 });
  });
});

describe('reference data and the extent of the stored events', () => {
  it('gives the alert thresholds of the processors and the documented power curve', async () => {
    const { body } = await get('/api/v1/reference');
    expect(bodies.referenceBody.safeParse(body).success).toBe(true);
    const overheat = body.alertRules.find((r: { id: string }) => r.id === 'truck.engine_overheat');
    expect(overheat.thresholds).toEqual([
      { field: 'engineTempC', op: '>', value: 105, role: 'raise' },
      { field: 'engineTempC', op: '<=', value: 100, role: 'resolve' },
    ]);
    expect(body.powerCurve.points).toEqual(
      POWER_CURVE_TABLE.map(([windMs, powerKw]) => ({ windMs, powerKw })),
    );
  });

  it('gives the oldest and newest stored data, windows that outlived their raw samples included', async () => {
    const { body } = await get('/api/v1/fleet/extent');
    expect(bodies.extentBody.safeParse(body).success).toBe(true);
    // The first samples at 0 s; the last event is truck-1's engine off at 125 s.
    expect(body.oldest).toBe(iso(base));
    expect(body.newest).toBe(iso(sec(125)));
    expect(body.rows).toBeGreaterThan(0);
    // A window two days old whose raw samples are gone (shorter retention): the data starts there.
    const old = base - 2 * 24 * HOUR;
    await engine.insert('aggregates_1m', [
      {
        device_id: 'solar-2',
        site_id: 'plant-2',
        kind: 'SOLAR',
        window_start: old,
        window_end: old + 60_000,
        revision: 0,
        event_count: 1,
        first_event_ts: old,
        last_event_ts: old,
        field_count: {},
        field_min: {},
        field_max: {},
        field_sum: {},
        derived: {},
        kafka_partition: 0,
        kafka_offset: 999_999,
      },
    ]);
    expect((await get('/api/v1/fleet/extent')).body.oldest).toBe(iso(old));
  });
});
