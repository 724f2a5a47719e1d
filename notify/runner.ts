/**
 * fleetgrid notify — alerts reach people through Prometheus Alertmanager (docs/alerts.md).
 * Consumes `telemetry.alerts` in the consumer group `<prefix>fleetgrid-notify`, keeps the
 * open alerts (core.ts), and posts raises and resolutions to Alertmanager's v2 API; open
 * alerts are posted again every resendIntervalMs, well within Alertmanager's resolve_timeout.
 *
 * - At least once: a partition's offsets are committed only after Alertmanager accepted
 *   the batch's alerts. While it cannot be reached the batch is retried with capped
 *   full-jitter backoff (heartbeats keep the group session), which the drain deadline ends;
 *   what is not committed is read again. Posting an alert twice is harmless: Alertmanager
 *   merges alerts with the same labels.
 * - The open set after a restart: when a partition is assigned, it is read again from its
 *   log start up to the committed offset and folded without posting (a rebuild), and the
 *   open alerts found are posted at the next tick. Alerts are rare; the fold is cheap.
 * - All posts go through one lock: a resend snapshot taken before a resolution and posted
 *   after it would open the alert again.
 * - Alertmanager keeps alerts in memory only: after an outage every open alert is due at once.
 * - Not ready (/readyz, fleetgrid_notify_ready) while Alertmanager cannot be reached; warn
 *   logs at a bounded rate; records that are no alerts go to the DLQ.
 * - Labels carry the registry's facts (site name, model, plate) from the registry's CDC
 *   topics, read at start (bounded by registryCatchUpMs) and followed after.
 */
import type { AppConfig } from '../lib/config.ts';
import { sourceOf } from '../lib/dlq.ts';
import { FleetgridError, isRetriable, toFleetgridError } from '../lib/errors.ts';
import type { ConsumedRecord, KafkaAdmin, KafkaClient } from '../lib/kafka/index.ts';
import type { Logger } from '../lib/log.ts';
import { type MetricsServer, type Registry, startMetricsServer } from '../lib/metrics.ts';
import { backoffDelay, retry } from '../lib/retry.ts';
import {
  type BatchingProducer,
  createBatchingProducer,
  createDeadLetterSender,
  createGroupMember,
  createLifetime,
  createRateLimitedLog,
  createReadiness,
  DEFAULT_PRODUCER_CONFIG,
  type DeadLetter,
  type GroupMember,
  type MemberIdRecord,
  type MemberBatch,
  type PartitionRef,
  partitionKey,
  positionPastHidden,
  type Service,
} from '../lib/stream/index.ts';
import { ensureTopics, topicNames, topicSpecs } from '../lib/topics.ts';
import {
  followRegistry,
  type RegistryFollower,
  registryTopicNames,
  registryTopicSpecs,
} from '../registry/index.ts';
import type { Serde } from '../schemas/serde.ts';
import type { Alert } from '../schemas/types.ts';
import { type AlertmanagerClient, createAlertmanagerClient } from './alertmanager.ts';
import type { AlertmanagerTarget, NotifyConfig } from './config.ts';
import {
  alertIdOf,
  chunks,
  coalesce,
  createOpenAlerts,
  type OpenAlerts,
  type PostableAlert,
  registryFacts,
} from './core.ts';
import { createNotifyMetrics, type NotifyMetrics } from './metrics.ts';

export const NOTIFY_STAGE = 'notify';

export interface NotifierDeps {
  kafka: KafkaClient;
  serde: Serde;
  log: Logger;
  registry: Registry;
  /** Defaults to the HTTP client of `target`. */
  alertmanager?: AlertmanagerClient;
  now?: () => number;
  /** Called when delivery fails for good (refused credentials, a bad alert); the CLI stops. */
  onFatal?: (error: unknown) => void;
  /** The member-id record per group (lib/stream member-record.ts); the CLI gives one under the data directory. */
  memberRecord?: (groupId: string) => MemberIdRecord;
}

export interface Notifier extends Service {
  readonly metrics: NotifyMetrics;
  ready(): boolean;
  metricsPort(): number | undefined;
  /** Open alerts of the owned partitions. */
  openAlerts(): number;
}

/** A mutex of one: posts run one after the other, in the order they asked. */
function createLock() {
  let tail: Promise<unknown> = Promise.resolve();
  let held = 0;
  return {
    get busy() {
      return held > 0;
    },
    run<T>(work: () => Promise<T>): Promise<T> {
      held++;
      const result = tail.then(work);
      tail = result.then(
        () => held--,
        () => held--,
      );
      return result;
    },
  };
}

export function createNotifier(
  app: AppConfig,
  config: NotifyConfig,
  target: AlertmanagerTarget,
  deps: NotifierDeps,
): Notifier {
  const log = deps.log.child({ component: 'notify' });
  const now = deps.now ?? Date.now;
  const topics = topicNames(app.topicPrefix);
  const metrics = createNotifyMetrics(deps.registry);
  const policy = { baseMs: config.retryBaseMs, capMs: config.retryCapMs };
  const am = deps.alertmanager ?? createAlertmanagerClient(target, { timeoutMs: config.requestTimeoutMs });
  /** Ends waits at start and the catch-up of the registry when the notifier stops. */
  const lifetime = createLifetime();
  /** Ends delivery retries: at the drain deadline, or after the drain. */
  const writes = createLifetime();
  const readiness = createReadiness({
    prefix: 'fleetgrid_notify',
    registry: deps.registry,
    log,
    signal: lifetime.signal,
    policy,
  });
  const warn = createRateLimitedLog(log);
  const lock = createLock();
  const open: OpenAlerts = createOpenAlerts(target.publicUrl);
  /** Partitions being rebuilt: records below `until` (the committed offset) are folded, not posted. */
  const rebuilding = new Map<string, bigint>();
  let admin: KafkaAdmin | undefined;
  let producer: BatchingProducer<unknown> | undefined;
  let follower: RegistryFollower | undefined;
  let member: GroupMember | undefined;
  let metricsServer: MetricsServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  let starting: Promise<void> | undefined;
  /** Alertmanager failed since the last success: when it answers again, everything open is due. */
  let outage = false;
  let failures = 0;
  let nextTryAt = 0;
  let lastContact = 0;
  let ticking = false;
  /** Per owned partition, the position this notifier last committed (see commitPastMarkers). */
  const committedAt = new Map<string, { ref: PartitionRef; next: bigint }>();

  const memberOf = () => {
    if (!member) throw new FleetgridError('INTERNAL', 'notifier not started');
    return member;
  };

  const deadLetters = createDeadLetterSender({
    producer: { send: (topic, messages) => (producer as BatchingProducer<unknown>).send(topic, messages) },
    topic: topics.dlq,
    stage: NOTIFY_STAGE,
    maxBytes: config.maxRequestBytes,
    now,
  });

  function fatal(error: unknown, what: string): void {
    log.fatal({ err: error }, `${what}: stopping`);
    process.exitCode = 1;
    deps.onFatal?.(error);
  }

  function failed(error: unknown): void {
    const code = error instanceof FleetgridError ? error.code : 'INTERNAL';
    metrics.failed.inc({ code });
    failures++;
    outage = true;
    nextTryAt = now() + backoffDelay(failures - 1, policy);
    readiness.setReady(false);
    warn.warn('alertmanager', { err: error, url: target.url, failures }, 'Alertmanager cannot be reached');
  }

  function answered(): void {
    lastContact = now();
    failures = 0;
    nextTryAt = 0;
    if (outage) {
      outage = false;
      // Alertmanager may have restarted and lost what it held (alerts live in its memory).
      open.markAllDue();
      log.info({ url: target.url, open: open.size }, 'Alertmanager answers again');
    }
    if (member && !stopping) readiness.setReady(true);
  }

  /** One POST per chunk, each accepted before the next; `sent` after each acceptance. */
  async function postAll(
    postables: readonly PostableAlert[],
    attempt: (chunk: PostableAlert[]) => Promise<void>,
    sent: (chunk: PostableAlert[]) => void,
  ): Promise<void> {
    for (const chunk of chunks(postables, config.maxAlertsPerRequest)) {
      await attempt(chunk);
      answered();
      sent(chunk);
    }
  }

  /**
   * Posts a batch's changes until Alertmanager accepted them. False when it gave up: the
   * batch went stale (partition revoked) or the drain deadline passed.
   */
  function deliverChanges(
    postables: readonly PostableAlert[],
    batch: MemberBatch,
    writtenAt: ReadonlyMap<string, number>,
  ): Promise<boolean> {
    return lock.run(async () => {
      try {
        await postAll(
          postables,
          (chunk) =>
            retry(
              () =>
                am.post(chunk).catch((error: unknown) => {
                  failed(error);
                  throw error;
                }),
              {
                policy: { ...policy, maxRetries: Number.POSITIVE_INFINITY },
                signal: writes.signal,
                shouldRetry: (error) => isRetriable(error) && batch.isActive() && !writes.signal.aborted,
                onRetry: () => {
                  batch.heartbeat().catch(() => {});
                },
              },
            ),
          (chunk) => {
            const at = now();
            metrics.sent.inc({ reason: 'change' }, chunk.length);
            open.markSent(chunk.map(alertIdOf), at);
            for (const postable of chunk) {
              const written = writtenAt.get(alertIdOf(postable));
              if (written !== undefined) metrics.latency.observe(Math.max(0, at - written) / 1000);
            }
          },
        );
        return true;
      } catch (error) {
        // Given up because the drain deadline passed or the partition moved: not the
        // alerts' fault, and the next owner posts them again.
        if (writes.signal.aborted || !batch.isActive()) return false;
        if (!isRetriable(error)) fatal(error, 'Alertmanager refused the alerts for good');
        return false;
      }
    });
  }

  /** The resend schedule and, when nothing was posted for a while, a readiness probe. One attempt each. */
  async function tick(): Promise<void> {
    if (ticking || lock.busy || stopping || now() < nextTryAt) return;
    ticking = true;
    try {
      await lock.run(async () => {
        const due = open.due(now(), config.resendIntervalMs);
        try {
          if (due.length > 0) {
            await postAll(
              due,
              (chunk) => am.post(chunk),
              (chunk) => {
                metrics.sent.inc({ reason: 'resend' }, chunk.length);
                open.markSent(chunk.map(alertIdOf), now());
              },
            );
          } else if (outage || now() - lastContact >= config.resendIntervalMs / 4) {
            await am.ready();
            answered();
          }
        } catch (error) {
          if (isRetriable(error)) failed(error);
          else fatal(error, 'Alertmanager refused the alerts for good');
        }
      });
      await commitPastMarkers();
    } finally {
      metrics.open.set(open.size);
      ticking = false;
    }
  }

  /** The cached fast path: the alert, why the record is bad, or undefined (ask the registry). */
  function decodeAlert(record: ConsumedRecord): Alert | FleetgridError | undefined {
    try {
      const decoded = deps.serde.decodeCached(record.value);
      if (decoded === undefined) return undefined;
      return asAlert(decoded.record, decoded.value);
    } catch (error) {
      // A bad header or body throws here, synchronously: that is the record's fault.
      const fleetgridError = toFleetgridError(error, 'DECODE_INVALID_AVRO');
      return fleetgridError.retriable ? undefined : fleetgridError;
    }
  }

  function asAlert(record: string, value: unknown): Alert | FleetgridError {
    if (record !== 'Alert') {
      return new FleetgridError('DECODE_UNEXPECTED_TYPE', `a ${record} record on the alerts topic`);
    }
    return value as Alert;
  }

  /** Decodes through the registry when the writer schema is not cached; its outages are retried. */
  async function decodeSlow(record: ConsumedRecord, batch: MemberBatch): Promise<Alert | FleetgridError> {
    try {
      const decoded = await retry(() => deps.serde.decode(record.value), {
        policy: { ...policy, maxRetries: Number.POSITIVE_INFINITY },
        signal: writes.signal,
        shouldRetry: (error) => isRetriable(error) && batch.isActive(),
        onRetry: (error) => {
          warn.warn('registry', { err: error }, 'schema registry cannot be reached');
          batch.heartbeat().catch(() => {});
        },
      });
      return asAlert(decoded.record, decoded.value);
    } catch (error) {
      const fleetgridError = toFleetgridError(error, 'DECODE_INVALID_AVRO');
      // A registry still away when the batch went stale or the drain ended: not the record's fault.
      if (fleetgridError.retriable || !batch.isActive() || writes.signal.aborted) throw fleetgridError;
      return fleetgridError;
    }
  }

  async function takeBatch(batch: MemberBatch): Promise<void> {
    const key = partitionKey(batch.topic, batch.partition);
    const changes: PostableAlert[] = [];
    const writtenAt = new Map<string, number>();
    const letters: DeadLetter[] = [];
    let last: string | undefined;
    for (const record of batch.records) {
      if (!batch.isActive()) return;
      let alert: Alert | FleetgridError | undefined;
      try {
        alert = decodeAlert(record) ?? (await decodeSlow(record, batch));
      } catch {
        return; // stale batch or stopping: read again by whoever owns the partition next
      }
      last = record.offset;
      const until = rebuilding.get(key);
      const replay = until !== undefined && BigInt(record.offset) < until;
      if (until !== undefined && BigInt(record.offset) + 1n >= until) {
        rebuilding.delete(key);
        log.info({ topic: batch.topic, partition: batch.partition, open: open.size }, 'open alerts rebuilt');
      }
      if (alert instanceof FleetgridError) {
        if (replay) continue; // dead-lettered when it was first read
        metrics.deadLetters.inc({ code: alert.code });
        letters.push({
          source: sourceOf(batch, record),
          error: alert,
        });
        continue;
      }
      const facts = registryFacts(follower?.table, alert);
      const postable = open.apply(key, alert, facts);
      metrics.records.inc({ state: replay ? 'rebuild' : alert.state.toLowerCase() });
      if (replay) continue;
      changes.push(postable);
      writtenAt.set(alert.alertId, Number(record.timestamp));
    }
    metrics.open.set(open.size);
    if (last === undefined || !batch.isActive()) return;
    if (letters.length > 0) {
      const result = await deadLetters.send(letters);
      if (result.failed.length > 0) {
        fatal(result.failed[0]?.error, 'dead letters could not be written');
        return;
      }
    }
    if (changes.length > 0 && !(await deliverChanges(coalesce(changes), batch, writtenAt))) return;
    const lastOffset = last;
    batch.resolveOffset(lastOffset);
    // Below the committed offset (a rebuild) there is nothing to commit.
    const next = BigInt(lastOffset) + 1n;
    if (rebuilding.has(key)) return;
    try {
      await retry(
        () => memberOf().commit([{ topic: batch.topic, partition: batch.partition, offset: String(next) }]),
        {
          policy: { ...policy, maxRetries: 8 },
          signal: writes.signal,
          shouldRetry: (error) => isRetriable(error) && batch.isActive(),
        },
      );
      committedAt.set(key, { ref: { topic: batch.topic, partition: batch.partition }, next });
    } catch (error) {
      // Delivered but not committed: the next owner posts these alerts again (harmless).
      warn.warn('commit', { err: error }, 'offsets not committed');
    }
  }

  /**
   * The alerts topic is written in transactions (the processor's): a partition resting at its
   * committed position commits past the markers after it (lib/stream positionPastHidden);
   * a failure is tried again on the next tick. It runs only where the hidden range starts exactly at the committed
   * position; should it ever land after a batch's later commit, the group re-reads a few
   * alerts after a restart, which at-least-once delivery allows (Alertmanager deduplicates).
   */
  async function commitPastMarkers(): Promise<void> {
    for (const [key, at] of committedAt) {
      if (rebuilding.has(key)) continue;
      const to = positionPastHidden(memberOf().hiddenTail(at.ref), at.next);
      if (to === undefined) continue;
      try {
        await memberOf().commit([{ ...at.ref, offset: String(to) }]);
        committedAt.set(key, { ref: at.ref, next: to });
      } catch (error) {
        log.debug({ err: error, ...at.ref }, 'position commit past transaction markers failed; tried again');
      }
    }
  }

  /**
   * A partition this notifier now owns: paused until it knows where the committed offset is;
   * with one, the fetch starts at the log start and the records up to it rebuild the open set.
   */
  async function prepare(ref: PartitionRef, generation: number): Promise<void> {
    const key = partitionKey(ref.topic, ref.partition);
    const m = memberOf();
    try {
      const a = admin as KafkaAdmin;
      const committed = await retry(() => a.fetchCommittedOffsets(config.groupId, [ref.topic]), {
        policy: { ...policy, maxRetries: Number.POSITIVE_INFINITY },
        signal: lifetime.signal,
      });
      const offset = committed[0]?.partitions.find((p) => p.partition === ref.partition)?.offset ?? '-1';
      if (BigInt(offset) <= 0n) return;
      const offsets = await retry(() => a.fetchTopicOffsets(ref.topic), {
        policy: { ...policy, maxRetries: Number.POSITIVE_INFINITY },
        signal: lifetime.signal,
      });
      const low = offsets.find((p) => p.partition === ref.partition)?.low ?? '0';
      if (BigInt(low) >= BigInt(offset) || !m.owns(ref, generation)) return;
      rebuilding.set(key, BigInt(offset));
      m.seek(ref, low);
      log.info({ ...ref, from: low, until: offset }, 'rebuilding the open alerts of a partition');
    } catch (error) {
      if (!stopping) log.warn({ err: error, ...ref }, 'could not look up the committed offset: not rebuilt');
    } finally {
      m.resume([ref], 'rebuild');
    }
  }

  async function startRegistry(a: KafkaAdmin): Promise<void> {
    const names = Object.values(registryTopicNames(app.topicPrefix));
    await readiness.waitFor('kafka', () => ensureTopics(a, registryTopicSpecs(app.topicPrefix, app.topics)));
    // Where the registry topics end now: labels are complete once the follower got there.
    const ends = new Map<string, bigint>();
    for (const topic of names) {
      const offsets = await readiness.waitFor('kafka', () => a.fetchTopicOffsets(topic));
      for (const p of offsets) if (BigInt(p.high) > 0n) ends.set(`${topic}:${p.partition}`, BigInt(p.high));
    }
    const seen = new Map<string, bigint>();
    follower = await readiness.waitFor('kafka', () =>
      followRegistry(deps.kafka, app.topicPrefix, {
        onChange: (change) => {
          metrics.registryRecords.inc();
          const topic = registryTopicNames(app.topicPrefix)[change.entity];
          // One partition per registry topic (registry/topics.ts).
          seen.set(`${topic}:0`, BigInt(change.offset) + 1n);
        },
      }),
    );
    const caughtUp = () => [...ends].every(([k, end]) => (seen.get(k) ?? 0n) >= end);
    try {
      await follower.until(caughtUp, config.registryCatchUpMs, 'the registry topics');
      log.info({ devices: follower.table.devices.size, sites: follower.table.sites.size }, 'registry read');
    } catch {
      warn.warn(
        'registry',
        { waitedMs: config.registryCatchUpMs },
        'registry topics not read in time: labels without registry fields until they are',
      );
    }
  }

  async function connectKafka(): Promise<KafkaAdmin> {
    const a = deps.kafka.admin();
    admin = a;
    await readiness.waitFor('kafka', async () => {
      await a.connect();
      await ensureTopics(a, topicSpecs(app.topicPrefix));
    });
    const dlqPartitions = await readiness.waitFor('kafka', async () => {
      const [metadata] = await a.fetchTopicMetadata([topics.dlq]);
      return metadata?.partitions.length ?? 1;
    });
    const p = createBatchingProducer(
      { ...DEFAULT_PRODUCER_CONFIG, maxRequestBytes: config.maxRequestBytes, retry: policy, lingerMs: 0 },
      { kafka: deps.kafka, partitions: { [topics.dlq]: dlqPartitions }, signal: writes.signal, log },
    );
    producer = p;
    await readiness.waitFor('kafka', () => p.start());
    return a;
  }

  async function start(): Promise<void> {
    if (config.metricsPort !== undefined) {
      metricsServer = await startMetricsServer(deps.registry, {
        port: config.metricsPort,
        ready: () => readiness.ready,
      });
    }
    // Refused credentials end the start here (not retriable); an absent Alertmanager is waited for.
    await readiness.waitFor('alertmanager', () => am.ready());
    lastContact = now();
    const a = await connectKafka();
    if (stopping) return;
    if (config.registry) await startRegistry(a);
    if (stopping) return;
    member = createGroupMember(
      {
        groupId: config.groupId,
        topics: [topics.alerts],
        // A first start notifies what is open in the whole log (and posts old resolutions, harmless).
        fromBeginning: true,
        sessionTimeoutMs: config.sessionTimeoutMs,
        heartbeatIntervalMs: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
        rebalanceTimeoutMs: Math.max(10_000, config.sessionTimeoutMs),
        maxBytesPerPartition: 1_048_576,
        maxWaitTimeMs: 500,
        concurrency: 1,
        restartBackoff: policy,
        drainTimeoutMs: config.drainTimeoutMs,
      },
      {
        kafka: deps.kafka,
        log,
        record: deps.memberRecord?.(config.groupId),
        handler: {
          batch: takeBatch,
          assigned: (assignment, added) => {
            for (const ref of added) {
              memberOf().pause([ref], 'rebuild');
              void prepare(ref, assignment.generation);
            }
          },
          revoked: (partitions) => {
            for (const ref of partitions) {
              const key = partitionKey(ref.topic, ref.partition);
              rebuilding.delete(key);
              committedAt.delete(key);
              open.dropOwner(key);
            }
            metrics.open.set(open.size);
          },
          drain: async (signal) => {
            signal.addEventListener('abort', () => writes.abort(), { once: true });
          },
        },
      },
    );
    await member.start();
    timer = setInterval(() => void tick(), config.tickMs);
    readiness.setReady(!outage);
    log.info({ alertmanager: target.url, group: config.groupId }, 'notifying');
  }

  return {
    metrics,
    ready: () => readiness.ready,
    metricsPort: () => metricsServer?.port,
    openAlerts: () => open.size,
    start() {
      starting = start();
      return starting;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      readiness.setReady(false);
      lifetime.abort();
      await starting?.catch(() => {});
      if (timer) clearInterval(timer);
      // The batch in hand may finish its delivery until the drain deadline ends its retries.
      const deadline = setTimeout(() => writes.abort(), config.drainTimeoutMs);
      await member?.stop();
      clearTimeout(deadline);
      writes.abort();
      await follower?.stop().catch(() => {});
      await producer?.close().catch(() => {});
      await admin?.disconnect().catch(() => {});
      await metricsServer?.close();
    },
  };
}
