/**
 * The runner's producing logic with an in-memory stand-in for Kafka and the registry:
 * batching, ordered lanes, backoff on retriable errors, stopping on fatal ones,
 * backpressure and a clean stop. (The real broker is exercised in
 * test/producers/simulate.int.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../lib/errors.ts';
import type { KafkaClient, OutgoingMessage } from '../lib/kafka/index.ts';
import { topicNames } from '../lib/topics.ts';
import { RECORDS } from '../schemas/catalog.ts';
import type { Serde } from '../schemas/serde.ts';
import type { RawEvent, RecordName } from '../schemas/types.ts';
import { parseSimulatorConfig, type SimulatorConfigInput } from './config.ts';
import { createFleetSimulator, RAW_RECORDS } from './runner.ts';

const TOPICS = topicNames('unit.');
const IDS = Object.fromEntries(RAW_RECORDS.map((name, i) => [name, i + 1])) as Record<RecordName, number>;
const RECORD_OF_ID = new Map(RAW_RECORDS.map((name) => [IDS[name], name]));

interface SentRecord {
  topic: string;
  key: string;
  partition: number | undefined;
  event: RawEvent['value'];
}

function fakeSerde(): Serde {
  return {
    registerAll: async () => ({ ...IDS }),
    registerSchema: async () => 99,
    encode: () => {
      throw new Error('the runner encodes itself');
    },
    encodeWith: () => {
      throw new Error('unused');
    },
    decode: async () => {
      throw new Error('unused');
    },
    decodeCached: () => undefined,
    schemaId: (record) => IDS[record],
  };
}

/** A broker in memory. `behaviour` decides, per sendBatch call, to succeed, fail or wait. */
function fakeKafka(behaviour: (call: number) => Promise<void> | undefined = () => undefined) {
  const sent: SentRecord[] = [];
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    admin: () => ({
      connect: async () => {},
      disconnect: async () => {},
      listTopics: async () => Object.values(TOPICS),
      createTopics: async () => true,
      fetchTopicOffsets: async () => [],
      fetchTopicMetadata: async (topics: string[]) =>
        topics.map((name) => ({ name, partitions: [{}, {}, {}] })),
    }),
    producer: () => ({
      connect: async () => {},
      disconnect: async () => {},
      send: async () => [],
      async sendBatch(batches: { topic: string; messages: OutgoingMessage[] }[]) {
        const call = calls++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await behaviour(call);
        } finally {
          inFlight--;
        }
        for (const { topic, messages } of batches) {
          for (const message of messages) {
            const value = message.value as Buffer;
            const record = RECORD_OF_ID.get(value.readInt32BE(1)) as RecordName;
            sent.push({
              topic,
              key: String(message.key),
              partition: message.partition,
              event: RECORDS[record].type.fromBuffer(value.subarray(5)) as RawEvent['value'],
            });
          }
        }
        return [];
      },
    }),
    consumer: () => {
      throw new Error('unused');
    },
  };
  return {
    client: client as unknown as KafkaClient,
    sent,
    calls: () => calls,
    maxInFlight: () => maxInFlight,
  };
}

const BASE: SimulatorConfigInput = {
  trucks: 6,
  turbines: 3,
  solar: 3,
  seed: 5,
  batchSize: 200,
  maxInFlight: 3,
};

function simulator(kafka: ReturnType<typeof fakeKafka>, overrides: SimulatorConfigInput = {}) {
  return createFleetSimulator(parseSimulatorConfig({ ...BASE, ...overrides }), {
    kafka: kafka.client,
    serde: fakeSerde(),
    topics: TOPICS,
    random: () => 0,
  });
}

describe('the fleet simulator runner', () => {
  it('produces exactly the requested events, each device in seq order although lanes send concurrently', async () => {
    const kafka = fakeKafka(() => new Promise((resolve) => setTimeout(resolve, 1)));
    const sim = simulator(kafka, { count: 5_000 });
    await sim.start();
    const result = await sim.done;
    expect(result.reason).toBe('count');
    expect(result.status).toMatchObject({
      events: 5_000,
      messages: 5_000,
      acked: 5_000,
      backlog: 0,
      sendErrors: 0,
    });
    expect(result.manifest?.totals.events).toBe(5_000);
    expect(kafka.sent.length).toBe(5_000);
    expect(kafka.maxInFlight()).toBeGreaterThan(1);
    const byDevice = new Map<string, number[]>();
    for (const record of kafka.sent) {
      expect(record.key).toBe(record.event.deviceId);
      expect(record.partition).toBeGreaterThanOrEqual(0);
      byDevice.set(record.key, [...(byDevice.get(record.key) ?? []), record.event.seq]);
    }
    for (const seqs of byDevice.values()) expect(seqs).toEqual(seqs.map((_, i) => i));
  });

  it('retries retriable send failures with backoff and loses nothing', async () => {
    const kafka = fakeKafka((call) =>
      call < 2 ? Promise.reject(new FleetgridError('KAFKA_UNAVAILABLE', 'broker down')) : undefined,
    );
    const sim = simulator(kafka, { count: 1_000 });
    await sim.start();
    const result = await sim.done;
    expect(result.reason).toBe('count');
    expect(result.status).toMatchObject({ acked: 1_000, sendErrors: 2, retries: 2 });
    expect(new Set(kafka.sent.map((r) => r.event.eventId)).size).toBe(1_000);
  });

  it('stops with the error when a send fails for good', async () => {
    const kafka = fakeKafka(() => Promise.reject(new FleetgridError('INTERNAL', 'message too large')));
    const sim = simulator(kafka, { count: 100_000 });
    await sim.start();
    const result = await sim.done;
    expect(result.reason).toBe('error');
    expect(result.error?.code).toBe('INTERNAL');
    expect(result.status.acked).toBe(0);
    expect(result.status.events).toBeLessThan(100_000);
  });

  it('pauses generation while every lane waits for its acks, so memory stays bounded', async () => {
    const gate = Promise.withResolvers<void>();
    const kafka = fakeKafka(() => gate.promise);
    const sim = simulator(kafka, { count: 20_000, batchSize: 100, maxInFlight: 2 });
    await sim.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stalled = sim.status();
    // Two lanes, each with one request out and one open batch of up to ~1.5 batches.
    expect(stalled.messages).toBeLessThanOrEqual(2 * 3 * 100);
    expect(stalled.acked).toBe(0);
    expect(stalled.inFlightBatches).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sim.status().messages).toBe(stalled.messages);
    gate.resolve();
    const result = await sim.done;
    expect(result.status.acked).toBe(20_000);
  });

  it('stops cleanly on stop(): everything generated, held late messages included, is acknowledged', async () => {
    const kafka = fakeKafka();
    const sim = simulator(kafka, { speed: 1, faults: { late: 0.2, dup: 0.1 }, lingerMs: 10 });
    await sim.start();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await sim.stop();
    const result = await sim.done;
    expect(result.reason).toBe('stopped');
    expect(result.status.events).toBeGreaterThan(0);
    expect(result.status.acked).toBe(result.status.messages);
    expect(kafka.sent.length).toBe(result.status.messages);
    const resent = kafka.sent.length - new Set(kafka.sent.map((r) => r.event.eventId)).size;
    expect(resent).toBe(result.status.faults.duplicates);
    expect(result.manifest?.totals.faults.late).toBe(result.status.faults.late);
  });
});

describe('a backfill of a time range', () => {
  it('sends the events of [from, to) and stops there', async () => {
    const kafka = fakeKafka();
    const fromMs = Date.UTC(2026, 0, 5, 10, 0, 0);
    const sim = simulator(kafka, { fromMs, toMs: fromMs + 60_000, trucks: 2, turbines: 1, solar: 1 });
    await sim.start();
    const result = await sim.done;
    expect(result.reason).toBe('to');
    const ts = kafka.sent.map((r) => r.event.ts);
    expect(Math.min(...ts)).toBeGreaterThanOrEqual(fromMs);
    expect(Math.max(...ts)).toBeLessThan(fromMs + 60_000);
    // Four devices, one sample a second each (trucks may add engine events).
    expect(kafka.sent.filter((r) => r.event.deviceId.startsWith('turbine')).length).toBeGreaterThanOrEqual(
      59,
    );
    expect(result.manifest?.windows.every((w) => w.windowStart === fromMs)).toBe(true);
  });
});
