/**
 * The query API on the REAL embedded engine (chDB, opened directly in a temp data dir):
 * the sinks' migrations create the tables, the known dataset (test/query/dataset.ts) is
 * loaded with the sink's row mapping, and every endpoint must return exactly the numbers
 * computed by hand from that dataset (the comments show the arithmetic). The CLI must
 * print the same numbers, and bad requests must be answered 4xx without a statement
 * reaching ClickHouse (counted by a wrapper around the backend).
 */
import { execFile } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { createDeviceState, foldEvent } from '../../processors/state/device-state.ts';
import { parseQueryConfig } from '../../query/config.ts';
import * as bodies from '../../query/responses.ts';
import { createQueryApi } from '../../query/server.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { migrationVariables, parseSinkConfig } from '../../sinks/config.ts';
import { migrate } from '../../clickhouse/index.ts';
import { createQueryBackend, createRemoteBackend, type QueryBackend } from '../../clickhouse/index.ts';
import { startQueryServer } from '../../sinks/query-server.ts';
import {
  buildQueryDataset,
  datasetBase,
  expectedHourSummary,
  HOUR,
  loadQueryDataset,
  type QueryDataset,
} from './dataset.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = 'test-token-0123456789abcdef';
const SECRET = 'test-endpoint-secret-0123456789';

let dir: string;
let engine: ClickHouseBackend;
let reader: QueryBackend;
let statements = 0;
let app: FastifyInstance;
let url: string;
let data: QueryDataset;
let base: number;
const iso = (ms: number) => new Date(ms).toISOString();
const sec = (s: number) => base + s * 1000;

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url: path, headers });
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field against hand-computed values.
  return { status: response.statusCode, body: response.json() as Record<string, any> };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-query-'));
  engine = await createEmbeddedBackend({ mode: 'embedded', dataDir: dir, database: 'fleetgrid' });
  await migrate(engine, migrationVariables(parseSinkConfig()));
  base = datasetBase();
  data = buildQueryDataset(base);
  await loadQueryDataset(engine, data);
  // The API reads like `fleetgrid serve --direct`: a read-only session of its own on the
  // data dir, seen through a wrapper that counts statements.
  reader = await createQueryBackend(
    { clickhouse: { mode: 'embedded', dataDir: dir, database: 'fleetgrid' }, dataDir: dir },
    { direct: true },
  );
  const counted: QueryBackend = {
    mode: reader.mode,
    run: (name, args) => {
      statements++;
      return reader.run(name, args);
    },
    close: async () => {},
  };
  // A scrape reads gauges from memory; their timer must not send statements while the
  // tests below count them (once a scrape has started it).
  app = await createQueryApi(parseQueryConfig({ port: 0, metricsRefreshMs: 600_000 }), {
    backend: counted,
    log: silentLogger,
    registry: createMetricsRegistry('query-test', { defaultMetrics: false }),
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await reader?.close();
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const range = () => `from=${iso(base)}&to=${iso(base + HOUR)}`;

describe('query API on the embedded engine', () => {
  it('summarises the fleet per kind with the hand-computed figures', async () => {
    const { status, body } = await get(`/api/v1/fleet/summary?${range()}`);
    expect(status).toBe(200);
    expect(body.from).toBe(iso(base));
    const expected = expectedHourSummary();
    expect(body.truck).toEqual(expected.truck);
    expect(body.turbine).toEqual(expected.turbine);
    expect(body.solar).toEqual(expected.solar);
    // overspeed (truck-2, raised at 30 s, resolved at 40 s) and high vibration (turbine-1, open).
    expect(body.alerts).toEqual({ raised: 2, open: 1 });
  });

  it('gives the same summary whether hours come from the settled-hour cache or a live scan', async () => {
    const aligned = await get(`/api/v1/fleet/summary?${range()}`); // one settled hour: cached
    // Unaligned edges are always scanned live; the hour before base is settled and empty.
    const mixed = await get(
      `/api/v1/fleet/summary?from=${iso(base - HOUR - 1000)}&to=${iso(base + HOUR + 1000)}`,
    );
    const live = await get(`/api/v1/fleet/summary?from=${iso(base - 1000)}&to=${iso(base + 1000 + HOUR)}`);
    // The capacity factor divides by the range's hours: the same energy, other ranges.
    const withoutRange = (body: Record<string, unknown>) => {
      const { from: _f, to: _t, ...rest } = body;
      return { ...rest, turbine: { ...(rest.turbine as object), capacityFactor: undefined } };
    };
    for (const other of [mixed, live]) expect(withoutRange(other.body)).toEqual(withoutRange(aligned.body));
  });

  it('answers a range reaching into the future without computing the empty future', async () => {
    const before = statements;
    const { status, body } = await get(
      `/api/v1/fleet/summary?from=${iso(base)}&to=${iso(base + 60 * 24 * HOUR)}`,
    );
    expect(status).toBe(200);
    expect(body.to).toBe(iso(base + 60 * 24 * HOUR));
    expect(body.truck.events).toBe(185);
    expect(statements - before).toBeLessThan(10);
  });

  it('answers two long summaries whose hours evict each other from the settled-hour cache', async () => {
    // Issue 11, finding 4: 90 days, then 92 days overlapping its first day; together more
    // hours than the cache holds (2,232), so the second request's new hours evict the
    // cached ones it also needs. Both ranges lie before the dataset: every figure is zero.
    const first = await get('/api/v1/fleet/summary?from=2026-01-01&to=2026-04-01');
    expect(first.status).toBe(200);
    const second = await get('/api/v1/fleet/summary?from=2025-10-02&to=2026-01-02');
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.truck).toMatchObject({ activeDevices: 0, events: 0 });
    expect(first.body.truck).toMatchObject({ activeDevices: 0, events: 0 });
  });

  it('counts the windows that start inside an unaligned range, across two hours', async () => {
    // From 30 s: minute 0 is out; truck-1 minutes 1 (60 samples + 2 reports) and 2 (engine
    // off), truck-2 minute 1 (engine off); turbine-1 minute 1 (25 kWh, 30 of 60 s available).
    const { body } = await get(`/api/v1/fleet/summary?from=${iso(sec(30))}&to=${iso(sec(30) + HOUR)}`);
    expect(body.truck).toMatchObject({ activeDevices: 2, events: 64, avgSpeedKmh: 80 });
    expect(body.turbine).toMatchObject({ activeDevices: 1, events: 60, energyKwh: 25, availability: 0.5 });
    expect(body.solar).toMatchObject({ activeDevices: 0, events: 0, energyKwh: 0 });
  });

  it('lists devices with their latest state, filtered and paged by cursor', async () => {
    const all = await get('/api/v1/devices');
    expect(all.status).toBe(200);
    expect(all.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual([
      'solar-1',
      'solar-2',
      'truck-1',
      'truck-2',
      'turbine-1',
    ]);
    const trucks = await get('/api/v1/devices?kind=truck&limit=1');
    expect(trucks.body.devices).toHaveLength(1);
    expect(trucks.body.devices[0]).toMatchObject({
      deviceId: 'truck-1',
      kind: 'truck',
      siteId: 'depot-a',
      eventCount: 124,
      engineOn: false,
      speedKmh: 0,
      odometerKm: expect.closeTo(1002.38, 9),
      activeDiagnosticCodes: ['P0300'],
      lastSeen: iso(sec(125)),
    });
    const next = await get(`/api/v1/devices?kind=truck&limit=1&cursor=${trucks.body.nextCursor}`);
    expect(next.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['truck-2']);
    expect(next.body.nextCursor).toBeNull();
    const plant = await get('/api/v1/devices?siteId=plant-1');
    expect(plant.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['solar-1', 'turbine-1']);
  });

  it('rebuilds the state as of a past moment equal to folding the known prefix of events', async () => {
    const asOf = sec(60);
    const { status, body } = await get(`/api/v1/devices/truck-1/state?asOf=${iso(asOf)}`);
    expect(status).toBe(200);
    expect(body.source).toBe('event-fold');
    // The prefix: distinct events with ts <= asOf, folded by event time with the processors' fold.
    const seen = new Set<string>();
    const prefix = data.events
      .filter((e) => e.value.deviceId === 'truck-1' && e.value.ts <= asOf)
      .filter((e) => !seen.has(e.value.eventId) && seen.add(e.value.eventId))
      .sort((a, b) => a.value.ts - b.value.ts);
    const expected = createDeviceState('truck-1', 'depot-a', 'TRUCK');
    for (const e of prefix) foldEvent(expected, e);
    expect(prefix).toHaveLength(62); // samples 0..60 and the P0217 report at 30.5 s
    expect(body.state).toEqual({ ...expected, kind: 'truck', lastSeen: iso(expected.lastSeen) });
    expect(body.state).toMatchObject({
      eventCount: 62,
      speedKmh: 80,
      activeDiagnosticCodes: ['P0217'],
      engineOn: true,
    });
  });

  it('rebuilds a turbine at asOf with the energy of its day so far and the alerts open then', async () => {
    const { body } = await get(`/api/v1/devices/turbine-1/state?asOf=${iso(sec(90))}`);
    // Window 0: 25 kWh; window 1 up to 90 s: 31 samples covering 31 s at 1500 kW. Sample 90 is the first FAULT.
    expect(body.state.energyTodayKwh).toBeCloseTo(25 + (1500 * 31) / 3600, 9);
    expect(body.state).toMatchObject({
      eventCount: 91,
      status: 'FAULT',
      openAlerts: ['turbine.high_vibration'],
    });
    const before = await get(`/api/v1/devices/turbine-1/state?asOf=${iso(sec(59))}`);
    expect(before.body.state.openAlerts).toEqual([]);
  });

  it('gives, at an asOf after the last event, the same state as the projection', async () => {
    for (const deviceId of ['truck-1', 'truck-2', 'turbine-1', 'solar-1']) {
      const latest = await get(`/api/v1/devices/${deviceId}/state`);
      const folded = await get(`/api/v1/devices/${deviceId}/state?asOf=${iso(base + HOUR)}`);
      expect(latest.body.source).toBe('projection');
      const { energyTodayKwh: a, ...restLatest } = latest.body.state;
      const { energyTodayKwh: b, ...restFolded } = folded.body.state;
      expect(restFolded).toEqual(restLatest);
      if (a === null) expect(b).toBeNull();
      else expect(b).toBeCloseTo(a, 9);
    }
  });

  it('answers series per step with the newest window revision', async () => {
    const minute = await get(`/api/v1/devices/truck-1/series?metric=speedKmh&step=1m&${range()}`);
    expect(minute.status).toBe(200);
    // Window 0 was re-emitted as revision 1 by the late sample 10: 60 samples, not 59.
    expect(minute.body.points).toEqual([
      { t: iso(base), count: 60, min: 60, max: 60, avg: 60, sum: 3600, final: true, revision: 1 },
      { t: iso(sec(60)), count: 60, min: 80, max: 80, avg: 80, sum: 4800, final: true, revision: 0 },
    ]);
    const hour = await get(`/api/v1/devices/truck-1/series?metric=speedKmh&step=1h&${range()}`);
    expect(hour.body.points).toEqual([
      { t: iso(base), count: 120, min: 60, max: 80, avg: 70, sum: 8400, final: true, revision: 1 },
    ]);
    const raw = await get(
      `/api/v1/devices/truck-1/series?metric=speedKmh&step=raw&from=${iso(sec(18))}&to=${iso(sec(22))}`,
    );
    // The resent sample 20 appears once.
    expect(raw.body.points).toEqual([18, 19, 20, 21].map((s) => ({ t: iso(sec(s)), value: 60 })));
    const derived = await get(`/api/v1/devices/turbine-1/series?metric=energyKwh&${range()}`);
    expect(derived.body.step).toBe('1m'); // auto: 60 points of 1 minute
    expect(derived.body.points.map((p: { sum: number }) => p.sum)).toEqual([25, 25]);
    const auto = await get(
      `/api/v1/devices/truck-1/series?metric=speedKmh&from=${iso(base)}&to=${iso(sec(600))}`,
    );
    expect(auto.body.step).toBe('raw'); // 600 samples at 1 s ≤ 1000 points
    expect(auto.body.points).toHaveLength(120);
  });

  it('sums the energy of a site per step', async () => {
    const { status, body } = await get(`/api/v1/sites/plant-1/energy?step=1m&${range()}`);
    expect(status).toBe(200);
    expect(body.points).toEqual([
      {
        t: iso(base),
        turbineKwh: 25,
        solarKwh: expect.closeTo(4 / 60, 6),
        totalKwh: expect.closeTo(25 + 4 / 60, 6),
      },
      { t: iso(sec(60)), turbineKwh: 25, solarKwh: 0, totalKwh: 25 },
    ]);
    expect(body.totals.totalKwh).toBeCloseTo(50 + 4 / 60, 6);
  });

  it('sums site energy per hour from cached and live hours alike', async () => {
    const hourly = await get(
      `/api/v1/sites/plant-1/energy?step=1h&from=${iso(base - HOUR)}&to=${iso(base + HOUR)}`,
    );
    expect(hourly.body.points).toEqual([
      {
        t: iso(base),
        turbineKwh: 50,
        solarKwh: expect.closeTo(4 / 60, 6),
        totalKwh: expect.closeTo(50 + 4 / 60, 6),
      },
    ]);
    const daily = await get(
      `/api/v1/sites/plant-2/energy?step=1d&from=${iso(base - 1000)}&to=${iso(base + HOUR)}`,
    );
    // An unaligned start drops minute 0 (its window starts before `from`): only turbine minute 1.
    const edge = await get(
      `/api/v1/sites/plant-1/energy?step=1h&from=${iso(sec(30))}&to=${iso(base + 2 * HOUR)}`,
    );
    expect(edge.body.points).toEqual([{ t: iso(base), turbineKwh: 25, solarKwh: 0, totalKwh: 25 }]);
    expect(daily.body.totals).toEqual({
      turbineKwh: 0,
      solarKwh: expect.closeTo(2 / 60, 6),
      totalKwh: expect.closeTo(2 / 60, 6),
    });
  });

  it('lists alerts by lifecycle state', async () => {
    const open = await get('/api/v1/alerts');
    expect(open.body.alerts.map((a: { rule: string }) => a.rule)).toEqual(['turbine.high_vibration']);
    expect(open.body.alerts[0]).toMatchObject({
      deviceId: 'turbine-1',
      raisedAt: iso(sec(60)),
      resolvedAt: null,
    });
    const resolved = await get(`/api/v1/alerts?state=resolved&${range()}`);
    expect(resolved.body.alerts).toHaveLength(1);
    expect(resolved.body.alerts[0]).toMatchObject({
      rule: 'truck.overspeed',
      deviceId: 'truck-2',
      state: 'RESOLVED',
      raisedAt: iso(sec(30)),
      resolvedAt: iso(sec(40)),
    });
    const byRule = await get(`/api/v1/alerts?state=all&rule=truck.overspeed&${range()}`);
    expect(byRule.body.alerts).toHaveLength(1);
  });

  it('reports freshness and dead letters, and says what it cannot see', async () => {
    const { status, body } = await get('/api/v1/pipeline/health');
    expect(status).toBe(200);
    expect(body.freshness.newestEvent).toBe(iso(sec(125)));
    expect(body.freshness.seconds).toBeGreaterThan(0);
    expect(body.deadLetters.total).toBe(2);
    expect(body.deadLetters.byStage).toEqual([
      { stage: 'processors', records: 1 },
      { stage: 'sink', records: 1 },
    ]);
    expect(body.deadLetters.byCode.map((d: { code: string }) => d.code).sort()).toEqual([
      'DECODE_BAD_MAGIC',
      'TOO_LATE',
    ]);
    expect(body.consumerLag.available).toBe(false);
    expect(body.backpressure).toMatchObject({ available: false });
  });

  it('exports freshness per raw table as a gauge for the fitness functions', async () => {
    const health = await get('/api/v1/pipeline/health');
    const text = (await app.inject('/metrics')).body;
    const sample = (source: string) => {
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`fleetgrid_query_freshness_seconds{source="${source}"`));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    for (const source of health.body.freshness.sources as { source: string; seconds: number | null }[]) {
      if (source.seconds === null || !source.source.endsWith('_telemetry')) continue;
      // Both are now − newest; the scrape happens a moment after the health answer.
      expect(sample(source.source)).toBeGreaterThanOrEqual(source.seconds);
      expect(sample(source.source)).toBeLessThan(source.seconds + 30);
    }
    expect(sample('truck_telemetry')).toBeGreaterThan(0);
    // No Kafka admin in this test: no lag samples rather than made-up zeros.
    expect(text).not.toContain('fleetgrid_query_consumer_lag_records{');
  });

  it('answers scrapes of /metrics from memory: no statement and no Kafka admin call per scrape', async () => {
    let adminCalls = 0;
    const scraped = await createQueryApi(parseQueryConfig({ metricsRefreshMs: 600_000 }), {
      backend: {
        mode: reader.mode,
        run: (name, args) => {
          statements++;
          return reader.run(name, args);
        },
        close: async () => {},
      },
      log: silentLogger,
      registry: createMetricsRegistry('query-scrape-test', { defaultMetrics: false }),
      async consumerLag() {
        adminCalls++;
        return [];
      },
    });
    try {
      // The first scrape waits for the first refresh: one statement, one lag call.
      const first = (await scraped.inject('/metrics')).body;
      expect(first).toContain('fleetgrid_query_freshness_seconds{source="truck_telemetry"');
      const [statementsBefore, adminBefore] = [statements, adminCalls];
      for (let i = 0; i < 20; i++) expect((await scraped.inject('/metrics')).statusCode).toBe(200);
      expect([statements, adminCalls]).toEqual([statementsBefore, adminBefore]);
      expect(adminBefore).toBe(1);
    } finally {
      await scraped.close();
    }
  });

  it('never shows the credentials of a metrics URL, and uses them', async () => {
    const password = 's3cret-scrape-pw';
    const scrapes: (string | undefined)[] = [];
    const metrics = createServer((request, response) => {
      scrapes.push(request.headers.authorization);
      const expected = `Basic ${Buffer.from(`scraper:${password}`).toString('base64')}`;
      if (request.headers.authorization !== expected) response.writeHead(401).end();
      else response.writeHead(200).end('fleetgrid_processor_paused_partitions 2\n');
    });
    await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
    const port = (metrics.address() as AddressInfo).port;
    const guarded = await createQueryApi(
      parseQueryConfig({
        metricsUrls: {
          processor: `http://scraper:${password}@127.0.0.1:${port}/metrics`,
          down: `http://scraper:${password}@127.0.0.1:1/metrics?token=${password}`,
        },
      }),
      {
        backend: reader,
        log: silentLogger,
        registry: createMetricsRegistry('query-creds', { defaultMetrics: false }),
      },
    );
    try {
      const answer = await guarded.inject('/api/v1/pipeline/health');
      expect(answer.statusCode).toBe(200);
      expect(answer.body).not.toContain(password);
      const { services } = answer.json().backpressure;
      expect(services.find((s: { service: string }) => s.service === 'processor')).toMatchObject({
        state: 'paused',
        pausedPartitions: 2,
      });
      expect(services.find((s: { service: string }) => s.service === 'down').error).toMatch(
        /^cannot read http:\/\/127\.0\.0\.1:1\/metrics: /,
      );
      expect(scrapes.length).toBe(1);
    } finally {
      await guarded.close();
      await new Promise((resolve) => metrics.close(resolve));
    }
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toContain(
      'fleetgrid_query_requests_total{route="/api/v1/fleet/summary",status="200"',
    );
    const doc = await get('/docs/json');
    expect(Object.keys(doc.body.paths)).toContain('/api/v1/devices/{deviceId}/series');
    expect((await app.inject('/docs')).headers['content-type']).toContain('text/html');
    expect((await app.inject('/')).statusCode).toBe(200);
  });

  it('answers in the shapes the OpenAPI document declares', async () => {
    const checks: [string, { parse(v: unknown): unknown }][] = [
      [`/api/v1/fleet/summary?${range()}`, bodies.summaryBody],
      ['/api/v1/devices', bodies.devicesBody],
      ['/api/v1/devices/turbine-1/state', bodies.stateBody],
      [`/api/v1/devices/truck-1/state?asOf=${iso(sec(60))}`, bodies.stateBody],
      [`/api/v1/devices/truck-1/series?metric=speedKmh&step=1m&${range()}`, bodies.seriesBody],
      [
        `/api/v1/devices/truck-1/series?metric=speedKmh&step=raw&from=${iso(base)}&to=${iso(sec(5))}`,
        bodies.seriesBody,
      ],
      [`/api/v1/sites/plant-1/energy?step=1h&${range()}`, bodies.energyBody],
      ['/api/v1/alerts?state=all', bodies.alertsBody],
      ['/api/v1/pipeline/health', bodies.healthBody],
      ['/api/v1/devices/nope/state', bodies.errorBody],
    ];
    for (const [path, schema] of checks) {
      const { body } = await get(path);
      expect(() => schema.parse(body), path).not.toThrow();
    }
  });

  it('prints the same numbers through the CLI', async () => {
    const cli = (...args: string[]) =>
      run(process.execPath, [join(ROOT, 'bin/fleetgrid.mjs'), 'query', '--url', url, ...args], {
        cwd: ROOT,
        timeout: 60_000,
      });
    const summary = JSON.parse(
      (await cli('summary', '--json', '--from', iso(base), '--to', iso(base + HOUR))).stdout,
    );
    expect(summary.turbine.energyKwh).toBeCloseTo(50, 6);
    expect(summary.truck.events).toBe(185);
    const api = await get(`/api/v1/fleet/summary?${range()}`);
    expect(summary).toEqual(api.body);
    const device = JSON.parse((await cli('device', 'truck-1', '--as-of', iso(sec(60)), '--json')).stdout);
    expect(device.state.eventCount).toBe(62);
    const table = (await cli('summary', '--from', iso(base), '--to', iso(base + HOUR))).stdout;
    expect(table).toMatch(/truck\s+2\s+2\s+185/);
    expect(table).toContain('energy 50 kWh, availability 75 %');
    const bad = await cli('series', 'truck-1', '--metric', 'speedKmh', '--from', 'yesterday').catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('HTTP 400');
  }, 90_000);
});

describe('embedded mode in service', () => {
  it("gives the same answers through the sink's read-only query endpoint", async () => {
    // `fleetgrid serve` without --direct: the sink owns the data dir and serves reads over HTTP.
    const endpoint = await startQueryServer({
      clickhouse: { mode: 'embedded', dataDir: dir, database: 'fleetgrid' },
      secret: SECRET,
      port: 0,
      log: silentLogger,
    });
    const remote = await createQueryApi(parseQueryConfig({}), {
      backend: createRemoteBackend(endpoint.url, { secret: SECRET }),
      log: silentLogger,
      registry: createMetricsRegistry('query-remote-test', { defaultMetrics: false }),
    });
    try {
      for (const path of [
        `/api/v1/fleet/summary?${range()}`,
        `/api/v1/devices/truck-1/state?asOf=${iso(sec(60))}`,
        `/api/v1/devices/truck-1/series?metric=speedKmh&step=1m&${range()}`,
        `/api/v1/sites/plant-1/energy?step=1h&${range()}`,
        `/api/v1/alerts?state=all&${range()}`,
        '/api/v1/devices?limit=2',
      ]) {
        const viaSink = await remote.inject(path);
        expect({ path, status: viaSink.statusCode }).toEqual({ path, status: 200 });
        expect(viaSink.json()).toEqual((await get(path)).body);
      }
    } finally {
      await remote.close();
      await endpoint.close();
    }
  });
});

describe('bad requests', () => {
  const INJECTIONS = [
    "x' OR '1'='1",
    "'; DROP TABLE device_state; --",
    'truck-1) UNION SELECT * FROM system.users --',
    '{deviceId:String}',
    "\\'; SELECT 1",
  ];
  const e = encodeURIComponent;

  const cases: [string, string][] = [
    ['malformed date', `/api/v1/fleet/summary?from=2026-13-01T00:00:00Z`],
    ['rolled-over date', `/api/v1/fleet/summary?from=2026-02-30`],
    ['local time without zone', `/api/v1/fleet/summary?from=2026-01-01T10:00:00`],
    ['from after to', `/api/v1/fleet/summary?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`],
    ['huge range', `/api/v1/fleet/summary?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`],
    [
      'huge raw range',
      `/api/v1/devices/truck-1/series?metric=speedKmh&step=raw&from=2026-01-01&to=2026-01-02`,
    ],
    ['unknown parameter', `/api/v1/devices?color=red`],
    ['repeated parameter', `/api/v1/devices?kind=truck&kind=solar`],
    ['bad limit', `/api/v1/devices?limit=100000`],
    ['bad step', `/api/v1/devices/truck-1/series?metric=speedKmh&step=5m`],
    ['unknown metric', `/api/v1/devices/truck-1/series?metric=password`],
    ['bad alert state', `/api/v1/alerts?state=closed`],
    ['parameters on health', `/api/v1/pipeline/health?verbose=1`],
  ];
  for (const value of INJECTIONS) {
    cases.push(
      [`injection in deviceId ${value}`, `/api/v1/devices/${e(value)}/state`],
      [`injection in series deviceId ${value}`, `/api/v1/devices/${e(value)}/series?metric=speedKmh`],
      [`injection in metric ${value}`, `/api/v1/devices/truck-1/series?metric=${e(value)}`],
      [`injection in step ${value}`, `/api/v1/devices/truck-1/series?metric=speedKmh&step=${e(value)}`],
      [`injection in from ${value}`, `/api/v1/fleet/summary?from=${e(value)}`],
      [`injection in to ${value}`, `/api/v1/fleet/summary?to=${e(value)}`],
      [`injection in asOf ${value}`, `/api/v1/devices/truck-1/state?asOf=${e(value)}`],
      [`injection in kind ${value}`, `/api/v1/devices?kind=${e(value)}`],
      [`injection in siteId ${value}`, `/api/v1/devices?siteId=${e(value)}`],
      [`injection in cursor ${value}`, `/api/v1/devices?cursor=${e(value)}`],
      [`injection in limit ${value}`, `/api/v1/alerts?limit=${e(value)}`],
      [`injection in site path ${value}`, `/api/v1/sites/${e(value)}/energy`],
      [`injection in energy step ${value}`, `/api/v1/sites/plant-1/energy?step=${e(value)}`],
      [`injection in alert state ${value}`, `/api/v1/alerts?state=${e(value)}`],
      [`injection in alert rule ${value}`, `/api/v1/alerts?rule=${e(value)}`],
      [`injection in alert deviceId ${value}`, `/api/v1/alerts?deviceId=${e(value)}`],
      [`injection as parameter name ${value}`, `/api/v1/alerts?${e(value)}=1`],
    );
  }

  it('answers 400 {error, message} and sends no statement to ClickHouse', async () => {
    for (const [name, path] of cases) {
      const before = statements;
      const { status, body } = await get(path);
      expect({ name, status, error: body.error }).toEqual({ name, status: 400, error: 'bad_request' });
      expect(typeof body.message).toBe('string');
      expect({ name, statements: statements - before }).toEqual({ name, statements: 0 });
    }
  });

  it("answers Fastify's and Node's own refusals as {error, message}, repeating nothing of the request", async () => {
    const marker = 'MARKER1234';
    const port = Number(new URL(url).port);
    const raw = (path: string, method = 'GET', headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const cases: [string, Promise<{ status: number; body: string }>, number][] = [
      ['bad percent-encoding', raw(`/api/v1/devices/%zz${marker}/state`), 400],
      ['path parameter too long (414)', raw(`/api/v1/devices/${'a'.repeat(1_500)}${marker}/state`), 414],
      [
        'headers too large (431)',
        raw('/api/v1/devices', 'GET', { 'x-pad': `${marker}${'x'.repeat(20_000)}` }),
        431,
      ],
      ['no such route', raw(`/api/v1/devices${marker}`, 'DELETE'), 404],
      ['bad query encoding', raw(`/api/v1/devices?kind=%zz${marker}`), 400],
      ['unknown parameter that is no name', raw(`/api/v1/devices?%3Cb%3E${marker}=1`), 400],
      ['time that is no time', raw(`/api/v1/fleet/summary?from=%3Cb%3E${marker}`), 400],
    ];
    for (const [what, answer, status] of cases) {
      const { status: got, body } = await answer;
      expect({ what, status: got }).toEqual({ what, status });
      const parsed = JSON.parse(body) as Record<string, unknown>;
      expect(Object.keys(parsed).sort(), what).toEqual(['error', 'message']);
      expect(body, what).not.toContain(marker);
    }
  });

  it('names the problem in the message', async () => {
    expect(
      (await get('/api/v1/fleet/summary?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z')).body.message,
    ).toContain('must be before to');
    expect(
      (await get('/api/v1/fleet/summary?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z')).body.message,
    ).toContain('exceeds the cap of 92d');
    expect((await get('/api/v1/devices?color=red')).body.message).toContain('unknown parameter(s): color');
  });

  it('answers 404 for unknown devices and sites after one lookup', async () => {
    for (const path of [
      '/api/v1/devices/truck-404/state',
      `/api/v1/devices/truck-404/state?asOf=${iso(base)}`,
      '/api/v1/devices/truck-404/series?metric=speedKmh',
      '/api/v1/sites/plant-404/energy',
    ]) {
      const before = statements;
      const { status, body } = await get(path);
      expect({ path, status, error: body.error }).toEqual({ path, status: 404, error: 'not_found' });
      expect(statements - before).toBe(1);
    }
  });

  it('refuses a metric of another kind after the device lookup', async () => {
    const { status, body } = await get('/api/v1/devices/truck-1/series?metric=powerKw');
    expect(status).toBe(400);
    expect(body.message).toContain('does not exist for a truck');
  });

  it('requires the bearer token on /api when one is set, and only there', async () => {
    const guarded = await createQueryApi(parseQueryConfig({ apiToken: TOKEN }), {
      backend: reader,
      log: silentLogger,
      registry: createMetricsRegistry('query-auth-test', { defaultMetrics: false }),
    });
    try {
      const before = statements;
      const missing = await guarded.inject('/api/v1/fleet/summary');
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toMatchObject({ error: 'unauthorized' });
      expect(missing.headers['www-authenticate']).toContain('Bearer');
      // The router decodes the path: an encoded /api must not slip past the token.
      expect((await guarded.inject('/%61pi/v1/devices')).statusCode).toBe(401);
      expect((await guarded.inject('/api/v1/%64evices')).statusCode).toBe(401);
      const wrong = await guarded.inject({
        url: '/api/v1/devices',
        headers: { authorization: 'Bearer nope' },
      });
      expect(wrong.statusCode).toBe(401);
      const ok = await guarded.inject({
        url: '/api/v1/devices',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(ok.statusCode).toBe(200);
      expect((await guarded.inject('/healthz')).statusCode).toBe(200);
      expect(statements).toBe(before); // the guarded app reads uncounted: nothing was counted
    } finally {
      await guarded.close();
    }
  });
});
