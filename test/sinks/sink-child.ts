/**
 * The sink as a child process, for the crash and hostile-input tests: small batches so that
 * a kill -9 lands between an insert and its commit. Prints `READY <query url>` once
 * consuming; SIGTERM drains it like `fleetgrid sink` (lib/stream/service.ts).
 */
import { loadConfig } from '../../lib/config.ts';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { createLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { runUntilSignal } from '../../lib/stream/index.ts';
import { topicNames } from '../../lib/topics.ts';
import { createSerde } from '../../schemas/serde.ts';
import { type ClickHouseBackend, createBackend } from '../../clickhouse/index.ts';
import { parseSinkConfig } from '../../sinks/config.ts';
import { createClickHouseSink } from '../../sinks/runner.ts';

const app = loadConfig();
const hang = process.env.SINK_HANG_AFTER_FIRST_INSERT === '1';

/**
 * With SINK_HANG_AFTER_FIRST_INSERT=1: the first raw insert lands, `LANDED` is printed, and
 * the sink then hangs before it can commit — the moment the test kills it, deterministically.
 */
async function hangingBackend(): Promise<ClickHouseBackend> {
  const inner = await createBackend(app.clickhouse);
  let landed = false;
  return {
    ...inner,
    query: (sql, params) => inner.query(sql, params),
    exec: (sql, params) => inner.exec(sql, params),
    close: () => inner.close(),
    async insert(table, rows, options) {
      const result = await inner.insert(table, rows, options);
      if (table === 'truck_telemetry' && !landed) {
        landed = true;
        process.stdout.write(`LANDED ${options?.dedupToken}\n`);
        await new Promise(() => {});
      }
      return result;
    },
  };
}

const log = createLogger('sink-child', process.env.TEST_LOG_LEVEL ?? 'warn');
const config = parseSinkConfig({
  groupId: process.env.SINK_GROUP_ID,
  batchMaxRows: Number(process.env.SINK_BATCH_ROWS ?? 100),
  lingerMs: Number(process.env.SINK_LINGER_MS ?? 50),
  ...(process.env.SINK_DRAIN_TIMEOUT_MS ? { drainTimeoutMs: Number(process.env.SINK_DRAIN_TIMEOUT_MS) } : {}),
  // A killed child must not hold its partitions for long: the next one waits for them.
  sessionTimeoutMs: 6_000,
  queryPort: 0,
});
const sink = createClickHouseSink(app, config, {
  kafka: createKafkaClient(app.kafka, { log }),
  serde: createSerde(app.registry, { topics: topicNames(app.topicPrefix) }),
  log,
  registry: createMetricsRegistry('sink-child', { defaultMetrics: false }),
  ...(hang ? { backend: await hangingBackend() } : {}),
});
await runUntilSignal(
  {
    start: async () => {
      await sink.start();
      process.stdout.write(`READY ${sink.queryUrl()}\n`);
    },
    stop: () => sink.stop(),
  },
  log,
  { drainTimeoutMs: config.drainTimeoutMs + 10_000 },
);
process.exit(process.exitCode ?? 0);
