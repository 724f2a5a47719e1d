/**
 * `fleetgrid replay --derived`: a known stream goes through the live processor and sink; the
 * derived projections (1-minute aggregates, alerts, device state) rebuilt from the raw topics
 * alone (the cores re-run over the raw log) equal the live tables, newest row per key (window
 * revision, alert transition, device state), and a dropped table comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createEmbeddedBackend } from '../../clickhouse/index.ts';
import { parseCoreConfig } from '../../processors/core/index.ts';
import type { Serde } from '../../schemas/serde.ts';
import { type DerivedProjection, replayDerived } from '../../sinks/replay-derived.ts';
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
const newest = (table: string, order: string) =>
  `SELECT * EXCEPT (kafka_partition, kafka_offset, ingested_at) FROM ${table} FINAL ORDER BY ${order}`;
const QUERIES: Record<DerivedProjection, string[]> = {
  aggregates_1m: [
    newest('aggregates_1m', 'device_id, window_start'),
    'SELECT * FROM aggregates_1h ORDER BY device_id, bucket_start',
  ],
  alerts: [newest('alerts', 'device_id, raised_at, alert_id')],
  device_state: [newest('device_state', 'device_id')],
};
const TRUCKS = 3;

describe('replay --derived rebuilds the derived projections from the raw log', () => {
  let stack: TestStack;
  let serde: Serde;
  let backend: ClickHouseBackend;
  const data = tempDataDir('replay-derived-int');
  const live = new Map<string, unknown[]>();
  let events: number;

  beforeAll(async () => {
    stack = await createProcessorStack('replay-derived', 2);
    serde = await createTestSerde(stack);
    // Revisions (late events), duplicates and out-of-order swaps included.
    const stream = generateStream({ seed: 11, minutes: 8, trucks: TRUCKS, turbines: 2, solars: 2 });
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
      // The trucks' engines are on: once stream time has idled 60 s past their last event
      // (60 s of wall time after the log was read), heartbeat_lost is raised for each.
      await waitFor(
        'heartbeat_lost of every truck in alerts and device_state',
        async () => {
          const backend = sink.sink.backend();
          const raised = await backend.query<{ n: string }>(
            "SELECT count() AS n FROM alerts FINAL WHERE rule = 'truck.heartbeat_lost'",
          );
          const open = await backend.query<{ n: string }>(
            "SELECT count() AS n FROM device_state FINAL WHERE has(open_alerts, 'truck.heartbeat_lost')",
          );
          return Number(raised[0]?.n) === TRUCKS && Number(open[0]?.n) === TRUCKS;
        },
        150_000,
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
    for (const query of Object.values(QUERIES).flat()) live.set(query, await backend.query(query));
    expect(live.get(QUERIES.aggregates_1m[0] as string)?.length).toBeGreaterThan(200);
    // Overspeed and vibration episodes, and the heartbeats: more than the heartbeats alone.
    expect(live.get(QUERIES.alerts[0] as string)?.length).toBeGreaterThan(TRUCKS);
    expect(live.get(QUERIES.device_state[0] as string)).toHaveLength(7);
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

  const replay = (projections?: DerivedProjection[]) =>
    replayDerived(stack.config, {
      ...(projections ? { projections } : {}),
      core: parseCoreConfig(CORE),
      kafka: stack.kafka,
      serde,
      log: stack.log,
      backend,
      batchMaxRows: 200,
    });
  const expectLive = async (projection: DerivedProjection) => {
    for (const query of QUERIES[projection]) expect(await backend.query(query)).toEqual(live.get(query));
  };
  const PROJECTIONS = ['aggregates_1m', 'alerts', 'device_state'] as const;

  it.each(PROJECTIONS)(
    'rebuilds %s alone, equal to the live one (newest row per key)',
    async (projection) => {
      const result = await replay([projection]);
      expect(result).toMatchObject({ records: events, swapped: true });
      expect(Object.keys(result.projections)).toEqual([projection]);
      expect(result.projections[projection]?.liveRowsBefore).toBeGreaterThan(0);
      expect(result.projections[projection]?.refused).toBe(0);
      await expectLive(projection);
    },
    120_000,
  );

  it('rebuilds all three, dropped, from the raw log alone in one read', async () => {
    for (const projection of PROJECTIONS) await backend.exec(`DROP TABLE ${projection}`);
    const result = await replay();
    expect(result).toMatchObject({ records: events, swapped: true });
    for (const projection of PROJECTIONS) {
      const table = result.projections[projection];
      expect(table?.liveRowsBefore).toBe(0);
      expect(table?.written).toBeGreaterThanOrEqual(live.get(QUERIES[projection][0] as string)?.length ?? 0);
      await expectLive(projection);
    }
  }, 120_000);
});
