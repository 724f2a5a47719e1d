/**
 * fleetgrid sink — the read side of CQRS (DESIGN §1, §3). Consumes every stream in the
 * consumer group `fleetgrid-sink-clickhouse` and writes it into the ClickHouse
 * projections of sinks/migrations, effectively once:
 *
 * - records are decoded (schemas/serde.ts, cached fast path), validated (raw events) and
 *   mapped to JSON rows into a bounded buffer per partition (sinks/batch.ts);
 * - a batch is a fixed offset range; its plan is committed to Kafka before the insert,
 *   each table insert carries `insert_deduplication_token = topic:partition:first-last`,
 *   and the offset is committed only after ClickHouse acknowledged and the batch's bad
 *   records reached the DLQ: a crash at any point re-inserts the same range with the
 *   same token, which ClickHouse drops;
 * - a buffer over its high-water mark pauses its partition, resumed below the low-water
 *   mark; retriable failures retry with capped full-jitter backoff while paused, so
 *   memory stays flat during a ClickHouse outage and the backlog drains afterwards;
 * - bad records (decode, validation, refused by ClickHouse) go to telemetry.dlq with
 *   their original bytes; records read FROM the DLQ are only loaded into dead_letters.
 *
 * In embedded mode this process owns the chDB data directory and serves reads to the
 * query API on 127.0.0.1 (sinks/query-server.ts).
 */
import type { AppConfig } from '../lib/config.ts';
import { toDeadLetter } from '../lib/dlq.ts';
import { FleetgridError, isRetriable, toFleetgridError } from '../lib/errors.ts';
import type {
  EachBatchPayload,
  KafkaAdmin,
  KafkaClient,
  KafkaConsumer,
  KafkaProducer,
} from '../lib/kafka.ts';
import { headersToStrings, toKafkaError } from '../lib/kafka.ts';
import type { Service } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/log.ts';
import { type MetricsServer, type Registry, startMetricsServer } from '../lib/metrics.ts';
import { retry } from '../lib/retry.ts';
import { ensureTopics, type TopicKey, type TopicNames, topicNames, topicSpecs } from '../lib/topics.ts';
import type { Decoded, Serde } from '../schemas/serde.ts';
import { validateRawEvent } from '../schemas/validate.ts';
import type { RawEvent } from '../schemas/types.ts';
import { type ClickHouseBackend, createBackend } from './backend.ts';
import { type Batch, type Entry, formatPlan, PartitionBuffer, parsePlan, type Rejected } from './batch.ts';
import { migrationVariables, type SinkConfig } from './config.ts';
import { createSinkMetrics, type SinkMetrics } from './metrics.ts';
import { migrate } from './migrate.ts';
import { startQueryServer, type QueryServer } from './query-server.ts';
import { mapDeadLetter, mapRecord } from './rows.ts';
import { writeBatch } from './writer.ts';

export const SINK_STAGE = 'sink-clickhouse';
const RAW_KEYS = new Set<TopicKey>(['truck', 'turbine', 'solar']);

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
}

export function createClickHouseSink(app: AppConfig, config: SinkConfig, deps: SinkDeps): ClickHouseSink {
  const log = deps.log.child({ component: 'sink' });
  const now = deps.now ?? Date.now;
  const topics: TopicNames = topicNames(app.topicPrefix);
  const keyOfTopic = new Map<string, TopicKey>(
    (Object.entries(topics) as [TopicKey, string][]).map(([key, name]) => [name, key]),
  );
  const metrics = createSinkMetrics(deps.registry);
  const abort = new AbortController();
  const policy = { baseMs: config.retryBaseMs, capMs: config.retryCapMs };
  const buffers = new Map<string, PartitionBuffer>();
  const pending = new Map<string, Promise<PartitionBuffer>>();
  const flushing = new Map<string, Promise<void>>();
  const paused = new Set<string>();
  let backend: ClickHouseBackend | undefined;
  let consumer: KafkaConsumer | undefined;
  let producer: KafkaProducer | undefined;
  let admin: KafkaAdmin | undefined;
  let timer: NodeJS.Timeout | undefined;
  let metricsServer: MetricsServer | undefined;
  let queryServer: QueryServer | undefined;
  let stopping = false;

  // Write gate for replay's final copy and swap (see holdWrites).
  let held: PromiseWithResolvers<void> | undefined;
  let drained: PromiseWithResolvers<void> | undefined;
  let writesInFlight = 0;

  /**
   * Holds new inserts and waits for those in flight; returns the release. Replay inside
   * this process uses it around its catch-up copy and EXCHANGE, so no row the live sink
   * writes can fall between the two.
   */
  async function holdWrites(): Promise<() => void> {
    while (held) await held.promise;
    const gate = Promise.withResolvers<void>();
    held = gate;
    while (writesInFlight > 0) {
      drained = Promise.withResolvers<void>();
      await drained.promise;
    }
    return () => {
      if (held === gate) held = undefined;
      gate.resolve();
    };
  }

  const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  const limits = { maxRows: config.batchMaxRows, maxBytes: config.batchMaxBytes, lingerMs: config.lingerMs };

  /** The buffer of a newly owned partition, primed with the plan its last owner committed. */
  function bufferFor(topic: string, partition: number): Promise<PartitionBuffer> {
    const key = keyOf(topic, partition);
    const existing = buffers.get(key);
    if (existing) return Promise.resolve(existing);
    let loading = pending.get(key);
    if (!loading) {
      loading = (async () => {
        const committed = await retry(
          async () => {
            try {
              return await (admin as KafkaAdmin).fetchOffsets({ groupId: config.groupId, topics: [topic] });
            } catch (error) {
              throw toKafkaError('fetch committed offsets', error);
            }
          },
          { policy, signal: abort.signal },
        );
        const entry = committed[0]?.partitions.find((p) => p.partition === partition);
        const plan = parsePlan(entry?.metadata);
        const committedOffset = entry && Number(entry.offset) >= 0 ? BigInt(entry.offset) : undefined;
        const usable = plan !== undefined && (committedOffset === undefined || plan >= committedOffset);
        if (usable)
          log.info(
            { topic, partition, committed: entry?.offset, plannedLast: String(plan) },
            'resuming a planned batch',
          );
        const buffer = new PartitionBuffer(topic, partition, limits, usable ? plan : undefined);
        buffers.set(key, buffer);
        return buffer;
      })().finally(() => pending.delete(key));
      pending.set(key, loading);
    }
    return loading;
  }

  /** A rebalance: buffers of partitions we no longer own are dropped (the new owner re-reads them). */
  function onAssignment(assignment: Record<string, number[]>): void {
    const owned = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) owned.add(keyOf(topic, partition));
    }
    for (const [key, buffer] of buffers) {
      if (owned.has(key)) continue;
      buffers.delete(key);
      const records = countRecords(buffer);
      metrics.bufferedRowsRemoved.inc(records);
      metrics.bufferedBytesRemoved.inc(buffer.bytes);
      if (paused.delete(key)) metrics.resumes.inc({ topic: buffer.topic });
      log.info(
        { topic: buffer.topic, partition: buffer.partition, records },
        'partition revoked: buffer dropped',
      );
    }
  }

  type Message = EachBatchPayload['batch']['messages'][number];

  /** Validation and mapping of a decoded record; bad data becomes a rejected entry. */
  function finish(topicKey: TopicKey, message: Message, partition: number, decoded: Decoded): Entry {
    const base = { offset: BigInt(message.offset), key: message.key ?? null, value: message.value ?? null };
    try {
      if (RAW_KEYS.has(topicKey)) {
        validateRawEvent({ type: decoded.record, value: decoded.value } as RawEvent, now());
      }
      const mapped = mapRecord(topicKey, decoded, { partition, offset: message.offset });
      return { kind: 'row', ...base, table: mapped.table, line: mapped.line };
    } catch (error) {
      return { kind: 'rejected', ...base, error: toFleetgridError(error, 'INTERNAL', 'mapping failed') };
    }
  }

  function rejected(message: Message, error: unknown): Entry {
    return {
      kind: 'rejected',
      offset: BigInt(message.offset),
      key: message.key ?? null,
      value: message.value ?? null,
      error: toFleetgridError(error, 'INTERNAL', 'decode failed'),
    };
  }

  /**
   * The synchronous fast path (writer schema cached): no promise per record. Undefined
   * when the schema must be fetched from the registry first.
   */
  function entrySync(topicKey: TopicKey, message: Message, partition: number): Entry | undefined {
    if (topicKey === 'dlq') {
      const key = message.key ?? null;
      const value = message.value ?? null;
      const mapped = mapDeadLetter({
        partition,
        offset: message.offset,
        key,
        value,
        headers: headersToStrings(message.headers),
      });
      return {
        kind: 'row',
        offset: BigInt(message.offset),
        key,
        value,
        table: mapped.table,
        line: mapped.line,
      };
    }
    let decoded: Decoded | undefined;
    try {
      decoded = deps.serde.decodeCached(message.value ?? null);
    } catch (error) {
      return rejected(message, error);
    }
    return decoded ? finish(topicKey, message, partition, decoded) : undefined;
  }

  async function entryAsync(topicKey: TopicKey, message: Message, partition: number): Promise<Entry> {
    let decoded: Decoded;
    try {
      // A registry outage is retried, not dead-lettered (DESIGN §3).
      decoded = await retry(() => deps.serde.decode(message.value ?? null), { policy, signal: abort.signal });
    } catch (error) {
      if (isRetriable(error) || abort.signal.aborted) throw error; // only when stopping aborted the retry
      return rejected(message, error);
    }
    return finish(topicKey, message, partition, decoded);
  }

  let batchesInHand = 0;

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    batchesInHand++;
    try {
      await takeBatch(payload);
    } finally {
      batchesInHand--;
    }
  }

  async function takeBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const topicKey = keyOfTopic.get(batch.topic);
    if (!topicKey) return;
    const buffer = await bufferFor(batch.topic, batch.partition);
    let added = 0;
    let bytes = 0;
    let lastOffset: string | undefined;
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || stopping) break;
      const entry =
        entrySync(topicKey, message, batch.partition) ??
        (await entryAsync(topicKey, message, batch.partition));
      const before = buffer.bytes;
      if (buffer.add(entry, now())) {
        added++;
        bytes += buffer.bytes - before;
      }
      lastOffset = message.offset;
    }
    // Marks the fetch position only (autoCommit is off: commits follow the inserts). Once
    // per fetch, and counters once per fetch: both cost microseconds per call.
    if (lastOffset !== undefined) resolveOffset(lastOffset);
    metrics.received.inc({ topic: topicKey }, added);
    metrics.bufferedRowsAdded.inc(added);
    metrics.bufferedBytesAdded.inc(bytes);
    await heartbeat();
    const key = keyOf(batch.topic, batch.partition);
    if (!paused.has(key) && (buffer.rows >= config.highWaterRows || buffer.bytes >= config.highWaterBytes)) {
      paused.add(key);
      consumer?.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
      metrics.pauses.inc({ topic: topicKey });
      log.debug({ topic: batch.topic, partition: batch.partition, rows: buffer.rows }, 'partition paused');
    }
    schedule(buffer);
  }

  function maybeResume(buffer: PartitionBuffer): void {
    const key = keyOf(buffer.topic, buffer.partition);
    if (!paused.has(key)) return;
    if (
      buffer.rows < config.highWaterRows * config.lowWaterRatio &&
      buffer.bytes < config.highWaterBytes * config.lowWaterRatio
    ) {
      paused.delete(key);
      consumer?.resume([{ topic: buffer.topic, partitions: [buffer.partition] }]);
      metrics.resumes.inc({ topic: keyOfTopic.get(buffer.topic) ?? buffer.topic });
    }
  }

  const owns = (buffer: PartitionBuffer) => buffers.get(keyOf(buffer.topic, buffer.partition)) === buffer;

  /** Kafka calls retried while we still own the partition. */
  function kafkaRetry<T>(what: string, buffer: PartitionBuffer, operation: () => Promise<T>): Promise<T> {
    return retry(
      async () => {
        try {
          return await operation();
        } catch (error) {
          throw toKafkaError(what, error);
        }
      },
      {
        policy,
        signal: abort.signal,
        shouldRetry: () => owns(buffer) && !abort.signal.aborted,
        onRetry: (error) =>
          metrics.insertRetries.inc({
            table: what,
            code: error instanceof FleetgridError ? error.code : 'UNKNOWN',
          }),
      },
    );
  }

  async function flushBatch(buffer: PartitionBuffer, batch: Batch): Promise<void> {
    const topicKey = keyOfTopic.get(batch.topic) ?? batch.topic;
    const c = consumer as KafkaConsumer;
    // 1. The plan: whoever writes this range after a crash cuts it the same way.
    await kafkaRetry('commit', buffer, () =>
      c.commitOffsets([
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: String(batch.first),
          metadata: formatPlan(batch.last),
        },
      ]),
    );
    // 2. The inserts, retried and bisected; held while a replay swaps a table (holdWrites).
    while (held) await held.promise;
    writesInFlight++;
    let refused: Rejected[];
    try {
      refused = await writeBatch(batch, {
        backend: backend as ClickHouseBackend,
        metrics,
        policy,
        signal: abort.signal,
      });
    } finally {
      writesInFlight--;
      if (writesInFlight === 0) drained?.resolve();
    }
    // 3. Bad records to the DLQ before the commit, so none is lost in a crash.
    const dead: Rejected[] = [...batch.rejected, ...refused];
    if (dead.length > 0) {
      if (topicKey === 'dlq') {
        // Never dead-letter the DLQ (it would loop): count and log what could not be loaded.
        log.error(
          { count: dead.length, first: String(dead[0]?.offset) },
          'dead letters that ClickHouse refused: skipped',
        );
      } else {
        const at = now();
        const messages = dead.map((d) =>
          toDeadLetter(
            {
              topic: batch.topic,
              partition: batch.partition,
              offset: String(d.offset),
              key: d.key,
              value: d.value,
            },
            d.error,
            SINK_STAGE,
            at,
          ),
        );
        await kafkaRetry('dlq', buffer, () => (producer as KafkaProducer).send(topics.dlq, messages));
        for (const d of dead) metrics.deadLettered.inc({ topic: topicKey, code: d.error.code });
      }
    }
    // 4. The commit: only now is the range done.
    await kafkaRetry('commit', buffer, () =>
      c.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(batch.last + 1n) }]),
    );
    metrics.batches.inc({ topic: topicKey });
  }

  function countRecords(buffer: PartitionBuffer): number {
    let records = buffer.open?.records ?? 0;
    for (const batch of buffer.sealed) records += batch.records;
    return records;
  }

  /** Writes a partition's due batches one after another; one writer per partition. */
  function schedule(buffer: PartitionBuffer): void {
    const key = keyOf(buffer.topic, buffer.partition);
    if (flushing.has(key) || !buffer.due(now())) return;
    const run = (async () => {
      for (let batch = buffer.next(now()); batch && owns(buffer); batch = buffer.next(now())) {
        try {
          await flushBatch(buffer, batch);
        } catch (error) {
          if (abort.signal.aborted || !owns(buffer)) return;
          // Not retriable and not bad data (a programmer error): stop rather than skip data.
          log.fatal(
            { err: error, topic: batch.topic, partition: batch.partition },
            'batch failed for good: stopping',
          );
          process.exitCode = 1;
          deps.onFatal?.(error);
          return;
        }
        buffer.done(batch);
        metrics.bufferedRowsRemoved.inc(batch.records);
        metrics.bufferedBytesRemoved.inc(batch.bytes);
        maybeResume(buffer);
      }
    })().finally(() => flushing.delete(key));
    flushing.set(key, run);
  }

  return {
    metrics,
    holdWrites,
    backend: () => {
      if (!backend) throw new FleetgridError('INTERNAL', 'sink not started');
      return backend;
    },
    queryUrl: () => queryServer?.url,
    metricsPort: () => metricsServer?.port,
    buffered() {
      let rows = 0;
      let bytes = 0;
      let records = 0;
      for (const buffer of buffers.values()) {
        rows += buffer.rows;
        bytes += buffer.bytes;
        records += countRecords(buffer);
      }
      return { rows, bytes, records };
    },

    async start() {
      backend = deps.backend ?? (await createBackend(app.clickhouse));
      const report = await retry(() => migrate(backend as ClickHouseBackend, migrationVariables(config)), {
        policy,
        signal: abort.signal,
      });
      log.info({ ...report, mode: backend.mode }, 'migrations checked');
      if (config.metricsPort !== undefined) {
        metricsServer = await startMetricsServer(deps.registry, { port: config.metricsPort });
      }
      if (app.clickhouse.mode === 'embedded' && config.queryPort >= 0) {
        queryServer = await startQueryServer(backend, {
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
              backend: backend as ClickHouseBackend,
              progress,
              holdWrites,
            });
          },
        });
        log.info({ url: queryServer.url }, 'read-only query endpoint for the embedded engine');
      }
      admin = deps.kafka.admin();
      producer = deps.kafka.producer();
      consumer = deps.kafka.consumer({
        groupId: config.groupId,
        maxWaitTimeMs: 100,
        maxBytesPerPartition: config.fetchMaxBytesPerPartition,
        sessionTimeoutMs: config.sessionTimeoutMs,
        heartbeatIntervalMs: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
        rebalanceTimeoutMs: Math.max(10_000, config.sessionTimeoutMs),
      });
      await admin.connect();
      // Topics as code (DESIGN §3): whichever service starts first creates them.
      await retry(() => ensureTopics(admin as KafkaAdmin, topicSpecs(app.topicPrefix)), {
        policy,
        signal: abort.signal,
      });
      await producer.connect();
      await consumer.connect();
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        onAssignment(event.payload.memberAssignment as Record<string, number[]>);
      });
      await consumer.subscribe({ topics: Object.values(topics), fromBeginning: config.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 4,
        eachBatch,
      });
      // Time-based flushes; inserts themselves run in the per-partition chains above.
      timer = setInterval(
        () => {
          for (const buffer of buffers.values()) schedule(buffer);
        },
        Math.max(10, Math.min(100, Math.floor(config.lingerMs / 4))),
      );
    },

    async stop() {
      stopping = true;
      // Stop fetching but stay in the group (consumer.stop() would leave it, and commits
      // need the membership); buffered batches are then written and committed.
      consumer?.pause(Object.values(topics).map((topic) => ({ topic })));
      while (batchesInHand > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      if (timer) clearInterval(timer);
      const deadline = setTimeout(() => abort.abort(), 30_000);
      for (const buffer of buffers.values()) {
        buffer.flushAll();
        schedule(buffer);
      }
      await Promise.allSettled([...flushing.values()]);
      clearTimeout(deadline);
      abort.abort();
      await consumer?.disconnect();
      await producer?.disconnect();
      await admin?.disconnect();
      await queryServer?.close();
      await metricsServer?.close();
      if (!deps.backend) await backend?.close();
    },
  };
}
