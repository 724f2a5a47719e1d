/**
 * Issue 12 item 9: under overload the load generator's "produced" count must equal what
 * the topics hold. A tick here offers far more than one produce request may carry (one
 * partition per topic, so a single request would put megabytes into one record batch,
 * which the broker refuses): the driver must cut it into requests below the broker's
 * limit, and count exactly the records the broker acknowledged, no more, no fewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RAW_TOPIC_KEYS } from '../../lib/topics.ts';
import { createLoadDriver } from '../../loadtest/driver.ts';
import { buildProfile } from '../../loadtest/profiles.ts';
import { createSerde } from '../../schemas/serde.ts';
import { createTestStack, type TestStack } from '../helpers.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack('loadtest-driver', { partitions: 1 });
});

afterAll(async () => {
  await stack?.cleanup();
});

async function recordsInTopics(): Promise<number> {
  let total = 0;
  for (const key of RAW_TOPIC_KEYS) {
    for (const p of await stack.admin.fetchTopicOffsets(stack.topics[key]))
      total += Number(p.high) - Number(p.low);
  }
  return total;
}

describe('the load driver under overload', () => {
  it('counts as produced exactly what the topics hold when a tick is many requests beyond the byte bound', async () => {
    const serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
    const startMs = Date.now();
    const driver = createLoadDriver(
      {
        // 40 000 events offered at once: about 5 MB, over 1 MiB in each topic's one partition.
        profile: buildProfile({ name: 'constant', rate: 40_000, durationS: 1 }),
        devices: 400,
        seed: 7,
        runTag: 'ltexact',
        startMs,
        topics: stack.topics,
        partitions: Object.fromEntries(RAW_TOPIC_KEYS.map((key) => [stack.topics[key], 1])),
        maxInFlight: 4,
      },
      { kafka: stack.kafka, serde },
    );
    await driver.start();
    try {
      driver.tick(1, startMs + 1_000);
      await driver.flush();
      const stats = driver.stats();
      expect(stats.generated).toBe(40_000);
      expect(stats.errors).toBe(0);
      expect(stats.acked).toBe(40_000);
      expect(await recordsInTopics()).toBe(stats.acked);
      const tallied = [...driver.tally.byDevice.values()].reduce((n, d) => n + d.count, 0);
      expect(tallied).toBe(stats.acked);
    } finally {
      await driver.close();
    }
  });
});
