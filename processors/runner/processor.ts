/**
 * The runner of the stateful processors (`fleetgrid process`): all the I/O around the
 * pure cores of processors/core.
 *
 * One member of the consumer group `<prefix>fleetgrid-processors` reads the raw topics
 * (truck, turbine, solar) and keeps one PartitionCore per input topic-partition it owns.
 * Each record is decoded (serde, cached fast path), validated, and applied to its
 * partition's core; the outputs (window aggregates, alerts, coalesced device states, dead
 * letters) go into one bounded output buffer that a single flusher sends with acks=all.
 *
 * Delivery is effectively-once: a partition's checkpoint (core snapshot + next offset,
 * written atomically and fenced by an ownership epoch, see checkpoint.ts) is written only
 * after every output derived from the events before that offset was acknowledged by Kafka.
 * A restarted or new owner restores the snapshot and continues at that offset; outputs are
 * deterministic, so a replay re-emits identical records that downstream deduplicates.
 * The full argument is in docs/processors.md.
 *
 * Backpressure: when the buffer passes its high-water mark (rows or bytes) every input
 * partition is paused (the member keeps heartbeating, so it stays in the group) and is
 * resumed below the low-water mark; sends are retried with capped full-jitter backoff. A
 * registry outage pauses only the affected partition while the decode is retried. A
 * watchdog restarts a consumer that stopped fetching, heartbeating and processing.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Clock } from '../../lib/clock.ts';
import { systemClock } from '../../lib/clock.ts';
import { FleetgridError, isRetriable, toFleetgridError } from '../../lib/errors.ts';
import type {
  EachBatchPayload,
  KafkaClient,
  KafkaConsumer,
  KafkaMessage,
  OutgoingMessage,
} from '../../lib/kafka.ts';
import type { Service } from '../../lib/lifecycle.ts';
import type { Logger } from '../../lib/log.ts';
import { type MetricsServer, type Registry, startMetricsServer } from '../../lib/metrics.ts';
import { retry } from '../../lib/retry.ts';
import { ensureTopics, RAW_TOPIC_KEYS, type TopicNames, topicNames, topicSpecs } from '../../lib/topics.ts';
import type { Decoded, Serde } from '../../schemas/serde.ts';
import type { DeviceState, RawEvent } from '../../schemas/types.ts';
import { validateRawEvent } from '../../schemas/validate.ts';
import type { ProcessorConfig } from '../config.ts';
import {
  type CoreConfig,
  createPartitionCore as defaultCreateCore,
  type PartitionCore,
  parseCoreConfig,
} from '../core/index.ts';
import { OutputBuffer, type Take, WatermarkGate } from './buffer.ts';
import {
  checkpointKey,
  createCheckpointStore,
  type EncodedCheckpoint,
  encodeCheckpoint,
} from './checkpoint.ts';
import { createProcessorMetrics, type ProcessorMetrics } from './metrics.ts';
import { ProgressWatchdog } from './watchdog.ts';
import { createOutputRouter, deviceStateFields, type SourceRecord } from './outputs.ts';

export interface ProcessorDeps {
  kafka: KafkaClient;
  redis: Redis;
  serde: Serde;
  metrics: Registry;
  log: Logger;
  clock?: Clock;
  /** The core factory; tests may substitute a stand-in. */
  createCore?: (config: CoreConfig, restored?: unknown) => PartitionCore;
}

export type ProcessorRunConfig = ProcessorConfig & { topicPrefix: string };

export interface ProcessorStats {
  ownedPartitions: string[];
  bufferedRows: number;
  pausedForBackpressure: boolean;
  heldForRegistry: string[];
  consumerRestarts: number;
}

export interface Processor extends Service {
  /** The port /metrics listens on, once started (undefined when none is served). */
  readonly metricsPort: number | undefined;
  readonly groupId: string;
  stats(): ProcessorStats;
  /** Runs a checkpoint of every owned partition now (tests and operators). */
  checkpointNow(): Promise<void>;
  /**
   * What the watchdog does to a stalled consumer: checkpoint, leave, join again with a fresh
   * consumer and re-claim partitions from their checkpoints (operators and tests).
   */
  restartConsumer(reason?: string): Promise<void>;
}

const RAW_RECORDS = new Set<string>([
  'TruckTelemetry',
  'EngineStateChanged',
  'DiagnosticReported',
  'TurbineTelemetry',
  'SolarTelemetry',
]);

interface PartitionTask {
  topic: string;
  partition: number;
  /** `topic:partition`, the map key. */
  id: string;
  redisKey: string;
  core: PartitionCore;
  epoch: number;
  /** Next offset to process; undefined until the first record when there was no checkpoint. */
  nextOffset: number | undefined;
  /** Highest offset counted as received, so a held or refetched record is counted once. */
  lastReceived: number;
  /** Bumped whenever the state changes; a checkpoint is needed when it differs from savedVersion. */
  version: number;
  /** The partition's log end offset as of the last fetched batch: tells caught up from behind. */
  highWatermark: number;
  savedVersion: number;
  /** The offset a seek was last issued for: seek once, then accept a real gap (retention). */
  soughtFor: number | undefined;
  /** After a rebalance kept this partition here: check nobody else claimed it meanwhile. */
  verify: boolean;
}

interface Capture {
  task: PartitionTask;
  version: number;
  offset: number;
  encoded: EncodedCheckpoint;
}

export function createProcessor(config: ProcessorRunConfig, deps: ProcessorDeps): Processor {
  const { kafka, redis, serde, log } = deps;
  const clock = deps.clock ?? systemClock;
  const createCore = deps.createCore ?? defaultCreateCore;
  const coreConfig = parseCoreConfig(config.core);
  const topics: TopicNames = topicNames(config.topicPrefix);
  const inputTopics = RAW_TOPIC_KEYS.map((key) => topics[key]);
  // Prefixing the group keeps test stacks (and side-by-side deployments) in groups of their
  // own: kafkajs assigners assume every member of a group subscribes to the same topics.
  const groupId = `${config.topicPrefix}${config.groupId}`;
  const metrics: ProcessorMetrics = createProcessorMetrics(deps.metrics);
  const store = createCheckpointStore(redis);
  const buffer = new OutputBuffer<DeviceState>();
  const gate = new WatermarkGate(config);
  const router = createOutputRouter({ serde, topics, buffer, clock, metrics });
  const producer = kafka.producer();
  const backoff = { baseMs: config.backoffBaseMs, capMs: config.backoffCapMs };

  const tasks = new Map<string, PartitionTask>();
  /** Partitions paused because their next record waits for the registry. */
  const heldForRegistry = new Set<string>();
  let assigned = new Set<string>();
  let consumer: KafkaConsumer | undefined;
  let metricsServer: MetricsServer | undefined;
  let started = false;
  let stopping = false;
  let restarting = false;
  let restarts = 0;
  const progressWatchdog = new ProgressWatchdog(clock, config.watchdogTimeoutMs);
  /** Bumped per consumer: a batch of a replaced consumer must not touch partition state. */
  let generation = 0;
  let batchesInFlight = 0;
  let batchIdle = Promise.withResolvers<void>();
  batchIdle.resolve();
  const timers: NodeJS.Timeout[] = [];
  /** Aborted by stop(): background retries (registry holds) end instead of outliving us. */
  const lifetime = new AbortController();

  // ---------------------------------------------------------------- output flushing

  let flushing: Promise<void> | undefined;
  let lingerTimer: NodeJS.Timeout | undefined;
  let coalescedReported = 0;
  /** When device states last went out; they coalesce for stateFlushIntervalMs between sends. */
  let statesSentAt = 0;
  /** A checkpoint or shutdown needs everything out, states included, now. */
  let forceStates = false;

  /**
   * Starts a flush now when asked to (checkpoint, backpressure, shutdown) or when a full
   * request of records is pending; otherwise after the linger, or when the pending device
   * states are due.
   */
  function kick(now = false): void {
    if (buffer.pendingRows === 0) return;
    if (now) forceStates = true;
    if (now || buffer.pendingRecords >= config.maxSendRows) {
      if (lingerTimer) clearTimeout(lingerTimer);
      lingerTimer = undefined;
      void flush();
    } else if (!lingerTimer && !flushing) {
      const statesDueIn = statesSentAt + config.stateFlushIntervalMs - clock.now();
      const delay = buffer.pendingRecords > 0 ? config.lingerMs : Math.max(config.lingerMs, statesDueIn);
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined;
        void flush();
      }, delay);
    }
  }

  /** One flusher at a time, taking whatever is pending until nothing is: acks stay in order. */
  function flush(): Promise<void> {
    if (!flushing) {
      flushing = (async () => {
        for (;;) {
          const includeStates = forceStates || clock.now() - statesSentAt >= config.stateFlushIntervalMs;
          const take = buffer.take({ includeStates });
          if (!take) break;
          if (includeStates) {
            statesSentAt = clock.now();
            forceStates = false;
          }
          await send(take);
          buffer.ack(take);
          metrics.outputAcked.inc(take.rows + (buffer.coalesced - coalescedReported));
          coalescedReported = buffer.coalesced;
          updateGate();
        }
      })().finally(() => {
        // Runs after `flushing` was assigned (a .finally callback is always asynchronous),
        // so a flush that found nothing to do cannot leave a stale promise behind.
        flushing = undefined;
        if (buffer.pendingRows > 0) kick();
      });
    }
    return flushing;
  }

  async function send(take: Take<DeviceState>): Promise<void> {
    const rows: { topic: string; message: OutgoingMessage; bytes: number }[] = take.records.map((r) => ({
      topic: r.topic,
      message: r.message,
      bytes: r.bytes,
    }));
    for (const s of take.states) {
      const value = serde.encode('DeviceState', s.state);
      rows.push({ topic: s.topic, message: { key: s.key, value }, bytes: value.length });
    }
    // Requests are bounded in rows and bytes: the broker refuses record batches above its
    // message.max.bytes (1 MiB by default), an error no retry would ever clear. Chunks go
    // out one after another, so records of one key keep their order.
    let start = 0;
    while (start < rows.length) {
      let end = start;
      let bytes = 0;
      while (end < rows.length && end - start < config.maxSendRows) {
        const next = rows[end]!.bytes + 64; // + record overhead (key, headers, varints)
        if (end > start && bytes + next > config.maxSendBytes) break;
        bytes += next;
        end++;
      }
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const { topic, message } of rows.slice(start, end)) {
        const list = byTopic.get(topic);
        if (list) list.push(message);
        else byTopic.set(topic, [message]);
      }
      start = end;
      const batches = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      const stopTimer = metrics.produceDuration.startTimer();
      await retry(() => producer.sendBatch(batches), {
        policy: backoff,
        clock,
        // Every produce failure is retried: giving up would lose derived records, and a
        // pipeline that visibly stalls (paused, backoff metric climbing, errors logged) is
        // the safer failure for the rare non-retriable one.
        shouldRetry: () => true,
        onRetry: (error, attempt, delayMs) => {
          metrics.backoffAttempts.inc({ operation: 'produce' });
          const level = isRetriable(error) ? 'warn' : 'error';
          log[level]({ err: error, attempt, delayMs }, 'produce failed; retrying with backoff');
        },
      });
      stopTimer();
      for (const { topic, messages } of batches) metrics.emitted.inc({ topic }, messages.length);
    }
    if (take.states.length > 0) {
      const states = take.states.map((s) => ({
        key: `${config.redisKeyPrefix}:device:${config.topicPrefix}${s.key}`,
        seq: s.state.seq,
        fields: deviceStateFields(s.state),
      }));
      await retry(() => store.writeDeviceStates(states), {
        policy: backoff,
        clock,
        onRetry: () => metrics.backoffAttempts.inc({ operation: 'redis' }),
      });
    }
  }

  // ---------------------------------------------------------------- pause / resume

  function allInputs(): { topic: string }[] {
    return inputTopics.map((topic) => ({ topic }));
  }

  function updatePausedGauge(): void {
    metrics.pausedPartitions.set(gate.paused ? assigned.size : heldForRegistry.size);
  }

  /** Applies the watermark gate's decision to the consumer. */
  function updateGate(): void {
    const transition = gate.update(buffer.rows, buffer.bytes);
    if (!transition || !consumer) return;
    if (transition === 'pause') {
      consumer.pause(allInputs());
      metrics.pauses.inc({ reason: 'backpressure' });
      // Debug level: under sustained backpressure this flips often; the metrics tell the story.
      log.debug(
        { rows: buffer.rows, bytes: buffer.bytes },
        'output buffer above high-water mark: pausing input',
      );
      kick(true);
    } else {
      consumer.resume(allInputs());
      // Partitions waiting for the registry stay paused until their own retry succeeds.
      for (const id of heldForRegistry) consumer.pause([toTopicPartition(id)]);
      log.debug(
        { rows: buffer.rows, bytes: buffer.bytes },
        'output buffer below low-water mark: resuming input',
      );
    }
    updatePausedGauge();
  }

  function holdForRegistry(task: PartitionTask, value: Buffer | null, error: FleetgridError): void {
    if (heldForRegistry.has(task.id) || !consumer) return;
    heldForRegistry.add(task.id);
    const owner = consumer;
    owner.pause([toTopicPartition(task.id)]);
    metrics.pauses.inc({ reason: 'registry' });
    updatePausedGauge();
    log.warn(
      { err: error, partition: task.id },
      'schema registry unavailable: partition paused while retrying',
    );
    void retry(() => serde.decode(value), {
      policy: backoff,
      clock,
      signal: lifetime.signal,
      onRetry: () => metrics.backoffAttempts.inc({ operation: 'registry' }),
    })
      .catch(() => {
        // A non-retriable outcome (e.g. unknown schema) is handled when the record is
        // fetched again: it then goes to the DLQ like any other bad record.
      })
      .finally(() => {
        heldForRegistry.delete(task.id);
        if (owner === consumer && !gate.paused && !stopping) owner.resume([toTopicPartition(task.id)]);
        updatePausedGauge();
      });
  }

  // ---------------------------------------------------------------- partitions and records

  async function claim(
    topic: string,
    partition: number,
    gen: number,
    heartbeat: () => Promise<void>,
  ): Promise<PartitionTask> {
    const redisKey = checkpointKey(config.redisKeyPrefix, groupId, topic, partition);
    const { epoch, checkpoint } = await retry(() => store.claim(redisKey), {
      policy: backoff,
      clock,
      // A Redis outage is waited out in the group: heartbeats keep the membership (and
      // tell the watchdog this is backoff, not a wedged consumer). A replaced consumer stops.
      shouldRetry: (error) => isRetriable(error) && gen === generation && !stopping,
      onRetry: () => {
        metrics.backoffAttempts.inc({ operation: 'redis' });
        heartbeat().catch(() => {});
      },
    });
    if (gen !== generation) {
      throw new FleetgridError('INTERNAL', 'claim finished after its consumer was replaced; discarded');
    }
    const task: PartitionTask = {
      topic,
      partition,
      id: `${topic}:${partition}`,
      redisKey,
      core: createCore(coreConfig, checkpoint?.snapshot),
      epoch,
      nextOffset: checkpoint?.offset,
      lastReceived: (checkpoint?.offset ?? 0) - 1,
      version: 0,
      // Unknown until the first fetch; treated as caught up, as a restored idle partition is.
      highWatermark: 0,
      savedVersion: 0,
      soughtFor: undefined,
      verify: false,
    };
    tasks.set(task.id, task);
    metrics.ownedPartitions.set(tasks.size);
    log.info(
      { partition: task.id, epoch, offset: checkpoint?.offset ?? null },
      checkpoint ? 'partition claimed; state restored from checkpoint' : 'partition claimed; no checkpoint',
    );
    return task;
  }

  /** The task for a batch's partition: claimed on first sight, re-claimed if someone else took it. */
  async function taskFor(
    topic: string,
    partition: number,
    gen: number,
    heartbeat: () => Promise<void>,
  ): Promise<PartitionTask> {
    const id = `${topic}:${partition}`;
    const task = tasks.get(id);
    if (task?.verify) {
      const epoch = await retry(() => store.epochOf(task.redisKey), {
        policy: backoff,
        clock,
        shouldRetry: (error) => isRetriable(error) && gen === generation && !stopping,
        onRetry: () => {
          metrics.backoffAttempts.inc({ operation: 'redis' });
          heartbeat().catch(() => {});
        },
      });
      if (epoch === task.epoch) {
        task.verify = false;
        return task;
      }
      log.warn(
        { partition: id },
        'partition was owned by another member meanwhile: restoring its checkpoint',
      );
      tasks.delete(id);
    } else if (task) {
      return task;
    }
    return claim(topic, partition, gen, heartbeat);
  }

  async function eachBatch(payload: EachBatchPayload, gen: number): Promise<void> {
    if (stopping || restarting || gen !== generation) return;
    batchesInFlight++;
    if (batchesInFlight === 1) batchIdle = Promise.withResolvers<void>();
    try {
      await processBatch(payload, gen);
    } finally {
      progressWatchdog.progress();
      if (--batchesInFlight === 0) batchIdle.resolve();
    }
  }

  async function processBatch(
    { batch, resolveOffset, heartbeat, isRunning, isStale, pause }: EachBatchPayload,
    gen: number,
  ) {
    if (batch.messages.length === 0) return;
    if (gate.paused) {
      // Fetched before the pause took effect: leave it unresolved, it is fetched again on resume.
      pause();
      return;
    }
    const task = await taskFor(batch.topic, batch.partition, gen, heartbeat);
    if (gen !== generation) return;
    const first = Number(batch.messages[0]!.offset);
    if (task.nextOffset !== undefined && first > task.nextOffset && task.soughtFor !== task.nextOffset) {
      // The fetch position is ahead of the checkpoint (committed offsets can run ahead of a
      // lost checkpoint): go back so that no event between them is skipped.
      task.soughtFor = task.nextOffset;
      consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: String(task.nextOffset) });
      log.warn({ partition: task.id, from: first, to: task.nextOffset }, 'seeking back to the checkpoint');
      return;
    }
    task.highWatermark = Number(batch.highWatermark);
    const topic = batch.topic;
    // One processing time per batch (a batch takes milliseconds): validation's future-time
    // bound and the core's idle clock do not need more, and it saves a clock call per record.
    const now = clock.now();
    let received = 0;
    let processed = 0;
    let skipped = 0;
    let late = 0;
    // Resolving once per batch (the last handled offset) is what kafkajs needs to move the
    // fetch position; per message it costs a Long parse and map lookups each.
    let lastHandled: string | undefined;
    try {
      for (let i = 0; i < batch.messages.length; i++) {
        // isStale/isRunning are map lookups in kafkajs: checked every 256 records, a stale
        // batch (rebalance, seek) is still abandoned within a fraction of a millisecond.
        if ((i & 255) === 0 && (!isRunning() || isStale())) break;
        if (stopping || restarting) break;
        const message = batch.messages[i]!;
        const offset = Number(message.offset);
        if (task.nextOffset !== undefined && offset < task.nextOffset) {
          // Already reflected in the restored state (the fetch started at an older commit).
          skipped++;
          lastHandled = message.offset;
          continue;
        }
        if (offset > task.lastReceived) {
          received++;
          task.lastReceived = offset;
        }
        let decoded: Decoded | FleetgridError;
        try {
          // Fast path without an await: the writer schema is almost always cached.
          decoded = serde.decodeCached(message.value) ?? (await serde.decode(message.value));
        } catch (error) {
          decoded = toFleetgridError(error, 'INTERNAL');
        }
        if (decoded instanceof FleetgridError && decoded.retriable) {
          holdForRegistry(task, message.value, decoded);
          break;
        }
        if (tasks.get(task.id) !== task) break; // fenced or revoked while decoding
        late += applyRecord(task, message, decoded, now);
        task.nextOffset = offset + 1;
        task.version++;
        processed++;
        lastHandled = message.offset;
        if (buffer.pendingRecords >= config.maxSendRows) kick();
        updateGate();
        if (gate.paused) break;
      }
    } finally {
      if (lastHandled !== undefined) resolveOffset(lastHandled);
      if (received) metrics.received.inc({ topic }, received);
      if (processed) metrics.processed.inc({ topic }, processed);
      if (late) metrics.late.inc({ topic }, late);
      if (skipped) metrics.replaySkipped.inc({ topic }, skipped);
      kick();
    }
    await heartbeat();
  }

  /** Decode result → validation → core → outputs. Returns 1 when the event was out of order. */
  function applyRecord(
    task: PartitionTask,
    message: KafkaMessage,
    decoded: Decoded | FleetgridError,
    now: number,
  ): number {
    // Only dead letters need the source record; built on demand, off the hot path.
    const sourceOf = (): SourceRecord => ({
      topic: task.topic,
      partition: task.partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      headers: message.headers,
    });
    if (decoded instanceof FleetgridError) {
      router.deadLetter(sourceOf(), decoded, 'decode');
      return 0;
    }
    if (!RAW_RECORDS.has(decoded.record)) {
      router.deadLetter(
        sourceOf(),
        new FleetgridError('DECODE_UNEXPECTED_TYPE', `${decoded.record} is not a raw device event`),
        'decode',
      );
      return 0;
    }
    const event = { type: decoded.record, value: decoded.value } as RawEvent;
    try {
      validateRawEvent(event, now);
    } catch (error) {
      router.deadLetter(sourceOf(), toFleetgridError(error, 'VALIDATION_OUT_OF_RANGE'), 'validate');
      return 0;
    }
    const isLate = event.value.ts < task.core.streamTime ? 1 : 0;
    const output = task.core.apply(event, now);
    router.route(output, output.rejected.length > 0 ? sourceOf() : undefined);
    return isLate;
  }

  /**
   * The idle timer exists for partitions with nothing more to read. A partition that is
   * paused (backpressure, registry outage) or still behind its log end is not idle, only
   * waiting: advancing its stream time would close windows early and raise false
   * heartbeat_lost alerts for devices whose events are sitting in the log.
   */
  function isIdleCandidate(task: PartitionTask): boolean {
    if (gate.paused || heldForRegistry.has(task.id)) return false;
    return task.nextOffset === undefined || task.nextOffset >= task.highWatermark;
  }

  function onTimer(): void {
    if (stopping) return;
    const now = clock.now();
    for (const task of tasks.values()) {
      if (!isIdleCandidate(task)) continue;
      const output = task.core.onTimer(now);
      const count =
        output.aggregates.length + output.alerts.length + output.deviceStates.length + output.rejected.length;
      if (count === 0) continue;
      router.route(output, undefined);
      task.version++;
    }
    updateGate();
    kick();
  }

  // ---------------------------------------------------------------- checkpoints

  let checkpointChain: Promise<void> = Promise.resolve();
  let checkpointRunning = false;

  function capture(task: PartitionTask): Capture | undefined {
    if (task.nextOffset === undefined || task.version === task.savedVersion) return undefined;
    // Encoded now, synchronously: the state and offset are consistent at this instant, and
    // later events must not leak into this checkpoint while we wait for acks.
    const encoded = encodeCheckpoint({ offset: task.nextOffset, snapshot: task.core.snapshot() });
    return { task, version: task.version, offset: task.nextOffset, encoded };
  }

  /** Serialised: checkpoints never overlap, so saves of one partition land in order. */
  function checkpoint(reason: string, only?: PartitionTask[]): Promise<void> {
    const run = checkpointChain.then(() => runCheckpoint(reason, only));
    checkpointChain = run.catch(() => {});
    return run;
  }

  async function runCheckpoint(reason: string, only: PartitionTask[] | undefined): Promise<void> {
    checkpointRunning = true;
    const startedAt = performance.now();
    let worked = false;
    try {
      const captures = (only ?? [...tasks.values()]).map(capture).filter((c) => c !== undefined);
      if (captures.length === 0) return;
      worked = true;
      // Protocol step 2: every output derived before the captured offsets must be acked first.
      const seq = buffer.appendedSeq;
      kick(true);
      await buffer.waitAcked(seq);
      const { accepted, bytes } = await retry(
        () =>
          store.saveAll(
            captures.map((c) => ({ key: c.task.redisKey, epoch: c.task.epoch, encoded: c.encoded })),
            clock.now(),
          ),
        { policy: backoff, clock, onRetry: () => metrics.backoffAttempts.inc({ operation: 'redis' }) },
      );
      metrics.stateBytes.set(bytes);
      const commits: { topic: string; partition: number; offset: string }[] = [];
      captures.forEach((c, i) => {
        if (accepted[i]) {
          c.task.savedVersion = Math.max(c.task.savedVersion, c.version);
          commits.push({ topic: c.task.topic, partition: c.task.partition, offset: String(c.offset) });
          metrics.checkpoints.inc({ result: 'saved' });
        } else {
          // Another member claimed the partition: our state is stale; drop it.
          metrics.checkpoints.inc({ result: 'fenced' });
          if (tasks.get(c.task.id) === c.task) tasks.delete(c.task.id);
          log.warn(
            { partition: c.task.id },
            'checkpoint fenced: partition now owned elsewhere; state dropped',
          );
        }
      });
      metrics.ownedPartitions.set(tasks.size);
      // Kafka offsets follow the checkpoint for lag visibility; the checkpoint stays the
      // source of truth, so a failed commit (e.g. mid-rebalance) is harmless.
      if (commits.length > 0 && consumer) {
        await consumer.commitOffsets(commits).catch((error: unknown) => {
          log.debug({ err: error }, 'offset commit after checkpoint failed (harmless)');
        });
      }
    } finally {
      // Only checkpoints that wrote something: idle ticks would drown the histogram in zeros.
      if (worked) metrics.checkpointDuration.observe({ reason }, (performance.now() - startedAt) / 1000);
      checkpointRunning = false;
    }
  }

  // ---------------------------------------------------------------- consumer lifecycle

  function onAssignment(memberAssignment: Record<string, number[]>): void {
    const next = new Set<string>();
    for (const [topic, partitions] of Object.entries(memberAssignment)) {
      for (const partition of partitions) next.add(`${topic}:${partition}`);
    }
    const revoked: PartitionTask[] = [];
    for (const [id, task] of tasks) {
      if (next.has(id)) task.verify = true;
      else {
        tasks.delete(id);
        revoked.push(task);
      }
    }
    assigned = next;
    metrics.ownedPartitions.set(tasks.size);
    updatePausedGauge();
    if (revoked.length > 0) {
      // Best effort: the fence makes a save that lost the race to the new owner harmless.
      log.info({ revoked: revoked.map((t) => t.id) }, 'partitions revoked: final checkpoint');
      checkpoint('revoke', revoked).catch((error: unknown) =>
        log.warn({ err: error }, 'final checkpoint of revoked partitions failed'),
      );
    }
    log.info({ assigned: [...next] }, 'assignment');
  }

  async function startConsumer(): Promise<void> {
    const c = kafka.consumer({
      groupId,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      rebalanceTimeoutMs: config.rebalanceTimeoutMs,
      maxBytesPerPartition: config.maxBytesPerPartition,
    });
    const gen = ++generation;
    const progress = () => progressWatchdog.progress();
    c.on(c.events.FETCH_START, progress);
    c.on(c.events.HEARTBEAT, progress);
    c.on(c.events.GROUP_JOIN, (event) => {
      progress();
      onAssignment(event.payload.memberAssignment);
    });
    c.on(c.events.REBALANCING, () => {
      // The rebalance may move partitions away: checkpoint now so the next owner starts late-free.
      checkpoint('rebalance').catch((error: unknown) =>
        log.warn({ err: error }, 'checkpoint on rebalance failed'),
      );
    });
    c.on(c.events.CRASH, (event) => {
      log.error({ err: event.payload.error, restart: event.payload.restart }, 'consumer crashed');
      if (!event.payload.restart && c === consumer) void restartConsumer('crash');
    });
    await c.connect();
    await c.subscribe({ topics: inputTopics, fromBeginning: true });
    consumer = c;
    progress();
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => eachBatch(payload, gen),
    });
  }

  /** Hands back the partitions cleanly (checkpoint, leave) and joins again with a fresh consumer. */
  async function restartConsumer(reason: string): Promise<void> {
    if (restarting || stopping || !started) return;
    restarting = true;
    restarts++;
    metrics.consumerRestarts.inc({ reason });
    log.warn({ reason }, 'restarting the consumer');
    const old = consumer;
    try {
      await withTimeout(batchIdle.promise, 30_000).catch(() => {});
      await withTimeout(checkpoint('restart'), 30_000).catch((error: unknown) =>
        log.warn({ err: error }, 'checkpoint before restart failed; the next owner replays a little more'),
      );
      generation++; // batches of the old consumer still running stop touching state
      tasks.clear();
      heldForRegistry.clear();
      metrics.ownedPartitions.set(0);
      consumer = undefined;
      await withTimeout(old?.disconnect() ?? Promise.resolve(), 30_000).catch(() => {});
      gate.paused = false;
      await retry(() => startConsumer(), {
        policy: backoff,
        clock,
        shouldRetry: () => !stopping,
        onRetry: () => metrics.backoffAttempts.inc({ operation: 'consumer' }),
      });
      updateGate();
    } finally {
      restarting = false;
    }
  }

  function watchdog(): void {
    if (stopping || restarting || !consumer) return;
    const idleMs = progressWatchdog.stalledFor();
    if (idleMs !== undefined) {
      log.error({ idleMs }, 'watchdog: consumer made no progress (no fetch, heartbeat or batch)');
      void restartConsumer('stalled');
    }
  }

  return {
    groupId,
    get metricsPort() {
      return metricsServer?.port;
    },
    stats: () => ({
      ownedPartitions: [...tasks.keys()].sort(),
      bufferedRows: buffer.rows,
      pausedForBackpressure: gate.paused,
      heldForRegistry: [...heldForRegistry],
      consumerRestarts: restarts,
    }),
    checkpointNow: () => checkpoint('manual'),
    restartConsumer: (reason = 'manual') => restartConsumer(reason),

    async start() {
      if (config.metricsPort !== null) {
        metricsServer = await startMetricsServer(deps.metrics, { port: config.metricsPort });
      }
      const admin = kafka.admin();
      await retry(
        async () => {
          await admin.connect();
          try {
            await ensureTopics(admin, topicSpecs(config.topicPrefix, config.partitions));
          } finally {
            await admin.disconnect();
          }
        },
        { policy: { ...backoff, maxRetries: 10 }, clock },
      );
      await retry(() => serde.registerAll(), {
        policy: { ...backoff, maxRetries: 10 },
        clock,
        onRetry: () => metrics.backoffAttempts.inc({ operation: 'registry' }),
      });
      await producer.connect();
      started = true;
      await startConsumer();
      timers.push(
        setInterval(() => {
          if (!checkpointRunning && !stopping && !restarting) {
            checkpoint('interval').catch((error: unknown) => log.warn({ err: error }, 'checkpoint failed'));
          }
        }, config.checkpointIntervalMs),
        setInterval(onTimer, config.timerIntervalMs),
        setInterval(watchdog, Math.max(250, Math.floor(config.watchdogTimeoutMs / 4))),
      );
      for (const timer of timers) timer.unref();
      log.info({ groupId, inputs: inputTopics, metricsPort: metricsServer?.port }, 'processor started');
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      lifetime.abort();
      for (const timer of timers) clearInterval(timer);
      // Drain: no new records (eachBatch returns at once now), the current batch finishes,
      // outputs are flushed and acked, every partition is checkpointed and its offset
      // committed, and only then does the member leave the group, so the next owner of
      // each partition starts exactly where we stopped.
      if (consumer) consumer.pause(allInputs());
      await batchIdle.promise;
      await checkpointChain;
      for (const task of tasks.values()) task.savedVersion = -1; // force a final save of every partition
      try {
        await checkpoint('shutdown');
      } finally {
        await consumer?.disconnect().catch(() => {});
        consumer = undefined;
        await flush();
        if (lingerTimer) clearTimeout(lingerTimer);
        await producer.disconnect().catch(() => {});
        await metricsServer?.close();
        log.info('processor stopped');
      }
    },
  };
}

function toTopicPartition(id: string): { topic: string; partitions: number[] } {
  const at = id.lastIndexOf(':');
  return { topic: id.slice(0, at), partitions: [Number(id.slice(at + 1))] };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FleetgridError('TIMEOUT', `timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
