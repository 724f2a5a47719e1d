/**
 * Benchmark of the query API: p50/p99 latency of each endpoint over HTTP with 1,000
 * devices (600 trucks, 300 turbines, 100 solar arrays) and 7 days of 1-minute aggregates
 * (10,080,000 rows) on the embedded engine, plus 15 minutes of raw samples per device for
 * the raw series and asOf. The data (bench-data.ts) is generated into `.data/bench/query-v2`
 * once and reused by later runs (generation is reported apart).
 *
 *   node query/bench.ts [--iterations 40] [--fresh] [--only <regex of endpoint names>]
 *                       [--days 7|90] [--clients 50 --duration 30] [--rollups]
 *
 * `--days 90` uses 90 days of history (issue 16; its own data directory) and adds the 30 d
 * and 90 d reports. `--clients N` measures throughput instead: the API reads through the
 * sink's query endpoint (sinks/query-server.ts, as deployed) and N clients send the mix of
 * endpoints for `--duration` seconds; requests/s, p50/p99 and errors. `--rollups` first
 * brings the stored rollups up to date as the sink does (sinks/rollups.ts), timed;
 * `--windows-only` hides them from the API (FINAL at query time + the cache, as before them).
 *
 * Prints a table and finally one line `BENCH_JSON {...}`. Target (issue 6): p99 ≤ 100 ms
 * for summary and series.
 */
import { parseArgs } from 'node:util';
import { silentLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { randomBytes } from 'node:crypto';
import { Agent, get as httpGet } from 'node:http';
import { join } from 'node:path';
import { createRemoteBackend, localQueryBackend } from '../clickhouse/index.ts';
import { refreshRollups } from '../sinks/rollups.ts';
import { startQueryServer } from '../sinks/query-server.ts';
import { DAY, DAYS, DEVICES, MINUTE, openBenchData } from './bench-data.ts';
import { parseQueryConfig } from './config.ts';
import { createQueryApi } from './server.ts';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '40' },
    fresh: { type: 'boolean', default: false },
    only: { type: 'string' },
    days: { type: 'string', default: String(DAYS) },
    clients: { type: 'string', default: '0' },
    duration: { type: 'string', default: '30' },
    rollups: { type: 'boolean', default: false },
    'windows-only': { type: 'boolean', default: false },
  },
});
const iterations = Number(args.iterations);
const days = Number(args.days);
const clients = Number(args.clients);
const {
  engine,
  end: dataEnd,
  rows,
  generationSeconds,
  dir,
} = await openBenchData({ fresh: args.fresh, days });
// The API's clock runs on from the end of the data, so caches expire and refresh as in service.
const benchStarted = Date.now();
const clock = () => dataEnd + (Date.now() - benchStarted);

/** Lateness of the bench's pipeline: the query config's defaults (the same the API assumes). */
const ROLLUP_LATENESS = (() => {
  const q = parseQueryConfig({});
  return { maxLatenessMs: q.maxLatenessMs, windowSizeMs: q.windowSizeMs };
})();

let rollupSeconds: number | null = null;
if (args.rollups) {
  const started = performance.now();
  const report = await refreshRollups(engine, { now: clock(), ...ROLLUP_LATENESS });
  rollupSeconds = (performance.now() - started) / 1000;
  process.stderr.write(`rollups refreshed: ${JSON.stringify(report)} in ${rollupSeconds.toFixed(1)} s\n`);
}

// Throughput mode reads through the sink's query endpoint, as deployed: the sink's process
// (here: this one) owns the engine, the API talks to it over loopback HTTP.
const secret = randomBytes(24).toString('hex');
const endpoint =
  clients > 0
    ? await startQueryServer({
        clickhouse: { mode: 'embedded', dataDir: join(dir, 'ch'), database: 'fleetgrid' },
        secret,
        port: 0,
        log: silentLogger,
        maxExecutionMs: 60_000,
      })
    : undefined;

/** A new API (empty caches) on an ephemeral port, and its base URL. */
async function startApi() {
  // A cold summary fills the settled-hour cache (seconds on a busy 2-core box): allow it.
  const reader = endpoint
    ? createRemoteBackend(endpoint.url, { secret, timeoutMs: 60_000 })
    : localQueryBackend(engine);
  const app = await createQueryApi(parseQueryConfig({ port: 0, queryTimeoutMs: 60_000 }), {
    // Without the progress mark the API reads every hour from the windows.
    backend: args['windows-only']
      ? { ...reader, run: async (name, a) => (name === 'rollupProgress' ? [] : reader.run(name, a)) }
      : reader,
    log: silentLogger,
    registry: createMetricsRegistry('query-bench', { defaultMetrics: false }),
    now: clock,
  });
  return { app, base: await app.listen({ host: '127.0.0.1', port: 0 }) };
}

const iso = (ms: number) => new Date(ms).toISOString();
const device = (i: number) =>
  i % 3 === 0
    ? `turbine-${String(600 + (i % 300)).padStart(4, '0')}`
    : `truck-${String(i % 600).padStart(4, '0')}`;
const truck = (i: number) => `truck-${String((i * 7) % 600).padStart(4, '0')}`;

/** Endpoints over the last `span` days, when the data holds them. */
const longRanges = (span: number): { name: string; path: (i: number) => string }[] =>
  span > days
    ? []
    : [
        {
          name: `summary (${span} d)`,
          path: () => `/api/v1/fleet/summary?from=${iso(dataEnd - span * DAY)}&to=${iso(dataEnd)}`,
        },
        {
          name: `series 1d ${span} d`,
          path: (i) =>
            `/api/v1/devices/${truck(i)}/series?metric=distanceKm&step=1d&from=${iso(dataEnd - span * DAY)}&to=${iso(dataEnd)}`,
        },
      ];

const ENDPOINTS: { name: string; path: (i: number) => string }[] = [
  {
    name: 'summary (7 d)',
    path: () => `/api/v1/fleet/summary?from=${iso(dataEnd - 7 * DAY)}&to=${iso(dataEnd)}`,
  },
  ...longRanges(30),
  ...longRanges(90),
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

// node:http rather than fetch: a cold 90-day summary may outlast fetch's 300 s header timeout.
const agent = new Agent({ keepAlive: true, maxSockets: Math.max(1, clients) });
function timed(base: string, path: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    httpGet(`${base}${path}`, { agent }, (response) => {
      response.on('data', () => undefined);
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`HTTP ${response.statusCode} ${path}`));
        else resolve(performance.now() - started);
      });
      response.on('error', reject);
    }).on('error', reject);
  });
}

const cold = new Map<string, number>();
let throughput: Record<string, unknown> | undefined;
if (clients > 0) {
  // Phase 1: one request per endpoint fills the API's caches (reported as "cold").
  const { app, base } = await startApi();
  for (const endpoint of selected) cold.set(endpoint.name, await timed(base, endpoint.path(0)));
  // Phase 2 (throughput): N clients, each sending the endpoints of the mix in turn from its
  // own offset, for `duration` seconds; an error is counted, not retried.
  const times = new Map<string, number[]>(selected.map((e) => [e.name, []]));
  const errors = new Map<string, number>();
  const until = performance.now() + Number(args.duration) * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; performance.now() < until; i++) {
        const endpoint = selected[i % selected.length];
        if (!endpoint) return;
        try {
          times.get(endpoint.name)?.push(await timed(base, endpoint.path(i)));
        } catch {
          errors.set(endpoint.name, (errors.get(endpoint.name) ?? 0) + 1);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const all = [...times.values()].flat().sort((a, b) => a - b);
  for (const endpoint of selected) {
    const t = (times.get(endpoint.name) ?? []).sort((a, b) => a - b);
    results.push({
      endpoint: endpoint.name,
      n: t.length,
      coldMs: Number((cold.get(endpoint.name) ?? 0).toFixed(1)),
      p50Ms: Number(quantile(t, 0.5).toFixed(1)),
      p99Ms: Number(quantile(t, 0.99).toFixed(1)),
      maxMs: Number((t.at(-1) ?? 0).toFixed(1)),
    });
  }
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  await app.close();
  throughput = {
    clients,
    seconds: Number(seconds.toFixed(1)),
    requests: all.length,
    errors: errorCount,
    requestsPerSecond: Number((all.length / seconds).toFixed(1)),
    p50Ms: Number(quantile(all, 0.5).toFixed(1)),
    p99Ms: Number(quantile(all, 0.99).toFixed(1)),
    maxMs: Number((all.at(-1) ?? 0).toFixed(1)),
  };
} else {
  // Latency: per endpoint a new API (empty caches), one cold request, then up to
  // `iterations` sequential warm requests or 4 s.
  for (const endpoint of selected) {
    const { app, base } = await startApi();
    cold.set(endpoint.name, await timed(base, endpoint.path(0)));
    const times: number[] = [];
    const until = performance.now() + 4_000;
    for (let i = 1; i <= iterations && performance.now() < until; i++)
      times.push(await timed(base, endpoint.path(i)));
    await app.close();
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
}
agent.destroy();
await endpoint?.close();
await engine.close();

const width = Math.max(...results.map((r) => r.endpoint.length));
console.log(
  `query API ${clients > 0 ? `under ${clients} clients, through the sink's query endpoint` : 'latency over HTTP, embedded engine'}, ${rows} aggregate rows (${DEVICES} devices × ${days} days)`,
);
console.log(
  `${'endpoint'.padEnd(width)}  ${'n'.padStart(3)}  ${'cold ms'.padStart(8)}  ${'p50 ms'.padStart(7)}  ${'p99 ms'.padStart(7)}  ${'max ms'.padStart(7)}`,
);
for (const r of results)
  console.log(
    `${r.endpoint.padEnd(width)}  ${String(r.n).padStart(3)}  ${r.coldMs.toFixed(1).padStart(8)}  ${r.p50Ms.toFixed(1).padStart(7)}  ${r.p99Ms.toFixed(1).padStart(7)}  ${r.maxMs.toFixed(1).padStart(7)}`,
  );
if (throughput) console.log(`throughput: ${JSON.stringify(throughput)}`);
if (generationSeconds !== null)
  console.log(`(data generated in ${generationSeconds.toFixed(1)} s, reused by later runs)`);
console.log(
  `BENCH_JSON ${JSON.stringify({ component: 'query', devices: DEVICES, days, aggregateRows: Number(rows), iterations, generationSeconds, rollupSeconds, throughput, endpoints: results })}`,
);
