/**
 * `fleetgrid serve`: the query API as a service. Reads ClickHouse through the read-only
 * query backend (server mode: the server; embedded mode: the sink's query endpoint, or
 * the data directory itself with --direct when no sink runs), asks Kafka's admin API for
 * consumer lag, and drains on SIGTERM (in-flight requests finish, then connections close).
 */
import { loadConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { createKafkaClient, type KafkaAdmin } from '../lib/kafka.ts';
import { runUntilSignal } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { createQueryBackend } from '../sinks/query-client.ts';
import { parseQueryConfig, type QueryConfigInput } from './config.ts';
import { computeLag, type GroupLag } from './health.ts';
import { createQueryApi, DEFAULT_DASHBOARD_DIR } from './server.ts';

export interface ServeOptions {
  host?: string;
  port?: string;
  token?: string;
  direct?: boolean;
  chQueryUrl?: string;
  timeout?: string;
  metricsUrl?: string[];
}

/** `name=url,name=url` (QUERY_METRICS_URLS or repeated --metrics-url). */
export function parseMetricsUrls(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries
    .flatMap((e) => e.split(','))
    .map((e) => e.trim())
    .filter(Boolean)) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new FleetgridError('CONFIG_INVALID', `metrics URL ${entry}: expected name=url`);
    out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

/** Lag of each group over the topics it has committed offsets for. */
export async function fetchConsumerLag(admin: KafkaAdmin, groups: readonly string[]): Promise<GroupLag[]> {
  return Promise.all(
    groups.map(async (groupId) => {
      try {
        const committed = await admin.fetchOffsets({ groupId });
        const watermarks = new Map<string, { partition: number; high: string; low: string }[]>();
        await Promise.all(
          committed.map(async ({ topic }) => {
            watermarks.set(topic, await admin.fetchTopicOffsets(topic));
          }),
        );
        return computeLag(groupId, committed, watermarks);
      } catch (error) {
        return {
          groupId,
          lag: 0,
          partitions: [],
          error: error instanceof Error ? error.message : String(error),
        };
      }
    }),
  );
}

export async function runServeCommand(options: ServeOptions): Promise<void> {
  const app = loadConfig();
  const log = createLogger('query', app.logLevel);
  const input: QueryConfigInput = { dashboardDir: DEFAULT_DASHBOARD_DIR };
  if (options.host) input.host = options.host;
  if (options.port !== undefined) input.port = Number(options.port);
  const token = options.token ?? process.env.API_TOKEN;
  if (token) input.apiToken = token;
  if (options.timeout !== undefined) input.queryTimeoutMs = Number(options.timeout);
  const metricsUrls = parseMetricsUrls([...(options.metricsUrl ?? []), process.env.QUERY_METRICS_URLS ?? '']);
  if (Object.keys(metricsUrls).length > 0) input.metricsUrls = metricsUrls;
  const config = parseQueryConfig(input);

  const backend = await createQueryBackend(app, {
    direct: options.direct ?? false,
    timeoutMs: config.queryTimeoutMs,
    ...(options.chQueryUrl ? { url: options.chQueryUrl } : {}),
  });
  const kafka = createKafkaClient(app.kafka, { log });
  const admin = kafka.admin();
  let adminConnected: Promise<void> | undefined;
  const groups = config.consumerGroups.map((g) => `${app.topicPrefix}${g}`);
  const registry = createMetricsRegistry('query');
  const api = await createQueryApi(config, {
    backend,
    log,
    registry,
    async consumerLag() {
      // Connect lazily and retry on the next request if Kafka was down: the API must serve without Kafka.
      adminConnected ??= admin.connect().catch((error: unknown) => {
        adminConnected = undefined;
        throw error;
      });
      await adminConnected;
      return fetchConsumerLag(admin, groups);
    },
  });

  await runUntilSignal(
    {
      async start() {
        const address = await api.listen({ host: config.host, port: config.port });
        log.info(
          { address, clickhouse: backend.mode, auth: config.apiToken !== undefined },
          `query API on ${address} (docs at ${address}/docs)`,
        );
      },
      async stop() {
        await api.close();
        if (adminConnected) await admin.disconnect().catch(() => undefined);
        await backend.close();
      },
    },
    log,
  );
}
