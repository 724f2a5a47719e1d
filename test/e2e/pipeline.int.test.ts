/**
 * Acceptance test of issue 6: the query side's known dataset (test/query/dataset.ts) pushed
 * through the WHOLE pipeline over real connections, no mocks. The raw events are encoded
 * with the registry serde and produced to the raw topics in log order (key = deviceId);
 * the processor (real Kafka + Redis) and the sink (real Kafka + chDB in a temp data dir)
 * run in-process; the query API reads through the sink's read-only HTTP endpoint. Every
 * endpoint must answer the numbers test/query/api.int.test.ts asserts for the directly
 * loaded dataset (the arithmetic is in that file's comments), the tables must hold the
 * projections the dataset derives with the processors' own core, and the processor's and
 * the sink's metrics must balance with nothing left in flight.
 *
 * Where the pipeline legitimately differs from the direct load:
 * - dead letters: the direct load inserts two made-up DLQ rows (DECODE_BAD_MAGIC from the
 *   sink, TOO_LATE from the processors). Here one undecodable record is produced to the
 *   truck topic instead: both the processor and the sink reject it, so the DLQ holds two
 *   real rows, both DECODE_BAD_MAGIC. A real TOO_LATE would need an extra valid event an
 *   hour behind stream time, which the sink would store as raw telemetry and so change
 *   the raw numbers under test.
 * - kafka_partition / kafka_offset / ingested_at: ingestion-only lineage columns, never
 *   returned by the API; not compared.
 *
 * Closing the windows: the dataset closes them with `core.onTimer(base + 2 h)` (idle
 * timer). The runner's idle timer does the same with the injected processing-time clock,
 * but at wall pace it would need ~85 s to walk stream time from truck-1's last event
 * (125 s) past its last window's end + grace (210 s). So, once the processor has caught
 * up with every input partition, the clock given to the processor is moved forward by
 * hours: the same idle close as the dataset's, within the test's time budget. Kafka,
 * Redis, the registry and ClickHouse are all real.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../../lib/clock.ts';
import type { AppConfig } from '../../lib/config.ts';
import type { OutgoingMessage } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { fetchGroupLag } from '../../lib/stream/index.ts';
import { createMetricsRegistry, metricValue, type Registry } from '../../lib/metrics.ts';
import type { DeviceKind, TopicKey } from '../../lib/topics.ts';
import { createProcessor, type Processor, parseProcessorConfig } from '../../processors/index.ts';
import { deviceStateFields } from '../../processors/runner/read-model.ts';
import { createDeviceState, foldEvent } from '../../processors/state/device-state.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { createQueryApi } from '../../query/server.ts';
import { createSerde } from '../../schemas/serde.ts';
import type { RawEvent, WindowAggregate } from '../../schemas/types.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { type ClickHouseSink, createClickHouseSink, parseSinkConfig } from '../../sinks/index.ts';
import { createRemoteBackend, querySecret } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import {
  createProcessorStack,
  deleteKeys,
  quickProcessorOptions,
  readTopic,
  waitCaughtUp,
} from '../processors/helpers.ts';
import {
  buildQueryDataset,
  datasetBase,
  expectedHourSummary,
  HOUR,
  type QueryDataset,
} from '../query/dataset.ts';

const KIND_OF: Record<RawEvent['type'], DeviceKind> = {
  TruckTelemetry: 'truck',
  EngineStateChanged: 'truck',
  DiagnosticReported: 'truck',
  TurbineTelemetry: 'turbine',
  SolarTelemetry: 'solar',
};
/** Not Avro with a registry header (magic byte 0): both consumers must dead-letter it. */
const UNDECODABLE = Buffer.from([1, 2, 3]);

let stack: TestStack;
let data: QueryDataset;
let base: number;
let dir: string;
let redis: Redis;
let redisKeyPrefix: string;
let processor: Processor | undefined;
let processorRunning = false;
let processorMetrics: Registry;
let sink: ClickHouseSink | undefined;
let sinkMetrics: Registry;
let reader: ClickHouseBackend;
let api: FastifyInstance | undefined;
/** Processing time of the processor: wall time plus a skew the test moves forward (header). */
let skewMs = 0;
const processorClock: Clock = { now: () => Date.now() + skewMs, sleep: systemClock.sleep };

const iso = (ms: number) => new Date(ms).toISOString();
const sec = (s: number) => base + s * 1000;
const range = () => `from=${iso(base)}&to=${iso(base + HOUR)}`;

async function get(path: string) {
  const response = await (api as FastifyInstance).inject({ method: 'GET', url: path });
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field against hand-computed values.
  return { status: response.statusCode, body: response.json() as Record<string, any> };
}

/** The newest revision of every window the dataset's core emitted: what `aggregates_1m FINAL` must hold. */
function newestWindows(aggregates: WindowAggregate[]): Map<string, WindowAggregate> {
  const newest = new Map<string, WindowAggregate>();
  for (const a of aggregates) {
    const key = `${a.deviceId}@${a.windowStart}`;
    const seen = newest.get(key);
    if (!seen || a.revision > seen.revision) newest.set(key, a);
  }
  return newest;
}

/** Records a read_committed reader sees: the processor's topics are transactional, and markers take offsets. */
async function countVisible(topics: string[]): Promise<number> {
  let total = 0;
  for (const topic of topics) total += (await readTopic(stack, topic)).length;
  return total;
}

async function until(what: string, timeoutMs: number, step: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await step())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The rows whose presence proves every window, alert and final device state arrived. */
async function projectionsComplete(): Promise<boolean> {
  const windows = newestWindows(data.aggregates);
  const [agg] = await reader.query<{ n: string; r: string }>(
    'SELECT count() AS n, sum(revision) AS r FROM aggregates_1m FINAL',
  );
  const revisions = [...windows.values()].reduce((sum, a) => sum + a.revision, 0);
  if (Number(agg?.n) !== windows.size || Number(agg?.r) !== revisions) return false;
  const [alerts] = await reader.query<{ n: string }>(
    "SELECT countIf(state = 'RESOLVED') AS n FROM alerts FINAL",
  );
  const resolved = new Set(data.alerts.filter((a) => a.state === 'RESOLVED').map((a) => a.alertId));
  if (Number(alerts?.n) !== resolved.size) return false;
  const states = await reader.query<{ device_id: string; seq: string }>(
    'SELECT device_id, seq FROM device_state FINAL',
  );
  const seqOf = new Map(states.map((s) => [s.device_id, Number(s.seq)]));
  return data.deviceStates.every((s) => seqOf.get(s.deviceId) === s.seq);
}

beforeAll(async () => {
  stack = await createProcessorStack('e2e-pipeline', 3);
  base = datasetBase();
  data = buildQueryDataset(base);

  // 1. The raw events, Avro-encoded with the registry serde, in log order, keyed by device.
  const serde = createSerde(stack.config.registry, { topics: stack.topics });
  await serde.registerAll();
  const byTopic = new Map<string, OutgoingMessage[]>();
  for (const event of data.events) {
    const topic = stack.topics[KIND_OF[event.type]];
    byTopic.set(topic, [
      ...(byTopic.get(topic) ?? []),
      { key: event.value.deviceId, value: serde.encode(event.type, event.value as never) },
    ]);
  }
  byTopic.get(stack.topics.truck)?.push({ key: 'truck-1', value: UNDECODABLE });
  const producer = stack.kafka.producer();
  await producer.connect();
  try {
    // One request: each partition's records keep the order of the list (acks=all, idempotent).
    await producer.sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
  } finally {
    await producer.disconnect();
  }

  // 2. The sink on a temp chDB data dir, serving its read-only query endpoint on a free port.
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-e2e-'));
  const app: AppConfig = {
    ...stack.config,
    clickhouse: { mode: 'embedded', dataDir: dir, database: 'fleetgrid' },
  };
  sinkMetrics = createMetricsRegistry('e2e-sink', { defaultMetrics: false });
  sink = createClickHouseSink(
    app,
    parseSinkConfig({ groupId: stack.group('sink'), lingerMs: 100, queryPort: 0, sessionTimeoutMs: 6_000 }),
    {
      kafka: stack.kafka,
      serde: createSerde(stack.config.registry, { topics: stack.topics }),
      log: stack.log,
      registry: sinkMetrics,
    },
  );
  await sink.start();
  const queryUrl = sink.queryUrl();
  if (!queryUrl) throw new Error('the embedded sink serves no query endpoint');
  // The tables are checked through the sink's own session (this process owns the data
  // dir); the query API below reads through the endpoint like `fleetgrid serve`.
  reader = sink.backend();

  // 3. The processor: the core's defaults (those of the dataset), short runner intervals,
  // its own Redis key namespace. Everything was produced before it starts, so a partition
  // counts as caught up (and idle) only once all its records are applied.
  redisKeyPrefix = `fleetgrid-e2e-${randomUUID().slice(0, 8)}`;
  redis = new Redis(stack.config.redis.url, { maxRetriesPerRequest: 3 });
  processorMetrics = createMetricsRegistry('e2e-processor', { defaultMetrics: false });
  processor = createProcessor(
    {
      ...parseProcessorConfig({
        ...quickProcessorOptions(3, redisKeyPrefix),
        // The clock jumps by hours (header): the watchdog must not read that as a stall.
        watchdogTimeoutMs: 1_000_000_000,
      }),
      topicPrefix: stack.prefix,
    },
    {
      kafka: stack.kafka,
      redis,
      serde: createSerde(stack.config.registry, { topics: stack.topics }),
      metrics: processorMetrics,
      log: stack.log,
      clock: processorClock,
    },
  );
  await processor.start();
  processorRunning = true;

  // 4. Caught up, then the idle timer closes every window (processing time moves on by
  // hours at each poll, like the dataset's onTimer(base + 2 h)); bounded polling.
  await waitCaughtUp(stack, processor.groupId, 30_000);
  await until('the projections in ClickHouse', 30_000, async () => {
    skewMs += 2 * HOUR;
    return projectionsComplete();
  });
  // The processor has emitted everything: stopping it fixes its output topics, so the
  // sink's "all read" below is final.
  await processor.stop();
  processorRunning = false;
  const consumed = Object.values(stack.topics);
  const visible = await countVisible(consumed);
  await until('the sink to write every record', 20_000, async () => {
    const received = await metricValue(sinkMetrics, 'fleetgrid_sink_received_records_total');
    return received === visible && (sink as ClickHouseSink).buffered().records === 0;
  });

  // 5. The query API, reading through the sink's endpoint (`fleetgrid serve` in embedded mode).
  api = await createQueryApi(parseQueryConfig({}), {
    backend: createRemoteBackend(queryUrl, { secret: querySecret(app) }),
    log: silentLogger,
    registry: createMetricsRegistry('e2e-query', { defaultMetrics: false }),
  });
}, 120_000);

afterAll(async () => {
  await api?.close().catch(() => {});
  if (processorRunning) await processor?.stop().catch(() => {});
  await sink?.stop().catch(() => {});
  if (redis) {
    // Checkpoints and device-state hashes all live under this test's own namespace.
    await deleteKeys(redis, `${redisKeyPrefix}:*`);
    await redis.quit();
  }
  await stack?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the whole pipeline on the known dataset', () => {
  it('stores the projections the processors core derives from the dataset', async () => {
    // The newest revision of every window, field by field, as the dataset's core computed it.
    type Stat = Record<string, string | number>;
    const rows = await reader.query<{
      device_id: string;
      site_id: string;
      kind: string;
      ws: string;
      we: string;
      revision: string | number;
      event_count: string | number;
      fts: string;
      lts: string;
      field_count: Stat;
      field_min: Stat;
      field_max: Stat;
      field_sum: Stat;
      derived: Stat;
    }>(
      `SELECT device_id, site_id, kind, toUnixTimestamp64Milli(window_start) AS ws,
              toUnixTimestamp64Milli(window_end) AS we, revision, event_count,
              toUnixTimestamp64Milli(first_event_ts) AS fts, toUnixTimestamp64Milli(last_event_ts) AS lts,
              field_count, field_min, field_max, field_sum, derived
       FROM aggregates_1m FINAL`,
    );
    const byStart = (a: WindowAggregate, b: WindowAggregate) =>
      a.deviceId.localeCompare(b.deviceId) || a.windowStart - b.windowStart;
    const numbers = (map: Stat) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, Number(v)]));
    const stored: WindowAggregate[] = rows.map((r) => ({
      deviceId: r.device_id,
      siteId: r.site_id,
      kind: r.kind as WindowAggregate['kind'],
      model: null,
      driverId: null,
      windowStart: Number(r.ws),
      windowEnd: Number(r.we),
      revision: Number(r.revision),
      eventCount: Number(r.event_count),
      firstEventTs: Number(r.fts),
      lastEventTs: Number(r.lts),
      fields: Object.keys(r.field_count)
        .sort()
        .map((name) => ({
          name,
          count: Number(r.field_count[name]),
          min: Number(r.field_min[name]),
          max: Number(r.field_max[name]),
          sum: Number(r.field_sum[name]),
        })),
      derived: numbers(r.derived),
    }));
    const expected = [...newestWindows(data.aggregates).values()].map((a) => ({
      ...a,
      fields: [...a.fields].sort((x, y) => x.name.localeCompare(y.name)),
    }));
    expect(stored.sort(byStart)).toEqual(expected.sort(byStart));
    expect(stored.find((a) => a.deviceId === 'truck-1' && a.windowStart === base)?.revision).toBe(1);
    // Every revision was written once (effectively-once end to end, no replayed duplicates).
    // Counted on the sink's metric, not with count() on the table: ClickHouse may fold two
    // revisions of one window that arrive in the same insert block (ReplacingMergeTree).
    expect(
      await metricValue(sinkMetrics, 'fleetgrid_sink_written_rows_total', { table: 'aggregates_1m' }),
    ).toBe(data.aggregates.length);

    // Each alert shows its newest transition with FINAL; both transitions were written.
    const newestAlert = new Map(data.alerts.map((a) => [a.alertId, `${a.alertId} ${a.rule} ${a.state}`]));
    const alerts = await reader.query<{ a: string }>(
      "SELECT concat(alert_id, ' ', rule, ' ', state) AS a FROM alerts FINAL ORDER BY a",
    );
    expect(alerts.map((r) => r.a)).toEqual([...newestAlert.values()].sort());
    expect(await metricValue(sinkMetrics, 'fleetgrid_sink_written_rows_total', { table: 'alerts' })).toBe(
      data.alerts.length,
    );

    const states = await reader.query<{ device_id: string; seq: string; event_count: string }>(
      'SELECT device_id, seq, event_count FROM device_state FINAL ORDER BY device_id',
    );
    expect(states.map((s) => [s.device_id, Number(s.seq), Number(s.event_count)])).toEqual(
      data.deviceStates
        .map((s) => [s.deviceId, s.seq, s.eventCount])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );

    // Raw: every distinct event once per table (the resend folds: same ts and event_id).
    const raw = await reader.query<{ n: string }>(
      `SELECT uniqExact(event_id) AS n FROM truck_telemetry
       UNION ALL SELECT uniqExact(event_id) FROM truck_diagnostics
       UNION ALL SELECT uniqExact(event_id) FROM truck_engine_events
       UNION ALL SELECT uniqExact(event_id) FROM turbine_telemetry
       UNION ALL SELECT uniqExact(event_id) FROM solar_telemetry`,
    );
    expect(raw.map((r) => Number(r.n)).sort((a, b) => a - b)).toEqual([2, 3, 120, 120, 180]);

    const dead = await reader.query<{ error_code: string; stage: string; source_topic: string }>(
      'SELECT error_code, stage, source_topic FROM dead_letters FINAL ORDER BY stage',
    );
    expect(dead.map((d) => d.error_code)).toEqual(['DECODE_BAD_MAGIC', 'DECODE_BAD_MAGIC']);
    expect(dead.map((d) => d.source_topic)).toEqual([stack.topics.truck, stack.topics.truck]);
    expect(new Set(dead.map((d) => d.stage)).size).toBe(2); // one from the processor, one from the sink
  });

  it('summarises the fleet with the figures of the directly loaded dataset', async () => {
    const { status, body } = await get(`/api/v1/fleet/summary?${range()}`);
    expect(status).toBe(200);
    const expected = expectedHourSummary();
    expect(body.truck).toEqual(expected.truck);
    expect(body.turbine).toEqual(expected.turbine);
    expect(body.solar).toEqual(expected.solar);
    const unaligned = await get(`/api/v1/fleet/summary?from=${iso(sec(30))}&to=${iso(sec(30) + HOUR)}`);
    expect(unaligned.body.truck).toMatchObject({ activeDevices: 2, events: 64, avgSpeedKmh: 80 });
    expect(unaligned.body.turbine).toMatchObject({ events: 60, energyKwh: 25, availability: 0.5 });
  });

  it('lists the devices with their latest state', async () => {
    const all = await get('/api/v1/devices');
    expect(all.status).toBe(200);
    expect(all.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual([
      'solar-1',
      'solar-2',
      'truck-1',
      'truck-2',
      'turbine-1',
    ]);
    const trucks = await get('/api/v1/devices?kind=truck&limit=1');
    expect(trucks.body.devices[0]).toMatchObject({
      deviceId: 'truck-1',
      kind: 'truck',
      siteId: 'depot-a',
      eventCount: 124,
      engineOn: false,
      speedKmh: 0,
      odometerKm: expect.closeTo(1002.38, 9),
      activeDiagnosticCodes: ['P0300'],
      lastSeen: iso(sec(125)),
    });
    const plant = await get('/api/v1/devices?siteId=plant-1');
    expect(plant.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['solar-1', 'turbine-1']);
  });

  it('serves each device state as the processors computed it, and the same state folded at asOf', async () => {
    for (const expected of data.deviceStates) {
      const latest = await get(`/api/v1/devices/${expected.deviceId}/state`);
      expect(latest.status).toBe(200);
      expect(latest.body.source).toBe('projection');
      // Every field of the DeviceState the dataset's core ended with, via Kafka, the sink and the API.
      expect(latest.body.state).toEqual({
        ...expected,
        kind: expected.kind.toLowerCase(),
        lastSeen: iso(expected.lastSeen),
      });
      // The processor's own Redis copy (the live side) holds the same state.
      expect(await redis.hgetall(`${redisKeyPrefix}:device:${stack.prefix}${expected.deviceId}`)).toEqual(
        deviceStateFields(expected),
      );
      const folded = await get(`/api/v1/devices/${expected.deviceId}/state?asOf=${iso(base + HOUR)}`);
      const { energyTodayKwh: a, ...restLatest } = latest.body.state;
      const { energyTodayKwh: b, ...restFolded } = folded.body.state;
      expect(restFolded).toEqual(restLatest);
      if (a === null) expect(b).toBeNull();
      else expect(b).toBeCloseTo(a, 9);
    }
    expect((await get('/api/v1/devices/turbine-1/state')).body.state.openAlerts).toEqual([
      'turbine.high_vibration',
    ]);
  });

  it('rebuilds past states at asOf from the raw events the sink stored', async () => {
    const asOf = sec(60);
    const { status, body } = await get(`/api/v1/devices/truck-1/state?asOf=${iso(asOf)}`);
    expect(status).toBe(200);
    expect(body.source).toBe('event-fold');
    const seen = new Set<string>();
    const prefix = data.events
      .filter((e) => e.value.deviceId === 'truck-1' && e.value.ts <= asOf)
      .filter((e) => !seen.has(e.value.eventId) && seen.add(e.value.eventId))
      .sort((a, b) => a.value.ts - b.value.ts);
    const expected = createDeviceState('truck-1', 'depot-a', 'TRUCK');
    for (const e of prefix) foldEvent(expected, e);
    expect(body.state).toEqual({ ...expected, kind: 'truck', lastSeen: iso(expected.lastSeen) });
    expect(body.state).toMatchObject({
      eventCount: 62,
      speedKmh: 80,
      activeDiagnosticCodes: ['P0217'],
      engineOn: true,
    });
    const turbine = await get(`/api/v1/devices/turbine-1/state?asOf=${iso(sec(90))}`);
    expect(turbine.body.state.energyTodayKwh).toBeCloseTo(25 + (1500 * 31) / 3600, 9);
    expect(turbine.body.state).toMatchObject({
      eventCount: 91,
      status: 'FAULT',
      openAlerts: ['turbine.high_vibration'],
    });
  });

  it('answers series at 1 minute with the late revision, and raw points without the resend', async () => {
    const minute = await get(`/api/v1/devices/truck-1/series?metric=speedKmh&step=1m&${range()}`);
    expect(minute.status).toBe(200);
    // The late sample 10 re-emitted window 0 as revision 1 through Kafka as well.
    expect(minute.body.points).toEqual([
      { t: iso(base), count: 60, min: 60, max: 60, avg: 60, sum: 3600, final: true, revision: 1 },
      { t: iso(sec(60)), count: 60, min: 80, max: 80, avg: 80, sum: 4800, final: true, revision: 0 },
    ]);
    const hour = await get(`/api/v1/devices/truck-1/series?metric=speedKmh&step=1h&${range()}`);
    expect(hour.body.points).toEqual([
      { t: iso(base), count: 120, min: 60, max: 80, avg: 70, sum: 8400, final: true, revision: 1 },
    ]);
    const raw = await get(
      `/api/v1/devices/truck-1/series?metric=speedKmh&step=raw&from=${iso(sec(18))}&to=${iso(sec(22))}`,
    );
    expect(raw.body.points).toEqual([18, 19, 20, 21].map((s) => ({ t: iso(sec(s)), value: 60 })));
    const energy = await get(`/api/v1/devices/turbine-1/series?metric=energyKwh&step=1m&${range()}`);
    expect(energy.body.points.map((p: { sum: number }) => p.sum)).toEqual([25, 25]);
  });

  it('answers the condition series (engine, cargo, nacelle, vibration, panel) as the events give them', async () => {
    // Expected from the dataset's own events: per 1-minute window of event time, one sample per
    // (device, ts) — the resend counts once, the late sample in its window — and only the
    // samples that carry the field (a dry truck's cargo is null).
    const expected = (deviceId: string, field: string) => {
      const samples = new Map<number, number>();
      for (const e of data.events) {
        const v = e.value as unknown as Record<string, unknown>;
        if (v.deviceId === deviceId && typeof v[field] === 'number')
          samples.set(Number(v.ts), v[field] as number);
      }
      const windows = new Map<number, number[]>();
      for (const [ts, value] of samples) {
        const start = ts - (ts % 60_000);
        windows.set(start, [...(windows.get(start) ?? []), value]);
      }
      return [...windows]
        .sort(([a], [b]) => a - b)
        .map(([start, values]) => ({
          t: iso(start),
          count: values.length,
          min: Math.min(...values),
          max: Math.max(...values),
          sum: values.reduce((s, x) => s + x, 0),
        }));
    };
    const cases: [string, string][] = [
      ['truck-1', 'engineTempC'],
      ['truck-1', 'cargoTempC'],
      ['turbine-1', 'nacelleTempC'],
      ['turbine-1', 'vibrationMmS'],
      ['solar-1', 'panelTempC'],
    ];
    for (const [deviceId, metric] of cases) {
      const want = expected(deviceId, metric);
      expect(want.length, `${deviceId} ${metric} has samples in the dataset`).toBeGreaterThan(0);
      const answer = await get(`/api/v1/devices/${deviceId}/series?metric=${metric}&step=1m&${range()}`);
      expect(answer.status).toBe(200);
      const got = answer.body.points.map(
        (p: { t: string; count: number; min: number; max: number; sum: number }) => ({
          t: p.t,
          count: p.count,
          min: p.min,
          max: p.max,
          sum: p.sum,
        }),
      );
      expect(got, `${deviceId} ${metric}`).toEqual(
        want.map((w) => ({ ...w, sum: expect.closeTo(w.sum, 6) })),
      );
    }
  });

  it('sums the energy of a site per minute and per hour', async () => {
    const minute = await get(`/api/v1/sites/plant-1/energy?step=1m&${range()}`);
    expect(minute.status).toBe(200);
    expect(minute.body.points).toEqual([
      {
        t: iso(base),
        turbineKwh: 25,
        solarKwh: expect.closeTo(4 / 60, 6),
        totalKwh: expect.closeTo(25 + 4 / 60, 6),
      },
      { t: iso(sec(60)), turbineKwh: 25, solarKwh: 0, totalKwh: 25 },
    ]);
    expect(minute.body.totals.totalKwh).toBeCloseTo(50 + 4 / 60, 6);
    const hour = await get(`/api/v1/sites/plant-2/energy?step=1h&${range()}`);
    expect(hour.body.totals).toEqual({
      turbineKwh: 0,
      solarKwh: expect.closeTo(2 / 60, 6),
      totalKwh: expect.closeTo(2 / 60, 6),
    });
  });

  it('lists the open and the resolved alerts', async () => {
    const open = await get('/api/v1/alerts');
    expect(open.body.alerts.map((a: { rule: string }) => a.rule)).toEqual(['turbine.high_vibration']);
    expect(open.body.alerts[0]).toMatchObject({
      deviceId: 'turbine-1',
      raisedAt: iso(sec(60)),
      resolvedAt: null,
    });
    const resolved = await get(`/api/v1/alerts?state=resolved&${range()}`);
    expect(resolved.body.alerts).toHaveLength(1);
    expect(resolved.body.alerts[0]).toMatchObject({
      rule: 'truck.overspeed',
      deviceId: 'truck-2',
      state: 'RESOLVED',
      raisedAt: iso(sec(30)),
      resolvedAt: iso(sec(40)),
    });
  });

  it('reports the freshness and the real dead letters', async () => {
    const { body } = await get('/api/v1/pipeline/health');
    expect(body.freshness.newestEvent).toBe(iso(sec(125)));
    // Two real rows for one bad record (processor and sink each reject it), not the direct
    // load's made-up pair (header): one record in the total, one in each stage (issue 11).
    expect(body.deadLetters.total).toBe(1);
    expect(body.deadLetters.byStage).toEqual([
      { stage: 'decode', records: 1 },
      { stage: 'sink-clickhouse', records: 1 },
    ]);
    expect(
      body.deadLetters.byCode.map((d: { code: string; stage: string; records: number }) => [
        d.code,
        d.records,
      ]),
    ).toEqual([
      ['DECODE_BAD_MAGIC', 1],
      ['DECODE_BAD_MAGIC', 1],
    ]);
  });

  it('leaves the sink group no lag: its commits move past the transaction markers of the processor', async () => {
    // Every processor transaction ends in a marker read_committed never delivers; a sink that
    // committed only "last record + 1" would show lag on every output partition for ever
    // (and a load test's drain, waiting for lag 0, would never end).
    const groups = [{ groupId: stack.group('sink'), topics: Object.values(stack.topics) }];
    let lag = -1;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      lag = (await fetchGroupLag(stack.admin, groups))[0]?.lag ?? -1;
      if (lag === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(lag).toBe(0);
  });

  it('balances the processor and sink metrics with nothing in flight', async () => {
    const raw = data.events.length + 1; // + the undecodable record
    const p = (name: string, labels?: Record<string, string>) =>
      metricValue(processorMetrics, `fleetgrid_processor_${name}`, labels);
    // Processed counts applied and dead-lettered records alike (processors/runner/metrics.ts).
    expect(await p('received_total')).toBe(raw);
    expect(await p('processed_total')).toBe(raw);
    expect(await p('dead_lettered_total')).toBe(1);
    expect(await p('dead_lettered_total', { code: 'DECODE_BAD_MAGIC' })).toBe(1);
    expect(await p('output_buffered_rows_total')).toBe(await p('output_acked_rows_total'));
    for (const key of ['aggregates', 'alerts', 'deviceState'] as TopicKey[]) {
      const topic = stack.topics[key];
      expect({ topic, emitted: await p('emitted_total', { topic }) }).toEqual({
        topic,
        emitted: await countVisible([topic]),
      });
    }
    expect(await p('emitted_total', { topic: stack.topics.aggregates })).toBe(data.aggregates.length);

    const s = (name: string, labels?: Record<string, string>) =>
      metricValue(sinkMetrics, `fleetgrid_sink_${name}`, labels);
    const received = await s('received_records_total');
    expect(received).toBe(await countVisible(Object.values(stack.topics)));
    expect(await s('dead_lettered_records_total')).toBe(1);
    expect(await s('written_rows_total')).toBe(received - 1);
    expect(await s('written_rows_total', { table: 'dead_letters' })).toBe(2);
    expect(await s('buffered_rows_added_total')).toBe(await s('buffered_rows_removed_total'));
    expect(await s('buffered_bytes_added_total')).toBe(await s('buffered_bytes_removed_total'));
    expect((sink as ClickHouseSink).buffered()).toEqual({ rows: 0, bytes: 0, records: 0 });
  });
});
