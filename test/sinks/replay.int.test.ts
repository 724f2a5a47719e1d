import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerde } from '../../schemas/serde.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { parseFrom, replayProjection } from '../../sinks/replay.ts';
import type { TestStack } from '../helpers.ts';
import { baseTime, MINUTE, message, truck, waitFor, windowOf } from './fixtures.ts';
import { count, embeddedConfig, startSink, tempDataDir, createSinkTestStack } from './harness.ts';

const RAW_QUERY = `SELECT event_id, device_id, toUnixTimestamp64Milli(ts) AS ts, seq, speed_kmh, cargo_temp_c, kafka_partition, kafka_offset
  FROM truck_telemetry ORDER BY device_id, ts, event_id`;
const ROLLUP_QUERY = `SELECT device_id, bucket_start, windows, max_revision, event_count, field_sum, field_min, field_max
  FROM aggregates_1h ORDER BY device_id, bucket_start`;

describe('replay rebuilds a projection from the Kafka log', () => {
  let stack: TestStack;
  let backend: ClickHouseBackend;
  const data = tempDataDir('replay-int');
  let rawBefore: unknown[];
  let rollupBefore: unknown[];

  beforeAll(async () => {
    stack = await createSinkTestStack('sink-replay', { partitions: 2 });
    const serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
    const app = embeddedConfig(stack, data.dir);
    const running = await startSink(stack, app);
    const producer = stack.kafka.producer();
    await producer.connect();
    const t0 = baseTime();
    const events = [];
    for (const deviceId of ['r-1', 'r-2', 'r-3', 'r-4']) {
      for (let i = 0; i < 40; i++) events.push(truck(deviceId, t0 + i * 3_000, i));
    }
    await producer.send(
      stack.topics.truck,
      events.map((e) => message(e.deviceId, serde.encode('TruckTelemetry', e))),
    );
    const windows = [];
    for (const deviceId of ['r-1', 'r-2', 'r-3', 'r-4']) {
      for (let minute = 0; minute < 2; minute++) {
        const start = t0 + minute * MINUTE;
        const inside = events.filter(
          (e) => e.deviceId === deviceId && e.ts >= start && e.ts < start + MINUTE,
        );
        windows.push(message(deviceId, serde.encode('WindowAggregate', windowOf(inside.slice(1), start, 0))));
        windows.push(message(deviceId, serde.encode('WindowAggregate', windowOf(inside, start, 1))));
      }
    }
    await producer.send(stack.topics.aggregates, windows);
    await producer.disconnect();
    await waitFor(
      async () =>
        (await count(running.sink.backend(), 'SELECT count() AS n FROM truck_telemetry')) === events.length &&
        running.sink.buffered().records === 0 &&
        (await count(running.sink.backend(), 'SELECT count() AS n FROM aggregates_1m FINAL')) === 8,
    );
    // Embedded mode: the sink owns the data directory, so it stops before replay opens it.
    await running.stop();
    backend = await createEmbeddedBackend(
      app.clickhouse as Extract<typeof app.clickhouse, { mode: 'embedded' }>,
    );
    rawBefore = await backend.query(RAW_QUERY);
    rollupBefore = await backend.query(ROLLUP_QUERY);
    expect(rawBefore).toHaveLength(160);
    expect(rollupBefore).toHaveLength(4);
  });

  afterAll(async () => {
    await backend?.close();
    await stack?.cleanup();
    data.remove();
  });

  it('gives identical query results after the raw table is dropped and rebuilt', async () => {
    await backend.exec('DROP TABLE truck_telemetry');
    const result = await replayProjection(stack.config, {
      projection: 'truck_telemetry',
      kafka: stack.kafka,
      serde: createSerde(stack.config.registry, { topics: stack.topics }),
      log: stack.log,
      backend,
      batchMaxRows: 25,
    });
    expect(result).toMatchObject({ written: 160, swapped: true, rows: 160, liveRowsBefore: 0 });
    expect(await backend.query(RAW_QUERY)).toEqual(rawBefore);
  });

  it('gives identical rollups after the 1-minute aggregates are dropped and rebuilt', async () => {
    await backend.exec('DROP TABLE aggregates_1m');
    const result = await replayProjection(stack.config, {
      projection: 'aggregates_1m',
      kafka: stack.kafka,
      serde: createSerde(stack.config.registry, { topics: stack.topics }),
      log: stack.log,
      backend,
    });
    expect(result).toMatchObject({ written: 16, swapped: true });
    expect(await backend.query(ROLLUP_QUERY)).toEqual(rollupBefore);
  });

  it('rebuilds from an offset by keeping the live rows before it', async () => {
    const result = await replayProjection(stack.config, {
      projection: 'truck_telemetry',
      from: parseFrom('offset:30'),
      kafka: stack.kafka,
      serde: createSerde(stack.config.registry, { topics: stack.topics }),
      log: stack.log,
      backend,
    });
    expect(result.copied).toBeGreaterThan(0);
    expect(result.copied + result.written).toBe(160);
    expect(await backend.query(RAW_QUERY)).toEqual(rawBefore);
  });
});
