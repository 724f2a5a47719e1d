/**
 * The built-in dashboard (query/dashboard/public) in a real browser: Debian's headless
 * Chromium driven by playwright-core loads `/` of a running query API (the real
 * createQueryApi, listening on a loopback port) that reads fixture projections on the
 * embedded engine, asks the real Kafka for consumer lag, and reads a real /metrics
 * endpoint for backpressure. Every figure the page shows must equal what the API
 * answers, the page must fetch nothing from outside that server (no CDN), and a
 * screenshot is saved to .data/screenshots/ (git-ignored) for people to look at.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry, type MetricsServer, startMetricsServer } from '../../lib/metrics.ts';
import { createProcessorMetrics } from '../../processors/runner/metrics.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { fetchConsumerLag } from '../../query/main.ts';
import { createQueryApi, DEFAULT_DASHBOARD_DIR } from '../../query/server.ts';
import type { ClickHouseBackend } from '../../sinks/backend.ts';
import { createEmbeddedBackend } from '../../sinks/backends/embedded.ts';
import { migrate } from '../../sinks/migrate.ts';
import { createTestStack, type TestStack } from '../helpers.ts';
import { buildWorld, loadWorld } from './fixtures.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = join(PROJECT_ROOT, '.data', 'screenshots');

/** The page's number format (app.js formatNumber): en-US grouping, at most `digits` decimals. */
const format = (value: number, digits: number) =>
  new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(value);

describe('built-in dashboard in headless Chromium', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetgrid-builtin-'));
  let backend: ClickHouseBackend;
  let stack: TestStack;
  let metrics: MetricsServer;
  let app: FastifyInstance;
  let origin: string;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  let group: string;

  async function api(path: string) {
    const response = await fetch(`${origin}/api/v1/${path}`);
    expect(response.status, path).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: answers are compared field by field with the page.
    return (await response.json()) as any;
  }

  beforeAll(async () => {
    backend = await createEmbeddedBackend({ mode: 'embedded', dataDir, database: 'fleetgrid' });
    await migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
    await loadWorld(backend, buildWorld());
    stack = await createTestStack('dash-ui', { partitions: 1 });
    group = stack.group('sink');
    // A processor's /metrics with one partition paused: the page must show it as paused.
    const processorRegistry = createMetricsRegistry('processor', { defaultMetrics: false });
    createProcessorMetrics(processorRegistry).pausedPartitions.set(1);
    metrics = await startMetricsServer(processorRegistry, { port: 0 });
    app = await createQueryApi(
      parseQueryConfig({
        port: 0,
        dashboardDir: DEFAULT_DASHBOARD_DIR,
        metricsUrls: { processor: `http://127.0.0.1:${metrics.port}/metrics` },
      }),
      {
        backend,
        log: silentLogger,
        registry: createMetricsRegistry('query-test', { defaultMetrics: false }),
        consumerLag: () => fetchConsumerLag(stack.admin, [group]),
      },
    );
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${message.text()} ${message.location().url}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) consoleErrors.push(`${response.status()} ${response.url()}`);
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto(`${origin}/`);
    // Page functions are strings: this project's TypeScript has no DOM types.
    await page.waitForFunction('Number(document.body.dataset.refreshes || 0) >= 1', null, {
      timeout: 30_000,
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await metrics?.close();
    await stack?.cleanup();
    await backend?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads without errors and fetches nothing from outside the server (no CDN)', async () => {
    expect(consoleErrors).toEqual([]);
    expect(requests.length).toBeGreaterThan(5);
    for (const url of requests) expect(url.startsWith(`${origin}/`), url).toBe(true);
    expect(requests.some((u) => u.endsWith('/vendor/leaflet/leaflet.js'))).toBe(true);
    expect(requests.some((u) => u.endsWith('/vendor/uplot/uPlot.iife.min.js'))).toBe(true);
    for (const section of ['figures', 'map', 'charts', 'alerts', 'health']) {
      expect(await page.locator(`[data-error-for="${section}"]`).isHidden(), section).toBe(true);
    }
  });

  it('shows the key figures of every kind exactly as the summary endpoint answers them', async () => {
    const summary = await api('fleet/summary');
    const figures: Record<string, string | undefined>[] = await page.evaluate(
      `[...document.querySelectorAll('[data-figure]')].map((n) => ({ key: n.dataset.figure, value: n.dataset.value,
        text: n.textContent, digits: n.dataset.digits, unit: n.dataset.unit, scale: n.dataset.scale }))`,
    );
    expect(figures.length).toBe(18);
    for (const f of figures) {
      const [kind, field] = (f.key as string).split('.') as [string, string];
      const expected = summary[kind][field];
      expect(JSON.parse(f.value as string), f.key).toEqual(expected);
      const shown =
        expected === null
          ? '–'
          : `${format(expected * Number(f.scale ?? 1), Number(f.digits))}${f.unit ? ` ${f.unit}` : ''}`;
      expect(f.text, f.key).toBe(shown);
    }
    // The fixture world: 3 trucks, 2 turbines, 2 solar arrays, 3 open alerts.
    expect(summary.truck.devices).toBe(3);
    expect(summary.alerts.open).toBe(3);
  });

  it('places every truck the devices endpoint reports on the map', async () => {
    const { devices } = await api('devices?kind=truck&limit=1000');
    const placed = devices.filter((d: { lat: number | null }) => d.lat !== null);
    expect(placed.length).toBe(3);
    expect(await page.locator('#map').getAttribute('data-markers')).toBe(String(placed.length));
    expect(await page.locator('#map path.leaflet-interactive').count()).toBe(placed.length);
  });

  it('lists exactly the open alerts of the alerts endpoint', async () => {
    const { alerts } = await api('alerts?state=open&limit=200');
    const shown = await page.$$eval('#alert-rows tr', (rows) =>
      rows.map((r) => r.getAttribute('data-alert-id')),
    );
    expect(shown.sort()).toEqual(alerts.map((a: { alertId: string }) => a.alertId).sort());
    expect(shown.length).toBe(3);
  });

  it('draws a chart per kind from the series and energy endpoints', async () => {
    // The page's default range: the last 6 hours (1-minute points for 3 hours of data).
    const to = new Date().toISOString();
    const from = new Date(Date.now() - 6 * 3_600_000).toISOString();
    const speed = await api(`devices/truck-001/series?metric=speedKmh&step=auto&from=${from}&to=${to}`);
    const power = await api(`devices/turbine-001/series?metric=powerKw&step=auto&from=${from}&to=${to}`);
    const solar = await api(`sites/plant-northsea/energy?step=auto&from=${from}&to=${to}`);
    expect(await page.locator('#chart-truck').getAttribute('data-points')).toBe(String(speed.points.length));
    expect(await page.locator('#chart-turbine').getAttribute('data-points')).toBe(
      String(power.points.length),
    );
    expect(await page.locator('#chart-solar').getAttribute('data-points')).toBe(String(solar.points.length));
    expect(speed.step).toBe('1m');
    expect(speed.points.length).toBeGreaterThan(100);
    expect(await page.locator('#charts canvas').count()).toBe(3);
  });

  it('shows pipeline health as the health endpoint reports it', async () => {
    const health = await api('pipeline/health');
    expect(await page.locator('#health-newest').getAttribute('data-value')).toBe(
      health.freshness.newestEvent,
    );
    expect(await page.locator('#health-dead-letters').getAttribute('data-value')).toBe(
      String(health.deadLetters.total),
    );
    expect(health.deadLetters.total).toBe(8);
    expect(await page.locator(`#health-lag li[data-group="${group}"]`).count()).toBe(1);
    expect(
      await page.locator('#health-backpressure li[data-service="processor"]').getAttribute('data-state'),
    ).toBe('paused');
  });

  it('refreshes by itself and saves a screenshot', async () => {
    await page.selectOption('#refresh', '5000');
    const before = Number(await page.evaluate('document.body.dataset.refreshes'));
    // Two more refreshes: the one the change triggers and one from the 5 s timer.
    await page.waitForFunction(`Number(document.body.dataset.refreshes) >= ${before + 2}`, null, {
      timeout: 30_000,
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = join(SCREENSHOTS, 'builtin-dashboard.png');
    const png = await page.screenshot({ path: file, fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(consoleErrors).toEqual([]);
  });
});
