/**
 * The OpenAPI 3.1 document of the API, generated from the same zod schemas that validate
 * the requests (params.ts), so the document cannot disagree with the validation. Served
 * as JSON at /docs/json and as a small self-contained page at /docs (no CDN assets: the
 * API runs on machines without Internet access).
 */
import { PAGE_STYLE } from './headers.ts';
import { z } from 'zod';
import { schemas } from './params.ts';
import { registryOpenApiPaths } from './registry-routes.ts';
import { COMMAND_BODIES, COMMAND_VERBS } from './alert-actions.ts';
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
  siteId: 'Only the devices of this site.',
  groupBy:
    "kind | site | model | driver: one row per group and kind. model and driver are those each row carries (in force when the event was processed: a window counts under the driver of its own time); rows without them (older rows, or the registry join off) fall back to the registry's dimension tables (the device's current model and driver); devices the registry does not know are in a bucket with registered: false.",
  format: 'json (default) | csv (also chosen by Accept: text/csv).',
  tripId: 'A trip id of the trips list: <deviceId>:<epoch ms of its first sample>.',
  zoom: 'Map zoom level (0-22) the track is simplified for (1 pixel); without: every position.',
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
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        writeToken: { type: 'http', scheme: 'bearer', description: 'API_WRITE_TOKEN: needed by every write' },
      },
    },
    ...(options.tokenRequired ? { security: [{ bearer: [] }] } : {}),
    paths: {
      '/api/v1/fleet/summary': op(
        'Fleet summary per device kind, for the fleet or one site (siteId), or per group (groupBy); CSV with format=csv or Accept: text/csv',
        parameters(schemas.summary, 'query'),
        z.union([bodies.summaryBody, bodies.summaryGroupsBody]),
      ),
      '/api/v1/fleet/extent': op('Oldest and newest stored event', [], bodies.extentBody),
      '/api/v1/reference': op(
        'Alert thresholds and the power curve the dashboards draw',
        [],
        bodies.referenceBody,
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
      '/api/v1/devices/{deviceId}/diagnostics': op(
        "A truck's diagnostic code history",
        [...parameters(schemas.deviceId, 'path'), ...parameters(schemas.diagnostics, 'query')],
        bodies.diagnosticsBody,
      ),
      '/api/v1/devices/{deviceId}/status': op(
        "A turbine's or solar array's status timeline",
        [...parameters(schemas.deviceId, 'path'), ...parameters(schemas.status, 'query')],
        bodies.statusBody,
      ),
      '/api/v1/devices/{deviceId}/track': op(
        "A truck's track, simplified for a map zoom",
        [...parameters(schemas.deviceId, 'path'), ...parameters(schemas.track, 'query')],
        bodies.trackBody,
      ),
      '/api/v1/devices/{deviceId}/trips': op(
        "A truck's trips that start in the range (engine on to off; figures in docs/query.md)",
        [...parameters(schemas.deviceId, 'path'), ...parameters(schemas.trips, 'query')],
        bodies.tripsBody,
      ),
      '/api/v1/devices/{deviceId}/trips/{tripId}': op(
        'One trip with its track, simplified for a map zoom',
        [...parameters(schemas.tripId, 'path'), ...parameters(schemas.trip, 'query')],
        bodies.tripBody,
      ),
      '/api/v1/devices/{deviceId}/performance': op(
        'Energy, availability, capacity factor and performance ratio per step',
        [...parameters(schemas.deviceId, 'path'), ...parameters(schemas.performance, 'query')],
        bodies.performanceBody,
      ),
      '/api/v1/sites/{siteId}/energy': op(
        'Energy of a site per step',
        [...parameters(schemas.siteId, 'path'), ...parameters(schemas.energy, 'query')],
        bodies.energyBody,
      ),
      '/api/v1/alerts': op(
        'Alerts, with who acknowledged them, until when they are shelved and the history of commands',
        parameters(schemas.alerts, 'query'),
        bodies.alertsBody,
      ),
      '/api/v1/alerts/{alertId}': op(
        'One alert with its whole command history',
        parameters(schemas.alertId, 'path'),
        bodies.alertBody,
      ),
      ...alertCommandPaths(errorResponse),
      '/api/v1/stream': {
        get: {
          summary: 'Live push as Server-Sent Events',
          description:
            'Events: alert.raised, alert.resolved, alert.acknowledged, alert.shelved, alert.unshelved, alert.commented, device.state (at most one per device per second, the newest winning), reset (events after your Last-Event-ID are no longer kept: reload). Ids increase monotonically; send the last one as Last-Event-ID to resume. Comment lines keep the connection alive.',
          parameters: [
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description: 'The id of the last event received: the events after it are sent first.',
              schema: { type: 'string', pattern: '^\\d{1,16}$' },
            },
          ],
          responses: {
            200: {
              description: 'An event stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            401: errorResponse,
            503: errorResponse,
          },
        },
      },
      '/api/v1/pipeline/health': op(
        'Consumer lag, freshness, dead letters, backpressure',
        [],
        bodies.healthBody,
        'Parts that cannot be reached (Kafka, a service /metrics) are reported with an error field instead of failing the request.',
      ),
      ...registryOpenApiPaths(errorResponse),
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

const COMMAND_SUMMARIES = {
  ack: 'Acknowledge an open alert',
  shelve: 'Shelve an open alert until a time: an Alertmanager silence on alertname (the rule) and deviceId',
  unshelve: 'End a shelve: its Alertmanager silence is expired',
  comment: 'Comment on an alert',
} as const;

/** POST /api/v1/alerts/{alertId}/{ack|shelve|unshelve|comment}. */
function alertCommandPaths(errors: typeof errorResponse): Record<string, unknown> {
  const error = (description: string) => ({ ...errors, description });
  return Object.fromEntries(
    COMMAND_VERBS.map((verb) => {
      const body = z.toJSONSchema(COMMAND_BODIES[verb], { io: 'input', unrepresentable: 'any' }) as Record<
        string,
        unknown
      >;
      delete body.$schema;
      return [
        `/api/v1/alerts/{alertId}/${verb}`,
        {
          post: {
            summary: COMMAND_SUMMARIES[verb],
            description:
              'Recorded as an AlertCommand on the alerts.commands topic. A commandId sent again is answered with the recorded command (header Idempotent-Replayed: true) and writes nothing.',
            security: [{ writeToken: [] }],
            parameters: parameters(schemas.alertId, 'path'),
            requestBody: { required: true, content: { 'application/json': { schema: body } } },
            responses: {
              200: {
                description: 'The command as recorded',
                content: { 'application/json': { schema: bodies.jsonSchema(bodies.commandBody) } },
              },
              400: error('Invalid body: every problem named'),
              401: error('Missing or wrong write token'),
              403: error('Read token used, or writes disabled (no API_WRITE_TOKEN)'),
              404: error('No such alert'),
              409: error(
                'Not possible now (resolved, already acknowledged or shelved, not shelved) or a commandId used for another command',
              ),
              413: error('Body over 16 KiB'),
              503: error('Alertmanager or the commands topic unavailable: nothing was written'),
            },
          },
        },
      ];
    }),
  );
}

/** A readable page listing the operations; the JSON document is the machine-readable form. */
export function docsPage(document: ReturnType<typeof openApiDocument>): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  type Operation = {
    summary: string;
    parameters?: { name: string; in: string; required: boolean; description?: string }[];
  };
  const rows = Object.entries(document.paths)
    .flatMap(([path, item]) =>
      Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ path, method, op })),
    )
    .map(({ path, method, op }) => {
      const params = (op.parameters ?? [])
        .map(
          (p) =>
            `<li><code>${esc(p.name)}</code> (${p.in}${p.required ? ', required' : ''})${p.description ? ` — ${esc(p.description)}` : ''}</li>`,
        )
        .join('');
      return `<h3><code>${method.toUpperCase()} ${esc(path)}</code></h3><p>${esc(op.summary)}</p>${params ? `<ul>${params}</ul>` : ''}`;
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(document.info.title)}</title>
<style>${PAGE_STYLE}</style>
</head><body><h1>${esc(document.info.title)}</h1><p>${esc(document.info.description)}</p>
<p>OpenAPI document: <a href="/docs/json">/docs/json</a></p>${rows}</body></html>`;
}
