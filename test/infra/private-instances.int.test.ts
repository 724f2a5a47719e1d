/**
 * test/support's private servers do what fault tests rely on: a private KRaft broker keeps
 * acknowledged records across kill -9 and restart on the same ports; a private Redis with
 * the stack's persistence keeps its data across kill -9, one without persistence loses it;
 * SIGSTOP freezes a server and SIGCONT thaws it; a private Apicurio registry keeps its
 * schemas (same ids) across kill -9 and restart; stop() leaves no process and no directory.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import {
  isAlive,
  type PrivateKafka,
  type PrivateRedis,
  startPrivateKafka,
  startPrivateRedis,
  startPrivateRegistry,
} from '../support/index.ts';
import { createSerde } from '../../schemas/serde.ts';
import { topicNames } from '../../lib/topics.ts';

async function roundTrip(kafka: PrivateKafka, topic: string, produce: string[]): Promise<string[]> {
  const client = createKafkaClient(kafka.kafkaConfig(), { log: silentLogger });
  if (produce.length > 0) {
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [] }]);
    await admin.disconnect();
    const producer = client.producer();
    await producer.connect();
    await producer.send(
      topic,
      produce.map((value) => ({ key: 'k', value })),
    );
    await producer.disconnect();
  }
  const consumer = client.consumer({
    groupId: `reader-${Math.random().toString(36).slice(2)}`,
    maxWaitTimeMs: 100,
  });
  const seen: string[] = [];
  const done = Promise.withResolvers<void>();
  const timer = setTimeout(() => done.resolve(), 30_000);
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  await consumer.run({
    concurrency: 1,
    eachBatch: async ({ records, resolveOffset }) => {
      for (const message of records) {
        seen.push(message.value?.toString() ?? '');
        resolveOffset(message.offset);
      }
      if (seen.length >= 3) done.resolve();
    },
  });
  await done.promise;
  clearTimeout(timer);
  await consumer.disconnect();
  return seen;
}

describe('private Kafka', () => {
  let kafka: PrivateKafka | undefined;
  afterAll(() => kafka?.stop());

  it('keeps acknowledged records across kill -9 and restart, and stop() removes everything', async () => {
    kafka = await startPrivateKafka({ name: 'support-test' });
    const node = kafka.node(1);
    expect(kafka.bootstrap).toBe(`127.0.0.1:${node.brokerPort}`);
    expect(kafka.bootstrap).not.toContain(':9092');
    const firstPid = node.pid as number;
    expect(isAlive(firstPid)).toBe(true);

    expect(await roundTrip(kafka, 'support.events', ['a', 'b', 'c'])).toEqual(['a', 'b', 'c']);

    await node.kill();
    expect(node.running).toBe(false);
    expect(isAlive(firstPid)).toBe(false);
    await node.restart();
    expect(node.pid).not.toBe(firstPid);
    expect(await roundTrip(kafka, 'support.events', [])).toEqual(['a', 'b', 'c']);

    // SIGSTOP: the node stops answering; SIGCONT: it answers again.
    node.pause();
    const admin = createKafkaClient(kafka.kafkaConfig(), { log: silentLogger }).admin();
    const frozen = await Promise.race([
      admin.connect().then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((resolve) => setTimeout(() => resolve('no answer'), 4_000)),
    ]);
    expect(frozen).not.toBe('answered');
    node.resume();
    await kafka.waitForBrokers(1, 30_000);
    await admin.disconnect().catch(() => {});

    const dir = kafka.dir;
    const pid = node.pid as number;
    await kafka.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('private Redis', () => {
  const instances: PrivateRedis[] = [];
  afterAll(() => Promise.all(instances.map((redis) => redis.stop())));

  async function writeKillRestart(persistence: 'aof' | 'none'): Promise<string | null> {
    const redis = await startPrivateRedis({ persistence });
    instances.push(redis);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    await client.set('fg:probe', persistence);
    client.disconnect();
    await redis.kill();
    await redis.restart();
    const again = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await again.connect();
    const value = await again.get('fg:probe');
    again.disconnect();
    return value;
  }

  it('with persistence keeps its data across kill -9; without, loses it', async () => {
    expect(await writeKillRestart('aof')).toBe('aof');
    expect(await writeKillRestart('none')).toBeNull();
  });

  it('stop() kills it by PID and removes its directory', async () => {
    const redis = await startPrivateRedis({ persistence: 'none' });
    const pid = redis.pid as number;
    await redis.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(redis.dir)).toBe(false);
  });
});

describe('private Apicurio registry', () => {
  it('keeps its schemas and their ids across kill -9 and restart; stop() removes it', async () => {
    const registry = await startPrivateRegistry();
    try {
      const registryConfig = { url: registry.url, auth: undefined };
      const ids = await createSerde(registryConfig, { topics: topicNames('') }).registerAll();
      expect(Object.keys(ids).length).toBeGreaterThan(3);
      await registry.kill();
      expect(registry.running).toBe(false);
      expect(
        await fetch(`${registry.url}/subjects`).then(
          () => 'answered',
          () => 'refused',
        ),
      ).toBe('refused');
      await registry.start();
      // Registering the same schemas again finds them: the same ids, nothing new.
      expect(await createSerde(registryConfig, { topics: topicNames('') }).registerAll()).toEqual(ids);
    } finally {
      const pid = registry.pid;
      await registry.stop();
      if (pid !== undefined) expect(isAlive(pid)).toBe(false);
      expect(existsSync(registry.dir)).toBe(false);
    }
  });
});
