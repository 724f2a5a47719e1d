/**
 * The HTTP API of the read side (Fastify): routes → parameter parsing (params.ts) → use
 * cases (service.ts) → JSON. Cross-cutting concerns live here: the optional bearer token
 * on /api, errors as `{error, message}` with the right status, request metrics, the
 * OpenAPI document, the pipeline health composition (ClickHouse + Kafka admin + service
 * metrics, each part allowed to fail on its own) and the dashboard's static files.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
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
import type { Logger } from '../lib/log.ts';
import { Counter, Gauge, Histogram, type Registry } from '../lib/metrics.ts';
import type { ClickHouseBackend } from '../sinks/backend.ts';
import { RAW_TABLES } from './catalog.ts';
import type { QueryConfig } from './config.ts';
import {
  backpressureOf,
  computeFreshness,
  type FreshnessRow,
  type GroupLag,
  parsePrometheusText,
  type ServiceBackpressure,
} from './health.ts';
import { docsPage, openApiDocument } from './openapi.ts';
import { parseParams, schemas } from './params.ts';
import { createQueryService } from './service.ts';

export interface QueryApiDeps {
  backend: ClickHouseBackend;
  log: Logger;
  registry: Registry;
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

const sha = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of `Authorization: Bearer <token>` with the configured token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  return timingSafeEqual(sha(m[1] as string), sha(token));
}

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

const PLACEHOLDER = `<!doctype html><html><head><meta charset="utf-8"><title>fleetgrid</title></head>
<body style="font:15px system-ui,sans-serif;max-width:40rem;margin:3rem auto">
<h1>fleetgrid</h1><p>The built-in dashboard is not installed yet (query/dashboard/public/).</p>
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

  const service = createQueryService(config, {
    backend: deps.backend,
    now,
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
  });

  const document = openApiDocument({ tokenRequired: config.apiToken !== undefined });
  const docsHtml = docsPage(document);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    (request as FastifyRequest & { startedAt?: number }).startedAt = performance.now();
    if (config.apiToken !== undefined && isApiRequest(request)) {
      if (!bearerMatches(request.headers.authorization, config.apiToken)) {
        reply.code(401).header('www-authenticate', 'Bearer realm="fleetgrid"').send({
          error: 'unauthorized',
          message: 'missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)',
        });
        return reply;
      }
    }
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
      reply.code(status).send({ error: 'bad_request', message: (error as Error).message });
      return;
    }
    const mapped = toApiError(error);
    if (mapped.status >= 500) request.log.warn({ err: error, url: request.url }, 'query API error');
    reply.code(mapped.status).send(mapped.body);
  });

  app.setNotFoundHandler(async (request, reply) => {
    if (request.method === 'GET' && !request.url.startsWith('/api/')) return serveStatic(request, reply);
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  const q = (request: FastifyRequest) => request.query as Record<string, unknown>;
  const p = (request: FastifyRequest) => request.params as Record<string, unknown>;

  app.get('/api/v1/fleet/summary', async (request) =>
    service.summary(parseParams(schemas.summary, q(request))),
  );
  app.get('/api/v1/devices', async (request) => service.devices(parseParams(schemas.devices, q(request))));
  app.get('/api/v1/devices/:deviceId/state', async (request) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    return service.state(deviceId, parseParams(schemas.state, q(request)));
  });
  app.get('/api/v1/devices/:deviceId/series', async (request) => {
    const { deviceId } = parseParams(schemas.deviceId, p(request));
    const params = parseParams(schemas.series, q(request));
    return service.series(deviceId, params as typeof params & { step: 'raw' | '1m' | '1h' | '1d' | 'auto' });
  });
  app.get('/api/v1/sites/:siteId/energy', async (request) => {
    const { siteId } = parseParams(schemas.siteId, p(request));
    return service.energy(siteId, parseParams(schemas.energy, q(request)));
  });
  app.get('/api/v1/alerts', async (request) => service.alerts(parseParams(schemas.alerts, q(request))));
  app.get('/api/v1/pipeline/health', async (request) => {
    parseParams(schemas.empty, q(request));
    return pipelineHealth();
  });

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
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(docsHtml));
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
              try {
                const response = await fetch(url, {
                  signal: AbortSignal.timeout(config.healthCheckTimeoutMs),
                });
                if (!response.ok) throw new Error(`HTTP ${response.status}`);
                return backpressureOf(service, parsePrometheusText(await response.text()));
              } catch (error) {
                return {
                  service,
                  error: `cannot read ${url}: ${error instanceof Error ? error.message : String(error)}`,
                };
              }
            }),
          ).then((list) => ({ available: true, services: list }));
    const [{ freshness, deadLetters }, consumerLag, pressure] = await Promise.all([
      stored,
      lag,
      backpressure,
    ]);
    return {
      at: new Date(at).toISOString(),
      freshness: computeFreshness(freshness as unknown as FreshnessRow[], at, RAW_TABLES),
      consumerLag,
      deadLetters: {
        total: deadLetters.reduce((sum, r) => sum + Number(r.records), 0),
        byCode: deadLetters.map((r) => ({
          code: String(r.error_code),
          stage: String(r.stage),
          records: Number(r.records),
          last: new Date(Number(r.last_ms)).toISOString(),
        })),
      },
      backpressure: pressure,
    };
  }

  // The fitness functions (infra/prometheus) alert on freshness and consumer lag. They are
  // gauges computed when Prometheus scrapes, so they cost nothing between scrapes; a slow
  // ClickHouse or broker leaves the samples out (the rules treat absence on its own).
  new Gauge({
    name: 'fleetgrid_query_freshness_seconds',
    help: 'Seconds from the newest stored event time to now, per raw table',
    labelNames: ['source'],
    registers,
    async collect() {
      this.reset();
      try {
        const { freshness } = await withTimeout('freshness', service.storedHealth());
        const computed = computeFreshness(freshness as unknown as FreshnessRow[], now(), RAW_TABLES);
        for (const source of computed.sources) {
          if (source.seconds !== null && (RAW_TABLES as readonly string[]).includes(source.source)) {
            this.set({ source: source.source }, source.seconds);
          }
        }
      } catch (error) {
        deps.log.warn({ err: error }, 'freshness gauge: no sample this scrape');
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
      if (!deps.consumerLag) return;
      try {
        for (const group of await withTimeout('consumer lag', deps.consumerLag())) {
          const perTopic = new Map<string, number>();
          for (const partition of group.partitions) {
            perTopic.set(partition.topic, (perTopic.get(partition.topic) ?? 0) + partition.lag);
          }
          for (const [topic, lag] of perTopic) this.set({ group: group.groupId, topic }, lag);
        }
      } catch (error) {
        deps.log.warn({ err: error }, 'consumer lag gauge: no sample this scrape');
      }
    },
  });

  const dashboardDir = config.dashboardDir;
  async function serveStatic(request: FastifyRequest, reply: FastifyReply) {
    if (dashboardDir === undefined || !existsSync(dashboardDir)) {
      if (request.url === '/' || request.url.startsWith('/?') || request.url === '/index.html')
        return reply.type('text/html; charset=utf-8').send(PLACEHOLDER);
      return reply.code(404).send({ error: 'not_found', message: 'no such page' });
    }
    const file = staticPath(dashboardDir, request.url);
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
