/**
 * Benchmark of the query API: p50/p99 latency of each endpoint over HTTP with 1,000
 * devices (600 trucks, 300 turbines, 100 solar arrays) and 7 days of 1-minute aggregates
 * (10,080,000 rows) on the embedded engine, plus 15 minutes of raw samples per device for
 * the raw series and asOf. The data (bench-data.ts) is generated into `.data/bench/query-v2`
 * once and reused by later runs (generation is reported apart).
 *
 *   node query/bench.ts [--iterations 40] [--fresh] [--only <regex of endpoint names>]
 *
 * Prints a table and finally one line `BENCH_JSON {...}`. Target (issue 6): p99 ≤ 100 ms
 * for summary and series.
 */
import { parseArgs } from 'node:util';
import { silentLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { localQueryBackend } from '../clickhouse/index.ts';
import { DAY, DAYS, DEVICES, MINUTE, openBenchData } from './bench-data.ts';
import { parseQueryConfig } from './config.ts';
import { createQueryApi } from './server.ts';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '40' },
    fresh: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const iterations = Number(args.iterations);
const { engine, end: dataEnd, rows, generationSeconds } = await openBenchData({ fresh: args.fresh });

// A cold summary fills the settled-hour cache (seconds on a busy 2-core box): allow it.
const benchStarted = Date.now();
const app = await createQueryApi(parseQueryConfig({ port: 0, queryTimeoutMs: 60_000 }), {
  backend: localQueryBackend(engine),
  log: silentLogger,
  registry: createMetricsRegistry('query-bench', { defaultMetrics: false }),
  // The clock runs on from the end of the data, so caches expire and refresh as in service.
  now: () => dataEnd + (Date.now() - benchStarted),
});
const base = await app.listen({ host: '127.0.0.1', port: 0 });

const iso = (ms: number) => new Date(ms).toISOString();
const device = (i: number) =>
  i % 3 === 0
    ? `turbine-${String(600 + (i % 300)).padStart(4, '0')}`
    : `truck-${String(i % 600).padStart(4, '0')}`;
const truck = (i: number) => `truck-${String((i * 7) % 600).padStart(4, '0')}`;

const ENDPOINTS: { name: string; path: (i: number) => string }[] = [
  {
    name: 'summary (7 d)',
    path: () => `/api/v1/fleet/summary?from=${iso(dataEnd - 7 * DAY)}&to=${iso(dataEnd)}`,
  },
  { name: 'summary (24 h)', path: () => '/api/v1/fleet/summary' },
  { name: 'devices (page of 100)', path: () => '/api/v1/devices?limit=100' },
  { name: 'device state', path: (i) => `/api/v1/devices/${device(i)}/state` },
  {
    name: 'device state asOf',
    path: (i) => `/api/v1/devices/${device(i)}/state?asOf=${iso(dataEnd - 5 * MINUTE)}`,
  },
  { name: 'series auto 24 h (1h)', path: (i) => `/api/v1/devices/${truck(i)}/series?metric=speedKmh` },
  {
    name: 'series 1m 12 h',
    path: (i) =>
      `/api/v1/devices/${truck(i)}/series?metric=speedKmh&step=1m&from=${iso(dataEnd - 12 * 3_600_000)}&to=${iso(dataEnd)}`,
  },
  {
    name: 'series auto 7 d (1h)',
    path: (i) =>
      `/api/v1/devices/${truck(i)}/series?metric=distanceKm&from=${iso(dataEnd - 7 * DAY)}&to=${iso(dataEnd)}`,
  },
  {
    name: 'series raw 10 min',
    path: (i) =>
      `/api/v1/devices/${truck(i)}/series?metric=speedKmh&step=raw&from=${iso(dataEnd - 10 * MINUTE)}&to=${iso(dataEnd)}`,
  },
  { name: 'site energy 24 h (1h)', path: (i) => `/api/v1/sites/plant-${i % 10}/energy` },
  { name: 'alerts open', path: () => '/api/v1/alerts' },
  {
    name: 'alerts all 7 d',
    path: () => `/api/v1/alerts?state=all&from=${iso(dataEnd - 7 * DAY)}&to=${iso(dataEnd)}`,
  },
  { name: 'pipeline health', path: () => '/api/v1/pipeline/health' },
];

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
const results: {
  endpoint: string;
  n: number;
  coldMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}[] = [];
const only = args.only === undefined ? undefined : new RegExp(args.only);
const selected = ENDPOINTS.filter((e) => !only || only.test(e.name));

async function timed(path: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${base}${path}`);
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`HTTP ${response.status} ${path}`);
  return performance.now() - started;
}

// Phase 1: one request per endpoint on cold caches (the engine's and the settled-hour cache).
const cold = new Map<string, number>();
for (const endpoint of selected) cold.set(endpoint.name, await timed(endpoint.path(0)));
// Phase 2: warm latency, each endpoint up to `iterations` requests or 4 s.
for (const endpoint of selected) {
  const times: number[] = [];
  const until = performance.now() + 4_000;
  for (let i = 1; i <= iterations && performance.now() < until; i++)
    times.push(await timed(endpoint.path(i)));
  times.sort((a, b) => a - b);
  results.push({
    endpoint: endpoint.name,
    n: times.length,
    coldMs: Number((cold.get(endpoint.name) ?? 0).toFixed(1)),
    p50Ms: Number(quantile(times, 0.5).toFixed(1)),
    p99Ms: Number(quantile(times, 0.99).toFixed(1)),
    maxMs: Number((times.at(-1) ?? 0).toFixed(1)),
  });
}
await app.close();
await engine.close();

const width = Math.max(...results.map((r) => r.endpoint.length));
console.log(
  `query API latency over HTTP, embedded engine, ${rows} aggregate rows (${DEVICES} devices × ${DAYS} days)`,
);
console.log(
  `${'endpoint'.padEnd(width)}  ${'n'.padStart(3)}  ${'cold ms'.padStart(8)}  ${'p50 ms'.padStart(7)}  ${'p99 ms'.padStart(7)}  ${'max ms'.padStart(7)}`,
);
for (const r of results)
  console.log(
    `${r.endpoint.padEnd(width)}  ${String(r.n).padStart(3)}  ${r.coldMs.toFixed(1).padStart(8)}  ${r.p50Ms.toFixed(1).padStart(7)}  ${r.p99Ms.toFixed(1).padStart(7)}  ${r.maxMs.toFixed(1).padStart(7)}`,
  );
if (generationSeconds !== null)
  console.log(`(data generated in ${generationSeconds.toFixed(1)} s, reused by later runs)`);
console.log(
  `BENCH_JSON ${JSON.stringify({ component: 'query', devices: DEVICES, days: DAYS, aggregateRows: Number(rows), iterations, generationSeconds, endpoints: results })}`,
);
