import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../lib/errors.ts';
import { cliTime, requestPath } from './client.ts';
import { parseMetricsUrls } from './main.ts';
import { openApiDocument } from './openapi.ts';
import { isDashboardRoute, staticPath, toApiError } from './server.ts';
import { notFound } from './service.ts';

describe('toApiError', () => {
  it('maps error codes onto statuses with {error, message}', () => {
    expect(toApiError(new FleetgridError('INVALID_ARGUMENT', 'bad from'))).toEqual({
      status: 400,
      body: { error: 'bad_request', message: 'bad from' },
    });
    expect(toApiError(notFound('device x is unknown')).status).toBe(404);
    expect(toApiError(new FleetgridError('TIMEOUT', 'slow')).status).toBe(504);
    expect(toApiError(new FleetgridError('CLICKHOUSE_UNAVAILABLE', 'down')).status).toBe(503);
    const noTables = toApiError(
      new FleetgridError('CLICKHOUSE_REJECTED', 'x', { details: { clickhouseCode: 60 } }),
    );
    expect(noTables).toEqual({
      status: 503,
      body: {
        error: 'unavailable',
        message: 'projection tables missing: start `fleetgrid sink` once to create them',
      },
    });
  });

  it('keeps engine messages (SQL, internals) out of 500 answers', () => {
    const mapped = toApiError(new FleetgridError('CLICKHOUSE_REJECTED', 'Syntax error near SELECT secret'));
    expect(mapped.status).toBe(500);
    expect(mapped.body.message).not.toContain('secret');
  });
});

describe('staticPath', () => {
  it('resolves files under the root and index.html for directories', () => {
    expect(staticPath('/srv/www', '/')).toBe('/srv/www/index.html');
    expect(staticPath('/srv/www', '/app.js?v=1')).toBe('/srv/www/app.js');
  });

  it('never leaves the root', () => {
    expect(staticPath('/srv/www', '/../etc/passwd')).toBe('/srv/www/etc/passwd');
    expect(staticPath('/srv/www', '/%2e%2e/%2e%2e/etc/passwd')).toBe('/srv/www/etc/passwd');
    expect(staticPath('/srv/www', '/%00')).toBeUndefined();
    expect(staticPath('/srv/www', '/%E0%A4%A')).toBeUndefined();
  });
});

describe('CLI request paths', () => {
  it('encode ids and leave out unset parameters', () => {
    expect(requestPath('device', { id: 'a/b c', params: { asOf: undefined } })).toBe(
      '/api/v1/devices/a%2Fb%20c/state',
    );
    expect(
      requestPath('series', { id: 'truck-1', params: { metric: 'speedKmh', step: '1m', from: undefined } }),
    ).toBe('/api/v1/devices/truck-1/series?metric=speedKmh&step=1m');
  });
});

describe('CLI times', () => {
  it('resolve -15m, -6h, -7d against now and pass anything else through', () => {
    const now = Date.UTC(2026, 0, 8, 12);
    expect(cliTime('-6h', now)).toBe('2026-01-08T06:00:00.000Z');
    expect(cliTime('-7d', now)).toBe('2026-01-01T12:00:00.000Z');
    expect(cliTime('-15m', now)).toBe('2026-01-08T11:45:00.000Z');
    expect(cliTime('2026-01-01', now)).toBe('2026-01-01');
    expect(cliTime('yesterday', now)).toBe('yesterday');
    expect(cliTime(undefined, now)).toBeUndefined();
  });
});

describe('serve options', () => {
  it('parse name=url metrics endpoints', () => {
    expect(parseMetricsUrls(['sink=http://a/metrics,processors=http://b/metrics', ''])).toEqual({
      sink: 'http://a/metrics',
      processors: 'http://b/metrics',
    });
    expect(() => parseMetricsUrls(['http://a'])).toThrow(/name=url/);
  });
});

describe('OpenAPI document', () => {
  it('documents every endpoint with its parameters from the zod schemas', () => {
    const doc = openApiDocument({ tokenRequired: true });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const series = doc.paths['/api/v1/devices/{deviceId}/series'].get.parameters;
    expect(series.map((p) => `${p.in}:${p.name}:${p.required}`)).toEqual([
      'path:deviceId:true',
      'query:metric:true',
      'query:from:false',
      'query:to:false',
      'query:step:false',
      'query:format:false',
    ]);
    expect(openApiDocument({ tokenRequired: false })).not.toHaveProperty('security');
    const ok = doc.paths['/api/v1/fleet/summary'].get.responses[200].content['application/json'].schema;
    // Per kind, or per group with groupBy.
    const [perKind, perGroup] = ok.anyOf as unknown[];
    expect(perKind).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['truck', 'turbine', 'solar', 'alerts']),
    });
    expect(perGroup).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['groupBy', 'groups']),
    });
    // Alerts and device states carry the registry fields in force when they were processed.
    type Items = {
      properties: Record<
        string,
        { items: { required: string[]; properties: Record<string, { description?: string }> } }
      >;
    };
    const alerts = doc.paths['/api/v1/alerts'].get.responses[200].content['application/json'].schema as Items;
    const alert = alerts.properties.alerts!.items;
    expect(alert.required).toEqual(expect.arrayContaining(['model', 'driverId', 'ruleVersion']));
    expect(alert.properties.ruleVersion?.description).toMatch(/0: the built-in parameters/);
    const devices = doc.paths['/api/v1/devices'].get.responses[200].content['application/json']
      .schema as Items;
    expect(devices.properties.devices?.items.required).toEqual(expect.arrayContaining(['model', 'driverId']));
  });
});

describe('isDashboardRoute', () => {
  it('answers the drill-down pages with the dashboard, and nothing else', () => {
    expect(isDashboardRoute('/sites/depot-rotterdam')).toBe(true);
    expect(isDashboardRoute('/devices/truck-00001?from=2026-01-01')).toBe(true);
    expect(isDashboardRoute('/devices/truck%3A1/')).toBe(true);
    expect(isDashboardRoute('/devices/truck-1/track')).toBe(false);
    expect(isDashboardRoute('/api/v1/devices/truck-1')).toBe(false);
    expect(isDashboardRoute('/sites/')).toBe(false);
    expect(isDashboardRoute('/app.js')).toBe(false);
  });
});
