/**
 * The built-in dashboard on the fixture world (fixtures.ts) for the browser tests: the
 * sink's migrations on a temp chDB, the world loaded, the real query API on a loopback
 * port with the dashboard's files, and the sizes the fleet registry would give (solar-001
 * is a 40 kWp array, turbine-001 a 3.3 MW machine). Returns what the tests need and a stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { createLiveHub } from '../../query/live.ts';
import { createQueryApi, DEFAULT_DASHBOARD_DIR, type QueryApiDeps } from '../../query/server.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { migrate } from '../../clickhouse/index.ts';
import { localQueryBackend } from '../../clickhouse/index.ts';
import { buildWorld, type FixtureWorld, loadWorld } from './fixtures.ts';

export const RATINGS = new Map([
  ['solar-001', { ratedKw: null, kwp: 40 }],
  ['turbine-001', { ratedKw: 3300, kwp: null }],
]);

// biome-ignore lint/suspicious/noExplicitAny: answers are compared with the page field by field.
export type Answer = any;

export interface DashboardWorld {
  origin: string;
  world: FixtureWorld;
  app: FastifyInstance;
  backend: ClickHouseBackend;
  /** GET an /api/v1 path of the server, as JSON (fails on a non-200). */
  api(path: string): Promise<Answer>;
  stop(): Promise<void>;
}

export async function startDashboardWorld(
  name: string,
  options: { metricsUrls?: Record<string, string>; consumerLag?: QueryApiDeps['consumerLag'] } = {},
): Promise<DashboardWorld> {
  const dataDir = mkdtempSync(join(tmpdir(), `fleetgrid-${name}-`));
  const backend = await createEmbeddedBackend({ mode: 'embedded', dataDir, database: 'fleetgrid' });
  await migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
  const world = buildWorld();
  await loadWorld(backend, world);
  const app = await createQueryApi(
    parseQueryConfig({
      port: 0,
      dashboardDir: DEFAULT_DASHBOARD_DIR,
      metricsUrls: options.metricsUrls ?? {},
    }),
    {
      backend: localQueryBackend(backend),
      log: silentLogger,
      registry: createMetricsRegistry(`${name}-test`, { defaultMetrics: false }),
      ratings: async () => RATINGS,
      // The page's live stream opens and stays quiet: the fixture world does not change.
      live: createLiveHub({ now: Date.now }),
      ...(options.consumerLag ? { consumerLag: options.consumerLag } : {}),
    },
  );
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    origin,
    world,
    app,
    backend,
    async api(path) {
      const response = await fetch(`${origin}/api/v1/${path}`);
      if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
      return (await response.json()) as Answer;
    },
    async stop() {
      await app.close();
      await backend.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
