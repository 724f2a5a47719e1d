/**
 * A consumer-group member: the part every consuming stage shares (the sink now, the
 * processor next), built on the adapter's GroupConsumer.
 *
 * - Assignment: each join of the group is a new `generation` (a number that only grows in
 *   this process, across consumer restarts too); the handler hears which partitions were
 *   revoked and which assigned. Batches carry their generation; `isActive()` turns false
 *   once the partition was revoked, the consumer replaced, or the fetch went stale.
 * - Batches arrive in offset order per partition and never overlap for one partition.
 *   A batch of a paused partition is not handed over (and not resolved): it is fetched
 *   again after the resume.
 * - Pause with reasons (partitions.ts): a partition resumes only when no reason holds.
 * - Input state: `inputKnown(p)` is false while the consumer is not running, `p` is not
 *   assigned, or fetches fail.
 * - Drain on stop: fetching stops (the member stays in the group), the batches in hand
 *   finish, the handler's `drain` runs (final commits need the membership), then the member
 *   leaves the group.
 * - Supervision: a crashed consumer is replaced with capped full-jitter backoff that stop()
 *   interrupts. The old consumer is disconnected first, and a disconnect sends LeaveGroup,
 *   so the partitions move at once instead of after a session timeout.
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { FleetgridError, isRetriable } from '../errors.ts';
import type {
  CommitOffset,
  ConsumedRecord,
  FetchedBatch,
  GroupConsumer,
  GroupJoin,
  KafkaClient,
} from '../kafka/index.ts';
import { isKafkaUnreachable, kafkaReconnectPolicy } from '../kafka/index.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { backoffDelay } from '../retry.ts';
import type { MemberIdRecord } from './member-record.ts';
import { InputTracker, keyOf, type PartitionRef, PauseBook, partitionKey } from './partitions.ts';
import { createLifetime } from './service.ts';

export type { PartitionRef };

export interface Assignment {
  /** Grows with every join of the group and every consumer restart in this process. */
  generation: number;
  memberId: string;
  partitions: readonly PartitionRef[];
}

export type RevokeReason = 'rebalance' | 'restart' | 'stop';

/** One partition's records of one fetch, in offset order. */
export interface MemberBatch {
  topic: string;
  partition: number;
  /** The partition's log end offset when fetched. */
  highWatermark: string;
  records: readonly ConsumedRecord[];
  generation: number;
  /** Marks the fetch position (the next fetch starts after `offset`); commits are separate. */
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /** False once stale: revoked, consumer replaced, seek: leave the rest of the batch. */
  isActive(): boolean;
}

export interface MemberHandler {
  /** A batch of one partition; batches of one partition never overlap. */
  batch(batch: MemberBatch): Promise<void>;
  /** A new generation's partitions, with what it added; called after `revoked`. */
  assigned?(assignment: Assignment, added: readonly PartitionRef[]): void;
  /** Partitions this member no longer owns. Synchronous: the new owner may already read them. */
  revoked?(partitions: readonly PartitionRef[], reason: RevokeReason): void;
  /** A rebalance began: partitions may move once it completes. */
  rebalancing?(): void;
  /** On stop, after the batches in hand finished and before leaving: final commits. */
  drain?(signal: AbortSignal): Promise<void>;
}

export interface GroupMemberConfig {
  groupId: string;
  topics: readonly string[];
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  maxBytesPerPartition: number;
  maxWaitTimeMs: number;
  /** Bytes the broker gathers before it answers a fetch (at most maxWaitTimeMs later); default 1. */
  minBytes?: number;
  /** Partitions handled at once (batches of one partition never overlap). */
  concurrency: number;
  /**
   * Backoff between consumer restarts (and LeaveGroup attempts on a dead member's behalf),
   * capped at KAFKA_RECONNECT_CAP_MS (lib/kafka/reconnect.ts): a restart is an attempt to
   * reach Kafka again, and a longer wait only delays recovery once the broker is back.
   */
  restartBackoff: { baseMs: number; capMs: number };
  /** How long drain() may take before its signal aborts. */
  drainTimeoutMs: number;
  /** A fetch unanswered for this long makes the input unknown. */
  inputGraceMs?: number;
}

export interface GroupMemberDeps {
  kafka: Pick<KafkaClient, 'consumer' | 'admin'>;
  handler: MemberHandler;
  log?: Logger;
  clock?: Clock;
  random?: () => number;
  /** A consumer restart, with its reason: metrics. */
  onRestart?: (reason: string) => void;
  /**
   * Where this member keeps its member id across processes (member-record.ts): at start it
   * leaves the group for the member a killed predecessor left behind.
   */
  record?: MemberIdRecord;
}

export interface GroupMember {
  /** Connects and starts consuming (joining happens in the background). */
  start(): Promise<void>;
  /** Drains (see the header) and leaves the group. */
  stop(): Promise<void>;
  pause(target: readonly PartitionRef[] | 'all', reason: string): void;
  resume(target: readonly PartitionRef[] | 'all', reason: string): void;
  isPaused(ref: PartitionRef): boolean;
  pauseReasons(ref: PartitionRef): string[];
  /** Whether `ref`'s input is known: consumer running, partition assigned, fetches succeeding. */
  inputKnown(ref: PartitionRef): boolean;
  /**
   * The last fetched range of `ref` that held nothing visible (read_committed hides
   * transaction markers and aborted records): `[from, to)`. A consumer whose committed
   * position is `from` with nothing else pending may commit `to` (else its lag never
   * reaches 0 behind a transactional producer's markers).
   */
  hiddenTail(ref: PartitionRef): { from: string; to: string } | undefined;
  assignment(): Assignment | undefined;
  /** Whether `ref` is assigned in `generation` (default: the current one). */
  owns(ref: PartitionRef, generation?: number): boolean;
  /** Commits offsets through the current consumer (fails when there is none). */
  commit(offsets: CommitOffset[]): Promise<void>;
  /** Moves the fetch position of an assigned partition. */
  seek(ref: PartitionRef, offset: string): void;
  /** Leaves the group and joins again with a fresh consumer (watchdogs, operators). */
  restart(reason: string): Promise<void>;
  readonly restarts: number;
  readonly stopping: boolean;
  /** The last group generation a heartbeat confirmed (Kafka's own number; undefined before). */
  readonly groupGenerationId: number | undefined;
}

export function createGroupMember(config: GroupMemberConfig, deps: GroupMemberDeps): GroupMember {
  const log = (deps.log ?? silentLogger).child({ component: 'member', groupId: config.groupId });
  const clock = deps.clock ?? systemClock;
  const { handler } = deps;
  const book = new PauseBook();
  const input = new InputTracker(config.inputGraceMs ?? config.maxWaitTimeMs + 2_000);
  const lifetime = createLifetime();
  let consumer: GroupConsumer | undefined;
  let current: Assignment | undefined;
  let owned = new Set<string>();
  /** Per owned partition, the last fetched range with nothing visible (see hiddenTail). */
  const hidden = new Map<string, { from: string; to: string }>();
  /** The last record handed over from the fetch in hand, per partition (until its batchEnd). */
  const lastVisible = new Map<string, string>();
  /** Partitions paused in the current consumer (what the book says, applied). */
  let applied = new Set<string>();
  let generation = 0;
  let restarts = 0;
  const reconnectBackoff = kafkaReconnectPolicy(config.restartBackoff);
  let restartAttempt = 0;
  let restarting: Promise<void> | undefined;
  let stopping = false;
  let started = false;
  let groupGenerationId: number | undefined;
  /** The member id of the current consumer's last join: what a restart must make leave. */
  let memberId: string | undefined;
  let batchesInHand = 0;
  let idle: PromiseWithResolvers<void> | undefined;

  function assignedRefs(): PartitionRef[] {
    return current ? [...current.partitions] : [];
  }

  /** Makes the consumer's paused set what the book says, for the assigned partitions. */
  function applyPauses(): void {
    const c = consumer;
    if (!c) return;
    const want = new Map<string, PartitionRef>();
    for (const ref of assignedRefs()) if (book.isPaused(ref)) want.set(keyOf(ref), ref);
    const toPause = [...want].filter(([key]) => !applied.has(key)).map(([, ref]) => ref);
    const toResume: PartitionRef[] = [];
    for (const key of applied) {
      if (!want.has(key)) {
        const at = key.lastIndexOf('\u0000');
        toResume.push({ topic: key.slice(0, at), partition: Number(key.slice(at + 1)) });
      }
    }
    if (toPause.length > 0) c.pause(grouped(toPause));
    if (toResume.length > 0) c.resume(grouped(toResume));
    applied = new Set(want.keys());
  }

  function onJoin(c: GroupConsumer, join: GroupJoin): void {
    if (c !== consumer) return;
    generation++;
    restartAttempt = 0;
    input.started();
    const next: PartitionRef[] = [];
    for (const [topic, partitions] of Object.entries(join.assignment)) {
      for (const partition of partitions) next.push({ topic, partition });
    }
    const nextKeys = new Set(next.map(keyOf));
    const revoked = assignedRefs().filter((ref) => !nextKeys.has(keyOf(ref)));
    const added = next.filter((ref) => !owned.has(keyOf(ref)));
    for (const ref of revoked) book.forget(ref);
    if (revoked.length > 0) callRevoked(revoked, 'rebalance');
    current = { generation, memberId: join.memberId, partitions: next };
    if (join.memberId !== memberId) remember(join.memberId);
    memberId = join.memberId;
    owned = nextKeys;
    for (const key of hidden.keys()) if (!nextKeys.has(key)) hidden.delete(key);
    // The client keeps its pause state across rebalances; partitions that left are dropped.
    applied = new Set([...applied].filter((key) => nextKeys.has(key)));
    applyPauses();
    log.info(
      {
        generation,
        memberId: join.memberId,
        partitions: next.length,
        added: added.length,
        revoked: revoked.length,
      },
      'assignment',
    );
    try {
      handler.assigned?.(current, added);
    } catch (error) {
      log.error({ err: error }, 'assignment handler failed');
    }
  }

  function callRevoked(partitions: readonly PartitionRef[], reason: RevokeReason): void {
    try {
      handler.revoked?.(partitions, reason);
    } catch (error) {
      log.error({ err: error }, 'revocation handler failed');
    }
  }

  async function eachBatch(c: GroupConsumer, gen: number, fetched: FetchedBatch): Promise<void> {
    const ref = { topic: fetched.topic, partition: fetched.partition };
    // Its batchEnd (after this returns) tells whether hidden records followed the last one.
    const lastRecord = fetched.records.at(-1)?.offset;
    if (lastRecord !== undefined) lastVisible.set(keyOf(ref), lastRecord);
    // Not resolved, so fetched again: after the resume, or by the next owner.
    if (c !== consumer || stopping || gen !== generation || book.isPaused(ref)) return;
    if (!owned.has(keyOf(ref))) return;
    batchesInHand++;
    idle ??= Promise.withResolvers<void>();
    try {
      await handler.batch({
        topic: fetched.topic,
        partition: fetched.partition,
        highWatermark: fetched.highWatermark,
        records: fetched.records,
        generation: gen,
        resolveOffset: fetched.resolveOffset,
        heartbeat: fetched.heartbeat,
        isActive: () => gen === generation && c === consumer && fetched.isActive(),
      });
    } finally {
      if (--batchesInHand === 0) {
        idle?.resolve();
        idle = undefined;
      }
    }
  }

  function batchesDone(timeoutMs: number): Promise<void> {
    return idle ? atMost(idle.promise, timeoutMs) : Promise.resolve();
  }

  async function startConsumer(): Promise<void> {
    const c = deps.kafka.consumer({
      groupId: config.groupId,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      rebalanceTimeoutMs: config.rebalanceTimeoutMs,
      maxBytesPerPartition: config.maxBytesPerPartition,
      maxWaitTimeMs: config.maxWaitTimeMs,
      ...(config.minBytes !== undefined ? { minBytes: config.minBytes } : {}),
      clientRestarts: false,
    });
    // The generation of this consumer's batches is read when a batch arrives.
    c.on('join', (join) => onJoin(c, join));
    c.on('rebalancing', () => {
      if (c === consumer) handler.rebalancing?.();
    });
    c.on('heartbeat', (beat) => {
      if (c === consumer) groupGenerationId = beat.generationId;
    });
    c.on('fetchStart', () => {
      if (c === consumer) input.fetchStarted(clock.now());
    });
    c.on('fetch', () => {
      if (c === consumer) input.fetched();
    });
    c.on('batchEnd', (end) => {
      // Fetched offsets with nothing visible (transaction markers, aborted records): the
      // client moves past them by itself, but nobody commits that position unless told where
      // it is. Either the whole fetch was hidden, or hidden offsets followed its last record.
      if (c !== consumer) return;
      const key = keyOf(end);
      const last = lastVisible.get(key);
      lastVisible.delete(key);
      if (!owned.has(key)) return;
      const to = String(BigInt(end.lastOffset) + 1n);
      if (end.records === 0 && end.firstOffset !== null) hidden.set(key, { from: end.firstOffset, to });
      else if (end.records > 0 && last !== undefined && BigInt(end.lastOffset) > BigInt(last)) {
        hidden.set(key, { from: String(BigInt(last) + 1n), to });
      } else if (end.records > 0) hidden.delete(key);
    });
    c.on('crash', (error) => {
      if (c !== consumer || stopping) return;
      log.warn({ err: error }, 'consumer crashed: restarting it');
      void restart('crash');
    });
    consumer = c;
    applied = new Set();
    try {
      await c.connect();
      await c.subscribe(config.topics, { fromBeginning: config.fromBeginning });
      await c.run({
        concurrency: config.concurrency,
        eachBatch: (batch) => eachBatch(c, generation, batch),
      });
    } catch (error) {
      if (consumer === c) consumer = undefined;
      await c.disconnect().catch(() => {});
      throw error;
    }
  }

  /**
   * LeaveGroup for a member id of ours that is gone, retried with capped backoff until the
   * coordinator answers; given up on stop, and once the coordinator has answered for a
   * session timeout without removing it (by then it has removed the member anyway). The
   * bound counts only from the first answer: while no broker can be reached the member's
   * session is not running out, and a restarted broker gives every member it reloads a
   * fresh session, so giving up during an outage would leave the dead member to delay the
   * next rebalance by a whole session after the broker is back (issue 12 item 3).
   */
  async function leaveOnBehalf(stale: string, whose = 'the replaced consumer'): Promise<void> {
    const admin = deps.kafka.admin();
    let answeredAt: number | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await admin.connect();
          await admin.leaveGroup(config.groupId, stale);
          break;
        } catch (error) {
          if (!isRetriable(error) || lifetime.signal.aborted) throw error;
          if (!isKafkaUnreachable(error)) answeredAt ??= clock.now();
          if (answeredAt !== undefined && clock.now() - answeredAt >= config.sessionTimeoutMs) throw error;
          try {
            await clock.sleep(backoffDelay(attempt, reconnectBackoff, deps.random), lifetime.signal);
          } catch {
            throw error; // stopping
          }
        }
      }
      log.info({ memberId: stale }, `${whose} left the group`);
    } catch (error) {
      log.warn({ err: error, memberId: stale }, `${whose} could not leave; its session will expire`);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** The record is a convenience: a file that cannot be read or written costs a session timeout, no more. */
  function claimRecord(): string | undefined {
    try {
      return deps.record?.claim();
    } catch (error) {
      log.warn({ err: error }, 'the member-id record is unusable: a killed predecessor will linger');
      return undefined;
    }
  }

  function remember(id: string): void {
    try {
      deps.record?.remember(id);
    } catch (error) {
      log.warn({ err: error }, 'the member id could not be recorded');
    }
  }

  /** Starts a consumer, waiting with capped backoff between failed attempts; stop() ends the wait. */
  async function startWithBackoff(): Promise<void> {
    for (;;) {
      if (stopping) return;
      if (restartAttempt > 0) {
        const delay = backoffDelay(restartAttempt - 1, reconnectBackoff, deps.random);
        try {
          await clock.sleep(delay, lifetime.signal);
        } catch {
          return; // stopping
        }
      }
      restartAttempt++;
      try {
        await startConsumer();
        return;
      } catch (error) {
        log.warn({ err: error, attempt: restartAttempt }, 'consumer did not start: retrying');
      }
    }
  }

  function restart(reason: string): Promise<void> {
    if (restarting || stopping || !started) return restarting ?? Promise.resolve();
    restarting = (async () => {
      restarts++;
      deps.onRestart?.(reason);
      log.warn({ reason }, 'restarting the consumer');
      const old = consumer;
      consumer = undefined;
      input.stopped();
      // Batches of the old consumer stop touching state; its partitions are no longer ours.
      generation++;
      const revoked = assignedRefs();
      current = undefined;
      owned = new Set();
      hidden.clear();
      for (const ref of revoked) book.forget(ref);
      if (revoked.length > 0) callRevoked(revoked, 'restart');
      await batchesDone(config.sessionTimeoutMs);
      // Leave first: the group rebalances now, not after a session timeout. A disconnect
      // sends LeaveGroup, but after a crash the consumer has already tried (and, with the
      // broker away, failed): the old member id is then removed on its behalf once the
      // coordinator answers again, before the new consumer joins.
      const stale = memberId;
      memberId = undefined;
      if (old)
        await atMost(
          old.disconnect().catch(() => {}),
          config.sessionTimeoutMs,
        );
      if (stale) await leaveOnBehalf(stale);
      await startWithBackoff();
    })().finally(() => {
      restarting = undefined;
    });
    return restarting;
  }

  return {
    get restarts() {
      return restarts;
    },
    get stopping() {
      return stopping;
    },
    get groupGenerationId() {
      return groupGenerationId;
    },
    async start() {
      started = true;
      // A predecessor killed with -9 is still a member until its session expires, and the
      // group's next rebalance would wait for it: it leaves first, on its behalf.
      const stale = claimRecord();
      if (stale) await leaveOnBehalf(stale, "a previous process's member");
      await startWithBackoff();
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      lifetime.abort();
      // Stop fetching but stay in the group: the final commits need the membership.
      book.add('all', 'stopping');
      applyPauses();
      await restarting?.catch(() => {});
      await batchesDone(config.drainTimeoutMs);
      const drainSignal = AbortSignal.timeout(config.drainTimeoutMs);
      try {
        await handler.drain?.(drainSignal);
      } catch (error) {
        log.warn({ err: error }, 'drain failed');
      }
      const c = consumer;
      consumer = undefined;
      input.stopped();
      const revoked = assignedRefs();
      current = undefined;
      owned = new Set();
      hidden.clear();
      if (revoked.length > 0) callRevoked(revoked, 'stop');
      try {
        await c?.disconnect();
        deps.record?.release();
      } catch (error) {
        // The record stays: the next process leaves for this member.
        log.warn({ err: error }, 'leaving the group failed');
      }
    },
    pause(target, reason) {
      book.add(target, reason);
      applyPauses();
    },
    resume(target, reason) {
      book.remove(target, reason);
      applyPauses();
    },
    isPaused: (ref) => book.isPaused(ref),
    pauseReasons: (ref) => book.reasons(ref),
    inputKnown: (ref) => owned.has(keyOf(ref)) && consumer !== undefined && input.known(clock.now()),
    hiddenTail: (ref) => (owned.has(keyOf(ref)) ? hidden.get(keyOf(ref)) : undefined),
    assignment: () => current,
    owns: (ref, gen) => owned.has(keyOf(ref)) && (gen === undefined || gen === generation),
    async commit(offsets) {
      const c = consumer;
      if (!c) throw new FleetgridError('KAFKA_UNAVAILABLE', 'no consumer to commit through (restarting)');
      await c.commitOffsets(offsets);
    },
    seek(ref, offset) {
      if (owned.has(partitionKey(ref.topic, ref.partition))) consumer?.seek(ref.topic, ref.partition, offset);
    },
    restart,
  };
}

/** Waits for `promise`, but no longer than `ms` (its outcome is ignored). */
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

function grouped(refs: readonly PartitionRef[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const ref of refs) {
    const list = byTopic.get(ref.topic) ?? [];
    if (list.length === 0) byTopic.set(ref.topic, list);
    list.push(ref.partition);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}
