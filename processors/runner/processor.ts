/**
 * The runner of the stateful processors (`fleetgrid process`): a thin composition of the
 * stream runtime (lib/stream: group member, readiness, lifetimes) and the pure cores of
 * processors/core. Each concern lives in a file of its own:
 *
 * - ownership.ts, claims.ts — ownership: a join's new partitions are claimed (transactional
 *   producer connected, which fences any older owner; checkpoint restored from the changelog);
 * - records.ts — intake: decode, validate, apply to the core, route the outputs;
 * - commits.ts, transactions.ts — each partition's outputs, checkpoint record and consumer
 *   offset commit in ONE Kafka transaction (changelog.ts: the record, restore.ts: reading it back);
 * - read-model.ts — the device-state projection in Redis, written after commits, never
 *   on the path of Kafka outputs;
 * - idle.ts — when the idle timer may advance stream time (only while input is known);
 * - buffer.ts — per-partition output buffers and the backpressure gate;
 * - registry-join.ts, global-table.ts — the stream–table join: the registry table restored
 *   before any telemetry, followed while running, the version wait of restored checkpoints;
 * - metrics.ts, watchdog.ts — observing and supervision.
 *
 * Delivery is exactly-once for Kafka readers (read_committed): what a partition emitted,
 * its state and its input position move together or not at all. docs/processors.md has
 * the argument.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../../lib/clock.ts';
import { systemClock } from '../../lib/clock.ts';
import { FleetgridError, toFleetgridError } from '../../lib/errors.ts';
import type { KafkaClient } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import { type MetricsServer, type Registry, startMetricsServer } from '../../lib/metrics.ts';
import { retry } from '../../lib/retry.ts';
import {
  type Assignment,
  consumerGroupId,
  createGroupMember,
  createLifetime,
  createRateLimitedLog,
  createReadiness,
  type GroupMember,
  type MemberIdRecord,
  type MemberBatch,
  type PartitionRef,
  type RevokeReason,
  type Service,
} from '../../lib/stream/index.ts';
import {
  DEFAULT_TOPIC_POLICY,
  ensureTopics,
  RAW_TOPIC_KEYS,
  type TopicNames,
  type TopicPolicy,
  topicNames,
  topicSpecs,
  withReplication,
} from '../../lib/topics.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { DeviceState } from '../../schemas/types.ts';
import type { ProcessorConfig } from '../config.ts';
import type { RegistryChangeSeen } from '../../registry/follower.ts';
import {
  type CoreConfig,
  type CoreJoin,
  createPartitionCore as defaultCreateCore,
  type PartitionCore,
  parseCoreConfig,
} from '../core/index.ts';
import { OutputBuffer, WatermarkGate } from './buffer.ts';
import { changelogSpecs, changelogTopics } from './changelog.ts';
import { type Committer, createCommitter } from './commits.ts';
import { type ClaimedPartition, claimPartitions } from './claims.ts';
import { mayAdvanceIdle } from './idle.ts';
import { createProcessorMetrics, type ProcessorMetrics } from './metrics.ts';
import { createOutputRouter } from './outputs.ts';
import {
  createReadModelWriter,
  createRedisStateStore,
  deviceStateFields,
  deviceStateKey,
  type ReadModelWriter,
} from './read-model.ts';
import { applyRecord, decodeRecord } from './records.ts';
import { createRegistryJoin, type RegistryJoin, type RegistryJoinHealth } from './registry-join.ts';
import { createOwnership, type Ownership } from './ownership.ts';
import { idOf, type PartitionTask } from './task.ts';
import { ProgressWatchdog } from './watchdog.ts';

export interface ProcessorDeps {
  kafka: KafkaClient;
  /** The device-state read model only; checkpoints are in Kafka. */
  redis: Redis;
  serde: Serde;
  metrics: Registry;
  log: Logger;
  clock?: Clock;
  /** The core factory; tests may substitute a stand-in. */
  createCore?: (config: CoreConfig, restored?: unknown, join?: CoreJoin) => PartitionCore;
  /** An output failed for good (a bug: not retriable, not fenced); the CLI stops the process. */
  onFatal?: (error: unknown) => void;
  /** Replication and retention of the topics it creates (the changelogs included). */
  topicPolicy?: TopicPolicy;
  /** The member-id record per group (lib/stream member-record.ts); the CLI gives one under the data directory. */
  memberRecord?: (groupId: string) => MemberIdRecord;
  /** Every registry change folded into the process's table after its restore (tests measure with it). */
  onRegistryChange?: (change: RegistryChangeSeen) => void;
}

export type ProcessorRunConfig = ProcessorConfig & { topicPrefix: string };

export interface ProcessorStats {
  ownedPartitions: string[];
  bufferedRows: number;
  pausedForBackpressure: boolean;
  heldForRegistry: string[];
  consumerRestarts: number;
  /** Devices whose newest state waits for the Redis read model. */
  readModelPending: number;
}

export interface Processor extends Service {
  /** The port /metrics listens on, once started (undefined when none is served). */
  readonly metricsPort: number | undefined;
  readonly groupId: string;
  stats(): ProcessorStats;
  /** Commits the transaction of every owned partition now (tests and operators). */
  checkpointNow(): Promise<void>;
  /** Leaves the group and joins again with a fresh consumer; partitions are claimed again. */
  restartConsumer(reason?: string): Promise<void>;
  /** The registry join: the table's state and the join's counts (also in the JSON /health). */
  registry(): RegistryJoinHealth;
}

export function createProcessor(config: ProcessorRunConfig, deps: ProcessorDeps): Processor {
  const { kafka, serde, log } = deps;
  const clock = deps.clock ?? systemClock;
  const createCore = deps.createCore ?? defaultCreateCore;
  const coreConfig = parseCoreConfig(config.core);
  const topics: TopicNames = topicNames(config.topicPrefix);
  const inputTopics = RAW_TOPIC_KEYS.map((key) => topics[key]);
  // Prefixing the group keeps test stacks (and side-by-side deployments) in groups of their
  // own: kafkajs assigners assume every member of a group subscribes to the same topics.
  const groupId = consumerGroupId(config.topicPrefix, config.groupId);
  const changelogs = changelogTopics(config.topicPrefix, config.groupId);
  const metrics: ProcessorMetrics = createProcessorMetrics(deps.metrics);
  const gate = new WatermarkGate(config);
  const backoff = { baseMs: config.backoffBaseMs, capMs: config.backoffCapMs };
  const rateLog = createRateLimitedLog(log, 10_000, clock);

  const heldForRegistry = new Set<string>();
  let member: GroupMember | undefined;
  let metricsServer: MetricsServer | undefined;
  let stopping = false;
  const progressWatchdog = new ProgressWatchdog(clock, config.watchdogTimeoutMs);
  const timers: NodeJS.Timeout[] = [];
  /** Aborted by stop(): background retries (claims, registry holds, waits at start) end. */
  const lifetime = createLifetime();
  /** Aborted at the drain deadline or when an output failed for good: every commit retry ends. */
  const outputs = createLifetime();
  let outputFailure: FleetgridError | undefined;
  const readiness = createReadiness({
    prefix: 'fleetgrid_processor',
    registry: deps.metrics,
    log,
    signal: lifetime.signal,
    policy: backoff,
    clock,
  });
  const registryJoin: RegistryJoin = createRegistryJoin(
    { ...config },
    {
      kafka,
      log,
      metrics: deps.metrics,
      topicPolicy: deps.topicPolicy ?? DEFAULT_TOPIC_POLICY,
      signal: lifetime.signal,
      groupId,
      ...(deps.onRegistryChange ? { onChange: deps.onRegistryChange } : {}),
    },
  );
  const readModel: ReadModelWriter = createReadModelWriter({
    store: createRedisStateStore(deps.redis),
    policy: backoff,
    writeTimeoutMs: config.redisWriteTimeoutMs,
    clock,
    log,
    onWrite: () => {
      metrics.readModelWrites.inc({ result: 'ok' });
      metrics.readModelPending.set(readModel.pending);
    },
    onFailure: () => {
      metrics.readModelWrites.inc({ result: 'failed' });
      metrics.backoffAttempts.inc({ operation: 'redis' });
      metrics.readModelPending.set(readModel.pending);
    },
  });

  /**
   * Redis keeps nothing on disk here: after a reconnect it may be empty. Every committed
   * state this member knows is offered again (forward-only writes make that harmless).
   */
  let redisConnections = 0;
  function onRedisReady(): void {
    if (redisConnections++ === 0) return;
    let devices = 0;
    for (const task of tasks.values()) {
      readModel.offer([...task.committedStates.values()]);
      devices += task.committedStates.size;
    }
    log.info({ devices }, 'redis reconnected: writing the newest committed device states again');
  }

  // ---------------------------------------------------------------- outputs and commits

  const committer: Committer = createCommitter({
    config,
    groupId,
    changelogs,
    serde,
    metrics,
    clock,
    policy: backoff,
    signal: outputs.signal,
    rateLog,
    onCommitted: (task, states) => {
      const writes = states.map((s) => ({
        key: deviceStateKey(config.redisKeyPrefix, config.topicPrefix, s.key),
        seq: s.state.seq,
        fields: deviceStateFields(s.state),
      }));
      for (const w of writes) task.committedStates.set(w.key, w);
      readModel.offer(writes);
      metrics.readModelPending.set(readModel.pending);
    },
    onFenced: (task) => {
      if (!ownership.fenced(task)) {
        // The final commit of a partition already revoked: its new owner was quicker. Harmless.
        log.info({ partition: task.id }, 'final commit of a revoked partition fenced by its new owner');
        return;
      }
      log.warn(
        { partition: task.id },
        'checkpoint transaction fenced: a newer owner claimed the partition; state dropped, rejoining',
      );
      // Our view of the assignment is stale: rejoin, and the group says who owns what.
      if (!stopping) void member?.restart('fenced');
    },
    onLost: (task, error) => {
      // Already revoked or dropped: its next owner restores the last committed checkpoint.
      if (!ownership.fenced(task)) return;
      log.warn(
        { err: error, partition: task.id },
        'checkpoint transaction lost (not ended, or a produce that may have been written): producer unusable, state dropped, claiming the partition again from its last checkpoint',
      );
      if (!stopping) void member?.restart('transaction-lost');
    },
    onFailure: (error) => failOutputs(error),
    onSettled: () => {
      updateStateBytes();
      updateGate();
    },
  });

  /** An output that failed for good stops the outputs: nothing after it may commit. */
  function failOutputs(error: unknown): void {
    if (outputFailure) return;
    outputFailure = toFleetgridError(error, 'INTERNAL');
    if (!outputs.signal.aborted) {
      log.fatal({ err: outputFailure }, 'an output failed for good: stopping');
      process.exitCode = 1;
      deps.onFatal?.(outputFailure);
      outputs.abort(outputFailure);
    }
  }

  function heldRows(): { rows: number; bytes: number } {
    let rows = 0;
    let bytes = 0;
    for (const task of tasks.values()) {
      rows += task.buffer.rows;
      bytes += task.buffer.bytes;
    }
    return { rows, bytes };
  }

  /** Applies the watermark gate's decision to the member (all partitions pause together). */
  function updateGate(): void {
    const { rows, bytes } = heldRows();
    const transition = gate.update(rows, bytes);
    if (!transition || !member) return;
    if (transition === 'pause') {
      member.pause('all', 'backpressure');
      metrics.pauses.inc({ reason: 'backpressure' });
      // Debug level: under sustained backpressure this flips often; the metrics tell the story.
      log.debug({ rows, bytes }, 'output buffers above high-water mark: pausing input');
      for (const task of tasks.values()) committer.start(task, 'backpressure');
    } else {
      member.resume('all', 'backpressure');
      log.debug({ rows, bytes }, 'output buffers below low-water mark: resuming input');
    }
    updatePausedGauge();
  }

  function updatePausedGauge(): void {
    const owned = member?.assignment()?.partitions.length ?? 0;
    metrics.pausedPartitions.set(gate.paused ? owned : heldForRegistry.size);
  }

  function updateStateBytes(): void {
    let bytes = 0;
    for (const t of tasks.values()) bytes += t.checkpointBytes;
    metrics.stateBytes.set(bytes);
  }

  /** A task left (revoked, fenced, stopped): its producer goes, the gauges follow. */
  function released(task: PartitionTask): void {
    registryJoin.observe([task.core]);
    heldForRegistry.delete(task.id);
    metrics.ownedPartitions.set(tasks.size);
    updateStateBytes();
    void task.producer.disconnect().catch(() => {});
  }

  // ---------------------------------------------------------------- ownership

  const ownership: Ownership = createOwnership({
    claim: async (refs, stillWanted) => {
      const claimed = await claimPartitions(refs, {
        kafka,
        groupId,
        changelogs,
        transactionTimeoutMs: config.transactionTimeoutMs,
        policy: backoff,
        signal: lifetime.signal,
        stillWanted,
        onRetry: (operation) => metrics.backoffAttempts.inc({ operation }),
        log,
      });
      // A checkpoint computed with a newer registry than this table holds waits for it (not ready meanwhile).
      await registryJoin.awaitCheckpoints(claimed);
      return claimed;
    },
    owns: (ref) => member?.owns(ref) ?? false,
    generation: () => member?.assignment()?.generation,
    stopping: () => stopping,
    newTask,
    finalCommit: (revoked) => committer.all(revoked, 'revoke'),
    released,
    log,
  });
  const tasks = ownership.tasks;

  function newTask(claimed: ClaimedPartition, generation: number): PartitionTask {
    const buffer = new OutputBuffer<DeviceState>();
    const task: PartitionTask = {
      ref: claimed.ref,
      id: idOf(claimed.ref),
      generation,
      producer: claimed.producer,
      core: createCore(coreConfig, claimed.checkpoint?.snapshot, registryJoin.join),
      buffer,
      router: createOutputRouter({
        serde,
        topics,
        buffer,
        clock,
        metrics,
        maxLetterBytes: config.maxSendBytes,
      }),
      nextOffset: claimed.nextOffset,
      lastReceived: (claimed.nextOffset ?? 0) - 1,
      version: 0,
      committedVersion: 0,
      lastCommitAt: clock.now(),
      highWatermark: undefined,
      soughtFor: undefined,
      committing: undefined,
      dropped: false,
      coalescedReported: 0,
      committedStates: new Map(),
      checkpointBytes: 0,
    };
    // Counted before the map holds it: ownership adds it right after this returns.
    metrics.ownedPartitions.set(tasks.size + 1);
    // An offset without a checkpoint restarts the state empty mid-stream: said at warn, so that
    // runs logged at warn (bench/scale.ts) show it; a first start ('empty') stays at info.
    log[claimed.plan.kind === 'offset' ? 'warn' : 'info'](
      { partition: task.id, offset: claimed.nextOffset ?? null, restore: claimed.plan.kind },
      claimed.checkpoint
        ? 'partition claimed; state restored from the changelog'
        : 'partition claimed; no checkpoint',
    );
    return task;
  }

  function onAssigned(_assignment: Assignment, added: readonly PartitionRef[]): void {
    ownership.assigned(added);
    updatePausedGauge();
  }

  function onRevoked(partitions: readonly PartitionRef[], reason: RevokeReason): void {
    for (const ref of partitions) heldForRegistry.delete(idOf(ref));
    ownership.revoked(partitions, reason);
    metrics.ownedPartitions.set(tasks.size);
  }

  // ---------------------------------------------------------------- records

  function holdForRegistry(task: PartitionTask, value: Buffer | null, error: FleetgridError): void {
    if (heldForRegistry.has(task.id) || !member) return;
    heldForRegistry.add(task.id);
    member.pause([task.ref], 'registry');
    metrics.pauses.inc({ reason: 'registry' });
    updatePausedGauge();
    rateLog.warn(
      `registry:${task.id}`,
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
        member?.resume([task.ref], 'registry');
        updatePausedGauge();
      });
  }

  async function processBatch(batch: MemberBatch): Promise<void> {
    if (stopping || batch.records.length === 0) return;
    const task = await ownership.taskFor(batch, batch.generation);
    progressWatchdog.progress();
    if (!task || task.dropped || !batch.isActive() || tasks.get(task.id) !== task) return;
    const first = Number(batch.records[0]!.offset);
    if (task.nextOffset !== undefined && first > task.nextOffset && task.soughtFor !== task.nextOffset) {
      // The fetch position is ahead of the checkpoint (offsets fetched before the previous
      // owner's last transaction resolved): go back so that no event between them is skipped.
      task.soughtFor = task.nextOffset;
      member?.seek(task.ref, String(task.nextOffset));
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
    let lastHandled: string | undefined;
    try {
      for (let i = 0; i < batch.records.length; i++) {
        // isActive is map lookups in kafkajs: checked every 256 records, a stale batch
        // (rebalance, seek) is still abandoned within a fraction of a millisecond.
        if ((i & 255) === 0 && !batch.isActive()) break;
        if (stopping || task.dropped) break;
        const message = batch.records[i]!;
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
        const decoded = await decodeRecord(serde, message.value);
        if (decoded instanceof FleetgridError && decoded.retriable) {
          holdForRegistry(task, message.value, decoded);
          break;
        }
        if (task.dropped || tasks.get(task.id) !== task) break; // fenced or revoked while decoding
        if (
          applyRecord({ ...task.ref, core: task.core, router: task.router }, message, decoded, now) === 'late'
        )
          late++;
        task.nextOffset = offset + 1;
        task.version++;
        processed++;
        lastHandled = message.offset;
        if (task.buffer.pendingRecords >= config.maxSendRows) committer.start(task, 'full');
        updateGate();
        if (gate.paused) break;
      }
    } finally {
      if (lastHandled !== undefined) batch.resolveOffset(lastHandled);
      if (received) metrics.received.inc({ topic }, received);
      if (processed) metrics.processed.inc({ topic }, processed);
      if (late) metrics.late.inc({ topic }, late);
      if (skipped) metrics.replaySkipped.inc({ topic }, skipped);
    }
    await batch.heartbeat();
  }

  function onTimer(): void {
    if (stopping || !member) return;
    const now = clock.now();
    for (const task of tasks.values()) {
      const idle = mayAdvanceIdle({
        inputKnown: member.inputKnown(task.ref),
        paused: member.isPaused(task.ref),
        nextOffset: task.nextOffset,
        highWatermark: task.highWatermark,
      });
      if (!idle) {
        // Silence while we cannot hear is no silence: it counts from when we can again.
        task.core.holdIdle(now);
        continue;
      }
      const output = task.core.onTimer(now);
      const count =
        output.aggregates.length + output.alerts.length + output.deviceStates.length + output.rejected.length;
      if (count === 0) continue;
      task.router.route(output, undefined);
      task.version++;
    }
    updateGate();
  }

  /**
   * A consumer whose owned inputs stay unknown (no successful fetch) for watchdogTimeoutMs
   * is replaced: leave, join again with a fresh consumer, claim again.
   */
  function watchdog(): void {
    if (stopping || !member) return;
    const owned = member.assignment()?.partitions ?? [];
    if (owned.length === 0 || owned.every((ref) => member!.inputKnown(ref))) {
      progressWatchdog.progress();
      return;
    }
    const idleMs = progressWatchdog.stalledFor();
    if (idleMs !== undefined) {
      log.error(
        { idleMs },
        'watchdog: no successful fetch for the owned partitions: restarting the consumer',
      );
      progressWatchdog.progress();
      void member.restart('stalled');
    }
  }

  return {
    groupId,
    get metricsPort() {
      return metricsServer?.port;
    },
    stats: () => ({
      // Partitions whose state this member holds: claimed, and with a position (a claimed
      // partition that never had a record has no state to speak of).
      ownedPartitions: [...tasks.values()]
        .filter((t) => t.nextOffset !== undefined)
        .map((t) => t.id)
        .sort(),
      bufferedRows: heldRows().rows,
      pausedForBackpressure: gate.paused,
      heldForRegistry: [...heldForRegistry],
      consumerRestarts: member?.restarts ?? 0,
      readModelPending: readModel.pending,
    }),
    checkpointNow: () => committer.all(tasks.values(), 'manual'),
    restartConsumer: async (reason = 'manual') => {
      await member?.restart(reason);
    },
    registry: () => registryJoin.health(),

    async start() {
      if (deps.redis.status === 'ready') redisConnections = 1;
      deps.redis.on('ready', onRedisReady);
      // Served first: while the processor waits for its dependencies it says so on /readyz.
      if (config.metricsPort !== null) {
        metricsServer = await startMetricsServer(deps.metrics, {
          port: config.metricsPort,
          ready: () => readiness.ready && registryJoin.waiting === 0,
          health: () => ({
            ready: readiness.ready && registryJoin.waiting === 0,
            groupId,
            ownedPartitions: [...tasks.keys()].sort(),
            registry: registryJoin.health(),
          }),
        });
      }
      // Kafka and the registry are waited for (capped backoff, not ready meanwhile): a
      // processor started before them simply waits (lib/stream/service.ts).
      const admin = kafka.admin();
      await readiness.waitFor('kafka', async () => {
        await admin.connect();
        try {
          await ensureTopics(admin, topicSpecs(config.topicPrefix, config.partitions, deps.topicPolicy));
          const inputs = await admin.fetchTopicMetadata(inputTopics);
          const counts = Object.fromEntries(inputs.map((t) => [t.name, t.partitions.length]));
          // The changelogs hold the state: replicated like every other topic.
          const specs = withReplication(
            changelogSpecs(changelogs, counts, config.changelogMaxMessageBytes),
            deps.topicPolicy ?? DEFAULT_TOPIC_POLICY,
          );
          await ensureTopics(admin, specs);
          // Checkpoint of input partition p lives on changelog partition p: the counts must match.
          for (const meta of await admin.fetchTopicMetadata(specs.map((s) => s.name))) {
            const want = specs.find((s) => s.name === meta.name)?.partitions;
            if (meta.partitions.length !== want) {
              throw new FleetgridError(
                'CONFIG_INVALID',
                `changelog ${meta.name} has ${meta.partitions.length} partitions, its input ${want}: recreate it`,
              );
            }
          }
        } finally {
          await admin.disconnect();
        }
      });
      await readiness.waitFor('registry', () => serde.registerAll());
      // The registry table before any telemetry: a restore over its limit fails the start.
      await readiness.waitFor('registry-table', () => registryJoin.open());
      if (stopping) return;
      member = createGroupMember(
        {
          groupId,
          topics: inputTopics,
          fromBeginning: true,
          sessionTimeoutMs: config.sessionTimeoutMs,
          heartbeatIntervalMs: config.heartbeatIntervalMs,
          rebalanceTimeoutMs: config.rebalanceTimeoutMs,
          maxBytesPerPartition: config.maxBytesPerPartition,
          maxWaitTimeMs: 500,
          minBytes: 64 * 1024,
          concurrency: 1,
          restartBackoff: backoff,
          drainTimeoutMs: config.drainTimeoutMs,
        },
        {
          kafka,
          log,
          clock,
          record: deps.memberRecord?.(groupId),
          onRestart: (reason) => metrics.consumerRestarts.inc({ reason }),
          handler: {
            batch: processBatch,
            assigned: onAssigned,
            revoked: onRevoked,
            // A rebalance may move partitions away: commit now so the next owner replays nothing.
            rebalancing: () => {
              for (const task of tasks.values()) committer.start(task, 'rebalance');
            },
            drain: async (signal) => {
              signal.addEventListener('abort', () => outputs.abort(), { once: true });
              await committer.all(tasks.values(), 'shutdown');
            },
          },
        },
      );
      await member.start();
      readiness.setReady(true);
      timers.push(
        setInterval(
          () => committer.due(tasks.values()),
          Math.max(10, Math.min(100, Math.floor(config.checkpointIntervalMs / 4))),
        ),
        setInterval(onTimer, config.timerIntervalMs),
        setInterval(watchdog, Math.max(250, Math.floor(config.watchdogTimeoutMs / 4))),
        setInterval(() => {
          metrics.readModelPending.set(readModel.pending);
          registryJoin.observe([...tasks.values()].map((t) => t.core));
        }, 1_000),
      );
      for (const timer of timers) timer.unref();
      log.info(
        { groupId, inputs: inputTopics, changelogs, metricsPort: metricsServer?.port },
        'processor started',
      );
    },

    async stop() {
      if (stopping) return;
      readiness.setReady(false);
      for (const timer of timers) clearInterval(timer);
      // Whatever the drain waits for (Kafka, Redis), it waits at most this long.
      const deadline = setTimeout(() => outputs.abort(), config.drainTimeoutMs);
      try {
        // Drain: fetching stops, the batches in hand finish, every partition commits its
        // last transaction (the member's drain), and only then does the member leave.
        const m = member;
        stopping = true;
        lifetime.abort();
        await m?.stop();
        await ownership.settled();
        for (const task of [...tasks.values()]) {
          while (task.committing) await task.committing;
          ownership.drop(task);
        }
        // The read model gets what committed, within what is left of the drain time.
        await readModel.idle(outputs.signal);
      } finally {
        stopping = true;
        await registryJoin.stop();
        readModel.stop();
        deps.redis.off('ready', onRedisReady);
        outputs.abort();
        clearTimeout(deadline);
        await metricsServer?.close();
        log.info('processor stopped');
      }
    },
  };
}
