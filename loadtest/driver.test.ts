import { describe, expect, it } from 'vitest';
import type { KafkaProducer, OutgoingMessage } from '../lib/kafka/index.ts';
import { topicNames } from '../lib/topics.ts';
import { createLoadDriver } from './driver.ts';
import { buildProfile } from './profiles.ts';

/** A producer that records what it was given; `hold` keeps sends pending until released. */
function fakeProducer(hold = false) {
  const sent: { topic: string; messages: OutgoingMessage[] }[] = [];
  const waiting: (() => void)[] = [];
  const producer: KafkaProducer = {
    connect: async () => {},
    disconnect: async () => {},
    send: async () => [],
    async sendBatch(batches) {
      if (hold) await new Promise<void>((resolve) => waiting.push(resolve));
      sent.push(...batches);
      return [];
    },
  };
  const release = () => {
    for (const resolve of waiting.splice(0)) resolve();
  };
  return { producer, sent, release };
}

/** Encodes the value as JSON: enough to check what the driver stamped on each event. */
const serde = { encode: (_record: string, value: unknown) => Buffer.from(JSON.stringify(value)) } as never;

describe('load driver', () => {
  it('offers exactly the schedule, stamps ts with the send time and tags device ids with the run', async () => {
    const { producer, sent } = fakeProducer();
    const startMs = 1_700_000_000_000;
    const driver = createLoadDriver(
      {
        profile: buildProfile({ name: 'constant', rate: 1_000, durationS: 2 }),
        devices: 20,
        seed: 1,
        runTag: 'ltabc',
        startMs,
        topics: topicNames('p.'),
        partitions: { 'p.telemetry.truck': 3, 'p.telemetry.turbine': 3, 'p.telemetry.solar': 3 },
        maxInFlight: 4,
      },
      { kafka: { producer: () => producer }, serde },
    );
    await driver.start();
    for (let t = 0.1; t <= 2.0001; t += 0.1) {
      driver.tick(t, startMs + Math.round(t * 1_000));
      await driver.flush();
    }
    const stats = driver.stats();
    expect(stats).toMatchObject({ offered: 2_000, generated: 2_000, acked: 2_000, shed: 0, errors: 0 });
    const values = sent.flatMap((b) =>
      b.messages.map((m) => JSON.parse(String(m.value)) as Record<string, unknown>),
    );
    expect(values).toHaveLength(2_000);
    expect(values.every((v) => String(v.deviceId).startsWith('ltabc-'))).toBe(true);
    expect(values[0]?.ts).toBe(startMs + 100);
    expect(sent.every((b) => b.topic.startsWith('p.telemetry.'))).toBe(true);
    // Per device, seq strictly increases: the tally's ranges are contiguous.
    const total = [...driver.tally.byDevice.values()].reduce((n, d) => n + d.count, 0);
    expect(total).toBe(2_000);
    for (const d of driver.tally.byDevice.values()) expect(d.maxSeq - d.minSeq + 1).toBe(d.count);
    expect([...driver.ackedBySecond.values()].reduce((a, b) => a + b, 0)).toBe(2_000);
  });

  it('sheds what stays due for over a second while every send is in flight, and says so', async () => {
    const { producer, release } = fakeProducer(true);
    const startMs = 0;
    const driver = createLoadDriver(
      {
        profile: buildProfile({ name: 'constant', rate: 100, durationS: 10 }),
        devices: 5,
        seed: 1,
        runTag: 'ltx',
        startMs,
        topics: topicNames(''),
        partitions: { 'telemetry.truck': 3, 'telemetry.turbine': 3, 'telemetry.solar': 3 },
        maxInFlight: 1,
      },
      { kafka: { producer: () => producer }, serde },
    );
    await driver.start();
    driver.tick(0.5, 500); // 50 generated, the one slot is now busy
    driver.tick(3, 3_000); // 300 due: 50 generated, the rest waits; beyond one second (100) is shed
    expect(driver.stats()).toMatchObject({ offered: 300, generated: 50, shed: 150, inFlight: 1 });
    release();
    await driver.flush();
    driver.tick(3.01, 3_010);
    release();
    await driver.flush();
    // One more event fell over the one-second line meanwhile: 151 shed, 100 caught up.
    expect(driver.stats()).toMatchObject({ offered: 301, generated: 150, shed: 151, acked: 150 });
  });
});
