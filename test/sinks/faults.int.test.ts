import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../lib/metrics.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import { faultyBackend } from './faulty-backend.ts';
import { baseTime, message, truck, waitFor } from './fixtures.ts';
import {
  count,
  embeddedConfig,
  type RunningSink,
  startSink,
  tempDataDir,
  createSinkTestStack,
} from './harness.ts';

const PARTITIONS = 3;
const HIGH_WATER_ROWS = 500;
const FETCH_BYTES = 64 * 1024;

describe('sink under ClickHouse faults', () => {
  let stack: TestStack;
  let serde: Serde;
  const data = tempDataDir('sink-faults');
  let running: RunningSink;
  let faulty: ReturnType<typeof faultyBackend>;
  let produced = 0;
  let poisoned = 0;
  let peakRecords = 0;
  let smallestMessage = Number.POSITIVE_INFINITY;

  beforeAll(async () => {
    stack = await createSinkTestStack('sink-faults', { partitions: PARTITIONS });
    serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
    const app = embeddedConfig(stack, data.dir);
    const inner = await createEmbeddedBackend(
      app.clickhouse as Extract<typeof app.clickhouse, { mode: 'embedded' }>,
    );
    faulty = faultyBackend(inner, { before: 0.15, after: 0.15, poison: '"poison-' });
    running = await startSink(
      stack,
      app,
      {
        batchMaxRows: 400,
        highWaterRows: HIGH_WATER_ROWS,
        fetchMaxBytesPerPartition: FETCH_BYTES,
        retryBaseMs: 20,
        retryCapMs: 200,
      },
      faulty,
    );
    // An outage first: input keeps arriving while nothing can be written.
    faulty.armed = true;
    faulty.down = true;
    const producer = stack.kafka.producer();
    await producer.connect();
    const t0 = baseTime();
    for (let chunk = 0; chunk < 6; chunk++) {
      const messages = [];
      for (let i = 0; i < 2_000; i++) {
        const poison = i === 1_000;
        const deviceId = poison ? `poison-${chunk}` : `f-${produced % 20}`;
        if (poison) poisoned++;
        const value = serde.encode('TruckTelemetry', truck(deviceId, t0 + produced, produced));
        smallestMessage = Math.min(smallestMessage, value.length);
        messages.push(message(deviceId, value));
        produced++;
      }
      await producer.send(stack.topics.truck, messages);
    }
    await producer.disconnect();
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      peakRecords = Math.max(peakRecords, running.sink.buffered().records);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // The outage ends; random failures before and after landing continue.
    faulty.down = false;
    const expected = { inFlight: 0, rows: produced - poisoned, deadLetters: poisoned };
    const observe = async () => ({
      inFlight: running.sink.buffered().records,
      rows: await count(faulty, 'SELECT count() AS n FROM truck_telemetry'),
      deadLetters: await count(faulty, 'SELECT count() AS n FROM dead_letters'),
    });
    await waitFor(async () => JSON.stringify(await observe()) === JSON.stringify(expected), 120_000, 250);
    expect(await observe()).toEqual(expected);
  }, 180_000);

  afterAll(async () => {
    await running?.stop();
    await faulty?.close();
    await stack?.cleanup();
    data.remove();
  });

  it('retries with backoff through an outage and through failures before and after an insert landed', async () => {
    expect(faulty.injected.outage).toBeGreaterThan(0);
    expect(faulty.injected.before).toBeGreaterThan(0);
    expect(faulty.injected.after).toBeGreaterThan(0);
    const retries = await metricValue(running.registry, 'fleetgrid_sink_insert_retries_total', {
      code: 'CLICKHOUSE_UNAVAILABLE',
    });
    expect(retries).toBe(faulty.injected.outage + faulty.injected.before + faulty.injected.after);
  });

  it('writes no duplicate although inserts that landed were retried', async () => {
    expect(await count(faulty, 'SELECT count() AS n FROM truck_telemetry')).toBe(produced - poisoned);
    expect(await count(faulty, 'SELECT uniqExact(event_id) AS n FROM truck_telemetry')).toBe(
      produced - poisoned,
    );
  });

  it('isolates the rows ClickHouse refuses by bisection and loads them into dead_letters', async () => {
    expect(await metricValue(running.registry, 'fleetgrid_sink_bisections_total')).toBeGreaterThan(0);
    const rows = await faulty.query<{ error_code: string; key: string; value_base64: string }>(
      'SELECT error_code, key, value_base64 FROM dead_letters ORDER BY key',
    );
    expect(rows.map((r) => r.key)).toEqual(Array.from({ length: poisoned }, (_, i) => `poison-${i}`));
    expect(new Set(rows.map((r) => r.error_code))).toEqual(new Set(['CLICKHOUSE_REJECTED']));
    const decoded = await serde.decode(Buffer.from(rows[0]?.value_base64 ?? '', 'base64'));
    expect(decoded.value).toMatchObject({ deviceId: 'poison-0' });
  });

  it('keeps memory bounded during the outage by pausing partitions at the high-water mark', async () => {
    expect(await metricValue(running.registry, 'fleetgrid_sink_partition_pauses_total')).toBeGreaterThan(0);
    // Per partition: the high-water mark plus at most one fetch that was already in hand.
    const bound = PARTITIONS * (HIGH_WATER_ROWS + Math.ceil(FETCH_BYTES / smallestMessage));
    expect(bound).toBeLessThan(produced);
    expect(peakRecords).toBeGreaterThan(0);
    expect(peakRecords).toBeLessThanOrEqual(bound);
  });
});
