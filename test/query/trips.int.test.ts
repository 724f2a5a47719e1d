/**
 * Trips on the REAL embedded engine (chDB with the sink's migrations), exact against the
 * hand-computed trips of test/query/trips-dataset.ts: the list, the CSV export, one trip
 * with its track, and the same trips recomputed after a late sample lands inside trip A
 * (read through `truck_telemetry FINAL`, so the answer follows the corrected data).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend, localQueryBackend, migrate } from '../../clickhouse/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { parseQueryConfig } from '../../query/config.ts';
import * as bodies from '../../query/responses.ts';
import { createQueryApi } from '../../query/server.ts';
import { TRIP_FIELDS } from '../../query/trips.ts';
import { migrationVariables, parseSinkConfig } from '../../sinks/config.ts';
import { datasetBase, HOUR, loadQueryDataset } from './dataset.ts';
import { buildTripEvents, closeTrips, expectedTrips, TRIP_DEVICE, tripDataset } from './trips-dataset.ts';

let dir: string;
let engine: ClickHouseBackend;
let app: FastifyInstance;
let base: number;
const iso = (ms: number) => new Date(ms).toISOString();
const sec = (s: number) => base + s * 1000;

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field against hand-computed values.
type Answer = Record<string, any>;

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url: path, headers });
  const type = String(response.headers['content-type'] ?? '');
  return {
    status: response.statusCode,
    type,
    text: response.body,
    body: (type.includes('json') ? response.json() : {}) as Answer,
  };
}

const listUrl = (from = base, to = base + HOUR) =>
  `/api/v1/devices/${TRIP_DEVICE}/trips?from=${iso(from)}&to=${iso(to)}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-trips-'));
  engine = await createEmbeddedBackend({ mode: 'embedded', dataDir: dir, database: 'fleetgrid' });
  await migrate(engine, migrationVariables(parseSinkConfig()));
  base = datasetBase();
  await loadQueryDataset(engine, tripDataset(base, buildTripEvents(base).first));
  app = await createQueryApi(parseQueryConfig({ port: 0, metricsRefreshMs: 600_000 }), {
    backend: localQueryBackend(engine),
    log: silentLogger,
    registry: createMetricsRegistry('trips-test', { defaultMetrics: false }),
  });
});

afterAll(async () => {
  await app?.close();
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('trips, before and after a late sample', () => {
  it('lists the trips that start in the range, each exact (the resend counted once)', async () => {
    const { status, body } = await get(listUrl());
    expect(status).toBe(200);
    expect(bodies.tripsBody.safeParse(body).success).toBe(true);
    expect(body.truncated).toBe(false);
    // Without the late sample at 111 s: one 60 → 0 km/h drop in 3 s, not a harsh braking.
    expect(body.trips).toEqual(closeTrips(expectedTrips(base, false)));
  });

  it('recomputes the trip over the corrected data once the late sample is stored', async () => {
    const { late } = buildTripEvents(base);
    await loadQueryDataset(engine, { ...tripDataset(base, late), deviceStates: [] });
    const { body } = await get(listUrl());
    expect(body.trips).toEqual(closeTrips(expectedTrips(base, true)));
  });

  it('answers only trips starting in the range, whole even when they end after it', async () => {
    // From 605 s: trip B started before (not listed); C is listed. To 615 s: A and B, B whole.
    const later = await get(listUrl(sec(605)));
    expect(later.body.trips.map((t: Answer) => t.tripId)).toEqual([`${TRIP_DEVICE}:${sec(1310)}`]);
    const cut = await get(listUrl(base, sec(615)));
    expect(cut.body.trips).toEqual(closeTrips(expectedTrips(base, true).slice(0, 2)));
  });

  it('exports the list as CSV, one line per trip with every field', async () => {
    const { status, type, text } = await get(`${listUrl()}&format=csv`);
    expect(status).toBe(200);
    expect(type).toContain('text/csv');
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(TRIP_FIELDS.join(','));
    expect(lines).toHaveLength(4);
    expect(lines[2]?.startsWith(`${TRIP_DEVICE}:${sec(600)},${TRIP_DEVICE},${iso(sec(600))},`)).toBe(true);
    const viaAccept = await get(listUrl(), { accept: 'text/csv' });
    expect(viaAccept.text).toBe(text);
  });

  it('answers one trip with its track: every position, or simplified for a zoom', async () => {
    const id = `${TRIP_DEVICE}:${sec(600)}`;
    const whole = await get(`/api/v1/devices/${TRIP_DEVICE}/trips/${id}`);
    expect(whole.status).toBe(200);
    expect(bodies.tripBody.safeParse(whole.body).success).toBe(true);
    expect(whole.body.trip).toEqual(closeTrips(expectedTrips(base, true))[1]);
    // Trip B's six positions, 600-650 s, on one meridian.
    expect(whole.body.track.positions).toBe(6);
    expect(whole.body.track.points.map((p: Answer) => p.t)).toEqual(
      [600, 610, 620, 630, 640, 650].map((s) => iso(sec(s))),
    );
    // A straight line at any zoom: only its ends stay.
    const zoomed = await get(`/api/v1/devices/${TRIP_DEVICE}/trips/${id}?zoom=12`);
    expect(zoomed.body.track.zoom).toBe(12);
    expect(zoomed.body.track.points.map((p: Answer) => p.t)).toEqual([iso(sec(600)), iso(sec(650))]);
  });

  it('refuses trip ids that are not trips of the device, and bad parameters', async () => {
    expect((await get(`/api/v1/devices/${TRIP_DEVICE}/trips/${TRIP_DEVICE}:${sec(601)}`)).status).toBe(404);
    expect((await get(`/api/v1/devices/${TRIP_DEVICE}/trips/truck-x:${sec(600)}`)).status).toBe(404);
    const bad = await get(`/api/v1/devices/${TRIP_DEVICE}/trips/not-a-trip`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('bad_request');
    expect((await get(`${listUrl()}&zoom=3`)).status).toBe(400);
    expect((await get(`/api/v1/devices/nobody/trips`)).status).toBe(404);
  });
});
