/**
 * The same sink against a ClickHouse server, run when CLICKHOUSE_TEST_URL is set
 * (e.g. http://127.0.0.1:8123; CLICKHOUSE_TEST_USER / CLICKHOUSE_TEST_PASSWORD optional).
 * Each run uses a database of its own and drops it afterwards.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppConfig, DEFAULT_KEEPER_PATH_PREFIX } from '../../lib/config.ts';
import { createSerde } from '../../schemas/serde.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createServerBackend } from '../../clickhouse/index.ts';
import { migrate } from '../../clickhouse/index.ts';
import { createQueryBackend, type QueryBackend } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import { baseTime, MINUTE, message, truck, waitFor, windowOf } from './fixtures.ts';
import { count, createSinkTestStack, type RunningSink, startSink, storedRows } from './harness.ts';

const url = process.env.CLICKHOUSE_TEST_URL;
/** Set: the same test against a cluster (docs/sinks.md "ClickHouse cluster (server mode)"). */
const cluster = process.env.CLICKHOUSE_TEST_CLUSTER;

describe.skipIf(!url)(
  'sink against a ClickHouse server (needs CLICKHOUSE_TEST_URL; not run where no server is reachable)',
  () => {
    let stack: TestStack;
    let app: AppConfig;
    let running: RunningSink;
    let query: ClickHouseBackend;
    let reader: QueryBackend;
    const database = `fleetgrid_t_${randomUUID().slice(0, 8).replace(/-/g, '')}`;
    const produced = 200;

    beforeAll(async () => {
      stack = await createSinkTestStack('sink-server', { partitions: 2 });
      app = {
        ...stack.config,
        clickhouse: {
          mode: 'server',
          url: url as string,
          user: process.env.CLICKHOUSE_TEST_USER ?? 'default',
          password: process.env.CLICKHOUSE_TEST_PASSWORD ?? '',
          database,
          ...(cluster ? { cluster: { name: cluster, keeperPathPrefix: DEFAULT_KEEPER_PATH_PREFIX } } : {}),
        },
      };
      const serde = createSerde(stack.config.registry, { topics: stack.topics });
      await serde.registerAll();
      running = await startSink(stack, app);
      const producer = stack.kafka.producer();
      await producer.connect();
      const t0 = baseTime();
      const events = Array.from({ length: produced }, (_, i) => truck(`s-${i % 4}`, t0 + i * 1_000, i));
      await producer.send(
        stack.topics.truck,
        events.map((e) => message(e.deviceId, serde.encode('TruckTelemetry', e))),
      );
      const first = events.filter((e) => e.deviceId === 's-0' && e.ts < t0 + MINUTE);
      await producer.send(stack.topics.aggregates, [
        message('s-0', serde.encode('WindowAggregate', windowOf(first.slice(1), t0, 0))),
        message('s-0', serde.encode('WindowAggregate', windowOf(first, t0, 1))),
      ]);
      await producer.disconnect();
      query = createServerBackend(app.clickhouse as Extract<AppConfig['clickhouse'], { mode: 'server' }>);
      reader = await createQueryBackend(app);
      await waitFor(
        async () =>
          (await storedRows(reader, 'truck_telemetry')) === produced && running.sink.buffered().records === 0,
        60_000,
      );
    });

    afterAll(async () => {
      await running?.stop();
      await query?.close();
      await reader?.close();
      if (app?.clickhouse.mode === 'server') {
        const admin = createServerBackend(app.clickhouse, { database: 'default' });
        await admin.exec(
          `DROP DATABASE IF EXISTS ${database}${cluster ? ` ON CLUSTER ${cluster} SYNC` : ''}`,
        );
        await admin.close();
      }
      await stack?.cleanup();
    });

    it('writes every event once and rolls up the newest window revision', async () => {
      expect(await count(query, 'SELECT count() AS n FROM truck_telemetry')).toBe(produced);
      expect(await count(query, 'SELECT uniqExact(event_id) AS n FROM truck_telemetry')).toBe(produced);
      const [hour] = await query.query<{ event_count: string }>(
        "SELECT event_count FROM aggregates_1h WHERE device_id = 's-0'",
      );
      expect(Number(hour?.event_count)).toBe(15);
    });

    it('applies migrations idempotently and drops a repeated insert with the same token', async () => {
      if (app.clickhouse.mode !== 'server') throw new Error('server config expected');
      const backend = createServerBackend(app.clickhouse);
      try {
        expect(await migrate(backend, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' })).toMatchObject({
          applied: [],
        });
        const before = await count(backend, 'SELECT count() AS n FROM truck_engine_events');
        const row = Buffer.from(
          `${JSON.stringify({ event_id: 'x', device_id: 'd', site_id: 's', ts: Date.now(), seq: 1, engine_on: true, schema_id: 1, kafka_partition: 0, kafka_offset: 0 })}\n`,
        );
        await backend.insert('truck_engine_events', row, { dedupToken: 'test:0:0-0' });
        await backend.insert('truck_engine_events', row, { dedupToken: 'test:0:0-0' });
        expect(await count(backend, 'SELECT count() AS n FROM truck_engine_events')).toBe(before + 1);
        await expect(
          reader.run('DROP TABLE truck_engine_events' as never, {} as never),
        ).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      } finally {
        await backend.close();
      }
    });
  },
);
