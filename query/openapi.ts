/**
 * The OpenAPI 3.1 document of the API, generated from the same zod schemas that validate
 * the requests (params.ts), so the document cannot disagree with the validation. Served
 * as JSON at /docs/json and as a small self-contained page at /docs (no CDN assets: the
 * API runs on machines without Internet access).
 */
import { z } from 'zod';
import { schemas } from './params.ts';
import * as bodies from './responses.ts';

type Schema = z.ZodObject;

const descriptions: Record<string, string> = {
  from: 'Start of the range, inclusive: ISO 8601 with a zone (2026-01-31T12:00:00Z) or a date (UTC midnight).',
  to: 'End of the range, exclusive; default now.',
  asOf: 'Rebuild the state as of this moment by folding the device events up to it (ISO 8601).',
  step: 'raw | 1m | 1h | 1d | auto (finest step with at most about 1,000 points).',
  metric: 'An Avro field name of the device kind or a derived window figure.',
  cursor: 'nextCursor of the previous page.',
  limit: 'Page size, 1-1000 (default 100).',
  state: 'open | resolved | all (default open).',
};

function parameters(schema: Schema, where: 'query' | 'path') {
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = z.toJSONSchema(field as z.ZodType, { io: 'input', unrepresentable: 'any' }) as Record<
      string,
      unknown
    >;
    delete json.$schema;
    return {
      name,
      in: where,
      required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      ...(descriptions[name] ? { description: descriptions[name] } : {}),
      schema: json,
    };
  });
}

const errorResponse = {
  description: 'Error',
  content: { 'application/json': { schema: bodies.jsonSchema(bodies.errorBody) } },
};

function op(summary: string, params: ReturnType<typeof parameters>, body: z.ZodType, description?: string) {
  return {
    get: {
      summary,
      ...(description ? { description } : {}),
      parameters: params,
      responses: {
        200: { description: 'OK', content: { 'application/json': { schema: bodies.jsonSchema(body) } } },
        400: errorResponse,
        401: errorResponse,
        404: errorResponse,
        503: errorResponse,
        504: errorResponse,
      },
    },
  };
}

export function openApiDocument(options: { tokenRequired: boolean }) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'fleetgrid query API',
      version: '1.0.0',
      description:
        'Read side of fleetgrid: aggregated statistics, device state (with event-sourced time travel), series, energy, alerts and pipeline health. Times are ISO 8601 UTC. See docs/query.md for formulas and caps.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    ...(options.tokenRequired ? { security: [{ bearer: [] }] } : {}),
    paths: {
      '/api/v1/fleet/summary': op(
        'Fleet summary per device kind',
        parameters(schemas.summary, 'query'),
        bodies.summaryBody,
      ),
      '/api/v1/devices': op(
        'Devices with their latest state',
        parameters(schemas.devices, 'query'),
        bodies.devicesBody,
      ),
      '/api/v1/devices/{deviceId}/state': op(
        'Latest state, or the state as of a past moment',
        [...parameters(schemas.deviceId, 'path'), ...parameters(schemas.state, 'query')],
        bodies.stateBody,
      ),
      '/api/v1/devices/{deviceId}/series': op(
        'Time series of one metric',
        [...parameters(schemas.deviceId, 'path'), ...parameters(schemas.series, 'query')],
        bodies.seriesBody,
      ),
      '/api/v1/sites/{siteId}/energy': op(
        'Energy of a site per step',
        [...parameters(schemas.siteId, 'path'), ...parameters(schemas.energy, 'query')],
        bodies.energyBody,
      ),
      '/api/v1/alerts': op('Alerts', parameters(schemas.alerts, 'query'), bodies.alertsBody),
      '/api/v1/pipeline/health': op(
        'Consumer lag, freshness, dead letters, backpressure',
        [],
        bodies.healthBody,
        'Parts that cannot be reached (Kafka, a service /metrics) are reported with an error field instead of failing the request.',
      ),
      '/healthz': {
        get: { summary: 'Liveness', security: [], responses: { 200: { description: 'alive' } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: ClickHouse answers',
          security: [],
          responses: { 200: { description: 'ready' }, 503: errorResponse },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text' } } },
      },
    },
  };
}

/** A readable page listing the operations; the JSON document is the machine-readable form. */
export function docsPage(document: ReturnType<typeof openApiDocument>): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const rows = Object.entries(document.paths)
    .map(([path, item]) => {
      const get = (
        item as {
          get: {
            summary: string;
            parameters?: { name: string; in: string; required: boolean; description?: string }[];
          };
        }
      ).get;
      const params = (get.parameters ?? [])
        .map(
          (p) =>
            `<li><code>${esc(p.name)}</code> (${p.in}${p.required ? ', required' : ''})${p.description ? ` — ${esc(p.description)}` : ''}</li>`,
        )
        .join('');
      return `<h3><code>GET ${esc(path)}</code></h3><p>${esc(get.summary)}</p>${params ? `<ul>${params}</ul>` : ''}`;
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(document.info.title)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body><h1>${esc(document.info.title)}</h1><p>${esc(document.info.description)}</p>
<p>OpenAPI document: <a href="/docs/json">/docs/json</a></p>${rows}</body></html>`;
}
