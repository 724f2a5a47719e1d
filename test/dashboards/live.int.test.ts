/**
 * The dashboard's live push and alert actions in headless Chromium, on the real stack: an
 * alert produced to Kafka must appear on the open fleet page within 2 s without a reload
 * (the API's consumer → /api/v1/stream → the page), a truck's new position must move the
 * map, and acknowledging the alert from the page (write token typed into the panel) must
 * show in the API. The comment of the acknowledgement is markup, and stays text.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { createCommandLog } from '../../query/command-log.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { launchChromium, waitForPage } from '../../query/dashboard/browser.ts';
import { createLiveHub } from '../../query/live.ts';
import { createLiveFeed, type LiveFeed } from '../../query/live-feed.ts';
import { createRecentCommands } from '../../query/recent-commands.ts';
import { createQueryApi, DEFAULT_DASHBOARD_DIR } from '../../query/server.ts';
import { createSilenceClient } from '../../query/silences.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import type { Alert } from '../../schemas/types.ts';
import { localQueryBackend } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import { alert as alertOf, deviceState, waitFor } from '../sinks/fixtures.ts';
import {
  createSinkTestStack,
  embeddedConfig,
  type RunningSink,
  startSink,
  tempDataDir,
} from '../sinks/harness.ts';

const READ = 'read-token-live-0123456789abcdef';
const WRITE = 'write-token-live-0123456789abcdef';
const run = randomUUID().slice(0, 8);

let stack: TestStack;
let serde: Serde;
let running: RunningSink;
let feed: LiveFeed;
let app: FastifyInstance;
let origin: string;
let browser: Browser;
let page: Page;
const problems: string[] = [];
const data = tempDataDir('dash-live');

async function produce(topic: string, key: string, value: Buffer) {
  const producer = stack.kafka.producer();
  await producer.connect();
  await producer.send(topic, [{ key, value }]);
  await producer.disconnect();
}

async function api(path: string) {
  const response = await fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${READ}` } });
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field.
  return { status: response.status, body: (await response.json()) as any };
}

beforeAll(async () => {
  const password = readFileSync(
    join(process.env.FLEETGRID_DATA_DIR ?? join(PROJECT_ROOT, '.data'), 'secrets', 'alertmanager.password'),
    'utf8',
  ).trim();
  stack = await createSinkTestStack('dash-live', { partitions: 1 });
  serde = createSerde(stack.config.registry, { topics: stack.topics });
  await serde.registerAll();
  running = await startSink(stack, embeddedConfig(stack, data.dir));
  const recent = createRecentCommands({ now: Date.now });
  // Device states every 200 ms at most: the test moves one truck twice.
  const hub = createLiveHub({ now: Date.now, deviceIntervalMs: 200 });
  feed = createLiveFeed({
    kafka: stack.kafka,
    serde,
    topics: stack.topics,
    prefix: stack.prefix,
    hub,
    recent,
    log: stack.log,
  });
  await feed.start();
  app = await createQueryApi(
    parseQueryConfig({ port: 0, apiToken: READ, apiWriteToken: WRITE, dashboardDir: DEFAULT_DASHBOARD_DIR }),
    {
      backend: localQueryBackend(running.sink.backend()),
      log: stack.log,
      registry: createMetricsRegistry('dash-live', { defaultMetrics: false }),
      commands: {
        log: createCommandLog({ kafka: stack.kafka, serde, topic: stack.topics.commands }),
        silences: createSilenceClient({ url: 'http://127.0.0.1:9095', user: 'fleetgrid', password }),
      },
      live: hub,
      recentCommands: recent,
    },
  );
  origin = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  // Refresh off: whatever changes on the page came by push.
  await page.goto(`${origin}/#token=${READ}`);
  await waitForPage(
    page,
    "Number(document.body.dataset.refreshes || 0) >= 1 && document.body.dataset.live === 'open'",
  );
  // Choosing "off" refreshes once more (and then never).
  await page.selectOption('#refresh', '0');
  await waitForPage(page, 'Number(document.body.dataset.refreshes) >= 2');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await feed?.stop();
  await running?.stop();
  await stack?.cleanup();
  data.remove();
}, 120_000);

describe('dashboard live push and alert actions', () => {
  it('shows a raised alert within 2 s without a reload, and acknowledges it from the page', async () => {
    const alert: Alert = {
      ...alertOf(`truck-live-${run}`, Date.now() - 30_000, 'RAISED'),
      alertId: randomUUID(),
    };
    const navigations = await page.evaluate('performance.getEntriesByType("navigation").length');
    const refreshes = await page.evaluate('document.body.dataset.refreshes');
    await produce(stack.topics.alerts, alert.deviceId, serde.encode('Alert', alert));
    const produced = Date.now();
    await waitForPage(
      page,
      `!!document.querySelector('#alerts tr[data-alert-id="${alert.alertId}"]')`,
      2_000,
    );
    const shownAfterMs = Date.now() - produced;
    expect(shownAfterMs).toBeLessThan(2_000);
    // No reload and no refresh of the page: the row came by push.
    expect(await page.evaluate('performance.getEntriesByType("navigation").length')).toBe(navigations);
    expect(await page.evaluate('document.body.dataset.refreshes')).toBe(refreshes);
    const cells: string[] = await page.$$eval(`#alerts tr[data-alert-id="${alert.alertId}"] td`, (tds) =>
      tds.map((td) => td.textContent ?? ''),
    );
    expect(cells[2]).toBe(alert.rule);
    expect(cells[6]).toBe(alert.message);

    // The sink must have the alert before the API accepts a command on it.
    expect(
      await waitFor(async () => (await api(`/api/v1/alerts/${alert.alertId}`)).status === 200, 30_000),
    ).toBe(true);
    const row = `#alerts tr[data-alert-id="${alert.alertId}"]`;
    // Without the write token the page asks for it and sends nothing.
    await page.click(`${row} button[data-action="ack"]`);
    expect(await page.textContent('#alerts [data-command-status]')).toMatch(/write token/);
    await page.fill('#alerts-token', WRITE);
    await page.fill('#alerts-by', '<b>night shift</b>');
    await page.click(`${row} button[data-action="ack"]`);
    await waitForPage(page, `document.querySelector('${row}')?.dataset.acknowledged === 'true'`, 10_000);
    const answer = await api(`/api/v1/alerts/${alert.alertId}`);
    expect(answer.body.acknowledged.by).toBe('<b>night shift</b>');
    expect(answer.body.history).toHaveLength(1);
    const ackCell = await page.$eval(`${row} td:nth-child(8)`, (td) => td.textContent ?? '');
    expect(ackCell.startsWith('<b>night shift</b>, ')).toBe(true);
    expect(await page.evaluate("document.querySelectorAll('main b').length")).toBe(0);
    // The write token is in memory only.
    expect(
      await page.evaluate('JSON.stringify(sessionStorage) + JSON.stringify(localStorage)'),
    ).not.toContain(WRITE);

    // Shelved from the page: an Alertmanager silence is made, the row says until when.
    await page.click(`${row} button[data-action="shelve"]`);
    await waitForPage(page, `document.querySelector('${row}')?.dataset.shelved === 'true'`, 10_000);
    expect(
      await waitFor(async () => (await api(`/api/v1/alerts/${alert.alertId}`)).body.shelved !== null, 30_000),
    ).toBe(true);
    await page.click(`${row} button[data-action="unshelve"]`);
    await waitForPage(page, `document.querySelector('${row}')?.dataset.shelved === undefined`, 10_000);

    // Resolved: gone from the open alerts, by push.
    const resolved: Alert = { ...alert, state: 'RESOLVED', resolvedAt: Date.now(), ts: Date.now() };
    await produce(stack.topics.alerts, alert.deviceId, serde.encode('Alert', resolved));
    await waitForPage(page, `!document.querySelector('${row}')`, 2_000);
    expect(problems).toEqual([]);
  }, 90_000);

  it('moves trucks on the map by push', async () => {
    const before = Number(await page.evaluate('document.getElementById("map").dataset.positions ?? 0'));
    const state = { ...deviceState(`truck-map-${run}`, 1, Date.now()), lat: 50.1, lon: 8.6 };
    await produce(stack.topics.deviceState, state.deviceId, serde.encode('DeviceState', state));
    await waitForPage(
      page,
      `Number(document.getElementById('map').dataset.positions ?? 0) === ${before + 1}`,
      3_000,
    );
    expect(problems).toEqual([]);
  }, 30_000);
});
