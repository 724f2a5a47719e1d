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
 * Bounded: at most `maxInFlight` produce requests are outstanding; while they all are,
 * generation waits. Events due for more than one second that could not be generated are
 * shed (counted, never sent late), so the achieved rate shows the real capacity instead of
 * a backlog flushed after the phase it belonged to.
 *
 * Device ids carry the run's tag (`lt1a2b3c-truck-00001`), so a run against a shared
 * pipeline finds its own rows, and two runs never share a device.
 */
import type { KafkaProducer, OutgoingMessage } from '../lib/kafka.ts';
import { retry } from '../lib/retry.ts';
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
  /** Generates and sends what is due `elapsedS` seconds into the run. */
  tick(elapsedS: number, nowMs: number): void;
  stats(): DriverStats;
  /** Acknowledged events per second of event time (relative to the run start). */
  readonly ackedBySecond: Map<number, number>;
  readonly tally: ProducedTally;
  /** Waits for every outstanding send. */
  flush(): Promise<void>;
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
  maxInFlight: number;
  onError?: (error: unknown) => void;
}

interface Pending {
  record: RecordName;
  deviceId: string;
  seq: number;
  second: number;
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
  deps: { producer: KafkaProducer; serde: Pick<Serde, 'encode'> },
): LoadDriver {
  const fleet = createLoadFleet(options.devices, options.seed, options.startMs);
  const tally = emptyProducedTally();
  const ackedBySecond = new Map<number, number>();
  const inFlight = new Set<Promise<void>>();
  const stats = { offered: 0, generated: 0, acked: 0, shed: 0, errors: 0, bytes: 0 };
  let recordsSized = 0;
  const buffer: OutboundMessage[] = [];

  async function send(batches: Map<string, OutgoingMessage[]>, pending: Pending[], bytes: number) {
    const request = [...batches].map(([topic, messages]) => ({ topic, messages }));
    try {
      // A retried batch may land twice if the first attempt reached the broker: that is
      // the at-least-once transport; the reconciliation reports such duplicates.
      await retry(() => deps.producer.sendBatch(request), {
        policy: { baseMs: 100, capMs: 2_000, maxRetries: 5 },
        onRetry: () => {
          stats.errors++;
        },
      });
      stats.acked += pending.length;
      stats.bytes += bytes;
      recordsSized += pending.length;
      for (const p of pending) {
        tallyProduced(tally, p.record, p.deviceId, p.seq);
        ackedBySecond.set(p.second, (ackedBySecond.get(p.second) ?? 0) + 1);
      }
    } catch (error) {
      stats.errors++;
      options.onError?.(error);
    }
  }

  return {
    ackedBySecond,
    tally,
    tick(elapsedS, nowMs) {
      const due = Math.floor(offeredBy(options.profile, elapsedS));
      stats.offered = due;
      // Shed what has been due for over a second: it would only be sent late.
      // (The rate just inside the run: at its very end rateAt is already 0.)
      const inside = Math.min(elapsedS, options.profile.durationS - 1e-6);
      const slack = Math.max(1, Math.ceil(rateAt(options.profile, inside)));
      if (due - stats.generated - stats.shed > slack) stats.shed = due - stats.generated - slack;
      if (inFlight.size >= options.maxInFlight) return;
      const want = due - stats.generated - stats.shed;
      if (want <= 0) return;
      buffer.length = 0;
      const made = fleet.generate(Number.MAX_SAFE_INTEGER, want, buffer);
      stats.generated += made;
      const second = Math.floor((nowMs - options.startMs) / 1_000);
      const batches = new Map<string, OutgoingMessage[]>();
      const pending: Pending[] = [];
      let bytes = 0;
      for (const message of buffer) {
        const r = toRecord(message, deps.serde, options.topics, options.runTag, nowMs);
        const list = batches.get(r.topic) ?? [];
        if (list.length === 0) batches.set(r.topic, list);
        list.push(r.message);
        bytes += (r.message.value as Buffer).length + r.deviceId.length;
        pending.push({ record: r.record, deviceId: r.deviceId, seq: r.seq, second });
      }
      const promise = send(batches, pending, bytes).finally(() => inFlight.delete(promise));
      inFlight.add(promise);
    },
    stats: () => ({ ...stats, inFlight: inFlight.size }),
    async flush() {
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
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
