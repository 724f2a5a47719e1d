import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import { metricValue } from '../../lib/metrics.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import type { TruckTelemetry } from '../../schemas/types.ts';
import { createQueryBackend } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import {
  alert,
  baseTime,
  deviceState,
  diagnostic,
  engine,
  MINUTE,
  message,
  solar,
  truck,
  turbine,
  waitFor,
  windowOf,
} from './fixtures.ts';
import {
  count,
  embeddedConfig,
  type RunningSink,
  startSink,
  tempDataDir,
  createSinkTestStack,
} from './harness.ts';

describe('sink into the embedded engine through real Kafka', () => {
  let stack: TestStack;
  let serde: Serde;
  let running: RunningSink;
  const data = tempDataDir('sink-int');
  const t0 = baseTime();
  const trucks = ['truck-a', 'truck-b', 'truck-c'];
  const telemetry: TruckTelemetry[] = [];
  let lateEvent: TruckTelemetry;
  let outOfRange: Buffer;

  beforeAll(async () => {
    stack = await createSinkTestStack('sink-int', { partitions: 3 });
    serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
    running = await startSink(stack, embeddedConfig(stack, data.dir));
    const producer = stack.kafka.producer();
    await producer.connect();

    // Raw events: 3 trucks x 3 minutes x 10 samples, plus engine and diagnostic events.
    const truckMessages = [];
    for (const [d, deviceId] of trucks.entries()) {
      let seq = 0;
      for (let minute = 0; minute < 3; minute++) {
        for (let i = 0; i < 10; i++) {
          const event = truck(deviceId, t0 + minute * MINUTE + i * 5_000 + d, seq++);
          telemetry.push(event);
          truckMessages.push(message(deviceId, serde.encode('TruckTelemetry', event)));
        }
      }
      for (let i = 0; i < 2; i++) {
        truckMessages.push(
          message(deviceId, serde.encode('EngineStateChanged', engine(deviceId, t0 + i, seq++))),
        );
        truckMessages.push(
          message(deviceId, serde.encode('DiagnosticReported', diagnostic(deviceId, t0 + i, seq++))),
        );
      }
    }
    // A late sample of truck-a, minute 0: it arrives after revision 0 was emitted.
    lateEvent = truck('truck-a', t0 + 57_000, 1000, 88);
    telemetry.push(lateEvent);
    // Bad input: truncated framing, wrong magic byte, a latitude off the planet.
    outOfRange = serde.encode('TruckTelemetry', { ...truck('truck-a', t0, 2000), lat: 95 });
    truckMessages.push(
      message('truck-a', Buffer.from([0, 0, 0])),
      message('truck-a', Buffer.from('{"not":"avro"}')),
      message('truck-a', outOfRange),
    );
    await producer.send(stack.topics.truck, truckMessages);
    await producer.send(
      stack.topics.turbine,
      [0, 1, 2, 3, 4].map((i) =>
        message('wt-1', serde.encode('TurbineTelemetry', turbine('wt-1', t0 + i * 1000, i))),
      ),
    );
    await producer.send(
      stack.topics.solar,
      [0, 1, 2, 3, 4].map((i) =>
        message('pv-1', serde.encode('SolarTelemetry', solar('pv-1', t0 + i * 1000, i))),
      ),
    );

    // Windows: revision 0 of every minute without the late event, then revision 1 of the one it changed.
    const windows = [];
    for (const deviceId of trucks) {
      for (let minute = 0; minute < 3; minute++) {
        const start = t0 + minute * MINUTE;
        const events = telemetry.filter(
          (e) => e.deviceId === deviceId && e.ts >= start && e.ts < start + MINUTE && e !== lateEvent,
        );
        windows.push(message(deviceId, serde.encode('WindowAggregate', windowOf(events, start, 0))));
      }
    }
    await producer.send(stack.topics.aggregates, windows);
    await producer.send(stack.topics.truck, [message('truck-a', serde.encode('TruckTelemetry', lateEvent))]);
    const minute0 = telemetry.filter((e) => e.deviceId === 'truck-a' && e.ts < t0 + MINUTE);
    await producer.send(stack.topics.aggregates, [
      message('truck-a', serde.encode('WindowAggregate', windowOf(minute0, t0, 1))),
    ]);

    await producer.send(stack.topics.alerts, [
      message('truck-b', serde.encode('Alert', alert('truck-b', t0 + 10_000, 'RAISED'))),
      message('truck-b', serde.encode('Alert', alert('truck-b', t0 + 10_000, 'RESOLVED'))),
    ]);
    await producer.send(stack.topics.deviceState, [
      message('truck-a', serde.encode('DeviceState', deviceState('truck-a', 5, t0 + 5_000))),
      message('truck-a', serde.encode('DeviceState', deviceState('truck-a', 9, t0 + 9_000))),
    ]);
    // A dead letter written by another stage: loaded as it is.
    await producer.send(stack.topics.dlq, [
      {
        key: 'wt-9',
        value: Buffer.from([1, 2, 3]),
        headers: {
          [DLQ_HEADERS.code]: 'TOO_LATE',
          [DLQ_HEADERS.message]: 'event 2 h late',
          [DLQ_HEADERS.stage]: 'windows',
          [DLQ_HEADERS.sourceTopic]: stack.topics.turbine,
          [DLQ_HEADERS.sourcePartition]: '1',
          [DLQ_HEADERS.sourceOffset]: '42',
          [DLQ_HEADERS.failedAt]: String(t0),
        },
      },
    ]);
    await producer.disconnect();

    const backend = running.sink.backend();
    const expected = { dead: 4, truck: telemetry.length, windows: 10, inFlight: 0 };
    const observe = async () => ({
      dead: await count(backend, 'SELECT count() AS n FROM dead_letters'),
      truck: await count(backend, 'SELECT count() AS n FROM truck_telemetry'),
      // Every revision reaches the table (merges may fold them at any time afterwards).
      windows: await metricValue(running.registry, 'fleetgrid_sink_written_rows_total', {
        table: 'aggregates_1m',
      }),
      inFlight: running.sink.buffered().records,
    });
    await waitFor(async () => JSON.stringify(await observe()) === JSON.stringify(expected), 60_000);
    expect(await observe()).toEqual(expected);
  });

  afterAll(async () => {
    await running?.stop();
    await stack?.cleanup();
    data.remove();
  });

  it('writes every raw event exactly once into the table of its record type', async () => {
    const b = running.sink.backend();
    expect(await count(b, 'SELECT count() AS n FROM truck_telemetry')).toBe(telemetry.length);
    expect(await count(b, 'SELECT uniqExact(event_id) AS n FROM truck_telemetry')).toBe(telemetry.length);
    expect(await count(b, 'SELECT count() AS n FROM truck_engine_events')).toBe(6);
    expect(await count(b, 'SELECT count() AS n FROM truck_diagnostics')).toBe(6);
    expect(await count(b, 'SELECT count() AS n FROM turbine_telemetry')).toBe(5);
    expect(await count(b, 'SELECT count() AS n FROM solar_telemetry')).toBe(5);
    const [row] = await b.query<{ speed_kmh: number; ts: string; cargo_temp_c: number | null }>(
      'SELECT speed_kmh, toUnixTimestamp64Milli(ts) AS ts, cargo_temp_c FROM truck_telemetry WHERE event_id = {id:String}',
      { id: lateEvent.eventId },
    );
    expect(row).toMatchObject({ speed_kmh: 88, cargo_temp_c: 4.5 });
    expect(Number(row?.ts)).toBe(lateEvent.ts);
  });

  it('keeps only the newest revision of a window and rolls up hours equal to a recomputation from raw', async () => {
    const b = running.sink.backend();
    expect(await count(b, 'SELECT count() AS n FROM aggregates_1m FINAL')).toBe(9);
    const rollup = await b.query<{
      device_id: string;
      event_count: string;
      speed_sum: number;
      speed_max: number;
      windows: string;
    }>(
      `SELECT device_id, event_count, field_sum['speedKmh'] AS speed_sum, field_max['speedKmh'] AS speed_max, windows
       FROM aggregates_1h ORDER BY device_id`,
    );
    const raw = await b.query<{ device_id: string; n: string; speed_sum: number; speed_max: number }>(
      `SELECT device_id, count() AS n, sum(speed_kmh) AS speed_sum, max(speed_kmh) AS speed_max
       FROM truck_telemetry GROUP BY device_id, toStartOfHour(ts) ORDER BY device_id`,
    );
    expect(rollup).toHaveLength(3);
    for (const [i, r] of rollup.entries()) {
      const expected = raw[i];
      expect(r.device_id).toBe(expected?.device_id);
      expect(Number(r.event_count)).toBe(Number(expected?.n));
      expect(r.speed_sum).toBeCloseTo(expected?.speed_sum ?? Number.NaN, 3);
      expect(r.speed_max).toBe(expected?.speed_max);
      expect(Number(r.windows)).toBe(3);
    }
    // The late revision counted once: truck-a has 31 events, not 30 + 31.
    const daily = await b.query<{ event_count: string }>(
      "SELECT event_count FROM aggregates_1d WHERE device_id = 'truck-a'",
    );
    expect(Number(daily[0]?.event_count)).toBe(31);
  });

  it('keeps the latest state per device and the newest transition of each alert', async () => {
    const b = running.sink.backend();
    const states = await b.query<{ seq: string; active_diagnostic_codes: string[] }>(
      "SELECT seq, active_diagnostic_codes FROM device_state FINAL WHERE device_id = 'truck-a'",
    );
    expect(states).toEqual([{ seq: '9', active_diagnostic_codes: ['P0217'] }]);
    const alerts = await b.query<{ state: string; resolved_at: string | null }>(
      'SELECT state, resolved_at FROM alerts FINAL',
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.state).toBe('RESOLVED');
    expect(alerts[0]?.resolved_at).not.toBeNull();
  });

  it('dead-letters bad input with its original bytes and loads the DLQ into dead_letters', async () => {
    const b = running.sink.backend();
    const rows = await b.query<{
      error_code: string;
      stage: string;
      source_topic: string;
      value_base64: string;
    }>('SELECT error_code, stage, source_topic, value_base64 FROM dead_letters ORDER BY error_code');
    expect(rows.map((r) => r.error_code)).toEqual([
      'DECODE_BAD_MAGIC',
      'DECODE_TRUNCATED',
      'TOO_LATE',
      'VALIDATION_OUT_OF_RANGE',
    ]);
    const invalid = rows.find((r) => r.error_code === 'VALIDATION_OUT_OF_RANGE');
    expect(invalid?.stage).toBe('sink-clickhouse');
    expect(invalid?.source_topic).toBe(stack.topics.truck);
    expect(Buffer.from(invalid?.value_base64 ?? '', 'base64').equals(outOfRange)).toBe(true);
    expect(rows.find((r) => r.error_code === 'TOO_LATE')?.value_base64).toBe(
      Buffer.from([1, 2, 3]).toString('base64'),
    );
  });

  it('accounts for every record: received = written + dead-lettered once nothing is in flight', async () => {
    const received = await metricValue(running.registry, 'fleetgrid_sink_received_records_total');
    const written = await metricValue(running.registry, 'fleetgrid_sink_written_rows_total');
    const dead = await metricValue(running.registry, 'fleetgrid_sink_dead_lettered_records_total');
    expect(dead).toBe(3);
    expect(received).toBe(written + dead);
    // Each DLQ record was received once more from the DLQ topic and written to dead_letters.
    expect(
      await metricValue(running.registry, 'fleetgrid_sink_written_rows_total', { table: 'dead_letters' }),
    ).toBe(4);
  });

  it('serves the query side its statement templates over the embedded endpoint', async () => {
    const url = running.sink.queryUrl();
    expect(url).toBeDefined();
    const app = embeddedConfig(stack, data.dir);
    const query = await createQueryBackend(app, { url: url as string });
    const [state] = await query.run('deviceState', { deviceId: 'truck-a' });
    expect(Number(state?.seq)).toBe(9);
    expect(Number((await query.run('tableRows', { table: 'truck_telemetry' }))[0]?.n)).toBeGreaterThan(0);
    // Anything but a template of the catalogue with fitting arguments is refused before the engine.
    await expect(query.run('deviceState', { deviceId: "x' OR '1'='1" } as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(query.run('DROP TABLE alerts' as never, {} as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    // Without the secret: a configuration error, not a retry.
    const stranger = await createQueryBackend(app, {
      url: url as string,
      secret: 'not-the-secret-0123456789',
    });
    await expect(stranger.run('tableRows', { table: 'alerts' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      retriable: false,
    });
    await query.close();
  });
});
