/**
 * Process wiring of `fleetgrid notify`: environment config, logger, Kafka, serde, metrics.
 * Kept apart from cli.ts so that importing the CLI loads none of it.
 */
import { loadConfig } from '../lib/config.ts';
import { createKafkaClient } from '../lib/kafka/index.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { consumerGroupId, GROUPS, memberRecordsUnder, runUntilSignal } from '../lib/stream/index.ts';
import { topicNames } from '../lib/topics.ts';
import { createSerde } from '../schemas/serde.ts';
import { alertmanagerTarget, type NotifyConfigInput, parseNotifyConfig } from './config.ts';
import { createNotifier } from './runner.ts';

export async function runNotify(options: NotifyConfigInput): Promise<void> {
  const app = loadConfig();
  const log = createLogger('notify', app.logLevel);
  const config = parseNotifyConfig({ groupId: consumerGroupId(app.topicPrefix, GROUPS.notify), ...options });
  const target = alertmanagerTarget(app, process.env);
  const kafka = createKafkaClient(app.kafka, { log });
  const serde = createSerde(app.registry, { topics: topicNames(app.topicPrefix) });
  const notifier = createNotifier(app, config, target, {
    kafka,
    serde,
    log,
    registry: createMetricsRegistry('notify'),
    // Drain and exit like on SIGTERM: a supervisor restarts it from the committed offsets.
    onFatal: () => process.kill(process.pid, 'SIGTERM'),
    // A process killed with -9 is replaced without waiting out its session (lib/stream member-record.ts).
    memberRecord: memberRecordsUnder(app.dataDir),
  });
  await runUntilSignal(notifier, log, { drainTimeoutMs: config.drainTimeoutMs + 10_000 });
}
