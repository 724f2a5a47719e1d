/**
 * Benchmark of the trips endpoints (docs/query.md "Trips"): one truck reporting every
 * second for 7 days (604,800 raw samples; it drives 50 minutes and stops 10 with the engine
 * off, every hour: 168 trips) on the embedded engine with the sink's migrations, over HTTP:
 * the 7-day trips list, and one trip with its track simplified for zoom 10. Trips are
 * computed at query time from `truck_telemetry FINAL`, so this is the cost of one truck's
 * week; a fleet page asks for one truck at a time.
 *
 *   node query/bench-trips.ts [--iterations 20]
 *
 * Prints a table and finally one line `BENCH_JSON {...}`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEmbeddedBackend, localQueryBackend, migrate } from '../clickhouse/index.ts';
import { silentLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { migrationVariables, parseSinkConfig } from '../sinks/config.ts';
import { parseQueryConfig } from './config.ts';
import { createQueryApi } from './server.ts';

const { values: args } = parseArgs({ options: { iterations: { type: 'string', default: '20' } } });
const iterations = Number(args.iterations);
const DAY = 86_400_000;
const SAMPLES = 7 * 86_400;

const dir = mkdtempSync(join(tmpdir(), 'fleetgrid-bench-trips-'));
const engine = await createEmbeddedBackend({ mode: 'embedded', dataDir: dir, database: 'fleetgrid' });
try {
  await migrate(engine, migrationVariables(parseSinkConfig()));
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const start = end - 7 * DAY;
  const generationStarted = performance.now();
  // Minute 0-49 of each hour the engine runs (speed 40-100 km/h with a braking now and
  // then), minutes 50-59 it is off; it moves north while driving; the cargo warms above 8 °C
  // for a while every few hours.
  await engine.exec(
    `INSERT INTO truck_telemetry (event_id, device_id, site_id, ts, seq, lat, lon, speed_kmh, heading_deg,
       engine_temp_c, fuel_pct, odometer_km, engine_on, cargo_temp_c, schema_id, kafka_partition, kafka_offset)
     SELECT toString(number), 'truck-bench', 'depot-bench', fromUnixTimestamp64Milli(toInt64({start:Int64} + number * 1000), 'UTC'),
       number + 1, 48 + number * 0.000005, 4.5,
       if(intDiv(number, 60) % 60 < 50, if(number % 900 < 2, 30, 70 + 30 * sin(number / 300)), 0), 0,
       88, 90 - (number % 86400) * 0.0005, number * 0.02, intDiv(number, 60) % 60 < 50,
       4 + 5 * sin(number / 5000), 1, 0, number
     FROM numbers({samples:UInt64})`,
    { start, samples: SAMPLES },
  );
  await engine.insert('device_state', [
    {
      device_id: 'truck-bench',
      site_id: 'depot-bench',
      kind: 'TRUCK',
      last_seen: end - 1000,
      last_event_id: String(SAMPLES - 1),
      seq: SAMPLES,
      event_count: SAMPLES,
    },
  ]);
  const generationSeconds = (performance.now() - generationStarted) / 1000;

  const app = await createQueryApi(parseQueryConfig({ port: 0, queryTimeoutMs: 60_000 }), {
    backend: localQueryBackend(engine),
    log: silentLogger,
    registry: createMetricsRegistry('trips-bench', { defaultMetrics: false }),
    now: () => end,
  });
  const iso = (ms: number) => new Date(ms).toISOString();
  const list = `/api/v1/devices/truck-bench/trips?from=${iso(start)}&to=${iso(end)}`;
  const first = await app.inject({ method: 'GET', url: list });
  const trips = (first.json() as { trips: { tripId: string }[] }).trips;
  const middle = trips[Math.floor(trips.length / 2)]?.tripId ?? 'none';
  const endpoints = [
    { name: 'trips list (7 d)', url: list },
    { name: 'one trip + track (zoom 10)', url: `/api/v1/devices/truck-bench/trips/${middle}?zoom=10` },
  ];
  const results: Record<string, { p50: number; p99: number; max: number; status: number }> = {};
  for (const endpoint of endpoints) {
    const times: number[] = [];
    let status = 0;
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      const response = await app.inject({ method: 'GET', url: endpoint.url });
      times.push(performance.now() - t0);
      status = response.statusCode;
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)] as number;
    results[endpoint.name] = {
      p50: Math.round(at(0.5)),
      p99: Math.round(at(0.99)),
      max: Math.round(times.at(-1) as number),
      status,
    };
  }
  await app.close();
  process.stdout.write(
    `truck-bench: ${SAMPLES} samples over 7 days, ${trips.length} trips; generated in ${generationSeconds.toFixed(1)} s\n`,
  );
  process.stdout.write('endpoint                      p50 ms  p99 ms  max ms  status\n');
  for (const [name, r] of Object.entries(results))
    process.stdout.write(
      `${name.padEnd(30)}${String(r.p50).padStart(6)}${String(r.p99).padStart(8)}${String(r.max).padStart(8)}${String(r.status).padStart(8)}\n`,
    );
  process.stdout.write(
    `BENCH_JSON ${JSON.stringify({ samples: SAMPLES, trips: trips.length, iterations, results })}\n`,
  );
} finally {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
}
