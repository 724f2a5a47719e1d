/**
 * The fleet simulator service: the pure fleet (fleet.ts) driven by a clock, its messages
 * encoded (encoder.ts) and produced to Kafka through lib/kafka.ts.
 *
 * Producing goes through the runtime's batching ordered producer (lib/stream/producer.ts):
 * `maxInFlight` ordered lanes, each partition in one lane, requests bounded by `batchSize`
 * records and `maxRequestBytes` bytes, acks=all, retriable failures retried with capped
 * full-jitter backoff while the lane waits, idempotent by default (a retry writes nothing
 * twice). Records are counted as acknowledged per request, so `acked` is what the broker
 * holds. When more than two requests' worth per lane is outstanding, generation waits:
 * that is the backpressure, and memory stays bounded. A non-retriable failure stops the run
 * and is reported.
 *
 * Every message is recorded in the manifest when it is handed to the producer.
 */
import { FleetgridError, toFleetgridError } from '../lib/errors.ts';
import type { Clock } from '../lib/clock.ts';
import { systemClock } from '../lib/clock.ts';
import type { AppConfig } from '../lib/config.ts';
import { createKafkaClient, type KafkaClient, partitionForKey } from '../lib/kafka/index.ts';
import type { Logger } from '../lib/log.ts';
import { silentLogger } from '../lib/log.ts';
import { Counter, Gauge, Histogram, type Registry } from '../lib/metrics.ts';
import { retry } from '../lib/retry.ts';
import {
  type BatchingProducer,
  createBatchingProducer,
  type ProduceOutcome,
  type Service,
} from '../lib/stream/index.ts';
import {
  type DeviceKind,
  ensureTopics,
  RAW_TOPIC_KEYS,
  type TopicNames,
  type TopicPolicy,
  topicNames,
  topicSpecs,
} from '../lib/topics.ts';
import { LEGACY_SCHEMAS, parseSchema, RAW_RECORDS } from '../schemas/catalog.ts';
import { createSerde, type Serde } from '../schemas/serde.ts';
import type { SimulatorConfig } from './config.ts';
import { createMessageEncoder, type EncoderSchemas, type MessageEncoder } from './encoder.ts';
import { type FaultCounts, POISON_FLAVORS } from './faults.ts';
import { createFleet, type Fleet } from './fleet.ts';
import { createManifestBuilder, type Manifest, type ManifestBuilder } from './manifest.ts';
import type { MessageClass, OutboundMessage } from './types.ts';

export { RAW_RECORDS };

/** With speed > 1 and no start given, how much simulated past to start from. */
const DEFAULT_FAST_SPAN_MS = 24 * 3_600_000;

export interface FleetSimulatorDeps {
  kafka: KafkaClient;
  /** Created with the same topic names as `topics`. */
  serde: Serde;
  topics: TopicNames;
  /** Replication and retention of the topics it creates when they are missing. */
  topicPolicy?: TopicPolicy;
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

/** Where a device's records go, computed once per device. */
interface Route {
  topic: string;
  kindIndex: number;
  partition: number;
  key: Buffer;
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
    // Unlabelled, so it is exported (0) from the start: /pipeline/health knows the state at rest.
    pausedNow: new Gauge({
      name: 'fleetgrid_producers_generation_paused',
      help: 'Whether generation is waiting for the producer right now (1) or running (0)',
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
    topicPolicy: app.topics,
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

  let producer: BatchingProducer<number> | undefined;
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
  /** Each device's topic, partition and key bytes, computed once. */
  const routes = new Map<string, Route>();
  /** Partitions per raw topic, known after start(). */
  const partitionsOf: Record<DeviceKind, number> = { truck: 1, turbine: 1, solar: 1 };
  /** Generation waits while more than this many records are outstanding (two requests per lane). */
  const backlogBound = config.maxInFlight * config.batchSize * 2;
  // Wakes the generation loop from its sleep on stop(). Sends in flight are not aborted:
  // a drain must finish them (a second signal exits the process, lib/stream/service.ts).
  const wake = new AbortController();
  let lastFaults = fleet.faultCounts();
  const { promise: done, resolve: resolveDone } = Promise.withResolvers<SimulationResult>();
  let loop: Promise<void> | undefined;

  function status(): SimulatorStatus {
    return {
      events: fleet.eventsGenerated(),
      messages,
      acked,
      bytes,
      inFlightBatches: producer?.inFlight ?? 0,
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
      route = {
        topic: deps.topics[message.kind],
        kindIndex,
        // The partition the producer would pick anyway (murmur2); given, it spares one per record.
        partition: partitionForKey(message.key, partitionsOf[message.kind]),
        key: Buffer.from(message.key),
      };
      routes.set(message.key, route);
    }
    return route;
  }

  function enqueue(out: OutboundMessage[]): void {
    const enc = encoder as MessageEncoder;
    const p = producer as BatchingProducer<number>;
    for (const message of out) {
      manifest?.record(message);
      const route = routeOf(message);
      const value = enc.encodeValue(message);
      bytes += value.length + route.key.length;
      const classIndex = message.class === 'clean' ? 0 : message.class === 'duplicate' ? 1 : 2;
      // The meta is the acked counter this record increments: kind × 3 + class.
      p.add(
        route.topic,
        { key: route.key, value, partition: route.partition },
        route.kindIndex * 3 + classIndex,
      );
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

  /** Counts what the broker acknowledged; a request that failed for good stops the run. */
  function onOutcome(outcome: ProduceOutcome<number>): void {
    metrics.sendSeconds.observe(outcome.durationMs / 1000);
    if (!outcome.ok) {
      sendErrors++;
      metrics.sendErrors.inc({ code: outcome.error.code, retriable: 'false' });
      if (!fatal) {
        fatal = outcome.error;
        log.error(
          { err: outcome.error, records: outcome.records.length },
          'send failed for good: stopping the simulation',
        );
      }
      stopRequested = true;
      wake.abort(outcome.error);
      return;
    }
    const counts = new Array<number>(9).fill(0);
    for (const record of outcome.records) counts[record.meta] = (counts[record.meta] ?? 0) + 1;
    acked += outcome.records.length;
    counts.forEach((n, i) => {
      if (n > 0) {
        const kind = RAW_TOPIC_KEYS[Math.floor(i / 3)] as DeviceKind;
        metrics.produced.inc({ kind, class: MESSAGE_CLASSES[i % 3] as MessageClass }, n);
      }
    });
    metrics.backlog.set(messages - acked);
  }

  /** Backpressure: waits while the producer holds more than two requests per lane. */
  async function throttle(): Promise<void> {
    const p = producer as BatchingProducer<number>;
    if (p.outstanding.rows <= backlogBound) return;
    const pausedAt = clock.now();
    metrics.pausedNow.set(1);
    try {
      await p.below(backlogBound);
    } finally {
      metrics.pausedNow.set(0);
    }
    metrics.paused.inc((clock.now() - pausedAt) / 1000);
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
      await throttle();
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
        // Caught up with the clock: sleep until due (the producer sends what lingered).
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
      for (let i = 0; i < out.length && !fatal; i += chunk) {
        enqueue(out.slice(i, i + chunk));
        await throttle();
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
        await ensureTopics(
          admin,
          topicSpecs(topicPrefixOf(deps.topics), config.partitions, deps.topicPolicy),
        );
        // Existing topics keep their partition count, which may differ from ours.
        const topics = await admin.fetchTopicMetadata(RAW_TOPIC_KEYS.map((kind) => deps.topics[kind]));
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
          { policy: { baseMs: 50, capMs: 1_000, maxRetries: 30 }, clock },
        );
      } finally {
        await admin.disconnect();
      }
      const ids = await deps.serde.registerAll([...RAW_RECORDS]);
      const schemas: EncoderSchemas = { ids: ids as EncoderSchemas['ids'] };
      if (config.faults.v1 > 0) {
        const legacyId = await deps.serde.registerSchema('TruckTelemetry', LEGACY_SCHEMAS.TruckTelemetryV1);
        schemas.legacy = { id: legacyId, type: parseSchema(LEGACY_SCHEMAS.TruckTelemetryV1) };
      }
      encoder = createMessageEncoder(schemas);
      producer = createBatchingProducer<number>(
        {
          maxRequestRows: config.batchSize,
          maxRequestBytes: config.maxRequestBytes,
          lingerMs: config.lingerMs,
          ...(config.quietLingerMs > 0
            ? { quietLinger: { rows: config.quietBatchRecords, ms: config.quietLingerMs } }
            : {}),
          lanes: config.maxInFlight,
          retry: { baseMs: config.backoffBaseMs, capMs: config.backoffCapMs },
          idempotent: config.idempotent,
        },
        {
          kafka: deps.kafka,
          partitions: Object.fromEntries(
            RAW_TOPIC_KEYS.map((kind) => [deps.topics[kind], partitionsOf[kind]]),
          ),
          onOutcome,
          clock,
          log,
          ...(deps.random ? { random: deps.random } : {}),
          onRetry: (error, attempt, delayMs) => {
            retries++;
            sendErrors++;
            metrics.sendErrors.inc({ code: error.code, retriable: 'true' });
            log.warn({ err: error, attempt, delayMs }, 'send failed: retrying with backoff');
          },
        },
      );
      await producer.start();
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
            await (producer as BatchingProducer<number>).close();
          } catch (error) {
            fatal ??= toFleetgridError(error, 'INTERNAL');
          }
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
