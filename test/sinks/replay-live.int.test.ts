import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { createRemoteBackend, querySecret, requestReplay } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';

import { baseTime, message, truck, waitFor } from './fixtures.ts';
import {
  count,
  createSinkTestStack,
  distinctEvents,
  embeddedConfig,
  type RunningSink,
  startSink,
  storedRows,
  tempDataDir,
} from './harness.ts';

describe('replay inside the running embedded sink', () => {
  let stack: TestStack;
  let serde: Serde;
  let running: RunningSink;
  const data = tempDataDir('replay-live');
  const t0 = baseTime();
  let produced = 0;

  async function produce(n: number): Promise<void> {
    const producer = stack.kafka.producer();
    await producer.connect();
    const messages = [];
    for (let i = 0; i < n; i++, produced++) {
      const deviceId = `live-${produced % 8}`;
      messages.push(
        message(deviceId, serde.encode('TruckTelemetry', truck(deviceId, t0 + produced, produced))),
      );
    }
    await producer.send(stack.topics.truck, messages);
    await producer.disconnect();
  }

  beforeAll(async () => {
    stack = await createSinkTestStack('sink-replay-live', { partitions: 2 });
    serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
    running = await startSink(stack, embeddedConfig(stack, data.dir), { batchMaxRows: 200 });
    await produce(2_000);
    await waitFor(
      async () =>
        (await count(running.sink.backend(), 'SELECT count() AS n FROM truck_telemetry')) === produced,
    );
  });

  afterAll(async () => {
    await running?.stop();
    await stack?.cleanup();
    data.remove();
  });

  it('keeps the live table readable during the rebuild and loses no row written meanwhile', async () => {
    const url = running.sink.queryUrl() as string;
    const secret = querySecret(stack.config);
    const remote = createRemoteBackend(url, { secret });
    const progress: string[] = [];
    const replay = requestReplay(url, secret, { projection: 'truck_telemetry' }, (text) =>
      progress.push(text),
    );
    // While the replay runs: more input for the live sink, and reads of the live table.
    const more = produce(1_000);
    const seen: number[] = [];
    let done = false;
    const reads = (async () => {
      while (!done) {
        seen.push(await storedRows(remote, 'truck_telemetry'));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const result = (await replay) as { swapped: boolean; written: number };
    done = true;
    await reads;
    await more;
    expect(result.swapped).toBe(true);
    expect(result.written).toBeGreaterThanOrEqual(2_000);
    expect(progress.join('')).toMatch(/replay \[#+\] 100%/);
    // The live table answered throughout, never emptier than before the replay.
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(2_000);
    const settled = await waitFor(
      async () =>
        (await storedRows(remote, 'truck_telemetry')) === produced && running.sink.buffered().records === 0,
    );
    expect(settled).toBe(true);
    expect(await distinctEvents(remote, 'truck_telemetry')).toBe(produced);
  });
});

describe('replay inside the running embedded sink, with records still in its buffer', () => {
  let stack: TestStack;
  let running: RunningSink;
  const data = tempDataDir('replay-buffered');
  const t0 = baseTime();

  beforeAll(async () => {
    stack = await createSinkTestStack('sink-replay-buffered', { partitions: 2 });
    await createSerde(stack.config.registry, { topics: stack.topics }).registerAll();
    // A long linger keeps fetched records in the live sink's buffer while the replay runs.
    running = await startSink(stack, embeddedConfig(stack, data.dir), {
      lingerMs: 4_000,
      quietBatchRecords: 1,
    });
  });

  afterAll(async () => {
    await running?.stop();
    await stack?.cleanup();
    data.remove();
  });

  it('leaves what the live sink has not committed to it, so nothing is stored twice', async () => {
    const serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
    const producer = stack.kafka.producer();
    await producer.connect();
    const n = 300;
    await producer.send(
      stack.topics.truck,
      Array.from({ length: n }, (_, i) =>
        message(`buffered-${i % 4}`, serde.encode('TruckTelemetry', truck(`buffered-${i % 4}`, t0 + i, i))),
      ),
    );
    await producer.disconnect();
    expect(await waitFor(async () => running.sink.buffered().records === n, 10_000, 20)).toBe(true);
    const url = running.sink.queryUrl() as string;
    const secret = querySecret(stack.config);
    // From offset 1: the replay's batches then differ from the live sink's pending ones, so
    // their deduplication tokens differ too and only the positions can keep them apart.
    const result = (await requestReplay(
      url,
      secret,
      { projection: 'truck_telemetry', from: 'offset:1' },
      () => {},
    )) as { swapped: boolean };
    expect(result.swapped).toBe(true);
    const remote = createRemoteBackend(url, { secret });
    expect(
      await waitFor(
        async () =>
          running.sink.buffered().records === 0 && (await storedRows(remote, 'truck_telemetry')) >= n,
        20_000,
      ),
    ).toBe(true);
    expect(await storedRows(remote, 'truck_telemetry')).toBe(n);
    expect(await distinctEvents(remote, 'truck_telemetry')).toBe(n);
  });
});
