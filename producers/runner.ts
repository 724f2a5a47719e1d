/**
 * The fleet simulator service: the pure fleet (fleet.ts) driven by a clock, its messages
 * encoded (encoder.ts) and produced to Kafka through lib/kafka.ts.
 *
 * Producing: messages accumulate into batches that go out as one sendBatch each (acks=all).
 * There are `maxInFlight` lanes; every (topic, partition) belongs to exactly one lane (by
 * the same murmur2 partitioner the producer uses), and a lane has at most one request
 * awaiting its acks. So several requests are in flight at once, yet the records of one
 * partition — hence of one device — reach the broker in the order they were generated
 * (kafkajs alone does not keep order across concurrent sends: it encodes requests
 * asynchronously). When the lane a full batch needs is still busy, generation waits: that
 * is the backpressure, and memory stays bounded by lanes × 2 batches.
 * A batch failing with a retriable error is retried with capped full-jitter backoff
 * (lib/retry) while its lane stays busy; a non-retriable error stops the run and is
 * reported. After a partial failure a retry may write some records twice — at-least-once,
 * which downstream deduplication by eventId absorbs.
 *
 * Every message is recorded in the manifest when it is handed to the producer.
 */
import { FleetgridError, toFleetgridError } from '../lib/errors.ts';
import type { Clock } from '../lib/clock.ts';
import { systemClock } from '../lib/clock.ts';
import type { AppConfig } from '../lib/config.ts';
import {
  createKafkaClient,
  type KafkaClient,
  type KafkaProducer,
  type OutgoingMessage,
  partitionForKey,
} from '../lib/kafka.ts';
import type { Logger } from '../lib/log.ts';
import { silentLogger } from '../lib/log.ts';
import { Counter, Gauge, Histogram, type Registry } from '../lib/metrics.ts';
import { retry } from '../lib/retry.ts';
import type { Service } from '../lib/lifecycle.ts';
import {
  type DeviceKind,
  ensureTopics,
  RAW_TOPIC_KEYS,
  type TopicNames,
  topicNames,
  topicSpecs,
} from '../lib/topics.ts';
import { LEGACY_SCHEMAS, parseSchema } from '../schemas/catalog.ts';
import { createSerde, type Serde } from '../schemas/serde.ts';
import type { RecordName } from '../schemas/types.ts';
import type { SimulatorConfig } from './config.ts';
import { createMessageEncoder, type EncoderSchemas, type MessageEncoder } from './encoder.ts';
import { type FaultCounts, POISON_FLAVORS } from './faults.ts';
import { createFleet, type Fleet } from './fleet.ts';
import { createManifestBuilder, type Manifest, type ManifestBuilder } from './manifest.ts';
import type { MessageClass, OutboundMessage } from './types.ts';

export const RAW_RECORDS: RecordName[] = [
  'TruckTelemetry',
  'EngineStateChanged',
  'DiagnosticReported',
  'TurbineTelemetry',
  'SolarTelemetry',
];

/** With speed > 1 and no start given, how much simulated past to start from. */
const DEFAULT_FAST_SPAN_MS = 24 * 3_600_000;

export interface FleetSimulatorDeps {
  kafka: KafkaClient;
  /** Created with the same topic names as `topics`. */
  serde: Serde;
  topics: TopicNames;
  metrics?: Registry;
  log?: Logger;
  clock?: Clock;
  /** Randomness of the retry backoff (not of the simulation). */
  random?: () => number;
}

export interface SimulatorStatus {
  /** Device events generated (clean). */
  events: number;
  /** Kafka records handed to the producer (events, duplicates, poison). */
  messages: number;
  /** Records acknowledged by the broker. */
  acked: number;
  /** Bytes of the records handed to the producer (values and keys). */
  bytes: number;
  inFlightBatches: number;
  /** Records handed over but not acknowledged yet. */
  backlog: number;
  sendErrors: number;
  retries: number;
  /** Simulated time reached. */
  simTimeMs: number;
  faults: FaultCounts;
  finished: boolean;
  /** Wall time spent generating (pure fleet) and encoding + batching, ms: the benchmark's stages. */
  stageMs: { generate: number; encode: number };
}

export interface SimulationResult {
  status: SimulatorStatus;
  manifest: Manifest | undefined;
  /** Why the run ended. */
  reason: 'count' | 'to' | 'duration' | 'stopped' | 'error';
  error?: FleetgridError;
}

export interface FleetSimulator extends Service {
  /** Resolves when the run ends (count, end time or duration reached, stop(), or an error). */
  readonly done: Promise<SimulationResult>;
  status(): SimulatorStatus;
  /** The start of the simulated time range, fixed by start(). */
  readonly fromMs: number;
}

const MESSAGE_CLASSES: readonly MessageClass[] = ['clean', 'duplicate', 'poison'];

interface Batch {
  /** Records per raw topic, in RAW_TOPIC_KEYS order. */
  lists: OutgoingMessage[][];
  size: number;
  /** Records per (kind, class), index kind × 3 + class: the acked counters' increments. */
  counts: number[];
}

/** Where a device's records go, computed once per device. */
interface Route {
  kindIndex: number;
  partition: number;
  lane: Lane;
  key: Buffer;
}

/** A sequence of batches for a fixed set of partitions: at most one request in flight. */
interface Lane {
  batch: Batch;
  openedAt: number;
  inFlight: Promise<void> | undefined;
}

function createMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    generated: new Counter({
      name: 'fleetgrid_producers_events_generated_total',
      help: 'Device events generated, by kind',
      labelNames: ['kind'],
      registers,
    }),
    produced: new Counter({
      name: 'fleetgrid_producers_events_produced_total',
      help: 'Records acknowledged by Kafka, by kind and class (clean, duplicate, poison)',
      labelNames: ['kind', 'class'],
      registers,
    }),
    handed: new Counter({
      name: 'fleetgrid_producers_messages_enqueued_total',
      help: 'Records handed to the producer (acknowledged or not)',
      registers,
    }),
    faults: new Counter({
      name: 'fleetgrid_producers_faults_injected_total',
      help: 'Faults injected, by fault',
      labelNames: ['fault'],
      registers,
    }),
    sendSeconds: new Histogram({
      name: 'fleetgrid_producers_send_duration_seconds',
      help: 'Duration of one sendBatch until all acks (acks=all), retries included',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    sendErrors: new Counter({
      name: 'fleetgrid_producers_send_errors_total',
      help: 'Failed sendBatch attempts, by error code and whether retried',
      labelNames: ['code', 'retriable'],
      registers,
    }),
    backlog: new Gauge({
      name: 'fleetgrid_producers_backlog_messages',
      help: 'Records handed to the producer and not yet acknowledged',
      registers,
    }),
    paused: new Counter({
      name: 'fleetgrid_producers_generation_paused_seconds_total',
      help: 'Time generation waited for a free in-flight slot (broker backpressure)',
      registers,
    }),
  };
}

/** Dependencies from the process configuration: a Kafka client and a serde on the same topics. */
export function createSimulatorDeps(
  app: AppConfig,
  options: { log?: Logger; metrics?: Registry; clock?: Clock } = {},
): FleetSimulatorDeps {
  const log = options.log ?? silentLogger;
  const topics = topicNames(app.topicPrefix);
  return {
    kafka: createKafkaClient(app.kafka, { log }),
    serde: createSerde(app.registry, { topics }),
    topics,
    log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
}

/** The start of the simulated range when none is given (docs/producers.md). */
export function defaultFromMs(config: SimulatorConfig, nowMs: number): number {
  if (config.fromMs !== undefined) return config.fromMs;
  if (config.toMs !== undefined) return config.toMs - DEFAULT_FAST_SPAN_MS;
  const devices = config.trucks + config.turbines + config.solar;
  if (config.count !== undefined) {
    // Backfill ending shortly before now: a device makes about one event per interval
    // (trucks fewer during modem dropouts), and a 25 % margin keeps the run from reaching
    // the wall clock, where it would have to continue at real-time pace.
    const slowest = Math.max(config.intervalMs.truck, config.intervalMs.turbine, config.intervalMs.solar);
    return nowMs - Math.ceil((config.count / devices) * slowest * 1.25) - 2 * slowest;
  }
  const speed = config.speed ?? 1;
  if (speed === 'max') return nowMs - DEFAULT_FAST_SPAN_MS;
  if (speed <= 1) return nowMs;
  // Fast forward: start far enough back to run at full speed for the whole duration.
  const span = config.durationMs !== undefined ? config.durationMs * speed : DEFAULT_FAST_SPAN_MS;
  return nowMs - Math.min(span, 30 * DEFAULT_FAST_SPAN_MS);
}

export function createFleetSimulator(config: SimulatorConfig, deps: FleetSimulatorDeps): FleetSimulator {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? silentLogger;
  const metrics = createMetrics(deps.metrics);
  const speed: number =
    config.speed === 'max'
      ? Number.POSITIVE_INFINITY
      : (config.speed ??
        // A range, a count or a start in the past: catch up as fast as possible (the wall
        // clock still caps simulated time, so a run without an end then continues live).
        (config.toMs !== undefined || config.count !== undefined || config.fromMs !== undefined
          ? Number.POSITIVE_INFINITY
          : 1));
  const fromMs = defaultFromMs(config, clock.now());
  const fleet: Fleet = createFleet({
    seed: config.seed,
    trucks: config.trucks,
    turbines: config.turbines,
    solar: config.solar,
    intervalMs: config.intervalMs,
    startMs: fromMs,
    faults: config.faults,
    refrigeratedShare: config.refrigeratedShare,
    clockJitter: config.clockJitter,
  });
  const manifest: ManifestBuilder | undefined = config.manifest
    ? createManifestBuilder({
        seed: config.seed,
        faults: config.faults,
        windows: config.manifestWindows,
        devices: fleet.devices,
      })
    : undefined;

  let producer: KafkaProducer | undefined;
  let encoder: MessageEncoder | undefined;
  let wallStartMs = 0;
  let simTimeMs = fromMs;
  let messages = 0;
  let acked = 0;
  let bytes = 0;
  let sendErrors = 0;
  let retries = 0;
  let stopRequested = false;
  let finished = false;
  let generateMs = 0;
  let encodeMs = 0;
  let fatal: FleetgridError | undefined;
  const lanes: Lane[] = Array.from({ length: config.maxInFlight }, () => ({
    batch: newBatch(),
    openedAt: 0,
    inFlight: undefined,
  }));
  /** Each device's partition and lane, computed once. */
  const routes = new Map<string, Route>();
  /** Partitions per raw topic and each topic's first lane slot, known after start(). */
  const partitionsOf: Record<DeviceKind, number> = { truck: 1, turbine: 1, solar: 1 };
  // Wakes the generation loop from its sleep on stop(). Sends in flight are not aborted:
  // a drain must finish them (a second signal exits the process, lib/lifecycle).
  const wake = new AbortController();
  let lastFaults = fleet.faultCounts();
  const { promise: done, resolve: resolveDone } = Promise.withResolvers<SimulationResult>();
  let loop: Promise<void> | undefined;

  function newBatch(): Batch {
    return { lists: RAW_TOPIC_KEYS.map(() => []), size: 0, counts: new Array(9).fill(0) };
  }

  function status(): SimulatorStatus {
    return {
      events: fleet.eventsGenerated(),
      messages,
      acked,
      bytes,
      inFlightBatches: lanes.filter((lane) => lane.inFlight !== undefined).length,
      backlog: messages - acked,
      sendErrors,
      retries,
      simTimeMs,
      faults: fleet.faultCounts(),
      finished,
      stageMs: { generate: generateMs, encode: encodeMs },
    };
  }

  /** The last simulated millisecond: the range [from, to) excludes `to`. */
  const lastMs = config.toMs !== undefined ? config.toMs - 1 : Number.POSITIVE_INFINITY;

  /** Where simulated time should be at wall time `nowMs`: never ahead of the wall clock. */
  function targetSimTime(nowMs: number): number {
    const paced = Number.isFinite(speed) ? fromMs + (nowMs - wallStartMs) * speed : Number.POSITIVE_INFINITY;
    return Math.min(paced, nowMs, lastMs);
  }

  function routeOf(message: OutboundMessage): Route {
    let route = routes.get(message.key);
    if (!route) {
      const kindIndex = RAW_TOPIC_KEYS.indexOf(message.kind);
      const partition = partitionForKey(message.key, partitionsOf[message.kind]);
      // Spread the (topic, partition) pairs of all three topics over the lanes.
      const slot = kindIndex * 7 + partition;
      route = {
        kindIndex,
        partition,
        lane: lanes[slot % lanes.length] as Lane,
        key: Buffer.from(message.key),
      };
      routes.set(message.key, route);
    }
    return route;
  }

  function enqueue(out: OutboundMessage[]): void {
    const enc = encoder as MessageEncoder;
    const now = clock.now();
    for (const message of out) {
      manifest?.record(message);
      const route = routeOf(message);
      const { batch } = route.lane;
      const value = enc.encodeValue(message);
      bytes += value.length + route.key.length;
      // The partition is the one the producer would pick anyway; given, it spares a murmur2.
      (batch.lists[route.kindIndex] as OutgoingMessage[]).push({
        key: route.key,
        value,
        partition: route.partition,
      });
      if (batch.size === 0) route.lane.openedAt = now;
      batch.size++;
      const classIndex = message.class === 'clean' ? 0 : message.class === 'duplicate' ? 1 : 2;
      const countIndex = route.kindIndex * 3 + classIndex;
      batch.counts[countIndex] = (batch.counts[countIndex] ?? 0) + 1;
    }
    messages += out.length;
    metrics.handed.inc(out.length);
    metrics.backlog.set(messages - acked);
  }

  function countGenerated(out: OutboundMessage[]): void {
    const perKind: Record<DeviceKind, number> = { truck: 0, turbine: 0, solar: 0 };
    for (const message of out) if (message.class === 'clean') perKind[message.kind]++;
    for (const kind of RAW_TOPIC_KEYS) if (perKind[kind] > 0) metrics.generated.inc({ kind }, perKind[kind]);
    const faults = fleet.faultCounts();
    const delta = (name: string, now: number, before: number) => {
      if (now > before) metrics.faults.inc({ fault: name }, now - before);
    };
    delta('late', faults.late, lastFaults.late);
    delta('out-of-order', faults.outOfOrder, lastFaults.outOfOrder);
    delta('duplicate', faults.duplicates, lastFaults.duplicates);
    delta('legacy-schema', faults.legacyEvents, lastFaults.legacyEvents);
    for (const flavor of POISON_FLAVORS) {
      delta(`poison-${flavor}`, faults.poison[flavor], lastFaults.poison[flavor]);
    }
    lastFaults = faults;
  }

  async function sendWithRetry(sending: Batch): Promise<void> {
    const batches = RAW_TOPIC_KEYS.map((kind, i) => ({
      topic: deps.topics[kind],
      messages: sending.lists[i] as OutgoingMessage[],
    })).filter((batch) => batch.messages.length > 0);
    const stopTimer = metrics.sendSeconds.startTimer();
    await retry(
      async () => {
        try {
          await (producer as KafkaProducer).sendBatch(batches);
        } catch (error) {
          // lib/kafka maps client errors (retriable ones stay retriable); anything else is
          // a programmer error and must not be retried.
          const failure = toFleetgridError(error, 'INTERNAL');
          sendErrors++;
          metrics.sendErrors.inc({ code: failure.code, retriable: String(failure.retriable) });
          throw failure;
        }
      },
      {
        policy: { baseMs: config.backoffBaseMs, capMs: config.backoffCapMs },
        clock,
        ...(deps.random ? { random: deps.random } : {}),
        onRetry: (error, attempt, delayMs) => {
          retries++;
          log.warn(
            { err: error, attempt, delayMs, records: sending.size },
            'send failed: retrying with backoff',
          );
        },
      },
    );
    stopTimer();
    acked += sending.size;
    sending.counts.forEach((n, i) => {
      if (n > 0) {
        const kind = RAW_TOPIC_KEYS[Math.floor(i / 3)] as DeviceKind;
        metrics.produced.inc({ kind, class: MESSAGE_CLASSES[i % 3] as MessageClass }, n);
      }
    });
    metrics.backlog.set(messages - acked);
  }

  /** Sends the lane's open batch; waits first while the lane's previous one is unacknowledged. */
  async function dispatch(lane: Lane): Promise<void> {
    if (lane.batch.size === 0) return;
    if (lane.inFlight) {
      const pausedAt = clock.now();
      await lane.inFlight;
      metrics.paused.inc((clock.now() - pausedAt) / 1000);
    }
    if (fatal) return;
    const sending = lane.batch;
    lane.batch = newBatch();
    lane.inFlight = sendWithRetry(sending).then(
      () => {
        lane.inFlight = undefined;
      },
      (error: unknown) => {
        lane.inFlight = undefined;
        const failure = toFleetgridError(error, 'INTERNAL');
        if (!fatal) {
          fatal = failure;
          log.error({ err: failure, records: sending.size }, 'send failed for good: stopping the simulation');
        }
        stopRequested = true;
      },
    );
  }

  async function flushAll(): Promise<void> {
    for (const lane of lanes) await dispatch(lane);
    for (const lane of lanes) await lane.inFlight;
  }

  async function run(): Promise<SimulationResult['reason']> {
    const out: OutboundMessage[] = [];
    const remaining = () =>
      config.count === undefined ? Number.POSITIVE_INFINITY : config.count - fleet.eventsGenerated();
    const deadline =
      config.durationMs !== undefined ? wallStartMs + config.durationMs : Number.POSITIVE_INFINITY;
    let reason: SimulationResult['reason'] = 'stopped';
    // Generate in chunks of half a batch: lanes fill evenly and none overshoots by much.
    const chunk = Math.max(1, Math.floor(config.batchSize / 2));
    while (!stopRequested) {
      const nowMs = clock.now();
      if (nowMs >= deadline) {
        reason = 'duration';
        break;
      }
      const target = targetSimTime(nowMs);
      out.length = 0;
      const room = Math.min(remaining(), chunk);
      if (room > 0) {
        const t0 = performance.now();
        fleet.generate(target, room, out);
        const t1 = performance.now();
        generateMs += t1 - t0;
        if (out.length > 0) {
          countGenerated(out);
          enqueue(out);
          encodeMs += performance.now() - t1;
        }
      }
      simTimeMs = Math.max(simTimeMs, Math.min(target, fleet.nextDueMs()));
      let dispatched = false;
      for (const lane of lanes) {
        if (lane.batch.size >= config.batchSize) {
          await dispatch(lane);
          dispatched = true;
        }
      }
      if (dispatched) continue;
      if (remaining() <= 0) {
        reason = 'count';
        break;
      }
      const nextDue = fleet.nextDueMs();
      if (nextDue > lastMs && target >= lastMs) {
        reason = 'to';
        break;
      }
      if (nextDue > target) {
        // Caught up with the clock: send what waited long enough, then sleep until due.
        const now = clock.now();
        for (const lane of lanes) {
          if (lane.batch.size > 0 && !lane.inFlight && now - lane.openedAt >= config.lingerMs)
            await dispatch(lane);
        }
        const pace = target < nowMs && Number.isFinite(speed) ? speed : 1;
        const waitMs = Math.min(Math.max((nextDue - target) / pace, 2), config.lingerMs || 50, 100);
        try {
          await clock.sleep(waitMs, wake.signal);
        } catch {
          // stop() aborts the sleep.
        }
      }
    }
    // Held late, out-of-order and duplicate messages are part of what was generated: send them.
    out.length = 0;
    fleet.drain(out);
    if (out.length > 0 && !fatal) {
      countGenerated(out);
      for (let i = 0; i < out.length; i += chunk) {
        enqueue(out.slice(i, i + chunk));
        for (const lane of lanes) if (lane.batch.size >= config.batchSize) await dispatch(lane);
      }
    }
    return reason;
  }

  return {
    fromMs,
    done,
    status,
    async start() {
      const admin = deps.kafka.admin();
      await admin.connect();
      try {
        await ensureTopics(admin, topicSpecs(topicPrefixOf(deps.topics), config.partitions));
        // Existing topics keep their partition count, which may differ from ours.
        const { topics } = await admin.fetchTopicMetadata({
          topics: RAW_TOPIC_KEYS.map((kind) => deps.topics[kind]),
        });
        for (const kind of RAW_TOPIC_KEYS) {
          const found = topics.find((topic) => topic.name === deps.topics[kind]);
          partitionsOf[kind] = Math.max(1, found?.partitions.length ?? config.partitions);
        }
        // Right after a topic is created, the controller may name a leader before that
        // broker serves the partition; a produce then fails part of a request, and the
        // client's retry writes the other part twice. Listing offsets asks every leader,
        // so once it answers, produce requests will be accepted whole.
        await retry(
          async () => {
            for (const kind of RAW_TOPIC_KEYS) await admin.fetchTopicOffsets(deps.topics[kind]);
          },
          { policy: { baseMs: 50, capMs: 1_000, maxRetries: 30 }, clock, shouldRetry: () => true },
        );
      } finally {
        await admin.disconnect();
      }
      const ids = await deps.serde.registerAll(RAW_RECORDS);
      const schemas: EncoderSchemas = { ids: ids as EncoderSchemas['ids'] };
      if (config.faults.v1 > 0) {
        const legacyId = await deps.serde.registerSchema('TruckTelemetry', LEGACY_SCHEMAS.TruckTelemetryV1);
        schemas.legacy = { id: legacyId, type: parseSchema(LEGACY_SCHEMAS.TruckTelemetryV1) };
      }
      encoder = createMessageEncoder(schemas);
      producer = deps.kafka.producer({ maxInFlightRequests: config.maxInFlight });
      await producer.connect();
      wallStartMs = clock.now();
      log.info(
        {
          trucks: config.trucks,
          turbines: config.turbines,
          solar: config.solar,
          seed: config.seed,
          from: new Date(fromMs).toISOString(),
          to: config.toMs !== undefined ? new Date(config.toMs).toISOString() : undefined,
          speed: Number.isFinite(speed) ? speed : 'max',
          count: config.count,
        },
        'simulation started',
      );
      loop = run().then(
        async (reason) => {
          try {
            await flushAll();
          } catch (error) {
            fatal ??= toFleetgridError(error, 'INTERNAL');
          }
          await (producer as KafkaProducer).disconnect().catch(() => undefined);
          finished = true;
          const result: SimulationResult = {
            status: status(),
            manifest: manifest?.build(),
            reason: fatal ? 'error' : reason,
            ...(fatal ? { error: fatal } : {}),
          };
          log.info({ reason: result.reason, events: result.status.events, acked }, 'simulation finished');
          resolveDone(result);
        },
        (error: unknown) => {
          finished = true;
          const failure = toFleetgridError(error, 'INTERNAL');
          resolveDone({ status: status(), manifest: manifest?.build(), reason: 'error', error: failure });
        },
      );
    },
    async stop() {
      stopRequested = true;
      wake.abort(new FleetgridError('TIMEOUT', 'simulation stopping', { retriable: false }));
      if (loop) await loop;
    },
  };
}

/** The prefix the topic names were made with (topicNames(prefix)): what topicSpecs needs. */
function topicPrefixOf(topics: TopicNames): string {
  return topics.truck.slice(0, topics.truck.length - 'telemetry.truck'.length);
}

/**
 * Produces exactly `count` device events (plus any injected duplicates and poison), waits
 * for every ack, and resolves with the manifest. What load tests and demos call.
 */
export async function produceEvents(
  config: SimulatorConfig,
  deps: FleetSimulatorDeps,
  count: number,
): Promise<SimulationResult & { manifest: Manifest }> {
  const simulator = createFleetSimulator({ ...config, count, manifest: true }, deps);
  await simulator.start();
  const result = await simulator.done;
  if (result.error) throw result.error;
  return result as SimulationResult & { manifest: Manifest };
}
