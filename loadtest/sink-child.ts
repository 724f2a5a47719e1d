/**
 * The sink as a child of `fleetgrid loadtest --start-pipeline`: the same service as
 * `fleetgrid sink` (sinks/main.ts), with two things the load test needs that the command
 * does not offer: a consumer group of the run's own (the sink's group id is not prefixed
 * with TOPIC_PREFIX, so a run beside a running pipeline would join that pipeline's group),
 * and one machine-readable line on stdout saying where its /metrics and query endpoint
 * listen once it is up (both on free ports).
 *
 * Usage: node loadtest/sink-child.ts <groupId> [batchMaxRows] [lingerMs]
 */
import { loadConfig } from '../lib/config.ts';
import { createKafkaClient } from '../lib/kafka.ts';
import { runUntilSignal } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { topicNames } from '../lib/topics.ts';
import { createSerde } from '../schemas/serde.ts';
import { parseSinkConfig } from '../sinks/config.ts';
import { createClickHouseSink } from '../sinks/runner.ts';

const [groupId, batchRows, lingerMs] = process.argv.slice(2);
const app = loadConfig();
const log = createLogger('sink', app.logLevel);
const config = parseSinkConfig({
  groupId: groupId ?? `${app.topicPrefix}fleetgrid-sink-clickhouse`,
  metricsPort: 0,
  queryPort: 0,
  ...(batchRows ? { batchMaxRows: Number(batchRows) } : {}),
  ...(lingerMs ? { lingerMs: Number(lingerMs) } : {}),
});
const kafka = createKafkaClient(app.kafka, { log });
const serde = createSerde(app.registry, { topics: topicNames(app.topicPrefix) });
const sink = createClickHouseSink(app, config, {
  kafka,
  serde,
  log,
  registry: createMetricsRegistry('sink'),
});
await runUntilSignal(
  {
    start: async () => {
      await sink.start();
      process.stdout.write(
        `${JSON.stringify({ ready: true, groupId: config.groupId, metricsPort: sink.metricsPort(), queryUrl: sink.queryUrl() })}\n`,
      );
    },
    stop: () => sink.stop(),
  },
  log,
);
