/**
 * Issue 11, findings 2 and 5: the built-in dashboard with hostile data, in a real browser.
 * The data goes the way an attacker's would: Avro events produced to the raw topics and
 * through the processor (real Kafka, registry, Redis) and the sink (chDB in a temp dir),
 * alert and dead-letter records produced to their topics and loaded by the sink, the API
 * reading through the sink's query endpoint. Markup hides in every text the page renders:
 * ids (refused at ingestion once ids are validated there; then they reach the dead-letter
 * topic and the page never sees them), diagnostic codes, alert rules and messages,
 * dead-letter codes and stages. A device stored before ids were validated (a 10,000-
 * character id, loaded straight into the projection) stands for old data.
 *
 * Asserted: no injected script runs (a flag the payloads would set, and no CSP violation,
 * which an attempt would report), every hostile text shows literally where the page shows
 * it, both with the page's Content-Security-Policy and with the policy bypassed (so the
 * escaping holds on its own); the page stays as wide as the window; the device paging
 * round-trips every stored id; the token is in no storage; the security headers are sent.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import type { OutgoingMessage } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { createProcessor, type Processor, parseProcessorConfig } from '../../processors/index.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { createLiveHub } from '../../query/live.ts';
import { createQueryApi, DEFAULT_DASHBOARD_DIR } from '../../query/server.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import type { Alert, RawEvent } from '../../schemas/types.ts';
import { type ClickHouseSink, createClickHouseSink, parseSinkConfig } from '../../sinks/index.ts';
import { createRemoteBackend, querySecret } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import { createProcessorStack, deleteKeys, quickProcessorOptions, truck } from '../processors/helpers.ts';
import { launchChromium, waitForPage } from '../../query/dashboard/browser.ts';

const TOKEN = 'hostile-test-token-0123456789';
const VIEWPORT = { width: 1400, height: 1300 };

/** Each payload would add its name to window.__pwned if it ever ran. */
const pwn = (name: string) => `<img src=x onerror="(window.__pwned=window.__pwned||[]).push('${name}')">`;

const HOSTILE_SITE = `probe-${pwn('site')}`;
const HOSTILE_DEVICE = `probe-<svg onload="(window.__pwned=window.__pwned||[]).push('device')"></svg>`;
const LONG_DEVICE = `long-${'L'.repeat(10_000)}`;
const LEGACY_DEVICE = `legacy-${'x'.repeat(10_000)}`;
const LEGACY_SITE = `legacy-site-${'y'.repeat(5_000)}`;
const HOSTILE_CODE = `P0217${pwn('code')}`;
const ALERT_RULE = `rule.${'<script>'}(window.__pwned=window.__pwned||[]).push('rule')</script>`;
const ALERT_MODEL = `model-${pwn('alert-model')}`;
const ALERT_DRIVER = `driver-${pwn('alert-driver')}`;
const ALERT_MESSAGE = `overheat ${pwn('message')} & "quoted" 'text'`;
/** The sink's and processor's drain bound here: by teardown they hold nothing to drain. */
const DRAIN_TIMEOUT_MS = 5_000;
const DLQ_CODE = `CODE_${pwn('dlq-code')}`;
const DLQ_STAGE = `stage<b>bold</b>`;

/** The trucks produced through Kafka: id, site, position. */
const TRUCKS: [string, string, number, number][] = [
  ['probe-a', HOSTILE_SITE, 48, 4],
  ['probe-b', 'depot-safe', 51, 9],
  [HOSTILE_DEVICE, 'depot-other', 54, 14],
  [LONG_DEVICE, 'depot-long', 44, 12],
];

let stack: TestStack;
let serde: Serde;
let dir: string;
let redis: Redis;
let redisKeyPrefix: string;
let processor: Processor | undefined;
let sink: ClickHouseSink | undefined;
let api: FastifyInstance | undefined;
let origin: string;
let browser: Browser;
const alertId = `alert-${randomUUID()}`;

async function get(path: string) {
  const response = await fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status, path).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: answers are compared with the page field by field.
  return (await response.json()) as any;
}

async function storedRows(sql: string): Promise<Record<string, unknown>[]> {
  return (sink as ClickHouseSink).backend().query(sql);
}

/** Every produced truck is either stored or dead-lettered (ingestion may refuse its id). */
async function pipelineSettled(): Promise<boolean> {
  const states = new Set(
    (await storedRows('SELECT device_id FROM device_state FINAL')).map((r) => String(r.device_id)),
  );
  const refused = new Set((await storedRows('SELECT key FROM dead_letters')).map((r) => String(r.key)));
  const diagnosed = await storedRows(
    "SELECT active_diagnostic_codes AS c FROM device_state FINAL WHERE device_id = 'probe-b'",
  );
  const alerts = await storedRows('SELECT alert_id FROM alerts');
  const dead = await storedRows('SELECT error_code FROM dead_letters WHERE source_offset = 424242');
  return (
    TRUCKS.every(([id]) => states.has(id) || refused.has(id)) &&
    (diagnosed[0]?.c as string[] | undefined)?.includes(HOSTILE_CODE) === true &&
    alerts.length > 0 &&
    dead.length > 0
  );
}

async function until(what: string, timeoutMs: number, step: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await step())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  stack = await createProcessorStack('dash-hostile', 1);
  serde = createSerde(stack.config.registry, { topics: stack.topics });
  await serde.registerAll();
  const now = Date.now();

  // 1. Raw events through the raw topic: three samples per truck, and a diagnostic.
  const events: RawEvent[] = [];
  for (const [deviceId, siteId, lat, lon] of TRUCKS) {
    for (let i = 0; i < 3; i++) {
      const event = truck(deviceId, i + 1, now - 90_000 + i * 30_000, { siteId, lat, lon });
      event.value.eventId = randomUUID();
      events.push(event);
    }
  }
  events.push({
    type: 'DiagnosticReported',
    value: {
      eventId: randomUUID(),
      deviceId: 'probe-b',
      siteId: 'depot-safe',
      ts: now - 45_000,
      seq: 4,
      code: HOSTILE_CODE,
      severity: 'WARNING',
      description: `cooling ${pwn('description')}`,
      active: true,
    },
  });
  events.sort((a, b) => a.value.ts - b.value.ts);
  const producer = stack.kafka.producer();
  await producer.connect();
  try {
    await producer.send(
      stack.topics.truck,
      events.map((e) => ({ key: e.value.deviceId, value: serde.encode(e.type, e.value as never) })),
    );
    // 2. An alert and a dead letter with markup in their texts, produced to their topics.
    const alert: Alert = {
      alertId,
      rule: ALERT_RULE,
      deviceId: 'probe-b',
      siteId: 'depot-safe',
      kind: 'TRUCK',
      // Registry fields are data too (whoever writes the registry or the topic).
      model: ALERT_MODEL,
      driverId: ALERT_DRIVER,
      ruleVersion: 3,
      state: 'RAISED',
      severity: 'CRITICAL',
      raisedAt: now - 40_000,
      resolvedAt: null,
      ts: now - 40_000,
      value: 110,
      threshold: 105,
      message: ALERT_MESSAGE,
    };
    await producer.send(stack.topics.alerts, [{ key: 'probe-b', value: serde.encode('Alert', alert) }]);
    const deadLetter: OutgoingMessage = {
      key: 'probe-dlq',
      value: Buffer.from('garbage'),
      headers: {
        [DLQ_HEADERS.code]: DLQ_CODE,
        [DLQ_HEADERS.message]: `bad ${pwn('dlq-message')}`,
        [DLQ_HEADERS.stage]: DLQ_STAGE,
        [DLQ_HEADERS.sourceTopic]: stack.topics.truck,
        [DLQ_HEADERS.sourcePartition]: '0',
        [DLQ_HEADERS.sourceOffset]: '424242',
        [DLQ_HEADERS.failedAt]: String(now - 30_000),
      },
    };
    await producer.send(stack.topics.dlq, [deadLetter]);
  } finally {
    await producer.disconnect();
  }

  // 3. The sink (embedded engine in a temp dir, its query endpoint on a free port) and the processor.
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-hostile-'));
  const app = {
    ...stack.config,
    clickhouse: { mode: 'embedded' as const, dataDir: dir, database: 'fleetgrid' },
  };
  sink = createClickHouseSink(
    app,
    parseSinkConfig({
      groupId: stack.group('sink'),
      lingerMs: 100,
      queryPort: 0,
      sessionTimeoutMs: 6_000,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
    }),
    {
      kafka: stack.kafka,
      serde,
      log: stack.log,
      registry: createMetricsRegistry('hostile-sink', { defaultMetrics: false }),
    },
  );
  await sink.start();
  redisKeyPrefix = `fleetgrid-hostile-${randomUUID().slice(0, 8)}`;
  redis = new Redis(stack.config.redis.url, { maxRetriesPerRequest: 3 });
  processor = createProcessor(
    {
      ...parseProcessorConfig({
        ...quickProcessorOptions(1, redisKeyPrefix),
        drainTimeoutMs: DRAIN_TIMEOUT_MS,
      }),
      topicPrefix: stack.prefix,
    },
    {
      kafka: stack.kafka,
      redis,
      serde,
      metrics: createMetricsRegistry('hostile-processor', { defaultMetrics: false }),
      log: stack.log,
    },
  );
  await processor.start();
  await until('the pipeline to store or refuse every record', 60_000, pipelineSettled);

  // 4. A device stored before ids were validated at ingestion: straight into the projection.
  await sink.backend().insert('device_state', [
    {
      device_id: LEGACY_DEVICE,
      site_id: LEGACY_SITE,
      kind: 'TRUCK',
      last_seen: now - 60_000,
      last_event_id: randomUUID(),
      seq: 1,
      event_count: 1,
      lat: 46,
      lon: 0,
      speed_kmh: 10,
      engine_on: true,
      fuel_pct: 50,
      active_diagnostic_codes: [HOSTILE_CODE],
      open_alerts: [],
      kafka_partition: 0,
      kafka_offset: 0,
    },
  ]);

  // 5. The query API with a token, reading through the sink's endpoint, serving the dashboard.
  const queryUrl = sink.queryUrl();
  if (!queryUrl) throw new Error('the embedded sink serves no query endpoint');
  api = await createQueryApi(
    parseQueryConfig({ port: 0, apiToken: TOKEN, dashboardDir: DEFAULT_DASHBOARD_DIR }),
    {
      backend: createRemoteBackend(queryUrl, { secret: querySecret(app) }),
      log: silentLogger,
      registry: createMetricsRegistry('hostile-query', { defaultMetrics: false }),
      // The page opens its live stream; the hostile records were stored before it started.
      live: createLiveHub({ now: Date.now }),
    },
  );
  origin = await api.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await api?.close().catch(() => {});
  await processor?.stop().catch(() => {});
  await sink?.stop().catch(() => {});
  if (redis) {
    await deleteKeys(redis, `${redisKeyPrefix}:*`);
    await redis.quit();
  }
  await stack?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  // Two drains of DRAIN_TIMEOUT_MS at most, then topic deletion, on a machine shared with
  // another test file: the project's hook timeout, not less (a 60 s bound failed a CI run).
}, 120_000);

interface Loaded {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

/** Opens the dashboard with the token in the fragment and waits for its first refresh. */
async function openDashboard(options: { bypassCSP: boolean }): Promise<Loaded> {
  const context = await browser.newContext({ viewport: VIEWPORT, bypassCSP: options.bypassCSP });
  // Before any script of the page: record what the policy blocked.
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI));",
  );
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(`${origin}/#token=${TOKEN}`);
  await waitForPage(page, 'Number(document.body.dataset.refreshes || 0) >= 1');
  return { context, page, problems };
}

async function checkPage(loaded: Loaded): Promise<void> {
  const { page } = loaded;
  const { devices } = await get('/api/v1/devices?kind=truck&limit=1000');
  const trucks = devices as { deviceId: string; siteId: string; activeDiagnosticCodes: string[] }[];
  // Stored trucks: the safe ones always; the hostile ids unless ingestion refused them.
  expect(trucks.map((t) => t.deviceId)).toEqual(expect.arrayContaining(['probe-b', LEGACY_DEVICE]));

  // Every placed truck is a marker whose title (an attribute, not markup) starts with its id.
  const titles: string[] = await page.$$eval('#map .leaflet-marker-icon.device-marker', (icons) =>
    icons.map((i) => i.getAttribute('title') ?? ''),
  );
  expect(titles.map((t) => t.slice(0, t.lastIndexOf(' · '))).sort()).toEqual(
    trucks.map((t) => t.deviceId).sort(),
  );

  // Site labels on the map, as text.
  const labels: string[] = await page.$$eval('#map [data-label-kind="site"]', (nodes) =>
    nodes.map((n) => n.textContent ?? ''),
  );
  for (const site of new Set(trucks.map((t) => t.siteId))) expect(labels).toContain(`${site} (1)`);
  // The sites table lists the ids as text (a link only for an id the API serves).
  const sites: string[] = await page.$$eval('#sites tbody tr td:first-child', (cells) =>
    cells.map((c) => c.textContent ?? ''),
  );
  expect(sites.sort()).toEqual([...new Set(trucks.map((t) => t.siteId))].sort());
  expect(await page.locator('#sites a[href*="<"]').count()).toBe(0);

  // The alert, its rule and message as text.
  const row: string[] = await page.$$eval(`#alerts tr[data-alert-id="${alertId}"] td`, (cells) =>
    cells.map((c) => c.textContent ?? ''),
  );
  expect(row[2]).toBe(ALERT_RULE);
  expect(row[6]).toBe(ALERT_MESSAGE);
  expect([row[9], row[10]]).toEqual([ALERT_MODEL, ALERT_DRIVER]);
  // The dead letter's code and stage as text.
  const dead: string[] = await page.$$eval('#health-dlq li', (items) =>
    items.map((i) => i.textContent ?? ''),
  );
  expect(dead.some((text) => text.startsWith(`${DLQ_CODE} (${DLQ_STAGE}): 1, last `))).toBe(true);

  // Nothing injected ran, nothing was even attempted against the policy, nothing became markup.
  expect(await page.evaluate('window.__pwned ?? null')).toBeNull();
  expect(await page.evaluate('window.__violations ?? []')).toEqual([]);
  expect(
    await page.evaluate(
      "document.querySelectorAll('main img, main svg:not(.leaflet-zoom-animated), main script, main b').length",
    ),
  ).toBe(0);
  expect(loaded.problems).toEqual([]);

  // However long the ids, the page is as wide as the window.
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(VIEWPORT.width);
  expect(await page.evaluate('document.body.scrollWidth')).toBeLessThanOrEqual(VIEWPORT.width);

  // probe-b's page: its active codes and its diagnostic history show the hostile code as text.
  // Followed from the alert's link: a reload would need the token in the fragment again.
  await page.locator('#alerts a[href^="/devices/probe-b"]').first().click();
  await waitForPage(
    page,
    "document.body.dataset.page === 'device' && Number(document.body.dataset.refreshes || 0) >= 1",
  );
  expect(await page.locator('[data-codes]').textContent()).toBe(`active codes: ${HOSTILE_CODE}`);
  expect(
    await page.$$eval('#diagnostics td:nth-child(2)', (cells) => cells.map((c) => c.textContent)),
  ).toContain(HOSTILE_CODE);
  expect(await page.evaluate('window.__pwned ?? null')).toBeNull();
  expect(await page.evaluate('window.__violations ?? []')).toEqual([]);
  expect(await page.evaluate('document.querySelectorAll("main img, main script, main b").length')).toBe(0);
  expect(loaded.problems).toEqual([]);
}

describe('the built-in dashboard with hostile data', () => {
  it('shows every hostile text as text and runs none of it, under its Content-Security-Policy', async () => {
    const loaded = await openDashboard({ bypassCSP: false });
    try {
      await checkPage(loaded);
      mkdirSync(join(PROJECT_ROOT, '.data', 'screenshots'), { recursive: true });
      await loaded.page.screenshot({
        path: join(PROJECT_ROOT, '.data', 'screenshots', 'hostile-dashboard.png'),
      });
    } finally {
      await loaded.context.close();
    }
  });

  it('escapes on its own: the same with the policy bypassed', async () => {
    const loaded = await openDashboard({ bypassCSP: true });
    try {
      await checkPage(loaded);
    } finally {
      await loaded.context.close();
    }
  });

  it('keeps the token out of every storage and the address bar', async () => {
    const loaded = await openDashboard({ bypassCSP: false });
    try {
      expect(await loaded.page.evaluate('location.hash')).toBe('');
      expect(await loaded.page.evaluate('sessionStorage.length + localStorage.length')).toBe(0);
      expect(await loaded.page.evaluate('document.cookie')).toBe('');
      // The page still reads the API with it.
      expect(await loaded.page.locator('[data-error-for="figures"]').isHidden()).toBe(true);
    } finally {
      await loaded.context.close();
    }
  });

  it('pages through every stored device, whatever its id', async () => {
    const { devices: all } = await get('/api/v1/devices?limit=1000');
    expect(all.map((d: { deviceId: string }) => d.deviceId)).toContain(LEGACY_DEVICE);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/api/v1/devices?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      paged.push(...page.devices.map((d: { deviceId: string }) => d.deviceId));
      cursor = page.nextCursor;
    } while (cursor && paged.length <= all.length);
    expect(paged).toEqual(all.map((d: { deviceId: string }) => d.deviceId));
  });

  it('sends the security headers with the page, its files and the API', async () => {
    for (const path of [
      '/',
      '/devices/probe-b',
      '/js/app.js',
      '/style.css',
      '/vendor/leaflet/leaflet.js',
      '/vendor/world-atlas/countries-50m.json',
      '/basemap/cities.json',
      '/api/v1/alerts',
    ]) {
      const response = await fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.status, path).toBe(200);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });
});
