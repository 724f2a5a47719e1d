/**
 * The load generator: drives the simulators (producers/fleet.ts, the pure fleet) at the
 * offered rate and produces to Kafka with acks=all.
 *
 * Pacing: on every tick the driver asks the profile how many events should have been
 * offered by now and generates the difference, so the offered rate never drifts. The fleet
 * is asked for exactly that many events, whatever its devices' sampling interval: its
 * simulated clock runs as fast as the offered rate needs (the physics of each device stay
 * coherent, one sampling step at a time), and every event's `ts` is stamped with the wall
 * clock at generation, because end-to-end freshness is measured from event time.
 *
 * Producing goes through the runtime's batching ordered producer (lib/stream/producer.ts):
 * requests bounded by rows and bytes below the broker's limit (a tenfold spike once made
 * requests over 1 MiB that the broker refused), one ordered lane per partition,
 * idempotent retries of retriable failures. An event counts as produced only when its
 * request was acknowledged, so `acked` is exactly what the topics hold under any
 * overload: a failed request counts nothing, and a retried one writes nothing twice.
 *
 * Bounded: at most `maxInFlight` ticks' worth of records are outstanding; while they are,
 * generation waits. Events due for more than one second that could not be generated are
 * shed (counted, never sent late), so the achieved rate shows the real capacity instead of
 * a backlog flushed after the phase it belonged to.
 *
 * Device ids carry the run's tag (`lt1a2b3c-truck-00001`), so a run against a shared
 * pipeline finds its own rows, and two runs never share a device.
 */
import { toFleetgridError } from '../lib/errors.ts';
import type { KafkaClient, OutgoingMessage } from '../lib/kafka/index.ts';
import {
  type BatchingProducer,
  createBatchingProducer,
  DEFAULT_PRODUCER_CONFIG,
} from '../lib/stream/index.ts';
import type { TopicNames } from '../lib/topics.ts';
import { createFleet, type Fleet } from '../producers/fleet.ts';
import type { OutboundMessage } from '../producers/types.ts';
import type { Serde } from '../schemas/serde.ts';
import type { RecordName } from '../schemas/types.ts';
import { deviceMix } from './config.ts';
import { offeredBy, type Profile, rateAt } from './profiles.ts';
import { emptyProducedTally, type ProducedTally, tallyProduced } from './reconcile.ts';

export interface DriverStats {
  /** Events the profile offered so far. */
  offered: number;
  generated: number;
  acked: number;
  shed: number;
  errors: number;
  bytes: number;
  inFlight: number;
}

export interface LoadDriver {
  /** Connects the producer. */
  start(): Promise<void>;
  /** Generates and sends what is due `elapsedS` seconds into the run. */
  tick(elapsedS: number, nowMs: number): void;
  stats(): DriverStats;
  /** Acknowledged events per second of event time (relative to the run start). */
  readonly ackedBySecond: Map<number, number>;
  readonly tally: ProducedTally;
  /** Waits for every outstanding send. */
  flush(): Promise<void>;
  /** Flushes and disconnects. */
  close(): Promise<void>;
  /** Mean size of a record (value + key), bytes. */
  avgRecordBytes(): number;
}

export interface DriverOptions {
  profile: Profile;
  devices: number;
  seed: number;
  runTag: string;
  startMs: number;
  topics: TopicNames;
  /** Partitions of every raw topic, by topic name. */
  partitions: Record<string, number>;
  maxInFlight: number;
  /** Most bytes of one produce request; below the broker's message.max.bytes. */
  maxRequestBytes?: number;
  /** Ends retries (Ctrl-C): what is not acknowledged by then is not counted. */
  signal?: AbortSignal;
  onError?: (error: unknown) => void;
  /**
   * Told every acknowledged event, decoded from the bytes sent (so with the precision the
   * processor sees), in acknowledgement order: the expected derived outputs are built from it.
   */
  onAcked?: (topic: string, partition: number, value: Buffer) => void;
}

interface Pending {
  record: RecordName;
  deviceId: string;
  seq: number;
  second: number;
  bytes: number;
  /** The tick the record was generated in: ticks outstanding are the driver's backpressure. */
  tick: { outstanding: number };
}

/** The fleet of a run: one-second sampling per device, no injected faults. */
export function createLoadFleet(devices: number, seed: number, startMs: number): Fleet {
  const mix = deviceMix(devices);
  return createFleet({
    seed,
    ...mix,
    intervalMs: { truck: 1_000, turbine: 1_000, solar: 1_000 },
    startMs,
  });
}

/** Encodes one fleet message as the run sends it: run-tagged device id, ts = now. */
export function toRecord(
  message: OutboundMessage,
  serde: Pick<Serde, 'encode'>,
  topics: TopicNames,
  runTag: string,
  nowMs: number,
): { topic: string; record: RecordName; deviceId: string; seq: number; message: OutgoingMessage } {
  const event = message.event;
  const deviceId = `${runTag}-${event.value.deviceId}`;
  const value = { ...event.value, deviceId, ts: nowMs };
  const bytes = serde.encode(event.type, value as never);
  return {
    topic: topics[message.kind],
    record: event.type,
    deviceId,
    seq: value.seq,
    message: { key: deviceId, value: bytes },
  };
}

export function createLoadDriver(
  options: DriverOptions,
  deps: { kafka: Pick<KafkaClient, 'producer'>; serde: Pick<Serde, 'encode'> },
): LoadDriver {
  const fleet = createLoadFleet(options.devices, options.seed, options.startMs);
  const tally = emptyProducedTally();
  const ackedBySecond = new Map<number, number>();
  const stats = { offered: 0, generated: 0, acked: 0, shed: 0, errors: 0, bytes: 0 };
  let ticksOutstanding = 0;
  let recordsSized = 0;
  const buffer: OutboundMessage[] = [];
  const producer: BatchingProducer<Pending> = createBatchingProducer<Pending>(
    {
      ...DEFAULT_PRODUCER_CONFIG,
      maxRequestBytes: options.maxRequestBytes ?? DEFAULT_PRODUCER_CONFIG.maxRequestBytes,
      // One lane: the producer is idempotent, and kafkajs sends an idempotent producer's
      // requests one at a time per broker, so one lane makes the fewest, largest requests
      // (eight lanes made the generator fall behind at 36,000/s). `maxInFlight` still
      // bounds the ticks outstanding.
      lanes: 1,
      lingerMs: 0,
      retry: { baseMs: 100, capMs: 2_000 },
    },
    {
      kafka: deps.kafka,
      partitions: options.partitions,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: () => {
        stats.errors++;
      },
      onOutcome: (outcome) => {
        if (outcome.ok) {
          for (const { meta: p, topic, partition, message } of outcome.records) {
            tallyProduced(tally, p.record, p.deviceId, p.seq);
            options.onAcked?.(topic, partition, message.value as Buffer);
            ackedBySecond.set(p.second, (ackedBySecond.get(p.second) ?? 0) + 1);
            stats.bytes += p.bytes;
          }
          stats.acked += outcome.records.length;
          recordsSized += outcome.records.length;
        } else {
          stats.errors++;
          options.onError?.(toFleetgridError(outcome.error, 'INTERNAL'));
        }
        for (const { meta: p } of outcome.records) {
          if (--p.tick.outstanding === 0) ticksOutstanding--;
        }
      },
    },
  );

  return {
    ackedBySecond,
    tally,
    start: () => producer.start(),
    tick(elapsedS, nowMs) {
      const due = Math.floor(offeredBy(options.profile, elapsedS));
      stats.offered = due;
      // Shed what has been due for over a second: it would only be sent late.
      // (The rate just inside the run: at its very end rateAt is already 0.)
      const inside = Math.min(elapsedS, options.profile.durationS - 1e-6);
      const slack = Math.max(1, Math.ceil(rateAt(options.profile, inside)));
      if (due - stats.generated - stats.shed > slack) stats.shed = due - stats.generated - slack;
      if (ticksOutstanding >= options.maxInFlight) return;
      const want = due - stats.generated - stats.shed;
      if (want <= 0) return;
      buffer.length = 0;
      const made = fleet.generate(Number.MAX_SAFE_INTEGER, want, buffer);
      stats.generated += made;
      if (made === 0) return;
      const second = Math.floor((nowMs - options.startMs) / 1_000);
      const tick = { outstanding: buffer.length };
      ticksOutstanding++;
      for (const message of buffer) {
        const r = toRecord(message, deps.serde, options.topics, options.runTag, nowMs);
        const bytes = (r.message.value as Buffer).length + r.deviceId.length;
        producer.add(r.topic, r.message, {
          record: r.record,
          deviceId: r.deviceId,
          seq: r.seq,
          second,
          bytes,
          tick,
        });
      }
      producer.sendQueued();
    },
    stats: () => ({ ...stats, inFlight: ticksOutstanding }),
    flush: () => producer.flush(),
    close: () => producer.close(),
    avgRecordBytes: () => (recordsSized === 0 ? 0 : stats.bytes / recordsSized),
  };
}

/** Mean encoded size of the run's records, from a throwaway fleet (for the broker baseline). */
export function sampleRecordBytes(
  serde: Pick<Serde, 'encode'>,
  topics: TopicNames,
  devices: number,
  seed: number,
  runTag: string,
  count = 5_000,
): number {
  const fleet = createLoadFleet(devices, seed, Date.now());
  const out: OutboundMessage[] = [];
  fleet.generate(Number.MAX_SAFE_INTEGER, count, out);
  let bytes = 0;
  for (const message of out) {
    const r = toRecord(message, serde, topics, runTag, Date.now());
    bytes += (r.message.value as Buffer).length + r.deviceId.length;
  }
  return out.length === 0 ? 0 : bytes / out.length;
}
