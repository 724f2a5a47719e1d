/**
 * Issue 17 "trips exact against a known dataset through the whole pipeline": the trips'
 * known dataset (test/query/trips-dataset.ts) Avro-encoded as TruckTelemetry through the
 * real registry into Kafka on a private prefix, the resend included and the late sample
 * at 111 s produced only after every later sample; the real processor (Kafka + Redis) and
 * the real sink (Kafka + chDB in a temp data dir) run in-process; the query API reads
 * through the sink's query endpoint. The trips it answers must be the hand-computed ones
 * WITH the late sample (the sink stores raw telemetry from the raw topic whatever the
 * processors think of its lateness, and trips read `truck_telemetry FINAL`), and one trip's
 * track must be its raw positions. test/query/trips.int.test.ts covers the same trips
 * loaded straight into chDB; this file proves the pipeline delivers that data unchanged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import { createRemoteBackend, querySecret } from '../../clickhouse/index.ts';
import type { AppConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { createQueryApi } from '../../query/server.ts';
import { type ClickHouseSink, createClickHouseSink, parseSinkConfig } from '../../sinks/index.ts';
import type { TestStack } from '../helpers.ts';
import {
  cleanupRedis,
  createProcessorStack,
  createTestSerde,
  produceEvents,
  type RunningProcessor,
  startProcessor,
  waitCaughtUp,
  waitFor,
} from '../processors/helpers.ts';
import { datasetBase, HOUR } from '../query/dataset.ts';
import {
  buildTripEvents,
  closeTrips,
  expectedTrips,
  LATE_SECOND,
  TRIP_DEVICE,
} from '../query/trips-dataset.ts';

let stack: TestStack;
let base: number;
let dir: string;
let sink: ClickHouseSink | undefined;
let processor: RunningProcessor | undefined;
let reader: ClickHouseBackend;
let api: FastifyInstance | undefined;
/** Distinct samples of the dataset: the resend is one of them twice. */
let distinctSamples: number;

const iso = (ms: number) => new Date(ms).toISOString();
const sec = (s: number) => base + s * 1000;

async function get(path: string) {
  const response = await (api as FastifyInstance).inject({ method: 'GET', url: path });
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field against hand-computed values.
  return { status: response.statusCode, body: response.json() as Record<string, any> };
}

beforeAll(async () => {
  stack = await createProcessorStack('e2e-trips', 1);
  base = datasetBase();
  const serde = await createTestSerde(stack);

  // 1. The truck's samples in delivery order (the resend included), then the late one alone:
  // it reaches the topic after every later sample, as a late revision does in the field.
  const { first, late } = buildTripEvents(base);
  distinctSamples = new Set([...first, ...late].map((e) => e.value.eventId)).size;
  expect(late.map((e) => e.value.ts)).toEqual([sec(LATE_SECOND)]);
  await produceEvents(stack, serde, first);
  await produceEvents(stack, serde, late);

  // 2. The sink on a temp chDB data dir, serving its read-only query endpoint on a free port.
  dir = mkdtempSync(join(tmpdir(), 'fleetgrid-e2e-trips-'));
  const app: AppConfig = {
    ...stack.config,
    clickhouse: { mode: 'embedded', dataDir: dir, database: 'fleetgrid' },
  };
  sink = createClickHouseSink(
    app,
    parseSinkConfig({ groupId: stack.group('sink'), lingerMs: 100, queryPort: 0, sessionTimeoutMs: 6_000 }),
    {
      kafka: stack.kafka,
      serde: await createTestSerde(stack),
      log: stack.log,
      registry: createMetricsRegistry('e2e-trips-sink', { defaultMetrics: false }),
    },
  );
  await sink.start();
  const queryUrl = sink.queryUrl();
  if (!queryUrl) throw new Error('the embedded sink serves no query endpoint');
  reader = sink.backend();

  // 3. The processor: it derives the device state that makes truck-t known to the API.
  processor = await startProcessor(stack, await createTestSerde(stack), { partitions: 1 });
  await waitCaughtUp(stack, processor.processor.groupId, 30_000);

  // 4. Every distinct sample stored, and the truck's state.
  await waitFor(
    'the samples and the device state in ClickHouse',
    async () => {
      const [raw] = await reader.query<{ n: string }>(
        `SELECT count() AS n FROM truck_telemetry FINAL WHERE device_id = '${TRIP_DEVICE}'`,
      );
      const [state] = await reader.query<{ n: string }>(
        `SELECT count() AS n FROM device_state FINAL WHERE device_id = '${TRIP_DEVICE}'`,
      );
      return Number(raw?.n) === distinctSamples && Number(state?.n) === 1;
    },
    30_000,
  );

  // 5. The query API, reading through the sink's endpoint (`fleetgrid serve` in embedded mode).
  api = await createQueryApi(parseQueryConfig({ port: 0, metricsRefreshMs: 600_000 }), {
    backend: createRemoteBackend(queryUrl, { secret: querySecret(app) }),
    log: silentLogger,
    registry: createMetricsRegistry('e2e-trips-query', { defaultMetrics: false }),
  });
}, 120_000);

afterAll(async () => {
  await api?.close().catch(() => {});
  await processor?.stop().catch(() => {});
  await sink?.stop().catch(() => {});
  if (stack) {
    await cleanupRedis(stack);
    await stack.cleanup();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('trips through the whole pipeline', () => {
  it('answers the hand-computed trips, with the late sample inside trip A counted', async () => {
    const { status, body } = await get(
      `/api/v1/devices/${TRIP_DEVICE}/trips?from=${iso(base)}&to=${iso(base + HOUR)}`,
    );
    expect(status).toBe(200);
    expect(body.truncated).toBe(false);
    // withLate: two harsh brakings (60 → 30 → 0 km/h) and nine samples in trip A.
    expect(body.trips).toEqual(closeTrips(expectedTrips(base, true)));
  });

  it('answers trip A with its track: every raw position, the late one in its place', async () => {
    const id = `${TRIP_DEVICE}:${sec(60)}`;
    const { status, body } = await get(`/api/v1/devices/${TRIP_DEVICE}/trips/${id}`);
    expect(status).toBe(200);
    expect(body.trip).toEqual(closeTrips(expectedTrips(base, true))[0]);
    const seconds = [60, 70, 80, 90, 100, 110, 111, 113, 123];
    expect(body.track.positions).toBe(seconds.length);
    expect(body.track.points.map((p: { t: string }) => p.t)).toEqual(seconds.map((s) => iso(sec(s))));
  });
});
