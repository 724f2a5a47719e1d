/**
 * fleetgrid sink — the read side of CQRS (docs/design.md §1, §3). Consumes every stream in the
 * consumer group `<prefix>fleetgrid-sink-clickhouse` and writes it into the ClickHouse
 * projections of clickhouse/migrations, effectively once. A composition of the runtime
 * (lib/stream: group member, batching producer, intake, readiness) and the sink's parts:
 *
 * - intake.ts: decode (cached fast path), validate, map to rows; bad records become
 *   rejections for the DLQ; a record whose schema the registry cannot serve right now
 *   holds its partition (paused, reason `registry`) while the decode is retried in the
 *   background, so the group session is kept and nothing blocks;
 * - partitions.ts: one bounded buffer per partition of fixed offset ranges, paused above
 *   its high-water mark (reason `backpressure`), one writer per partition;
 * - commit.ts: plan commit → inserts with deduplication tokens → DLQ → commit;
 * - metrics.ts: every decision is a metric.
 *
 * At start the sink waits for ClickHouse and Kafka with capped backoff (not ready on
 * /readyz and `fleetgrid_sink_ready` meanwhile) instead of exiting. stop() drains: no new
 * records, the batches in hand finish, buffered batches are written and committed within
 * the drain timeout, then the member leaves the group.
 *
 * In embedded mode this process owns the chDB data directory and serves reads to the
 * query API on 127.0.0.1 (sinks/query-server.ts).
 */
import type { AppConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import type { KafkaAdmin, KafkaClient } from '../lib/kafka/index.ts';
import type { Logger } from '../lib/log.ts';
import { type MetricsServer, type Registry, startMetricsServer } from '../lib/metrics.ts';
import {
  createDeadLetterSender,
  createRegistryHold,
  createGroupMember,
  type GroupMember,
  type MemberIdRecord,
  type MemberBatch,
  type BatchingProducer,
  createBatchingProducer,
  DEFAULT_PRODUCER_CONFIG,
  createRateLimitedLog,
  createLifetime,
  createReadiness,
  type Service,
} from '../lib/stream/index.ts';
import { retry } from '../lib/retry.ts';
import { ensureTopics, type TopicKey, type TopicNames, topicNames, topicSpecs } from '../lib/topics.ts';
import type { Serde } from '../schemas/serde.ts';
import { type ClickHouseBackend, createBackend } from '../clickhouse/index.ts';
import { createBatchCommitter, createWriteGate } from './commit.ts';
import { createDimsFeed, type DimsFeed } from './dims-feed.ts';
import { batchLimitsOf, migrationVariables, type SinkConfig } from './config.ts';
import { createSinkIntake, isHeld } from './intake.ts';
import { createSinkMetrics, type SinkMetrics } from './metrics.ts';
import { migrate } from '../clickhouse/index.ts';
import { createPartitionBuffers } from './partitions.ts';
import { querySecret } from '../clickhouse/index.ts';
import { type QueryServer, startQueryServer } from './query-server.ts';
import { startRollupKeeper } from './rollups.ts';
import { systemClock } from '../lib/clock.ts';

export const SINK_STAGE = 'sink-clickhouse';
/** The stage of the registry feed's dead letters (sinks/dims-feed.ts). */
export const DIMS_STAGE = 'sink-dims';

export interface SinkDeps {
  kafka: KafkaClient;
  serde: Serde;
  log: Logger;
  registry: Registry;
  /** Defaults to the configured backend; tests pass a fault-injecting wrapper. */
  backend?: ClickHouseBackend;
  now?: () => number;
  /** Called when a batch fails for good (neither retriable nor bad data); the CLI stops the process. */
  onFatal?: (error: unknown) => void;
  /** The member-id record per group (lib/stream member-record.ts); the CLI gives one under the data directory. */
  memberRecord?: (groupId: string) => MemberIdRecord;
}

export interface ClickHouseSink extends Service {
  readonly metrics: SinkMetrics;
  /** Holds the sink's inserts (replay's swap); call the returned function to release. */
  holdWrites(): Promise<() => void>;
  backend(): ClickHouseBackend;
  /** Where the embedded read-only query endpoint listens, when it does. */
  queryUrl(): string | undefined;
  metricsPort(): number | undefined;
  /** Records buffered and not yet committed (the "in flight" of the invariant). */
  buffered(): { rows: number; bytes: number; records: number };
  /** Ready: dependencies reached and consuming. */
  ready(): boolean;
}

export function createClickHouseSink(app: AppConfig, config: SinkConfig, deps: SinkDeps): ClickHouseSink {
  const log = deps.log.child({ component: 'sink' });
  const now = deps.now ?? Date.now;
  const topics: TopicNames = topicNames(app.topicPrefix);
  const keyOfTopic = new Map<string, TopicKey>(
    (Object.entries(topics) as [TopicKey, string][]).map(([key, name]) => [name, key]),
  );
  const topicKeyOf = (topic: string) => keyOfTopic.get(topic) ?? topic;
  const metrics = createSinkMetrics(deps.registry, undefined, Object.keys(topics));
  const policy = { baseMs: config.retryBaseMs, capMs: config.retryCapMs };
  /** Ends waits and registry holds at once when the sink stops. */
  const lifetime = createLifetime();
  /** Ends write, commit and dead-letter retries: at the drain deadline, or after the drain. */
  const writes = createLifetime();
  const readiness = createReadiness({
    prefix: 'fleetgrid_sink',
    registry: deps.registry,
    log,
    signal: lifetime.signal,
    policy,
  });
  const warn = createRateLimitedLog(log);
  const gate = createWriteGate();
  const intake = createSinkIntake(deps.serde);
  let backend: ClickHouseBackend | undefined;
  let admin: KafkaAdmin | undefined;
  let producer: BatchingProducer<unknown> | undefined;
  let member: GroupMember | undefined;
  let dims: DimsFeed | undefined;
  let timer: NodeJS.Timeout | undefined;
  let metricsServer: MetricsServer | undefined;
  let queryServer: QueryServer | undefined;
  let rollups: { stop(): Promise<void> } | undefined;
  let stopping = false;
  let starting: Promise<void> | undefined;

  const backendOf = () => {
    if (!backend) throw new FleetgridError('INTERNAL', 'sink not started');
    return backend;
  };
  const memberOf = () => {
    if (!member) throw new FleetgridError('INTERNAL', 'sink not started');
    return member;
  };

  const buffers = createPartitionBuffers({
    limits: batchLimitsOf(config),
    watermarks: config,
    committed: async (topic, partition) => {
      const committed = await retryWhileRunning(() =>
        (admin as KafkaAdmin).fetchCommittedOffsets(config.groupId, [topic]),
      );
      return committed[0]?.partitions.find((p) => p.partition === partition);
    },
    write: (buffer, batch) => commitBatch(buffer, batch),
    hiddenTail: (ref) => member?.hiddenTail(ref),
    commitPosition: (ref, offset) =>
      memberOf().commit([{ topic: ref.topic, partition: ref.partition, offset, metadata: null }]),
    pause: (ref) => memberOf().pause([ref], 'backpressure'),
    resume: (ref) => memberOf().resume([ref], 'backpressure'),
    topicKeyOf,
    now,
    metrics,
    log,
    onFatal: (error, batch) => {
      // Not retriable and not bad data (a programmer error): stop rather than skip data.
      log.fatal(
        { err: error, topic: batch.topic, partition: batch.partition },
        'batch failed for good: stopping',
      );
      process.exitCode = 1;
      deps.onFatal?.(error);
    },
  });

  const commitBatch = createBatchCommitter({
    member: {
      commit: (offsets) => memberOf().commit(offsets),
      owns: (ref, gen) => memberOf().owns(ref, gen),
    },
    backend: backendOf,
    deadLetters: createDeadLetterSender({
      producer: { send: (topic, messages) => (producer as BatchingProducer<unknown>).send(topic, messages) },
      topic: topics.dlq,
      stage: SINK_STAGE,
      maxBytes: config.maxRequestBytes,
      now,
    }),
    gate,
    metrics,
    policy,
    signal: writes.signal,
    // The partition is ours AND this is still its buffer: after a consumer restart the
    // partition comes back with a new buffer, and the old one's batch must not be written.
    owns: (buffer) => member?.owns(buffer) === true && buffers.isCurrent(buffer),
    topicKeyOf,
    log,
  });

  const hold = createRegistryHold({
    decoder: deps.serde,
    pause: (ref) => memberOf().pause([ref], 'registry'),
    resume: (ref) => memberOf().resume([ref], 'registry'),
    owns: (ref) => member?.owns(ref) === true,
    policy,
    signal: lifetime.signal,
    warn,
    onHold: () => metrics.registryHolds.inc(),
    onRelease: (waitedMs) => metrics.registryWaitSeconds.inc(waitedMs / 1000),
  });

  /** Kafka admin calls at partition claim: retriable failures retried while the sink runs. */
  function retryWhileRunning<T>(operation: () => Promise<T>): Promise<T> {
    return retry(operation, {
      policy: { ...policy, maxRetries: Number.POSITIVE_INFINITY },
      signal: lifetime.signal,
    });
  }

  /** One fetch of one partition: intake, buffer, backpressure; never blocks on the registry. */
  async function takeBatch(batch: MemberBatch): Promise<void> {
    const topicKey = keyOfTopic.get(batch.topic);
    if (!topicKey) return;
    const buffer = await buffers.bufferFor(batch.topic, batch.partition);
    const at = now();
    let added = 0;
    let bytes = 0;
    let lastOffset: string | undefined;
    for (const record of batch.records) {
      if (!batch.isActive() || stopping) break;
      const result =
        intake.takeSync(topicKey, record, batch.partition, at) ??
        (await intake.take(topicKey, record, batch.partition, at));
      if (isHeld(result)) {
        // Left unresolved: fetched again from here once the registry answers.
        hold.hold(batch, record.value ?? null, result.error);
        break;
      }
      const before = buffer.bytes;
      if (buffers.add(buffer, result)) {
        added++;
        bytes += buffer.bytes - before;
      }
      lastOffset = record.offset;
    }
    // Marks the fetch position only (commits follow the inserts). Once per fetch, and the
    // counters once per fetch: both cost microseconds per call.
    if (lastOffset !== undefined) batch.resolveOffset(lastOffset);
    metrics.received.inc({ topic: topicKey }, added);
    metrics.bufferedRowsAdded.inc(added);
    metrics.bufferedBytesAdded.inc(bytes);
    await batch.heartbeat();
    buffers.afterFetch(buffer);
  }

  async function connectKafka(): Promise<void> {
    admin = deps.kafka.admin();
    const a = admin;
    await readiness.waitFor('kafka', async () => {
      await a.connect();
      // Topics as code (docs/design.md §3): whichever service starts first creates them.
      await ensureTopics(a, topicSpecs(app.topicPrefix, undefined, app.topics));
    });
    const dlqPartitions = await readiness.waitFor('kafka', async () => {
      const [metadata] = await a.fetchTopicMetadata([topics.dlq]);
      return metadata?.partitions.length ?? 1;
    });
    producer = createBatchingProducer(
      {
        ...DEFAULT_PRODUCER_CONFIG,
        maxRequestBytes: config.maxRequestBytes,
        retry: policy,
        lingerMs: 0,
      },
      {
        kafka: deps.kafka,
        partitions: { [topics.dlq]: dlqPartitions },
        signal: writes.signal,
        log,
        onRetry: (error) => metrics.insertRetries.inc({ table: 'dlq', code: error.code }),
      },
    );
    const p = producer;
    await readiness.waitFor('kafka', () => p.start());
  }

  return {
    metrics,
    holdWrites: () => gate.hold(),
    backend: backendOf,
    queryUrl: () => queryServer?.url,
    metricsPort: () => metricsServer?.port,
    buffered: () => buffers.buffered(),
    ready: () => readiness.ready,

    start() {
      starting = start();
      return starting;
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      readiness.setReady(false);
      lifetime.abort();
      // A start still waiting for a dependency ends now; what it set up is released below.
      await starting?.catch(() => {});
      if (timer) clearInterval(timer);
      await rollups?.stop();
      // Drain: no new records, batches in hand finish, buffered batches are written and
      // committed (member handler `drain`), then the member leaves the group.
      await member?.stop();
      await dims?.stop();
      writes.abort();
      await producer?.close().catch(() => {});
      await admin?.disconnect().catch(() => {});
      await queryServer?.close();
      await metricsServer?.close();
      if (!deps.backend) await backend?.close();
    },
  };

  async function start(): Promise<void> {
    // Served first: while the sink waits for its dependencies it says so on /readyz.
    if (config.metricsPort !== undefined) {
      metricsServer = await startMetricsServer(deps.registry, {
        port: config.metricsPort,
        ready: () => readiness.ready,
      });
    }
    backend = deps.backend ?? (await readiness.waitFor('clickhouse', () => createBackend(app.clickhouse)));
    const b = backend;
    const report = await readiness.waitFor('clickhouse', () => migrate(b, migrationVariables(config)));
    log.info({ ...report, mode: b.mode }, 'migrations checked');
    if (stopping) return;
    if (app.clickhouse.mode === 'embedded' && config.queryPort >= 0) {
      queryServer = await startQueryServer({
        clickhouse: app.clickhouse,
        secret: querySecret(app),
        port: config.queryPort,
        log,
        // `fleetgrid replay` in embedded mode runs here: this process owns the data dir, and
        // the endpoint keeps serving the live projection meanwhile.
        replay: async (request, progress) => {
          const { replayProjection, parseFrom } = await import('./replay.ts');
          return replayProjection(app, {
            projection: request.projection,
            from: parseFrom(request.from),
            kafka: deps.kafka,
            serde: deps.serde,
            log,
            backend: b,
            progress,
            holdWrites: () => gate.hold(),
            liveGroupId: config.groupId,
          });
        },
      });
      log.info({ url: queryServer.url }, 'read-only query endpoint for the embedded engine');
    }
    await connectKafka();
    if (stopping) return;
    if (config.dimsGroupId !== undefined) {
      dims = createDimsFeed(
        { groupId: config.dimsGroupId, topicPrefix: app.topicPrefix, topicPolicy: app.topics },
        {
          kafka: deps.kafka,
          admin: admin as KafkaAdmin,
          backend: backendOf,
          deadLetters: createDeadLetterSender({
            producer: {
              send: (topic, messages) => (producer as BatchingProducer<unknown>).send(topic, messages),
            },
            topic: topics.dlq,
            stage: DIMS_STAGE,
            maxBytes: config.maxRequestBytes,
            now,
          }),
          metrics,
          log,
          policy,
          signal: lifetime.signal,
          onFatal: (error) => {
            process.exitCode = 1;
            deps.onFatal?.(error);
          },
        },
      );
      await dims.start();
      if (stopping) return;
    }
    member = createGroupMember(
      {
        groupId: config.groupId,
        topics: Object.values(topics),
        fromBeginning: config.fromBeginning,
        sessionTimeoutMs: config.sessionTimeoutMs,
        heartbeatIntervalMs: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
        rebalanceTimeoutMs: Math.max(10_000, config.sessionTimeoutMs),
        maxBytesPerPartition: config.fetchMaxBytesPerPartition,
        maxWaitTimeMs: 250,
        minBytes: 64 * 1024,
        concurrency: 4,
        restartBackoff: policy,
        drainTimeoutMs: config.drainTimeoutMs,
      },
      {
        kafka: deps.kafka,
        log,
        record: deps.memberRecord?.(config.groupId),
        onRestart: (reason) => metrics.consumerRestarts.inc({ reason }),
        handler: {
          batch: takeBatch,
          revoked: (partitions) => buffers.revoke(partitions),
          drain: async (signal) => {
            // The drain deadline ends every write retry; what is not committed by then is
            // read again by the next owner.
            signal.addEventListener('abort', () => writes.abort(), { once: true });
            await buffers.flushAll();
          },
        },
      },
    );
    await member.start();
    // Time-based flushes; inserts themselves run in the per-partition chains.
    timer = setInterval(() => buffers.tick(), Math.max(10, Math.min(100, Math.floor(config.lingerMs / 4))));
    if (config.rollupIntervalMs > 0)
      rollups = startRollupKeeper({
        backend: b,
        intervalMs: config.rollupIntervalMs,
        lateness: { maxLatenessMs: config.maxLatenessMs, windowSizeMs: config.windowSizeMs },
        clock: { ...systemClock, now },
        log,
      });
    readiness.setReady(true);
  }
}
