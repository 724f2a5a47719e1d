/**
 * Helpers for the processor integration tests: crafting raw events (no dependency on the
 * simulators), producing them as Avro, reading whole topics back, and the in-memory
 * reference — the same core run over the partitions exactly as Kafka stored them.
 */
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { KafkaConfig } from '../../lib/config.ts';
import type { OutgoingMessage } from '../../lib/kafka/index.ts';
import { createMetricsRegistry, type Registry } from '../../lib/metrics.ts';
import type { DeviceKind } from '../../lib/topics.ts';
import { type CoreConfig, createPartitionCore, parseCoreConfig } from '../../processors/core/index.ts';
import { type ProcessorConfigInput, parseProcessorConfig } from '../../processors/config.ts';
import { createProcessor, type Processor, type ProcessorDeps } from '../../processors/runner/processor.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import type {
  Alert,
  DeviceState,
  RawEvent,
  SolarTelemetry,
  TruckTelemetry,
  TurbineTelemetry,
  WindowAggregate,
} from '../../schemas/types.ts';
import { validateRawEvent } from '../../schemas/validate.ts';
import { createTestStack, type TestStack } from '../helpers.ts';
import { retry } from '../../lib/retry.ts';

/** A fixed event-time origin, in the past, so validation and windows are reproducible. */
export const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

/** Core options for tests: small windows; idle close off, so outputs depend on events only. */
export const TEST_CORE = {
  windowSizeMs: 60_000,
  graceMs: 10_000,
  maxLatenessMs: 600_000,
  idleTimeoutMs: 86_400_000,
};

export function truck(
  deviceId: string,
  seq: number,
  ts: number,
  over: Partial<TruckTelemetry> = {},
): RawEvent {
  return {
    type: 'TruckTelemetry',
    value: {
      eventId: `${deviceId}-${seq}`,
      deviceId,
      siteId: 'depot-1',
      ts,
      seq,
      lat: 52.5,
      lon: 13.4,
      speedKmh: 60,
      headingDeg: 90,
      engineTempC: 90,
      fuelPct: 50,
      odometerKm: 1000 + seq * 0.1,
      engineOn: true,
      cargoTempC: null,
      ...over,
    },
  };
}

export function turbine(
  deviceId: string,
  seq: number,
  ts: number,
  over: Partial<TurbineTelemetry> = {},
): RawEvent {
  return {
    type: 'TurbineTelemetry',
    value: {
      eventId: `${deviceId}-${seq}`,
      deviceId,
      siteId: 'plant-1',
      ts,
      seq,
      windSpeedMs: 9,
      rotorRpm: 14,
      powerKw: 1500,
      pitchDeg: 2,
      nacelleTempC: 40,
      vibrationMmS: 2,
      status: 'RUNNING',
      ...over,
    },
  };
}

export function solar(
  deviceId: string,
  seq: number,
  ts: number,
  over: Partial<SolarTelemetry> = {},
): RawEvent {
  return {
    type: 'SolarTelemetry',
    value: {
      eventId: `${deviceId}-${seq}`,
      deviceId,
      siteId: 'plant-2',
      ts,
      seq,
      irradianceWm2: 700,
      panelTempC: 45,
      dcVoltageV: 600,
      dcCurrentA: 20,
      acPowerW: 11_500,
      status: 'PRODUCING',
      ...over,
    },
  };
}

const KIND_OF: Record<RawEvent['type'], DeviceKind> = {
  TruckTelemetry: 'truck',
  EngineStateChanged: 'truck',
  DiagnosticReported: 'truck',
  TurbineTelemetry: 'turbine',
  SolarTelemetry: 'solar',
};

/** A small deterministic PRNG (mulberry32): the same seed gives the same stream. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A mixed fleet over `minutes` of event time, one sample per device every 5 s, with
 * overspeed and vibration episodes (alerts), resends (duplicates), swaps within grace
 * (out of order) and a few late events inside maxLateness.
 */
export function generateStream(options: {
  seed: number;
  minutes: number;
  trucks: number;
  turbines: number;
  solars: number;
}): RawEvent[] {
  const random = rng(options.seed);
  const out: RawEvent[] = [];
  const steps = (options.minutes * 60) / 5;
  const late: RawEvent[] = [];
  for (let step = 0; step < steps; step++) {
    const ts = T0 + step * 5_000;
    for (let i = 0; i < options.trucks; i++) {
      const fast = step % 40 >= 10 && step % 40 < 22 && i % 2 === 0;
      out.push(
        truck(`truck-${i}`, step, ts + i, { speedKmh: fast ? 100 + random() * 10 : 40 + random() * 30 }),
      );
    }
    for (let i = 0; i < options.turbines; i++) {
      const shaky = step % 60 >= 20 && step % 60 < 40 && i === 0;
      out.push(
        turbine(`turbine-${i}`, step, ts + i, {
          vibrationMmS: shaky ? 9 : 1 + random(),
          powerKw: 1200 + random() * 600,
        }),
      );
    }
    for (let i = 0; i < options.solars; i++) {
      out.push(solar(`solar-${i}`, step, ts + i, { acPowerW: 10_000 + random() * 3000 }));
    }
    if (out.length > 4 && random() < 0.3) {
      // a resend of a recent event (same eventId, seq and ts): must count once
      out.push(structuredClone(out[out.length - 1 - Math.floor(random() * 4)]!));
    }
    if (out.length > 4 && random() < 0.2) {
      // swap two neighbours: out of order by at most a few seconds (within grace)
      const a = out.length - 2;
      [out[a], out[a + 1]] = [out[a + 1]!, out[a]!];
    }
    if (step > 30 && random() < 0.05) {
      // keep an event back and send it minutes later: a late event that revises a window
      const held = out.splice(out.length - 1 - Math.floor(random() * 3), 1)[0]!;
      late.push(held);
    }
    if (late.length > 0 && random() < 0.1) out.push(late.shift()!);
  }
  out.push(...late);
  return out;
}

export async function createTestSerde(stack: TestStack): Promise<Serde> {
  const serde = createSerde(stack.config.registry, { topics: stack.topics });
  await serde.registerAll();
  return serde;
}

/** Produces events keyed by deviceId to their kind's topic, in order, in a few requests. */
/**
 * Produces `events` to their raw topics. Idempotent by default, as every producer of the
 * product: tests count exactly what was produced, and a plain producer's retry under load can
 * write a batch twice (seen once: 907 records of 700). `idempotent: false` for callers that
 * send a few events every few hundred ms with event times from the wall clock, where a new
 * idempotent producer per call (InitProducerId, a metadata read) shifts their timing.
 */
export async function produceEvents(
  stack: TestStack,
  serde: Serde,
  events: RawEvent[],
  options: { idempotent?: boolean } = {},
): Promise<void> {
  const producer = stack.kafka.producer({ idempotent: options.idempotent ?? true });
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 2_000) {
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const event of events.slice(i, i + 2_000)) {
        const topic = stack.topics[KIND_OF[event.type]];
        const list = byTopic.get(topic) ?? [];
        list.push({ key: event.value.deviceId, value: serde.encode(event.type, event.value as never) });
        byTopic.set(topic, list);
      }
      await producer.sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    }
  } finally {
    await producer.disconnect();
  }
}

/** Raw messages to one topic (bad input tests). */
export async function produceRaw(
  stack: TestStack,
  topic: string,
  messages: OutgoingMessage[],
): Promise<void> {
  const producer = stack.kafka.producer();
  await producer.connect();
  try {
    await producer.send(topic, messages);
  } finally {
    await producer.disconnect();
  }
}

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Reads every record of `topic` up to the current end of each partition (no count needed). */
export async function readTopic(stack: TestStack, topic: string): Promise<ReadRecord[]> {
  const { headersToStrings } = await import('../../lib/kafka/index.ts');
  const ends = await stack.admin.fetchTopicOffsets(topic);
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]),
  );
  const out: ReadRecord[] = [];
  if (remaining.size === 0) return out;
  const consumer = stack.kafka.consumer({
    groupId: stack.group(`read-${Math.random().toString(36).slice(2, 8)}`),
    maxWaitTimeMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  const done = Promise.withResolvers<void>();
  const timer = setTimeout(() => done.reject(new Error(`timed out reading ${topic}`)), 60_000);
  // Transactional topics end in markers read_committed never delivers: a partition is read
  // to its end once a batch reached the end offset, visible record or not.
  consumer.on('batchEnd', ({ partition, lastOffset }) => {
    const end = remaining.get(partition);
    if (end !== undefined && Number(lastOffset) + 1 >= end) {
      remaining.delete(partition);
      if (remaining.size === 0) done.resolve();
    }
  });
  await consumer.run({
    concurrency: 1,
    eachBatch: async ({ partition, records, resolveOffset }) => {
      for (const message of records) {
        out.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: headersToStrings(message.headers),
        });
        resolveOffset(message.offset);
        const end = remaining.get(partition);
        if (end !== undefined && Number(message.offset) + 1 >= end) {
          remaining.delete(partition);
          if (remaining.size === 0) done.resolve();
        }
      }
    },
  });
  try {
    await done.promise;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  out.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  return out;
}

export interface Outputs {
  aggregates: WindowAggregate[];
  alerts: Alert[];
}

/** The newest device state per device, as the reference core computes it. */
export async function referenceDeviceStates(
  stack: TestStack,
  serde: Serde,
  core: CoreConfig,
): Promise<Map<string, DeviceState>> {
  const states = new Map<string, DeviceState>();
  for (const kind of ['truck', 'turbine', 'solar'] as const) {
    const cores = new Map<number, ReturnType<typeof createPartitionCore>>();
    for (const record of await readTopic(stack, stack.topics[kind])) {
      let event: RawEvent;
      try {
        const decoded = await serde.decode(record.value);
        event = { type: decoded.record, value: decoded.value } as RawEvent;
        validateRawEvent(event, Date.now());
      } catch {
        continue;
      }
      const c = cores.get(record.partition) ?? createPartitionCore(core);
      cores.set(record.partition, c);
      for (const state of c.apply(event, 0).deviceStates) states.set(state.deviceId, state);
    }
  }
  return states;
}

/** The newest state per device on the device-state topic (the last record of each key). */
export async function processorDeviceStates(
  stack: TestStack,
  serde: Serde,
): Promise<Map<string, DeviceState>> {
  const states = new Map<string, DeviceState>();
  for (const record of await readTopic(stack, stack.topics.deviceState)) {
    const state = (await serde.decode(record.value)).value as DeviceState;
    states.set(state.deviceId, state);
  }
  return states;
}

/** The crash-free reference: one core per input partition over the records as Kafka holds them. */
export async function referenceOutputs(stack: TestStack, serde: Serde, core: CoreConfig): Promise<Outputs> {
  const result: Outputs = { aggregates: [], alerts: [] };
  for (const kind of ['truck', 'turbine', 'solar'] as const) {
    const records = await readTopic(stack, stack.topics[kind]);
    const cores = new Map<number, ReturnType<typeof createPartitionCore>>();
    for (const record of records) {
      let event: RawEvent;
      try {
        const decoded = await serde.decode(record.value);
        event = { type: decoded.record, value: decoded.value } as RawEvent;
        validateRawEvent(event, Date.now());
      } catch {
        continue; // bad input: dead-lettered by the processor, no outputs
      }
      const c = cores.get(record.partition) ?? createPartitionCore(core);
      cores.set(record.partition, c);
      const out = c.apply(event, 0);
      result.aggregates.push(...out.aggregates);
      result.alerts.push(...out.alerts);
    }
  }
  return result;
}

/** Decodes the processor's output topics. */
/** Decodes the processor's output topics; with `after`, only records past those end offsets. */
export async function processorOutputs(
  stack: TestStack,
  serde: Serde,
  after?: Map<string, number>,
): Promise<Outputs> {
  const since = (topic: string) => (r: ReadRecord) =>
    !after || Number(r.offset) >= (after.get(`${topic}:${r.partition}`) ?? 0);
  const read = async (topic: string) =>
    Promise.all((await readTopic(stack, topic)).filter(since(topic)).map((r) => serde.decode(r.value)));
  const aggregates = await read(stack.topics.aggregates);
  const alerts = await read(stack.topics.alerts);
  return {
    aggregates: aggregates.map((d) => d.value as WindowAggregate),
    alerts: alerts.map((d) => d.value as Alert),
  };
}

/** The current end offsets of the output topics: a mark for `processorOutputs(…, after)`. */
export async function outputMark(stack: TestStack): Promise<Map<string, number>> {
  const mark = new Map<string, number>();
  for (const topic of [stack.topics.aggregates, stack.topics.alerts]) {
    for (const { partition, high } of await stack.admin.fetchTopicOffsets(topic)) {
      mark.set(`${topic}:${partition}`, Number(high));
    }
  }
  return mark;
}

/** The newest revision of every window, as comparable JSON keyed by device and start. */
export function newestRevisions(aggregates: WindowAggregate[]): Map<string, string> {
  const newest = new Map<string, WindowAggregate>();
  for (const a of aggregates) {
    const key = `${a.deviceId}@${a.windowStart}`;
    const seen = newest.get(key);
    if (!seen || a.revision > seen.revision) newest.set(key, a);
  }
  return new Map([...newest].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, JSON.stringify(v)]));
}

/**
 * The set of alert transitions (id + state), as sorted JSON records. Keys are sorted too: an
 * alert decoded from Avro has the schema's field order, one from a core its own.
 */
export function alertSet(alerts: Alert[]): string[] {
  const canonical = (a: Alert) =>
    JSON.stringify(Object.fromEntries(Object.entries(a).sort(([x], [y]) => x.localeCompare(y))));
  return [...new Set(alerts.map(canonical))].sort();
}

export interface RunningProcessor {
  processor: Processor;
  redis: Redis;
  metrics: Registry;
  /** Resolves once start() did (already resolved unless `waitForStart: false`). */
  started: Promise<void>;
  stop(): Promise<void>;
}

/** An in-process processor on the test stack; `overrides` shorten intervals for tests. */
export async function startProcessor(
  stack: TestStack,
  serde: Serde,
  overrides: ProcessorConfigInput = {},
  options: {
    redisUrl?: string;
    waitForStart?: boolean;
    onRegistryChange?: ProcessorDeps['onRegistryChange'];
  } = {},
): Promise<RunningProcessor> {
  const config = parseProcessorConfig({
    core: TEST_CORE,
    partitions: 3,
    // The test devices are not in any registry: processed as they are (the join still runs).
    unknownDevice: 'accept',
    checkpointIntervalMs: 500,
    // The tests' partitions are quiet; they keep the short cadence (cadence.test.ts covers the quiet rule).
    quietCheckpointIntervalMs: 500,
    timerIntervalMs: 200,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    rebalanceTimeoutMs: 10_000,
    ...overrides,
  });
  const redis = new Redis(options.redisUrl ?? stack.config.redis.url, { maxRetriesPerRequest: 3 });
  // A private Redis that a test kills or freezes must not make the client throw unhandled errors.
  redis.on('error', () => {});
  const metrics = createMetricsRegistry('processor-test', { defaultMetrics: false });
  const processor = createProcessor(
    { ...config, topicPrefix: stack.prefix },
    {
      kafka: stack.kafka,
      redis,
      serde,
      metrics,
      log: stack.log,
      ...(options.onRegistryChange ? { onRegistryChange: options.onRegistryChange } : {}),
    },
  );
  const started = processor.start();
  if (options.waitForStart !== false) await started;
  else started.catch(() => {}); // the test awaits it
  return {
    processor,
    redis,
    metrics,
    started,
    async stop() {
      await processor.stop();
      await redis.quit();
    },
  };
}

/** Waits until the processor group's committed offsets reach the end of every input partition. */
export async function waitCaughtUp(stack: TestStack, groupId: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const inputs = [stack.topics.truck, stack.topics.turbine, stack.topics.solar];
  for (;;) {
    let behind = 0;
    const committed = await stack.admin.fetchCommittedOffsets(groupId, inputs);
    for (const { topic, partitions } of committed) {
      const ends = await stack.admin.fetchTopicOffsets(topic);
      for (const end of ends) {
        const done = partitions.find((p) => p.partition === end.partition);
        const at = Number(done?.offset ?? -1);
        if (Number(end.high) > 0 && at < Number(end.high)) behind++;
      }
    }
    if (behind === 0) return;
    if (Date.now() > deadline)
      throw new Error(`processor group ${groupId} did not catch up in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export const coreConfig = () => parseCoreConfig(TEST_CORE);
export { KIND_OF };

/** Polls `condition` every 100 ms until it holds or `timeoutMs` passes. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deletes the keys matching `pattern` (SCAN, never KEYS: the Redis is shared). */
export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Deletes this stack's device-state hashes (and checkpoints of older versions) from Redis. */
export async function cleanupRedis(stack: TestStack): Promise<void> {
  const redis = new Redis(stack.config.redis.url, { maxRetriesPerRequest: 3 });
  try {
    for (const pattern of [`fleetgrid:ckpt:{${stack.prefix}*`, `fleetgrid:device:${stack.prefix}*`])
      await deleteKeys(redis, pattern);
  } finally {
    await redis.quit();
  }
}

/**
 * Options of an in-process processor for pipeline tests: the core's defaults, short runner
 * intervals (checkpoints, timers, state flushes), a quick group, its own Redis namespace.
 */
export function quickProcessorOptions(partitions: number, redisKeyPrefix: string): ProcessorConfigInput {
  return {
    partitions,
    checkpointIntervalMs: 500,
    // The tests' partitions are quiet; they keep the short cadence (cadence.test.ts covers the quiet rule).
    quietCheckpointIntervalMs: 500,
    timerIntervalMs: 200,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    rebalanceTimeoutMs: 10_000,
    redisKeyPrefix,
    // The pipeline tests' devices are not in any registry: processed as they are.
    unknownDevice: 'accept',
  };
}

/**
 * createTestStack, retried a few times: on a busy 2-core machine the broker sometimes
 * answers a fresh topic's metadata with "does not host this topic-partition" for a moment.
 */
export async function createProcessorStack(
  name: string,
  partitions: number,
  kafka?: KafkaConfig,
): Promise<TestStack> {
  return retry(() => createTestStack(name, { partitions, kafka }), {
    policy: { baseMs: 500, capMs: 2_000, maxRetries: 3 },
  });
}

export interface Proxy {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP pass-through to `target` that can refuse connections for a while (a registry outage). */
export async function startProxy(target: URL): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  };
  const stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen();
  return { port, cut: stop, restore: listen, close: stop };
}
