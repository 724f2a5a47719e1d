/**
 * The sink as a child of `fleetgrid loadtest --start-pipeline`: the same service as
 * `fleetgrid sink` (sinks/main.ts, group `<TOPIC_PREFIX>fleetgrid-sink-clickhouse`), with
 * one thing the load test needs that the command does not offer: one machine-readable line
 * on stdout saying where its /metrics and query endpoint listen once it is up (both on
 * free ports).
 *
 * Usage: node loadtest/sink-child.ts [--metrics-port N --query-port N] [batchMaxRows] [lingerMs]
 * (the ports: a restart after kill -9 in a fault run keeps the child's URLs).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.ts';
import { createKafkaClient } from '../lib/kafka/index.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { consumerGroupId, GROUPS, memberRecordsUnder, runUntilSignal } from '../lib/stream/index.ts';
import { topicNames } from '../lib/topics.ts';
import { createSerde } from '../schemas/serde.ts';
import { parseSinkConfig } from '../sinks/config.ts';
import { createClickHouseSink } from '../sinks/runner.ts';

const { values, positionals } = parseArgs({
  options: { 'metrics-port': { type: 'string' }, 'query-port': { type: 'string' } },
  allowPositionals: true,
});
const [batchRows, lingerMs] = positionals;
const app = loadConfig();
const log = createLogger('sink', app.logLevel);
const config = parseSinkConfig({
  groupId: consumerGroupId(app.topicPrefix, GROUPS.sink),
  metricsPort: Number(values['metrics-port'] ?? 0),
  queryPort: Number(values['query-port'] ?? 0),
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
  // Like `fleetgrid sink`: a sink-kill fault's restart leaves for the killed member.
  memberRecord: memberRecordsUnder(app.dataDir),
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
  { drainTimeoutMs: config.drainTimeoutMs + 10_000 },
);
