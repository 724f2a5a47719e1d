/**
 * The sink as a child process, for the crash test: small batches so that a kill -9 lands
 * between an insert and its commit. Prints `READY <query url>` once consuming.
 */
import { loadConfig } from '../../lib/config.ts';
import { createKafkaClient } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { topicNames } from '../../lib/topics.ts';
import { createSerde } from '../../schemas/serde.ts';
import { parseSinkConfig } from '../../sinks/config.ts';
import { createClickHouseSink } from '../../sinks/runner.ts';

const app = loadConfig();
const log = createLogger('sink-child', process.env.TEST_LOG_LEVEL ?? 'warn');
const sink = createClickHouseSink(
  app,
  parseSinkConfig({
    groupId: process.env.SINK_GROUP_ID,
    batchMaxRows: Number(process.env.SINK_BATCH_ROWS ?? 100),
    lingerMs: 50,
    // A killed child must not hold its partitions for long: the next one waits for them.
    sessionTimeoutMs: 6_000,
    queryPort: 0,
  }),
  {
    kafka: createKafkaClient(app.kafka, { log }),
    serde: createSerde(app.registry, { topics: topicNames(app.topicPrefix) }),
    log,
    registry: createMetricsRegistry('sink-child', { defaultMetrics: false }),
  },
);
await sink.start();
process.stdout.write(`READY ${sink.queryUrl()}\n`);
process.once('SIGTERM', () => {
  sink.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
