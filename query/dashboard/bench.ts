/**
 * Load time of the built-in dashboard's pages at 1,000 devices and 7 days of data (the
 * query benchmark's data, query/bench-data.ts): the real query API (createQueryApi on the
 * embedded engine, its clock at the end of the data) serves the pages, and Debian's headless
 * Chromium (query/dashboard/browser.ts) loads each page for the last 24 hours and the last
 * 7 days (`?range=…&to=<end of the data>`). A page is loaded when every section has its
 * data (the first complete refresh, `data-load-ms`) and its map has drawn the basemap;
 * both are the page's own performance.now() since the navigation started.
 *
 *   flock /tmp/fleetgrid-heavy.lock node query/dashboard/bench.ts [--loads 5] [--fresh]
 *
 * The first load of each page and range is "cold" (the API's caches and the engine's were
 * never asked for it); then `--loads` warm loads, each in a new tab. Prints a table and one
 * line `BENCH_JSON {...}`.
 */
import { parseArgs } from 'node:util';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { localQueryBackend } from '../../clickhouse/index.ts';
import { DAYS, DEVICES, openBenchData } from '../bench-data.ts';
import { parseQueryConfig } from '../config.ts';
import { createQueryApi, DEFAULT_DASHBOARD_DIR } from '../server.ts';
import { launchChromium, waitForPage } from './browser.ts';

const { values: args } = parseArgs({
  options: { loads: { type: 'string', default: '5' }, fresh: { type: 'boolean', default: false } },
});
const loads = Number(args.loads);
const { engine, end, rows, generationSeconds } = await openBenchData({ fresh: args.fresh });

const started = Date.now();
const app = await createQueryApi(
  parseQueryConfig({ port: 0, dashboardDir: DEFAULT_DASHBOARD_DIR, queryTimeoutMs: 60_000 }),
  {
    backend: localQueryBackend(engine),
    log: silentLogger,
    registry: createMetricsRegistry('dashboard-bench', { defaultMetrics: false }),
    // The clock runs on from the end of the data, so caches expire and refresh as in service.
    now: () => end + (Date.now() - started),
  },
);
const origin = await app.listen({ host: '127.0.0.1', port: 0 });

const PAGES: [name: string, path: string][] = [
  ['fleet', '/'],
  ['site (depot, 60 trucks)', '/sites/depot-0'],
  ['site (plant, 40 devices)', '/sites/plant-0'],
  ['truck', '/devices/truck-0007'],
  ['turbine', '/devices/turbine-0607'],
  ['solar', '/devices/solar-0907'],
];
const RANGES = ['24h', '7d'];

const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1400, height: 1300 } });

const SPAN_MS: Record<string, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000 };

/** Loads a page in a new tab; its load time in ms (sections loaded and basemap drawn). */
async function load(url: string, range: string): Promise<number> {
  const page = await context.newPage();
  try {
    await page.goto(url);
    await waitForPage(page, 'document.body.dataset.loadMs !== undefined', 120_000);
    const hasMap = await page.evaluate(
      "document.querySelector('#map:not([hidden])') !== null && document.querySelector('#map').closest('[hidden]') === null",
    );
    if (hasMap)
      await waitForPage(page, "document.querySelector('#map').dataset.basemapMs !== undefined", 120_000);
    const errors = Number(
      await page.evaluate("document.querySelectorAll('[data-error-for]:not([hidden])').length"),
    );
    if (errors > 0) throw new Error(`${url}: ${errors} section(s) failed to load`);
    // The whole range was asked for (the data covers it: no cut at the first stored data).
    const from = Date.parse(String(await page.evaluate('document.body.dataset.from')));
    if (from !== end - (SPAN_MS[range] ?? 0))
      throw new Error(`${url}: the page's range starts at ${new Date(from).toISOString()}`);
    const [loaded, basemap] = (await page.evaluate(
      "[Number(document.body.dataset.loadMs), Number(document.querySelector('#map')?.dataset.basemapMs ?? 0)]",
    )) as [number, number];
    return Math.max(loaded, hasMap ? basemap : 0);
  } finally {
    await page.close();
  }
}

const results: { page: string; range: string; coldMs: number; p50Ms: number; maxMs: number; n: number }[] =
  [];
for (const range of RANGES) {
  for (const [name, path] of PAGES) {
    const url = `${origin}${path}?range=${range}&to=${new Date(end).toISOString()}`;
    const cold = await load(url, range);
    const warm: number[] = [];
    for (let i = 0; i < loads; i++) warm.push(await load(url, range));
    warm.sort((a, b) => a - b);
    results.push({
      page: name,
      range,
      coldMs: cold,
      p50Ms: warm[Math.floor((warm.length - 1) / 2)] ?? 0,
      maxMs: warm.at(-1) ?? 0,
      n: warm.length,
    });
  }
}
await browser.close();
await app.close();
await engine.close();

const width = Math.max(...results.map((r) => r.page.length));
console.log(
  `dashboard page load (sections loaded and basemap drawn), ${rows} aggregate rows (${DEVICES} devices × ${DAYS} days)`,
);
console.log(
  `${'page'.padEnd(width)}  range  ${'cold ms'.padStart(8)}  ${'p50 ms'.padStart(7)}  ${'max ms'.padStart(7)}   n`,
);
for (const r of results)
  console.log(
    `${r.page.padEnd(width)}  ${r.range.padEnd(5)}  ${String(r.coldMs).padStart(8)}  ${String(r.p50Ms).padStart(7)}  ${String(r.maxMs).padStart(7)}  ${String(r.n).padStart(2)}`,
  );
if (generationSeconds !== null)
  console.log(`(data generated in ${generationSeconds.toFixed(1)} s, reused by later runs)`);
console.log(
  `BENCH_JSON ${JSON.stringify({ component: 'dashboard', devices: DEVICES, days: DAYS, aggregateRows: rows, loads, generationSeconds, pages: results })}`,
);
