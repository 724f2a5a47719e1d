/**
 * Issue 15: the idempotent producer (lib/kafka behind lib/stream's batching producer, as the
 * load generator and the simulators use it) through kill -9 of the broker leading most
 * partitions of a private 3-node cluster (replication 3, min ISR 2), restarted later, under
 * continuous load. Every acknowledged record is stored exactly once, each partition's records
 * are stored in the order they were added, nothing is given up, and records are acknowledged
 * again after the restart (no stall).
 *
 * Before the fix, kafkajs re-sent under new sequence numbers the records of brokers that had
 * answered when its retries ran out after a leader change (duplicates), and a reused sequence
 * number left the partition refused as OUT_OF_ORDER_SEQUENCE_NUMBER, retried forever.
 *
 * Not in `make test`: `make test-cluster` (vitest.cluster.config.ts). About 90 s.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { createBatchingProducer, DEFAULT_PRODUCER_CONFIG } from '../../lib/stream/index.ts';
import { type PrivateKafka, startPrivateKafka } from '../support/index.ts';

const TOPIC = 'failover.idempotent';
const PARTITIONS = 6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads every record of the topic: partition → values in offset order. */
async function readAll(kafka: PrivateKafka): Promise<Map<number, string[]>> {
  const client = createKafkaClient(kafka.kafkaConfig('idem-reader'), { log: silentLogger });
  const admin = client.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(TOPIC);
  await admin.disconnect();
  const total = ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const seen = new Map<number, string[]>();
  let count = 0;
  const done = Promise.withResolvers<void>();
  const consumer = client.consumer({ groupId: `idem-reader-${Date.now()}`, maxWaitTimeMs: 100 });
  await consumer.connect();
  await consumer.subscribe([TOPIC], { fromBeginning: true });
  await consumer.run({
    concurrency: PARTITIONS,
    eachBatch: async ({ partition, records, resolveOffset }) => {
      const list = seen.get(partition) ?? [];
      seen.set(partition, list);
      for (const record of records) {
        list.push(record.value?.toString() ?? '');
        resolveOffset(record.offset);
      }
      count += records.length;
      if (count >= total) done.resolve();
    },
  });
  const timer = setTimeout(() => done.reject(new Error(`read ${count} of ${total} records in 60 s`)), 60_000);
  try {
    await done.promise;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return seen;
}

describe('an idempotent producer through kill -9 of the busiest leader (3 nodes)', () => {
  let kafka: PrivateKafka | undefined;
  afterAll(() => kafka?.stop());

  it('stores every acknowledged record once, in order, and keeps acknowledging after the restart', async () => {
    kafka = await startPrivateKafka({ nodes: 3, name: 'idem-failover', heap: ['-Xms128m', '-Xmx384m'] });
    const client = createKafkaClient(kafka.kafkaConfig('idem-failover'), { log: silentLogger });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics([
      {
        topic: TOPIC,
        numPartitions: PARTITIONS,
        replicationFactor: 3,
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      },
    ]);
    const [meta] = await admin.fetchTopicMetadata([TOPIC]);
    await admin.disconnect();
    const leads = new Map<number, number>();
    for (const p of meta?.partitions ?? []) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
    const busiest = [...leads].sort((a, b) => b[1] - a[1])[0]?.[0] as number;

    const acked = new Set<string>();
    const failures: string[] = [];
    let ackedAfterRestart = 0;
    let restarted = false;
    const producer = createBatchingProducer<undefined>(
      { ...DEFAULT_PRODUCER_CONFIG, lanes: 1, lingerMs: 0, retry: { baseMs: 100, capMs: 2_000 } },
      {
        kafka: client,
        partitions: { [TOPIC]: PARTITIONS },
        onOutcome: (outcome) => {
          if (!outcome.ok) {
            failures.push(outcome.error.message);
            return;
          }
          for (const r of outcome.records) acked.add(String(r.message.value));
          if (restarted) ackedAfterRestart += outcome.records.length;
        },
      },
    );
    await producer.start();

    const seq = new Array<number>(PARTITIONS).fill(0);
    let added = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        // Bounded without waiting on the producer: a stalled one must not stall the test.
        if (added - acked.size - failures.length < 2_000) {
          for (let p = 0; p < PARTITIONS; p++) {
            for (let i = 0; i < 20; i++) {
              const n = seq[p] as number;
              seq[p] = n + 1;
              producer.add(TOPIC, { partition: p, value: `${p}:${n}` }, undefined);
              added++;
            }
          }
          producer.sendQueued();
        }
        await sleep(10);
      }
    })();

    await sleep(4_000);
    await kafka.node(busiest).kill();
    // Past the broker session timeout (9 s): the controller moves the leaders away.
    await sleep(12_000);
    await kafka.node(busiest).restart();
    restarted = true;
    await sleep(8_000);
    running = false;
    await load;
    const closed = await Promise.race([producer.close().then(() => true), sleep(45_000).then(() => false)]);
    const summary = () =>
      `added ${added}, acknowledged ${acked.size} (${ackedAfterRestart} after the restart), given up ${failures.length}, drained ${closed}`;

    const stored = await readAll(kafka);
    const duplicates: string[] = [];
    const outOfOrder: string[] = [];
    let storedCount = 0;
    for (const [partition, values] of stored) {
      const unique = new Set(values);
      storedCount += values.length;
      for (const v of values) if (!unique.delete(v)) duplicates.push(v);
      const seqs = values.map((v) => Number(v.split(':')[1]));
      for (let i = 1; i < seqs.length; i++)
        if ((seqs[i] as number) <= (seqs[i - 1] as number))
          outOfOrder.push(`${partition}: ${seqs[i - 1]} then ${seqs[i]}`);
    }
    const storedValues = new Set([...stored.values()].flat());
    const lost = [...acked].filter((v) => !storedValues.has(v));

    expect(acked.size, summary()).toBeGreaterThan(10_000);
    expect(duplicates.slice(0, 10), `${duplicates.length} duplicates; ${summary()}`).toEqual([]);
    expect(outOfOrder.slice(0, 10), summary()).toEqual([]);
    expect(lost.slice(0, 10), `${lost.length} acknowledged but not stored; ${summary()}`).toEqual([]);
    expect(failures.slice(0, 3), `${failures.length} requests given up; ${summary()}`).toEqual([]);
    expect(ackedAfterRestart, summary()).toBeGreaterThan(0);
    expect(closed, summary()).toBe(true);
    expect(storedCount).toBeGreaterThanOrEqual(acked.size);
  }, 300_000);
});
