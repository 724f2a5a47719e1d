import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../errors.ts';
import type { KafkaProducer, OutgoingMessage, TopicMessages } from '../kafka/index.ts';
import {
  type BatchingProducerConfig,
  createBatchingProducer,
  DEFAULT_PRODUCER_CONFIG,
  type ProduceOutcome,
  recordBytes,
} from './producer.ts';

interface Request {
  records: { topic: string; partition: number; key: string; seq: number }[];
  bytes: number;
}

/**
 * A broker in memory: `behaviour` decides per request (call number) to fail; otherwise the
 * records land. Requests take a few random milliseconds, so concurrent lanes interleave.
 */
function fakeBroker(
  options: { behaviour?: (call: number, batches: TopicMessages[]) => Error | undefined; limit?: number } = {},
) {
  const landed: Request[] = [];
  const attempts: Request[] = [];
  let clients = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const producer = (): KafkaProducer => {
    clients++;
    return {
      connect: async () => {},
      disconnect: async () => {},
      send: async () => [],
      async sendBatch(batches) {
        const call = attempts.length;
        const request: Request = { records: [], bytes: 0 };
        for (const { topic, messages } of batches) {
          for (const m of messages) {
            request.records.push({
              topic,
              partition: m.partition as number,
              key: String(m.key),
              seq: JSON.parse(String(m.value)).seq,
            });
            request.bytes += recordBytes(m);
          }
        }
        attempts.push(request);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
        inFlight--;
        if (options.limit !== undefined && request.bytes > options.limit) {
          const cause = Object.assign(new Error('message too large'), {
            type: 'MESSAGE_TOO_LARGE',
            name: 'KafkaJSProtocolError',
          });
          throw new FleetgridError('KAFKA_RECORD_TOO_LARGE', 'too large', { cause });
        }
        const failure = options.behaviour?.(call, batches);
        if (failure) throw failure;
        landed.push(request);
        return [];
      },
    };
  };
  return { kafka: { producer }, landed, attempts, clients: () => clients, maxInFlight: () => maxInFlight };
}

const message = (key: string, seq: number, size = 10): OutgoingMessage => ({
  key,
  value: JSON.stringify({ seq, pad: 'x'.repeat(size) }),
});

const CONFIG: BatchingProducerConfig = {
  ...DEFAULT_PRODUCER_CONFIG,
  maxRequestRows: 50,
  maxRequestBytes: 20_000,
  lingerMs: 1,
  lanes: 4,
  retry: { baseMs: 1, capMs: 2 },
};

function setup(
  broker: ReturnType<typeof fakeBroker>,
  config: Partial<BatchingProducerConfig> = {},
  signal?: AbortSignal,
) {
  const outcomes: ProduceOutcome<number>[] = [];
  const producer = createBatchingProducer<number>(
    { ...CONFIG, ...config },
    {
      kafka: broker.kafka,
      partitions: { a: 6, b: 6 },
      onOutcome: (outcome) => outcomes.push(outcome),
      random: () => 0.5,
      ...(signal ? { signal } : {}),
    },
  );
  const acked = () => outcomes.filter((o) => o.ok).reduce((n, o) => n + o.records.length, 0);
  return { producer, outcomes, acked };
}

describe('batching producer', () => {
  it('keeps every partition in order while its lanes send concurrently, and acknowledges each record once', async () => {
    const broker = fakeBroker();
    const { producer, acked } = setup(broker);
    await producer.start();
    const seq = new Map<string, number>();
    for (let i = 0; i < 3_000; i++) {
      const key = `device-${i % 37}`;
      const topic = i % 2 === 0 ? 'a' : 'b';
      const next = seq.get(`${topic}/${key}`) ?? 0;
      seq.set(`${topic}/${key}`, next + 1);
      producer.add(topic, message(key, next), i);
      if (i % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await producer.flush();
    expect(acked()).toBe(3_000);
    expect(producer.outstanding).toEqual({ rows: 0, bytes: 0 });
    expect(broker.maxInFlight()).toBeGreaterThan(1);
    const seen = new Map<string, number>();
    for (const request of broker.landed) {
      for (const r of request.records) {
        const id = `${r.topic}/${r.key}`;
        expect(r.seq).toBe((seen.get(id) ?? -1) + 1);
        seen.set(id, r.seq);
      }
    }
  });

  it('bounds every request by rows and by bytes', async () => {
    const broker = fakeBroker();
    const { producer } = setup(broker, { maxRequestRows: 30, maxRequestBytes: 5_000 });
    await producer.start();
    for (let i = 0; i < 1_000; i++) producer.add('a', message(`d${i % 5}`, i, i % 3 === 0 ? 400 : 20), i);
    await producer.flush();
    expect(broker.landed.length).toBeGreaterThan(1);
    for (const request of broker.landed) {
      expect(request.records.length).toBeLessThanOrEqual(30);
      expect(request.bytes).toBeLessThanOrEqual(5_000);
    }
  });

  it('fails a record over the bound alone, with KAFKA_RECORD_TOO_LARGE, and sends its neighbours', async () => {
    const broker = fakeBroker();
    const { producer } = setup(broker);
    await producer.start();
    const result = await producer.send('a', [message('d', 0), message('d', 1, 50_000), message('d', 2)]);
    expect(result.acked).toBe(2);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]?.error.code).toBe('KAFKA_RECORD_TOO_LARGE');
    expect(result.failed[0]?.error.retriable).toBe(false);
    expect(broker.attempts.flatMap((r) => r.records.map((x) => x.seq))).toEqual([0, 2]);
  });

  it('splits a request the broker refuses as too large until the record at fault fails alone', async () => {
    const broker = fakeBroker({ limit: 3_000 });
    const { producer } = setup(broker, { maxRequestBytes: 10_000 });
    await producer.start();
    const messages = [0, 1, 2, 3, 4, 5, 6, 7].map((seq) => message('d', seq, seq === 5 ? 3_500 : 200));
    const result = await producer.send('a', messages);
    expect(result.failed.map((f) => JSON.parse(String(f.message.value)).seq)).toEqual([5]);
    expect(result.acked).toBe(7);
    expect(broker.landed.flatMap((r) => r.records.map((x) => x.seq))).toEqual([0, 1, 2, 3, 4, 6, 7]);
  });

  it('retries retriable failures until they pass, and the records count once', async () => {
    const broker = fakeBroker({
      behaviour: (call) =>
        call < 3
          ? new FleetgridError('KAFKA_UNAVAILABLE', 'not the leader for that topic-partition')
          : undefined,
    });
    const { producer } = setup(broker);
    await producer.start();
    const result = await producer.send('a', [message('d', 0), message('d', 1)]);
    expect(result).toEqual({ acked: 2, failed: [] });
    expect(broker.attempts.length).toBe(4);
    expect(broker.landed).toHaveLength(1);
  });

  it('never retries a programmer error, and replaces an idempotent client after giving a request up', async () => {
    const broker = fakeBroker({ behaviour: (call) => (call === 0 ? new Error('a bug') : undefined) });
    const { producer } = setup(broker, { idempotent: true });
    await producer.start();
    const first = await producer.send('a', [message('d', 0)]);
    expect(first.failed[0]?.error.code).toBe('INTERNAL');
    expect(broker.attempts).toHaveLength(1);
    expect(broker.clients()).toBe(2);
    const second = await producer.send('a', [message('d', 1)]);
    expect(second.acked).toBe(1);
  });

  it('ends its retries when the signal aborts: the records fail with TIMEOUT', async () => {
    const broker = fakeBroker({ behaviour: () => new FleetgridError('KAFKA_UNAVAILABLE', 'broker down') });
    const abort = new AbortController();
    const { producer } = setup(broker, { retry: { baseMs: 50, capMs: 50 } }, abort.signal);
    await producer.start();
    const sending = producer.send('a', [message('d', 0)]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    abort.abort();
    const result = await sending;
    expect(result.acked).toBe(0);
    expect(result.failed[0]?.error.code).toBe('TIMEOUT');
  });

  it('lets a quiet lane linger longer, and a lane that fills up send at the usual linger', async () => {
    const broker = fakeBroker();
    const { producer, acked } = setup(broker, { lingerMs: 5, quietLinger: { rows: 10, ms: 2_000 } });
    await producer.start();
    const until = async (done: () => boolean, ms: number) => {
      for (const end = Date.now() + ms; !done() && Date.now() < end; )
        await new Promise((resolve) => setTimeout(resolve, 5));
    };
    producer.add('a', message('quiet', 0), 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(broker.landed).toHaveLength(0); // 5 ms is long past, 2 s is not
    // The same partition (hence lane) reaches 10 records: due at lingerMs, not at 2 s.
    for (let i = 1; i < 10; i++) producer.add('a', message('quiet', i), i);
    await until(() => acked() === 10, 1_000);
    expect(acked()).toBe(10);
    await producer.flush();
  });

  it('tells a waiting caller when the backlog is below a bound', async () => {
    const broker = fakeBroker();
    const { producer } = setup(broker, { lingerMs: 10_000 });
    await producer.start();
    for (let i = 0; i < 40; i++) producer.add('a', message('d', i), i);
    expect(producer.outstanding.rows).toBe(40);
    let released = false;
    const waiting = producer.below(10).then(() => {
      released = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(released).toBe(false);
    await producer.flush();
    await waiting;
    expect(released).toBe(true);
  });
});
