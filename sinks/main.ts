/**
 * Process wiring of the CLI commands: environment config, logger, Kafka, serde, metrics.
 * Kept apart from cli.ts so that importing the CLI loads none of it.
 */
import { loadConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { createKafkaClient } from '../lib/kafka/index.ts';
import { runUntilSignal, GROUPS, consumerGroupId, memberRecordsUnder } from '../lib/stream/index.ts';
import { createLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { topicNames } from '../lib/topics.ts';
import { createSerde } from '../schemas/serde.ts';
import { parseSinkConfig, type SinkConfigInput } from './config.ts';
import { createClickHouseSink } from './runner.ts';

export async function runSink(options: SinkConfigInput): Promise<void> {
  const app = loadConfig();
  const log = createLogger('sink', app.logLevel);
  // Like the processors' group, the sink's carries TOPIC_PREFIX (lib/stream/naming.ts).
  const config = parseSinkConfig({
    groupId: consumerGroupId(app.topicPrefix, GROUPS.sink),
    dimsGroupId: consumerGroupId(app.topicPrefix, GROUPS.sinkDims),
    ...options,
  });
  const kafka = createKafkaClient(app.kafka, { log });
  const serde = createSerde(app.registry, { topics: topicNames(app.topicPrefix) });
  const registry = createMetricsRegistry('sink');
  const sink = createClickHouseSink(app, config, {
    kafka,
    serde,
    log,
    registry,
    // Drain and exit like on SIGTERM: a supervisor restarts the sink from the committed offsets.
    onFatal: () => process.kill(process.pid, 'SIGTERM'),
    // A process killed with -9 is replaced without waiting out its session (lib/stream member-record.ts).
    memberRecord: memberRecordsUnder(app.dataDir),
  });
  // The process exits if the drain overruns its own timeout (a margin for leaving the group).
  await runUntilSignal(sink, log, { drainTimeoutMs: config.drainTimeoutMs + 10_000 });
}

export async function runReplay(projection: string, from: string | undefined): Promise<void> {
  const app = loadConfig();
  const log = createLogger('replay', app.logLevel);
  if (app.clickhouse.mode === 'embedded') {
    // The running sink owns the data directory: it runs the replay, and its query endpoint
    // keeps serving the live projection meanwhile. Without a sink, replay opens the data itself.
    const { requestReplay, querySecret, DEFAULT_EMBEDDED_QUERY_URL } = await import('../clickhouse/index.ts');
    const url = process.env.CLICKHOUSE_QUERY_URL ?? DEFAULT_EMBEDDED_QUERY_URL;
    try {
      const result = await requestReplay(
        url,
        querySecret(app),
        { projection, ...(from ? { from } : {}) },
        (text) => process.stderr.write(text),
      );
      console.log(JSON.stringify(result));
      return;
    } catch (error) {
      if (!(error instanceof FleetgridError && error.code === 'CLICKHOUSE_UNAVAILABLE')) throw error;
      log.info({ url }, 'no running sink: replaying with the data directory opened here');
    }
  }
  const kafka = createKafkaClient(app.kafka, { log });
  const serde = createSerde(app.registry, { topics: topicNames(app.topicPrefix) });
  const { replayProjection, parseFrom } = await import('./replay.ts');
  const result = await replayProjection(app, {
    projection,
    from: parseFrom(from),
    kafka,
    serde,
    log,
    progress: process.stderr,
    // A sink of this deployment may be running (server mode): leave what it has not
    // committed yet to it.
    liveGroupId: consumerGroupId(app.topicPrefix, GROUPS.sink),
  });
  console.log(JSON.stringify(result));
}

/**
 * `fleetgrid replay --derived`: the derived projections rebuilt from the raw topics by the
 * processors' cores (sinks/replay-derived.ts). It opens the data directory itself: in
 * embedded mode the sink must be stopped first (the running sink does not serve it).
 */
export async function runDerivedReplay(options: {
  projection?: string;
  from?: string;
  windowSize?: string;
  grace?: string;
  maxLateness?: string;
}): Promise<void> {
  if (options.from !== undefined) {
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      '--derived rebuilds from the whole raw log; --from does not apply',
    );
  }
  const app = loadConfig();
  const log = createLogger('replay', app.logLevel);
  const { parseDuration } = await import('../lib/duration.ts');
  const { parseCoreConfig } = await import('../processors/core/index.ts');
  const { parseDerivedProjections, replayDerived } = await import('./replay-derived.ts');
  // The processors' core options: give the ones `fleetgrid process` runs with.
  const core: Record<string, unknown> = {};
  if (options.windowSize) core.windowSizeMs = parseDuration(options.windowSize);
  if (options.grace) core.graceMs = parseDuration(options.grace);
  if (options.maxLateness) core.maxLatenessMs = parseDuration(options.maxLateness);
  const kafka = createKafkaClient(app.kafka, { log });
  const serde = createSerde(app.registry, { topics: topicNames(app.topicPrefix) });
  const result = await replayDerived(app, {
    projections: parseDerivedProjections(options.projection),
    core: parseCoreConfig(core),
    kafka,
    serde,
    log,
    progress: process.stderr,
  });
  console.log(JSON.stringify(result));
}
