/**
 * Helpers for integration tests against the real local stack (make up). Each test gets
 * a unique topic prefix, so its topics, registry subjects and consumer groups never
 * meet another test's; `cleanup()` deletes what it created.
 */
import { randomUUID } from 'node:crypto';
import { type AppConfig, type KafkaConfig, loadConfig } from '../lib/config.ts';
import { createKafkaClient, type KafkaAdmin, type KafkaClient } from '../lib/kafka/index.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { retry } from '../lib/retry.ts';
import { ensureTopics, type TopicNames, topicNames, topicSpecs } from '../lib/topics.ts';

export interface TestStack {
  prefix: string;
  config: AppConfig;
  topics: TopicNames;
  kafka: KafkaClient;
  admin: KafkaAdmin;
  log: Logger;
  /** A consumer group id unique to this test. */
  group(name: string): string;
  cleanup(): Promise<void>;
}

/** A unique prefix such as `t-windows-1a2b3c4d.` for topics, subjects and groups. */
export function uniquePrefix(name: string): string {
  return `t-${name.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 40)}-${randomUUID().slice(0, 8)}.`;
}

export async function createTestStack(
  name: string,
  /** `kafka`: another cluster than the shared one (a private Kafka of a fault test). */
  options: { partitions?: number; kafka?: KafkaConfig } = {},
): Promise<TestStack> {
  const prefix = uniquePrefix(name);
  const loaded = loadConfig({ ...process.env, TOPIC_PREFIX: prefix });
  const config = { ...loaded, kafka: options.kafka ?? loaded.kafka };
  const log = createLogger(`test-${name}`, process.env.TEST_LOG_LEVEL ?? 'error');
  const kafka = createKafkaClient(config.kafka, { log });
  const admin = kafka.admin();
  await admin.connect();
  const specs = topicSpecs(prefix, options.partitions ?? 3);
  // Under load the broker may briefly refuse a just-created topic; that is retriable.
  await retry(() => ensureTopics(admin, specs), { policy: { baseMs: 200, capMs: 2_000, maxRetries: 8 } });
  return {
    prefix,
    config,
    topics: topicNames(prefix),
    kafka,
    admin,
    log,
    group: (groupName) => `${prefix}${groupName}`,
    async cleanup() {
      try {
        await admin.deleteTopics(
          specs.map((spec) => spec.name),
          10_000,
        );
      } catch {
        // Deleting is tidiness, not part of any assertion.
      }
      // A processor on the stack creates the registry topics of the prefix (its registry table).
      const registry = (await admin.listTopics().catch(() => [] as string[])).filter((t) =>
        t.startsWith(`${prefix}registry.`),
      );
      if (registry.length > 0) await admin.deleteTopics(registry, 10_000).catch(() => {});
      await admin.disconnect();
    },
  };
}

/** Reads every message of `topic` from the beginning until `count` arrived or `timeoutMs` passed. */
export async function consumeAll(
  stack: TestStack,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<
  {
    partition: number;
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, string>;
  }[]
> {
  const { headersToStrings } = await import('../lib/kafka/index.ts');
  const consumer = stack.kafka.consumer({
    groupId: stack.group(`reader-${randomUUID().slice(0, 6)}`),
    maxWaitTimeMs: 100,
  });
  const out: Awaited<ReturnType<typeof consumeAll>> = [];
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  const done = Promise.withResolvers<void>();
  const timer = setTimeout(() => done.resolve(), timeoutMs);
  await consumer.run({
    concurrency: 1,
    eachBatch: async (batch) => {
      for (const message of batch.records) {
        out.push({
          partition: batch.partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: headersToStrings(message.headers),
        });
        batch.resolveOffset(message.offset);
      }
      if (out.length >= count) done.resolve();
    },
  });
  await done.promise;
  clearTimeout(timer);
  await consumer.disconnect();
  return out;
}
