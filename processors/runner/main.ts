/**
 * The body of `fleetgrid process`, loaded lazily by processors/cli.ts: builds the
 * dependencies from the environment (lib/config) and the command-line options, and runs
 * the processor until a signal drains it.
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../../lib/config.ts';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { createRateLimitedLog, memberRecordsUnder, runUntilSignal } from '../../lib/stream/index.ts';
import { createLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { topicNames } from '../../lib/topics.ts';
import { createSerde } from '../../schemas/serde.ts';
import type { ProcessOptions } from '../cli.ts';
import { parseDuration, parseProcessorConfig } from '../config.ts';
import { createProcessor } from './processor.ts';

/** Command-line options → processor config input (only what was given; the rest defaults). */
export function optionsToConfig(options: ProcessOptions): Record<string, unknown> {
  const core: Record<string, unknown> = {};
  if (options.windowSize) core.windowSizeMs = parseDuration(options.windowSize);
  if (options.grace) core.graceMs = parseDuration(options.grace);
  if (options.maxLateness) core.maxLatenessMs = parseDuration(options.maxLateness);
  if (options.idleTimeout) core.idleTimeoutMs = parseDuration(options.idleTimeout);
  const input: Record<string, unknown> = { core };
  const durations: [keyof ProcessOptions, string][] = [
    ['checkpointInterval', 'checkpointIntervalMs'],
    ['quietCheckpointInterval', 'quietCheckpointIntervalMs'],
    ['timerInterval', 'timerIntervalMs'],
    ['sessionTimeout', 'sessionTimeoutMs'],
    ['heartbeatInterval', 'heartbeatIntervalMs'],
    ['watchdogTimeout', 'watchdogTimeoutMs'],
    ['drainTimeout', 'drainTimeoutMs'],
    ['changeLead', 'changeLeadMs'],
    ['registryRestoreTimeout', 'registryRestoreTimeoutMs'],
  ];
  for (const [option, key] of durations) {
    const value = options[option];
    if (typeof value === 'string' && value) input[key] = parseDuration(value);
  }
  if (options.metricsPort !== undefined) input.metricsPort = Number(options.metricsPort);
  if (options.partitions !== undefined) input.partitions = Number(options.partitions);
  if (options.group) input.groupId = options.group;
  if (options.unknownDevice) input.unknownDevice = options.unknownDevice;
  if (options.registryJoin === false) input.registryJoin = false;
  return input;
}

export async function runProcessCommand(options: ProcessOptions): Promise<void> {
  const app = loadConfig();
  const config = parseProcessorConfig(optionsToConfig(options));
  const log = createLogger('processor', app.logLevel);
  const kafka = createKafkaClient(app.kafka, { log });
  // Commands queue while Redis is away; our own retries bound how long we wait.
  const redis = new Redis(app.redis.url, { maxRetriesPerRequest: 3, lazyConnect: false });
  // While Redis is away the client reports every reconnect attempt: at most one line per 10 s.
  const redisWarn = createRateLimitedLog(log, 10_000);
  redis.on('error', (error) => redisWarn.warn('redis', { err: error }, 'redis connection error'));
  const serde = createSerde(app.registry, { topics: topicNames(app.topicPrefix) });
  const metrics = createMetricsRegistry('processor');
  const processor = createProcessor(
    { ...config, topicPrefix: app.topicPrefix },
    // An output that failed for good drains and exits, like on SIGTERM: a supervisor restarts it.
    {
      kafka,
      redis,
      serde,
      metrics,
      log,
      topicPolicy: app.topics,
      onFatal: () => process.kill(process.pid, 'SIGTERM'),
      // A process killed with -9 is replaced without waiting out its session (lib/stream member-record.ts).
      memberRecord: memberRecordsUnder(app.dataDir),
    },
  );
  try {
    await runUntilSignal(
      {
        start: async () => {
          await processor.start();
          // One machine-readable line so scripts and tests know the member is up and where.
          process.stdout.write(
            `${JSON.stringify({ ready: true, groupId: processor.groupId, metricsPort: processor.metricsPort })}\n`,
          );
        },
        stop: () => processor.stop(),
      },
      log,
      // The process exits if the drain overruns its own timeout (a margin for leaving the group).
      { drainTimeoutMs: config.drainTimeoutMs + 10_000 },
    );
  } finally {
    await redis.quit().catch(() => {});
  }
}
