/**
 * `fleetgrid serve`: the query API as a service. Reads ClickHouse through the read-only
 * query backend (server mode: the server; embedded mode: the sink's query endpoint, or
 * the data directory itself with --direct when no sink runs), asks Kafka's admin API for
 * consumer lag, and drains on SIGTERM (in-flight requests finish, then connections close).
 */
import { loadConfig } from '../lib/config.ts';
import { retry } from '../lib/retry.ts';
import { FleetgridError } from '../lib/errors.ts';
import { createKafkaClient, type KafkaAdmin } from '../lib/kafka/index.ts';
import { runUntilSignal, consumerGroupId, fetchGroupLag, type GroupLag } from '../lib/stream/index.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { readSecret } from '../lib/secrets.ts';
import { createConnectClient, createPool, openRegistryService, registryHealth } from '../registry/index.ts';
import { createQueryBackend } from '../clickhouse/index.ts';
import { parseQueryConfig, type QueryConfigInput } from './config.ts';
import { createRatingsProvider } from './ratings.ts';
import { createQueryApi, DEFAULT_DASHBOARD_DIR } from './server.ts';
import { ensureTopics, topicNames, topicSpecs } from '../lib/topics.ts';
import { createSerde } from '../schemas/serde.ts';
import { createCommandLog } from './command-log.ts';
import { createLiveHub } from './live.ts';
import { createLiveFeed } from './live-feed.ts';
import { createRecentCommands } from './recent-commands.ts';
import { createSilenceClient } from './silences.ts';

export interface ServeOptions {
  host?: string;
  port?: string;
  direct?: boolean;
  chQueryUrl?: string;
  timeout?: string;
  metricsUrl?: string[];
  tileOrigin?: string[];
}

/** `name=url,name=url` (QUERY_METRICS_URLS or repeated --metrics-url). */
export function parseMetricsUrls(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries
    .flatMap((e) => e.split(','))
    .map((e) => e.trim())
    .filter(Boolean)) {
    const at = entry.indexOf('=');
    // The entry is not repeated: it may carry credentials.
    if (at <= 0) throw new FleetgridError('CONFIG_INVALID', 'a metrics URL entry is not name=url');
    out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

/** Lag of each group over the topics it has committed offsets for. */
export function fetchConsumerLag(admin: KafkaAdmin, groups: readonly string[]): Promise<GroupLag[]> {
  return fetchGroupLag(
    admin,
    groups.map((groupId) => ({ groupId })),
  );
}

export async function runServeCommand(options: ServeOptions): Promise<void> {
  const app = loadConfig();
  const log = createLogger('query', app.logLevel);
  const input: QueryConfigInput = { dashboardDir: DEFAULT_DASHBOARD_DIR };
  if (options.host) input.host = options.host;
  if (options.port !== undefined) input.port = Number(options.port);
  // From the environment or a file only: argv shows in `ps`.
  const token = readSecret(process.env, 'API_TOKEN');
  if (token) input.apiToken = token;
  const writeToken = readSecret(process.env, 'API_WRITE_TOKEN');
  if (writeToken) input.apiWriteToken = writeToken;
  const tileOrigins = [
    ...(options.tileOrigin ?? []),
    ...(process.env.DASHBOARD_TILE_ORIGINS ?? '').split(','),
  ]
    .map((origin) => origin.trim())
    .filter(Boolean);
  if (tileOrigins.length > 0) input.tileOrigins = tileOrigins;
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
  const groups = config.consumerGroups.map((g) => consumerGroupId(app.topicPrefix, g));
  const registry = createMetricsRegistry('query');
  // The registry's database is opened lazily by its first request: the read side serves without it.
  const fleetRegistry = openRegistryService(app, log);
  const registryPool = createPool(
    app.postgres,
    { max: 1, connectTimeoutMs: 2_000, statementTimeoutMs: 2_000, applicationName: 'fleetgrid-query-health' },
    log,
  );
  const connect = createConnectClient(app.connect, config.healthCheckTimeoutMs);
  /** Connects lazily, again on the next call if Kafka was down: the API must serve without Kafka. */
  function connectAdmin(): Promise<void> {
    adminConnected ??= admin.connect().catch((error: unknown) => {
      adminConnected = undefined;
      throw error;
    });
    return adminConnected;
  }
  // Alert commands (query/command-routes.ts) and the live stream (query/live.ts).
  const topics = topicNames(app.topicPrefix);
  const serde = createSerde(app.registry, { topics });
  const recentCommands = createRecentCommands({ now: Date.now });
  const commandLog = createCommandLog({ kafka, serde, topic: topics.commands });
  const silences = createSilenceClient({
    url: app.alertmanager.url,
    user: app.alertmanager.auth?.username,
    password: app.alertmanager.auth?.password,
  });
  const hub = createLiveHub({ now: Date.now });
  const feedStop = new AbortController();
  const feed = createLiveFeed({
    kafka,
    serde,
    topics,
    prefix: app.topicPrefix,
    hub,
    recent: recentCommands,
    log,
  });
  const api = await createQueryApi(config, {
    commands: { log: commandLog, silences },
    live: hub,
    recentCommands,
    backend,
    log,
    registry,
    fleetRegistry,
    ratings: createRatingsProvider((filter) => fleetRegistry.list('devices', filter), {
      ttlMs: 60_000,
      now: Date.now,
      log,
    }),
    registryHealth: () => registryHealth({ connect, pool: registryPool, topicPrefix: app.topicPrefix }),
    async consumerLag() {
      await connectAdmin();
      return fetchConsumerLag(admin, groups);
    },
  });

  await runUntilSignal(
    {
      async start() {
        const address = await api.listen({ host: config.host, port: config.port });
        // The stream waits for Kafka in the background, retried until it runs or the API stops:
        // the API serves without it (the stream answers, quietly, and the dashboard polls).
        void retry(
          async () => {
            // The API writes the commands topic: like every service, it creates what is missing.
            await connectAdmin();
            await ensureTopics(admin, topicSpecs(app.topicPrefix));
            await feed.start();
          },
          {
            policy: { baseMs: 1_000, capMs: 30_000, maxRetries: Number.POSITIVE_INFINITY },
            signal: feedStop.signal,
          },
        ).catch((error: unknown) => {
          if (!feedStop.signal.aborted) log.warn({ err: error }, 'live stream feed did not start');
        });
        log.info(
          { address, clickhouse: backend.mode, auth: config.apiToken !== undefined },
          `query API on ${address} (docs at ${address}/docs)`,
        );
      },
      async stop() {
        feedStop.abort();
        await api.close();
        await feed.stop().catch(() => undefined);
        await commandLog.close();
        if (adminConnected) await admin.disconnect().catch(() => undefined);
        await backend.close();
        await fleetRegistry.close();
        await registryPool.end();
      },
    },
    log,
  );
}
