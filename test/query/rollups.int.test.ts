/**
 * Stored hourly rollups on the REAL embedded engine (issue 16): the fleet summary and site
 * energy answered with the rollups for settled hours equal, to the last digit, the answers
 * computed from `aggregates_1m FINAL` at query time on the same data, including
 *  - windows inserted in several revisions (only the newest counts),
 *  - a device that moves site in the middle of an hour,
 *  - late revisions inside the lateness horizon (the unsettled tail, read from the windows),
 *  - a revision of a settled hour loaded after that hour was rolled up (a lagging
 *    partition): the next refresh rolls the hour again.
 * The reference reads the same engine through the same API with the rollups' progress
 * mark hidden, i.e. the query path of before the rollups. Every value is a multiple of 1/4,
 * so sums are exact in any order and the answers can be compared for equality.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseBackend, QueryBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend, localQueryBackend, migrate } from '../../clickhouse/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { createQueryApi } from '../../query/server.ts';
import { migrationVariables, parseSinkConfig } from '../../sinks/config.ts';
import { HOUR_MS, refreshRollups, rollHoursSql, rollupProgress } from '../../sinks/rollups.ts';

const H = HOUR_MS;
const M = 60_000;
/** A whole hour; the data covers 50 hours from it and the API's clock stands at its end. */
const BASE = Date.UTC(2026, 0, 10);
const END = BASE + 50 * H;
const LATENESS = { maxLatenessMs: H, windowSizeMs: M };
const iso = (ms: number) => new Date(ms).toISOString();

let dir: string;
let engine: ClickHouseBackend;

const DEVICES = [
  { id: 'truck-1', kind: 'TRUCK', site: 'depot-1' },
  { id: 'truck-2', kind: 'TRUCK', site: 'depot-1' },
  { id: 'truck-3', kind: 'TRUCK', site: 'depot-2' },
  { id: 'turbine-1', kind: 'TURBINE', site: 'plant-1' },
  { id: 'turbine-2', kind: 'TURBINE', site: 'plant-2' },
  { id: 'solar-1', kind: 'SOLAR', site: 'plant-1' },
] as const;

/** One window row as the sink writes it; `v` (a multiple of 1/4) drives every figure. */
function windowRow(
  device: (typeof DEVICES)[number],
  start: number,
  revision: number,
  v: number,
  site: string = device.site,
) {
  const fields: Record<string, number> =
    device.kind === 'TRUCK' ? { speedKmh: v } : device.kind === 'TURBINE' ? { powerKw: v } : { acPowerW: v };
  const map = (f: (x: number) => number) =>
    Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, f(x)]));
  const derived: Record<string, number> =
    device.kind === 'TRUCK'
      ? { coveredSeconds: 60, distanceKm: v / 4, engineOnSeconds: 60, idleSeconds: v > 10 ? 0 : 60 }
      : device.kind === 'TURBINE'
        ? { coveredSeconds: 60, energyKwh: v / 4, availableSeconds: v > 2 ? 60 : 0 }
        : { coveredSeconds: 60, energyKwh: v / 16 };
  return {
    device_id: device.id,
    site_id: site,
    kind: device.kind,
    window_start: start,
    window_end: start + M,
    revision,
    event_count: 60 + revision,
    first_event_ts: start,
    last_event_ts: start + 59_000,
    field_count: map(() => 60 + revision),
    field_min: map((x) => x - 1),
    field_max: map((x) => x + 1),
    field_sum: map((x) => x * 60),
    derived,
    kafka_partition: 0,
    kafka_offset: revision,
  };
}

/** A value per device and minute, in quarters. */
const value = (d: number, minute: number, revision = 0) => ((d * 7 + minute * 13 + revision * 5) % 97) / 4;

async function insertWindows(rows: object[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 20_000)
    await engine.insert('aggregates_1m', rows.slice(i, i + 20_000));
}

/** An API over the engine; `windowsOnly` hides the rollups' progress mark (the query path of before them). */
async function api(windowsOnly: boolean): Promise<FastifyInstance> {
  const local = localQueryBackend(engine);
  const backend: QueryBackend = windowsOnly
    ? { ...local, run: async (name, args) => (name === 'rollupProgress' ? [] : local.run(name, args)) }
    : local;
  return createQueryApi(parseQueryConfig({ port: 0, metricsRefreshMs: 600_000 }), {
    backend,
    log: silentLogger,
    registry: createMetricsRegistry('query-rollups-test', { defaultMetrics: false }),
    now: () => END,
  });
}

const PATHS = [
  `/api/v1/fleet/summary?from=${iso(BASE)}&to=${iso(END)}`,
  // Unaligned at both ends: minute edges from the windows, whole hours from the rollups.
  `/api/v1/fleet/summary?from=${iso(BASE + 17 * M)}&to=${iso(END - 23 * M)}`,
  `/api/v1/fleet/summary?groupBy=site&from=${iso(BASE + 3 * H)}&to=${iso(END)}`,
  '/api/v1/fleet/summary',
  `/api/v1/sites/plant-1/energy?step=1h&from=${iso(BASE)}&to=${iso(END)}`,
  `/api/v1/sites/plant-1/energy?step=1d&from=${iso(BASE)}&to=${iso(END)}`,
  `/api/v1/sites/plant-2/energy?step=1h&from=${iso(BASE + 90 * M)}&to=${iso(END - 5 * M)}`,
];

/** Every answer of PATHS from a fresh API (empty caches). */
async function answers(windowsOnly: boolean): Promise<unknown[]> {
  const app = await api(windowsOnly);
  try {
    const out: unknown[] = [];
    for (const path of PATHS) {
      const response = await app.inject({ method: 'GET', url: path });
      expect(response.statusCode, path).toBe(200);
      out.push(response.json());
    }
    return out;
  } finally {
    await app.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-rollups-'));
  engine = await createEmbeddedBackend({ mode: 'embedded', dataDir: dir, database: 'fleetgrid' });
  await migrate(engine, migrationVariables(parseSinkConfig()));
  const rows: object[] = [];
  DEVICES.forEach((device, d) => {
    for (let minute = 0; minute < 50 * 60; minute++) {
      const start = BASE + minute * M;
      // truck-3 moves from depot-2 to depot-1 half-way through hour 5.
      const site = device.id === 'truck-3' && minute >= 5 * 60 + 30 ? 'depot-1' : device.site;
      rows.push(windowRow(device, start, 0, value(d, minute), site));
      // Every 7th window is revised once, every 21st twice: FINAL keeps the newest.
      if (minute % 7 === 0) rows.push(windowRow(device, start, 1, value(d, minute, 1), site));
      if (minute % 21 === 0) rows.push(windowRow(device, start, 2, value(d, minute, 2), site));
    }
  });
  await insertWindows(rows);
  // The devices' states: site energy answers only for a site that has devices.
  await engine.insert(
    'device_state',
    DEVICES.map((device, d) => ({
      device_id: device.id,
      site_id: device.site,
      kind: device.kind,
      last_seen: END - M,
      last_event_id: '',
      seq: d,
      event_count: 1,
      active_diagnostic_codes: [],
      open_alerts: [],
      kafka_partition: 0,
      kafka_offset: d,
    })),
  );
}, 120_000);

afterAll(async () => {
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('stored hourly rollups', () => {
  it('roll up the settled hours only, and answer exactly as FINAL at query time', async () => {
    const before = await answers(true);
    const report = await refreshRollups(engine, { ...LATENESS, now: END });
    // Newest window 49:59 → loaded until 50:00 − 1 h 7 min = 48:53 → hours before 48:00.
    expect(report).toEqual({ rolledHours: 48, rerolledHours: 0, settledUntil: BASE + 48 * H });
    expect(await rollupProgress(engine)).toBe(BASE + 48 * H);
    const [rolled] = await engine.query<{ n: string }>('SELECT count() AS n FROM rollups_1h FINAL');
    // 6 devices × 48 hours, and truck-3's hour 5 in two sites.
    expect(Number(rolled?.n)).toBe(6 * 48 + 1);
    const after = await answers(false);
    expect(after).toEqual(before);
    // The answers are not empty: trucks drove and plants produced.
    expect(JSON.stringify(after[0])).toMatch(/"distanceKm":[1-9]/);
  });

  it('read the settled hours from the rollups (a changed rollup row changes the answer)', async () => {
    const path = `/api/v1/sites/plant-2/energy?step=1d&from=${iso(BASE)}&to=${iso(BASE + 24 * H)}`;
    const read = async () => {
      const app = await api(false);
      try {
        return (await app.inject({ method: 'GET', url: path })).json().totals.turbineKwh as number;
      } finally {
        await app.close();
      }
    };
    const honest = await read();
    // A newer roll of turbine-2's hour 2 with 1,000 kWh more: FINAL takes it.
    await engine.exec(`INSERT INTO rollups_1h SELECT bucket_start, device_id, site_id, kind, windows, max_revision, event_count,
  first_event_ts, last_event_ts, field_count, field_min, field_max, field_sum, derived_count, derived_min, derived_max,
  mapApply((k, v) -> (k, if(k = 'energyKwh', v + 1000, v)), derived_sum), rolled_at + INTERVAL 1 SECOND
FROM rollups_1h FINAL WHERE device_id = 'turbine-2' AND bucket_start = toDateTime(${(BASE + 2 * H) / 1000}, 'UTC')`);
    expect(await read()).toBe(honest + 1000);
    // Rolled again from the windows (as after a replay), the hour is honest again.
    const statement = rollHoursSql({ from: BASE + 2 * H, to: BASE + 3 * H });
    // The tampered row's rolled_at is a second ahead of its roll: wait it out.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await engine.exec(statement.sql, statement.params);
    expect(await read()).toBe(honest);
  });

  it('stay equal with late revisions inside the lateness horizon and a late-loaded settled hour', async () => {
    // Late revisions of the unsettled tail (hours 48 and 49, within max lateness of the newest window).
    const late: object[] = [];
    DEVICES.forEach((device, d) => {
      for (let minute = 48 * 60 + 3; minute < 50 * 60; minute += 11)
        late.push(windowRow(device, BASE + minute * M, 3, value(d, minute, 3)));
    });
    // A revision of settled hour 40 loaded after it was rolled up (a partition that lagged).
    late.push(windowRow(DEVICES[3], BASE + 40 * H + 5 * M, 4, 24.75));
    late.push(windowRow(DEVICES[0], BASE + 40 * H + 6 * M, 4, 30.5));
    await insertWindows(late);
    const reference = await answers(true);
    // Before the next refresh hour 40 is stale in the rollups: the answer differs…
    expect(await answers(false)).not.toEqual(reference);
    // …and the refresh rolls the late-loaded hour again (and nothing new is settled yet).
    const report = await refreshRollups(engine, { ...LATENESS, now: END });
    expect(report.rolledHours).toBe(0);
    expect(report.rerolledHours).toBeGreaterThanOrEqual(1);
    expect(await answers(false)).toEqual(reference);
  });
});
