/**
 * `fleetgrid replay --derived`: a known stream goes through the live processor and sink; the
 * 1-minute aggregates rebuilt from the raw topics alone (the cores re-run over the raw log)
 * equal the live table, newest revision per device-window, and a dropped table comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { parseCoreConfig } from '../../processors/core/index.ts';
import type { Serde } from '../../schemas/serde.ts';
import { replayDerived } from '../../sinks/replay-derived.ts';
import type { TestStack } from '../helpers.ts';
import {
  cleanupRedis,
  createProcessorStack,
  createTestSerde,
  generateStream,
  produceEvents,
  startProcessor,
  waitCaughtUp,
  waitFor,
} from '../processors/helpers.ts';
import { embeddedConfig, startSink, tempDataDir } from './harness.ts';

// Short windows and idle timeout: once the processor has read the whole log, its idle timer
// closes every window within seconds, so the live table reaches its final state quickly.
// The live processor's options; the replay runs the cores with the same ones.
const CORE = { windowSizeMs: 15_000, graceMs: 1_000, maxLatenessMs: 600_000, idleTimeoutMs: 1_000 };

// Newest revision per device-window; the lineage columns (Kafka position, insert time) differ
// by construction: the live rows point into telemetry.aggregates, the rebuilt ones into the raw log.
const NEWEST = `SELECT * EXCEPT (kafka_partition, kafka_offset, ingested_at)
  FROM aggregates_1m FINAL ORDER BY device_id, window_start`;
const HOURLY = 'SELECT * FROM aggregates_1h ORDER BY device_id, bucket_start';

describe('replay --derived rebuilds aggregates_1m from the raw log', () => {
  let stack: TestStack;
  let serde: Serde;
  let backend: ClickHouseBackend;
  const data = tempDataDir('replay-derived-int');
  let live: unknown[];
  let liveHourly: unknown[];
  let events: number;

  beforeAll(async () => {
    stack = await createProcessorStack('replay-derived', 2);
    serde = await createTestSerde(stack);
    // Revisions (late events), duplicates and out-of-order swaps included.
    const stream = generateStream({ seed: 11, minutes: 8, trucks: 3, turbines: 2, solars: 2 });
    events = stream.length;
    const lastWindow = new Map<string, number>();
    for (const e of stream) {
      const start = Math.floor(e.value.ts / CORE.windowSizeMs) * CORE.windowSizeMs;
      lastWindow.set(e.value.deviceId, Math.max(lastWindow.get(e.value.deviceId) ?? 0, start));
    }
    // The whole log is there before the processor starts: it reads it without a pause, so its
    // idle timer only runs once the log is read (as the replay's does).
    await produceEvents(stack, serde, stream);
    const app = embeddedConfig(stack, data.dir);
    const sink = await startSink(stack, app);
    const processor = await startProcessor(stack, serde, {
      core: CORE,
      partitions: 2,
      registryJoin: false,
    });
    try {
      await waitCaughtUp(stack, processor.processor.groupId, 120_000);
      // Every device's last window closed by the idle timer and stored by the sink.
      await waitFor(
        'the last window of every device in aggregates_1m',
        async () => {
          const rows = await sink.sink
            .backend()
            .query<{ d: string; s: string }>(
              'SELECT device_id AS d, toUnixTimestamp64Milli(max(window_start)) AS s FROM aggregates_1m GROUP BY device_id',
            );
          const stored = new Map(rows.map((r) => [r.d, Number(r.s)]));
          return [...lastWindow].every(([device, start]) => stored.get(device) === start);
        },
        120_000,
      );
      await waitFor('the sink drained', () => sink.sink.buffered().records === 0, 30_000);
    } finally {
      await processor.stop();
      await sink.stop();
    }
    // Embedded mode: the sink owned the data directory; it is stopped before replay opens it.
    backend = await createEmbeddedBackend(
      app.clickhouse as Extract<typeof app.clickhouse, { mode: 'embedded' }>,
    );
    live = await backend.query(NEWEST);
    liveHourly = await backend.query(HOURLY);
    expect(live.length).toBeGreaterThan(200);
    // Late events made revisions: the comparison covers more than revision 0.
    expect(
      Number(
        (
          await backend.query<{ n: string }>(
            'SELECT count() AS n FROM aggregates_1m FINAL WHERE revision > 0',
          )
        )[0]?.n,
      ),
    ).toBeGreaterThan(0);
  }, 300_000);

  afterAll(async () => {
    await backend?.close();
    if (stack) {
      await cleanupRedis(stack);
      await stack.cleanup();
    }
    data.remove();
  });

  const replay = () =>
    replayDerived(stack.config, {
      core: parseCoreConfig(CORE),
      kafka: stack.kafka,
      serde,
      log: stack.log,
      backend,
      batchMaxRows: 200,
    });

  it('rebuilds a table equal to the live one, newest revision per device-window', async () => {
    const result = await replay();
    expect(result).toMatchObject({ projection: 'aggregates_1m', records: events, swapped: true });
    expect(result.liveRowsBefore).toBeGreaterThan(0);
    expect(await backend.query(NEWEST)).toEqual(live);
    expect(await backend.query(HOURLY)).toEqual(liveHourly);
  }, 120_000);

  it('rebuilds a dropped table from the raw log alone', async () => {
    await backend.exec('DROP TABLE aggregates_1m');
    const result = await replay();
    expect(result).toMatchObject({ records: events, liveRowsBefore: 0, swapped: true });
    expect(result.written).toBeGreaterThanOrEqual(live.length);
    expect(await backend.query(NEWEST)).toEqual(live);
    expect(await backend.query(HOURLY)).toEqual(liveHourly);
  }, 120_000);
});
