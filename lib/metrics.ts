/**
 * Prometheus metrics. Each service owns one registry with prom-client's default process
 * metrics plus its own counters, named fleetgrid_<component>_<what>_<unit> (docs/design.md §5),
 * and serves it on 127.0.0.1 at /metrics.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export function createMetricsRegistry(service: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'fleetgrid_' });
  return registry;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` at http://host:port/metrics; port 0 picks a free one. The host is
 * loopback unless METRICS_HOST says otherwise: in a container (infra/compose) Prometheus
 * scrapes from another network namespace and needs METRICS_HOST=0.0.0.0. With `ready`,
 * `/readyz` answers 200 when the service is ready and 503 while it is not (waiting for a
 * dependency, draining), and `/healthz` 200 while the process serves at all. With `health`,
 * `/health` answers its result as JSON.
 */
export async function startMetricsServer(
  registry: Registry,
  options: { port: number; host?: string; ready?: () => boolean; health?: () => unknown },
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = request.url?.split('?')[0];
    if (options.health && path === '/health') {
      // The service's own state as JSON (e.g. the processor's registry table): for operators and tests.
      let body: string;
      try {
        body = JSON.stringify(options.health());
      } catch (error) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (options.ready && (path === '/readyz' || path === '/healthz')) {
      const ok = path === '/healthz' || options.ready();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? process.env.METRICS_HOST ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The current value of a counter or gauge (summed over label sets matching `labels`). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
