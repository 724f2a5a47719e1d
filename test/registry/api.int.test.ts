/**
 * The registry endpoints of the query API on a real PostgreSQL (a scratch database) and the
 * real embedded ClickHouse engine the API reads otherwise: the write token guards every
 * write (also when no read token is set), reads follow the read token, ETag/If-Match give
 * optimistic concurrency, bad writes are 4xx with the documented {error, message} shape and
 * write nothing, and a registry database that is down costs only the registry routes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { healthBody } from '../../query/responses.ts';
import { createQueryApi } from '../../query/server.ts';
import {
  createConnectClient,
  createPool,
  createRegistryService,
  parseRegistryConfig,
  type RegistryService,
  registryHealth,
} from '../../registry/index.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { migrationVariables, parseSinkConfig } from '../../sinks/config.ts';
import { migrate } from '../../clickhouse/index.ts';
import { localQueryBackend } from '../../clickhouse/index.ts';
import { createScratchDatabase, type ScratchDatabase } from './postgres.ts';

const READ = 'read-token-0123456789abcdef';
const WRITE = 'write-token-0123456789abcdef';
const read = { authorization: `Bearer ${READ}` };
const write = { authorization: `Bearer ${WRITE}` };

let db: ScratchDatabase;
let dir: string;
let engine: ClickHouseBackend;
let service: RegistryService;
const apps: FastifyInstance[] = [];

async function api(tokens: { apiToken?: string; apiWriteToken?: string }, registry = service) {
  const app = await createQueryApi(parseQueryConfig({ port: 0, ...tokens }), {
    backend: localQueryBackend(engine),
    log: silentLogger,
    registry: createMetricsRegistry('registry-api-test', { defaultMetrics: false }),
    fleetRegistry: registry,
  });
  apps.push(app);
  return app;
}

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field.
type Json = Record<string, any>;

async function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  headers: Record<string, string> = {},
  payload?: unknown,
) {
  const response = await app.inject({
    method,
    url,
    headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });
  return {
    status: response.statusCode,
    etag: response.headers.etag,
    location: response.headers.location,
    body: (response.body ? response.json() : undefined) as Json,
  };
}

async function rows() {
  return db.sql(
    `SELECT id, version FROM registry.sites UNION ALL SELECT id, version FROM registry.devices
     UNION ALL SELECT id, version FROM registry.alert_rules ORDER BY 1`,
  );
}

const site = {
  id: 'wf-horns-rev',
  kind: 'wind_farm',
  name: 'Horns Rev',
  lat: 55.53,
  lon: 7.91,
  timeZone: 'Europe/Copenhagen',
  capacityKw: 6000,
};
const turbine = {
  id: 'turbine-00001',
  kind: 'turbine',
  siteId: 'wf-horns-rev',
  model: 'generic-3mw-112',
  ratedKw: 3000,
  powerCurve: 'generic-3mw-112',
};

beforeAll(async () => {
  db = await createScratchDatabase('registry-api');
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-registry-api-'));
  engine = await createEmbeddedBackend({ mode: 'embedded', dataDir: dir, database: 'fleetgrid' });
  await migrate(engine, migrationVariables(parseSinkConfig()));
  service = createRegistryService(parseRegistryConfig(), { pool: db.pool(), log: silentLogger });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await service?.close();
  await engine?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('registry API: who may write', () => {
  it('refuses every write when the server has no write token, even with no read token set', async () => {
    const app = await api({});
    const post = await call(app, 'POST', '/api/v1/registry/sites', {}, site);
    expect(post).toMatchObject({
      status: 403,
      body: { error: 'forbidden', message: expect.stringContaining('API_WRITE_TOKEN') },
    });
    const put = await call(
      app,
      'PUT',
      '/api/v1/registry/sites/wf-horns-rev',
      { authorization: 'Bearer anything-at-all' },
      site,
    );
    expect(put.status).toBe(403);
    // Reads stay open in that configuration, as the rest of the API is.
    expect((await call(app, 'GET', '/api/v1/registry/sites')).status).toBe(200);
    expect(await rows()).toEqual([]);
  });

  it('wants the write token for writes: none or a wrong one is 401, the read token is 403', async () => {
    const app = await api({ apiToken: READ, apiWriteToken: WRITE });
    const none = await call(app, 'POST', '/api/v1/registry/sites', {}, site);
    expect(none.status).toBe(401); // the read check already refuses it
    const wrong = await call(
      app,
      'POST',
      '/api/v1/registry/sites',
      { authorization: 'Bearer wrong-token-0123456789abcdef' },
      site,
    );
    expect(wrong).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    const readOnly = await call(app, 'POST', '/api/v1/registry/sites', read, site);
    expect(readOnly).toMatchObject({
      status: 403,
      body: { error: 'forbidden', message: 'the read token cannot write; use the write token' },
    });
    const del = await call(app, 'DELETE', '/api/v1/registry/sites/wf-horns-rev', {
      ...read,
      'if-match': '"1"',
    });
    expect(del.status).toBe(403);
    expect(await rows()).toEqual([]);
  });

  it('refuses a write token equal to the read token', () => {
    expect(() => parseQueryConfig({ apiToken: READ, apiWriteToken: READ })).toThrow(
      /must differ from API_TOKEN/,
    );
  });

  it('lets reads follow the read token (the write token reads too)', async () => {
    const app = await api({ apiToken: READ, apiWriteToken: WRITE });
    expect((await call(app, 'GET', '/api/v1/registry/devices')).status).toBe(401);
    expect((await call(app, 'GET', '/api/v1/registry/devices', read)).status).toBe(200);
    expect((await call(app, 'GET', '/api/v1/registry/devices', write)).status).toBe(200);
  });
});

describe('registry API: writing', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await api({ apiToken: READ, apiWriteToken: WRITE });
  });

  it('creates rows (201, ETag, Location) and reads them back with the same ETag', async () => {
    const created = await call(app, 'POST', '/api/v1/registry/sites', write, site);
    expect(created).toMatchObject({
      status: 201,
      location: '/api/v1/registry/sites/wf-horns-rev',
      body: { id: 'wf-horns-rev', capacityKw: 6000 },
    });
    expect(created.etag).toBe(`"${created.body.version}"`);
    const device = await call(app, 'PUT', '/api/v1/registry/devices/turbine-00001', write, turbine);
    expect(device).toMatchObject({ status: 201, body: { status: 'active', ratedKw: 3000 } });
    const got = await call(app, 'GET', '/api/v1/registry/devices/turbine-00001', read);
    expect(got).toMatchObject({
      status: 200,
      etag: device.etag,
      body: { id: 'turbine-00001', siteId: 'wf-horns-rev' },
    });
    const list = await call(app, 'GET', '/api/v1/registry/devices?kind=turbine&siteId=wf-horns-rev', read);
    expect(list.body).toEqual({ items: [got.body], nextCursor: null });
  });

  it('changes a row only with If-Match of the current version: 428 without, 409 when stale', async () => {
    const got = await call(app, 'GET', '/api/v1/registry/devices/turbine-00001', read);
    const maintenance = { ...got.body, status: 'maintenance' };
    const blind = await call(app, 'PUT', '/api/v1/registry/devices/turbine-00001', write, maintenance);
    expect(blind).toMatchObject({ status: 428, body: { error: 'precondition_required' }, etag: got.etag });
    const changed = await call(
      app,
      'PUT',
      '/api/v1/registry/devices/turbine-00001',
      { ...write, 'if-match': got.etag as string },
      maintenance,
    );
    expect(changed).toMatchObject({ status: 200, body: { status: 'maintenance' } });
    expect(changed.etag).not.toBe(got.etag);
    const stale = await call(
      app,
      'PUT',
      '/api/v1/registry/devices/turbine-00001',
      { ...write, 'if-match': got.etag as string },
      { ...got.body, status: 'active' },
    );
    expect(stale).toMatchObject({
      status: 409,
      etag: changed.etag,
      body: { error: 'conflict', message: expect.stringContaining('changed: the write expected version') },
    });
    const same = await call(
      app,
      'PUT',
      '/api/v1/registry/devices/turbine-00001',
      { ...write, 'if-match': changed.etag as string },
      changed.body,
    );
    expect(same).toMatchObject({ status: 200, etag: changed.etag });
    expect((await call(app, 'GET', '/api/v1/registry/devices/turbine-00001', read)).body.status).toBe(
      'maintenance',
    );
  });

  it('answers bad writes with 400 naming the problem, and writes nothing', async () => {
    const before = await rows();
    const bad: [string, string, unknown, RegExp][] = [
      [
        'POST',
        '/api/v1/registry/devices',
        { ...turbine, id: 'turbine-00002', siteId: 'wf-nowhere' },
        /unknown site wf-nowhere/,
      ],
      [
        'POST',
        '/api/v1/registry/sites',
        { ...site, id: 'wf-neg', capacityKw: -1 },
        /capacityKw must not be negative/,
      ],
      [
        'POST',
        '/api/v1/registry/devices',
        { ...turbine, id: 'turbine-00003', ratedKw: -3000 },
        /ratedKw must be positive/,
      ],
      ['PUT', '/api/v1/registry/sites/bad%20id', site, /id: not a registry id/],
      ['POST', '/api/v1/registry/sites', { ...site, id: '<script>' }, /id must be 1-128 letters/],
      [
        'POST',
        '/api/v1/registry/rules',
        {
          ruleId: 'turbine.high_vibration',
          scope: 'site',
          scopeId: 'wf-horns-rev',
          params: { limitMmS: -7 },
        },
        /limitMmS must be positive/,
      ],
      [
        'POST',
        '/api/v1/registry/rules',
        { ruleId: 'turbine.high_vibration', scope: 'kind', scopeId: 'truck' },
        /a kind scope must be "turbine"/,
      ],
      [
        'PUT',
        '/api/v1/registry/rules/turbine.high_vibration:site:wf-horns-rev',
        { params: { surprise: 1 } },
        /unknown parameter\(s\) of turbine.high_vibration: surprise/,
      ],
      ['POST', '/api/v1/registry/sites', [1, 2], /a site must be a JSON object/],
    ];
    for (const [method, url, payload, message] of bad) {
      const answer = await call(app, method as 'POST', url, write, payload);
      expect({ url, status: answer.status, body: answer.body }).toEqual({
        url,
        status: 400,
        body: { error: 'bad_request', message: expect.stringMatching(message) },
      });
    }
    const ifMatch = await call(
      app,
      'PUT',
      '/api/v1/registry/sites/wf-horns-rev',
      { ...write, 'if-match': '*' },
      site,
    );
    expect(ifMatch).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('If-Match must be the ETag') },
    });
    expect(await rows()).toEqual(before);
  });

  it('sets rule parameters by scope through the id, and deletes at a version; 409 while referenced', async () => {
    const rule = await call(
      app,
      'PUT',
      '/api/v1/registry/rules/turbine.high_vibration:device:turbine-00001',
      write,
      { params: { limitMmS: 9, resolveAtOrBelowMmS: 6 } },
    );
    expect(rule).toMatchObject({
      status: 201,
      body: {
        ruleId: 'turbine.high_vibration',
        scope: 'device',
        params: { limitMmS: 9, resolveAtOrBelowMmS: 6, forMs: 60_000 },
      },
    });
    const device = await call(app, 'GET', '/api/v1/registry/devices/turbine-00001', read);
    const referenced = await call(app, 'DELETE', '/api/v1/registry/devices/turbine-00001', {
      ...write,
      'if-match': device.etag as string,
    });
    expect(referenced).toMatchObject({
      status: 409,
      body: { error: 'conflict', message: expect.stringContaining('alert rules still refer to it') },
    });
    expect(
      (await call(app, 'DELETE', '/api/v1/registry/rules/turbine.high_vibration:device:turbine-00001', write))
        .status,
    ).toBe(428);
    expect(
      (
        await call(app, 'DELETE', '/api/v1/registry/rules/turbine.high_vibration:device:turbine-00001', {
          ...write,
          'if-match': rule.etag as string,
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await call(app, 'DELETE', '/api/v1/registry/devices/turbine-00001', {
          ...write,
          'if-match': device.etag as string,
        })
      ).status,
    ).toBe(204);
    expect(await call(app, 'GET', '/api/v1/registry/devices/turbine-00001', read)).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });
  });

  it('documents the registry endpoints in the OpenAPI document', async () => {
    const doc = await call(app, 'GET', '/docs/json', read);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/registry/devices', '/api/v1/registry/rules/{id}']),
    );
    expect(Object.keys(doc.body.paths['/api/v1/registry/devices/{id}'])).toEqual(['get', 'put', 'delete']);
    expect(doc.body.components.securitySchemes.writeToken).toMatchObject({ scheme: 'bearer' });
  });
});

describe('registry API: pipeline health', () => {
  it('reports the registry CDC as its own part: unhealthy when no connector runs, never a failed request', async () => {
    const app = await createQueryApi(parseQueryConfig({ port: 0 }), {
      backend: localQueryBackend(engine),
      log: silentLogger,
      registry: createMetricsRegistry('registry-health-test', { defaultMetrics: false }),
      fleetRegistry: service,
      registryHealth: () =>
        registryHealth({
          connect: createConnectClient(loadConfig().connect),
          pool: db.pool(1),
          topicPrefix: 't-no-such-connector.',
        }),
    });
    apps.push(app);
    const health = await call(app, 'GET', '/api/v1/pipeline/health');
    expect(health.status).toBe(200);
    expect(healthBody.parse(health.body).registry).toEqual({
      available: true,
      healthy: false,
      database: { available: true },
      connector: { name: 't-no-such-connector.fleetgrid-registry-cdc', state: 'MISSING', tasks: [] },
      slot: null,
    });
  });
});

describe('registry API: the database down', () => {
  it('answers 503 on the registry routes while the rest of the API serves', async () => {
    // A port nobody listens on: connections are refused at once.
    const down = createRegistryService(parseRegistryConfig({ connectTimeoutMs: 1_000 }), {
      pool: createPool(
        { url: 'postgres://fleetgrid@127.0.0.1:1/fleetgrid', password: undefined },
        { max: 1, connectTimeoutMs: 1_000, statementTimeoutMs: 1_000, applicationName: 'test' },
        silentLogger,
      ),
      log: silentLogger,
    });
    try {
      const app = await api({ apiWriteToken: WRITE }, down);
      const answer = await call(app, 'GET', '/api/v1/registry/sites');
      expect(answer).toMatchObject({
        status: 503,
        body: { error: 'unavailable', message: 'registry database unavailable: POSTGRES_UNAVAILABLE' },
      });
      expect((await call(app, 'POST', '/api/v1/registry/sites', write, site)).status).toBe(503);
      expect((await call(app, 'GET', '/healthz')).status).toBe(200);
      expect((await call(app, 'GET', '/api/v1/alerts')).status).toBe(200);
    } finally {
      await down.close();
    }
  });
});
