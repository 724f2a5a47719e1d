/**
 * The query side's known dataset, reusable: `buildQueryDataset(base)` returns raw events
 * in log order plus the projections the real processors core derives from them
 * (windows with a late revision, alerts, device states), and `loadQueryDataset` writes
 * all of it into ClickHouse through the sink's own row mapping (sinks/rows.ts), so the
 * rows look exactly like the sink's. A full-pipeline test can instead produce
 * `dataset.events` to Kafka and expect the same numbers (test/e2e/pipeline.int.test.ts
 * does), because the projections here come from the same pure core the `process` service
 * runs. The hand-computed numbers live in the two tests that assert them.
 *
 * Devices (base = a whole hour; every sample 1 s apart):
 *  - truck-1 @depot-a: 120 samples, speed 60 (s 0-59) then 80 (s 60-119), odometer
 *    1000 + 0.02·i, P0217 active at 30.5 s and cleared at 90.5 s, P0300 active at 100.5 s,
 *    engine off at 125 s. Sample 10 arrives last (a late event: window 0 revision 1) and
 *    sample 20 is delivered twice (a resend: same eventId).
 *  Delivery order is event time across devices (as a live fleet), except that late sample.
 *  - truck-2 @depot-a: 60 samples, speed 95 (s 0-39) then 80, odometer 2000 + 0.025·i,
 *    engine off at 61 s → truck.overspeed raised and resolved.
 *  - turbine-1 @plant-1: 120 samples, 1500 kW, vibration 8 → turbine.high_vibration open;
 *    RUNNING for s 0-89, FAULT for s 90-119.
 *  - solar-1 @plant-1: 60 samples, 4000 W. solar-2 @plant-2: 60 samples, 2000 W.
 *  - two dead letters (DECODE_BAD_MAGIC from the sink, TOO_LATE from the processors).
 */
import { expect } from 'vitest';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import { createPartitionCore, DEFAULT_CORE_CONFIG } from '../../processors/core/index.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';
import * as sinkRows from '../../sinks/rows.ts';
import { RECORD_TOPICS } from '../../schemas/catalog.ts';
import type { Alert, DeviceState, RawEvent, RecordName, WindowAggregate } from '../../schemas/types.ts';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/**
 * The fleet summary of the dataset's first hour, computed by hand (the API test and the
 * end-to-end test, which derives the same dataset through the real pipeline, both hold to it).
 */
export function expectedHourSummary() {
  return {
    // truck-1: 120 samples + 3 diagnostics + engine off = 124 events; truck-2: 60 + 1 = 61.
    // Speed: (60·60 + 60·80 + 40·95 + 20·80) / 180 = 13800 / 180.
    // Distance per window is max-min odometer: 2 · 59 · 0.02 + 59 · 0.025 = 3.835 km.
    // Engine on: 60 s in each full window (truck-1: 2, truck-2: 1) = 180 s = 0.05 h.
    truck: {
      devices: 2,
      activeDevices: 2,
      events: 185,
      avgSpeedKmh: expect.closeTo(13800 / 180, 6),
      distanceKm: expect.closeTo(3.835, 6),
      engineOnHours: expect.closeTo(0.05, 6),
      idleHours: 0,
    },
    // 1500 kW for 2 × 60 s = 50 kWh; available (RUNNING) 90 of 120 s. No registry: the
    // turbine is the documented 3 MW machine, so over the hour 50 / (3000 · 1) = 1/60.
    turbine: {
      devices: 1,
      activeDevices: 1,
      events: 120,
      energyKwh: expect.closeTo(50, 6),
      availability: expect.closeTo(0.75, 6),
      capacityKw: 3000,
      capacityFactor: expect.closeTo(50 / 3000, 6),
    },
    // 4 kW and 2 kW for 60 s: 4/60 + 2/60 = 0.1 kWh. An array's size is known from the registry only.
    solar: {
      devices: 2,
      activeDevices: 2,
      events: 120,
      energyKwh: expect.closeTo(0.1, 6),
      capacityKw: null,
      capacityFactor: null,
    },
  };
}

/** A whole hour 3 h ago: inside every TTL, and old enough that every window is final. */
export function datasetBase(now = Date.now()): number {
  return Math.floor(now / HOUR) * HOUR - 3 * HOUR;
}

export interface QueryDataset {
  base: number;
  /** Raw events in log (delivery) order, including the resend and the late sample. */
  events: RawEvent[];
  aggregates: WindowAggregate[];
  alerts: Alert[];
  deviceStates: DeviceState[];
  deadLetters: { code: string; stage: string; topic: string; failedAt: number }[];
}

const uuid = (device: string, seq: number) =>
  `00000000-0000-4000-8000-${(Buffer.from(device).reduce((a, b) => a * 31 + b, 7) % 1e6).toString().padStart(6, '0')}${seq.toString().padStart(6, '0')}`;

export function buildQueryDataset(base: number): QueryDataset {
  const events: RawEvent[] = [];
  const s = (sec: number) => base + Math.round(sec * 1000);

  // truck-1: ts order decides seq; delivery order is ts order except the late sample 10.
  const t1: RawEvent[] = [];
  for (let i = 0; i < 120; i++) {
    t1.push({
      type: 'TruckTelemetry',
      value: {
        eventId: '',
        deviceId: 'truck-1',
        siteId: 'depot-a',
        ts: s(i),
        seq: 0,
        lat: 52.5 + i / 1024,
        lon: 4.25,
        speedKmh: i < 60 ? 60 : 80,
        headingDeg: 90,
        engineTempC: 85.5,
        fuelPct: 50.25,
        odometerKm: 1000 + 0.02 * i,
        engineOn: true,
        cargoTempC: i % 2 === 0 ? 4.5 : null,
      },
    });
  }
  const diag = (sec: number, code: string, active: boolean): RawEvent => ({
    type: 'DiagnosticReported',
    value: {
      eventId: '',
      deviceId: 'truck-1',
      siteId: 'depot-a',
      ts: s(sec),
      seq: 0,
      code,
      severity: 'WARNING',
      description: `${code} ${active ? 'raised' : 'cleared'}`,
      active,
    },
  });
  t1.push(diag(30.5, 'P0217', true), diag(90.5, 'P0217', false), diag(100.5, 'P0300', true));
  t1.push({
    type: 'EngineStateChanged',
    value: { eventId: '', deviceId: 'truck-1', siteId: 'depot-a', ts: s(125), seq: 0, engineOn: false },
  });
  numberInTsOrder(t1);
  const late = t1.find((e) => e.type === 'TruckTelemetry' && e.value.ts === s(10)) as RawEvent;
  const resend = t1.find((e) => e.type === 'TruckTelemetry' && e.value.ts === s(20)) as RawEvent;
  for (const e of t1) {
    if (e === late) continue;
    events.push(e);
    if (e === resend) events.push(e);
  }

  const t2: RawEvent[] = [];
  for (let i = 0; i < 60; i++) {
    t2.push({
      type: 'TruckTelemetry',
      value: {
        eventId: '',
        deviceId: 'truck-2',
        siteId: 'depot-a',
        ts: s(i),
        seq: 0,
        lat: 51.75,
        lon: 5.5,
        speedKmh: i < 40 ? 95 : 80,
        headingDeg: 180,
        engineTempC: 90,
        fuelPct: 75.5,
        odometerKm: 2000 + 0.025 * i,
        engineOn: true,
        cargoTempC: null,
      },
    });
  }
  t2.push({
    type: 'EngineStateChanged',
    value: { eventId: '', deviceId: 'truck-2', siteId: 'depot-a', ts: s(61), seq: 0, engineOn: false },
  });
  numberInTsOrder(t2);
  events.push(...t2);

  const w1: RawEvent[] = [];
  for (let i = 0; i < 120; i++) {
    w1.push({
      type: 'TurbineTelemetry',
      value: {
        eventId: '',
        deviceId: 'turbine-1',
        siteId: 'plant-1',
        ts: s(i),
        seq: 0,
        windSpeedMs: 10,
        rotorRpm: 14.5,
        powerKw: 1500,
        pitchDeg: 2.5,
        nacelleTempC: 40,
        vibrationMmS: 8,
        status: i < 90 ? 'RUNNING' : 'FAULT',
      },
    });
  }
  numberInTsOrder(w1);
  events.push(...w1);

  for (const [deviceId, siteId, power] of [
    ['solar-1', 'plant-1', 4000],
    ['solar-2', 'plant-2', 2000],
  ] as const) {
    const list: RawEvent[] = [];
    for (let i = 0; i < 60; i++) {
      list.push({
        type: 'SolarTelemetry',
        value: {
          eventId: '',
          deviceId,
          siteId,
          ts: s(i),
          seq: 0,
          irradianceWm2: 800,
          panelTempC: 40,
          dcVoltageV: 600,
          dcCurrentA: 7.5,
          acPowerW: power,
          status: 'PRODUCING',
        },
      });
    }
    numberInTsOrder(list);
    events.push(...list);
  }
  // A fleet delivers its devices interleaved by time (stable sort keeps the resend next to
  // its original); only the late sample comes after everything, when its window is closed.
  events.sort((a, b) => a.value.ts - b.value.ts);
  events.push(late);

  // The projections, from the processors' pure core (one partition holds everything).
  const core = createPartitionCore(DEFAULT_CORE_CONFIG);
  const aggregates: WindowAggregate[] = [];
  const alerts: Alert[] = [];
  const states = new Map<string, DeviceState>();
  const collect = (out: ReturnType<typeof core.apply>) => {
    aggregates.push(...out.aggregates);
    alerts.push(...out.alerts);
    for (const st of out.deviceStates) states.set(st.deviceId, st);
  };
  for (const event of events) collect(core.apply(event));
  // Let the idle timer run the stream clock forward: every window closes.
  collect(core.onTimer(base));
  collect(core.onTimer(base + 2 * HOUR));

  return {
    base,
    events,
    aggregates,
    alerts,
    deviceStates: [...states.values()],
    deadLetters: [
      { code: 'DECODE_BAD_MAGIC', stage: 'sink', topic: 'telemetry.truck', failedAt: s(30) },
      { code: 'TOO_LATE', stage: 'processors', topic: 'telemetry.turbine', failedAt: s(90) },
    ],
  };

  function numberInTsOrder(list: RawEvent[]): void {
    list.sort((a, b) => a.value.ts - b.value.ts);
    list.forEach((e, i) => {
      e.value.seq = i + 1;
      e.value.eventId = uuid(e.value.deviceId, i + 1);
    });
  }
}

const RECORD_OF = (event: RawEvent): RecordName => event.type;

/** Writes the dataset with the sink's row mapping: raw events, windows, alerts, states, dead letters. */
export async function loadQueryDataset(backend: ClickHouseBackend, dataset: QueryDataset): Promise<void> {
  const lines = new Map<string, string[]>();
  let offset = 0;
  const add = (record: RecordName, value: unknown) => {
    // The row object (the values the sink's encoded rows carry, in JSON): any backend
    // inserts it.
    const decoded = { record, schemaId: 1, value } as Parameters<typeof sinkRows.mapRecord>[1];
    const at = { partition: 0, offset: String(offset++) };
    const { table } = sinkRows.mapRecord(RECORD_TOPICS[record], decoded, at);
    lines.set(table, [...(lines.get(table) ?? []), JSON.stringify(sinkRows.rowObject(decoded, at))]);
  };
  for (const event of dataset.events) add(RECORD_OF(event), event.value);
  for (const aggregate of dataset.aggregates) add('WindowAggregate', aggregate);
  for (const alert of dataset.alerts) add('Alert', alert);
  for (const state of dataset.deviceStates) add('DeviceState', state);
  dataset.deadLetters.forEach((d, i) => {
    const { table, row: line } = sinkRows.mapDeadLetter({
      partition: 0,
      offset: String(i),
      key: Buffer.from('truck-1'),
      value: Buffer.from([1, 2, 3]),
      headers: {
        [DLQ_HEADERS.code]: d.code,
        [DLQ_HEADERS.message]: `${d.code} in test`,
        [DLQ_HEADERS.stage]: d.stage,
        [DLQ_HEADERS.sourceTopic]: d.topic,
        [DLQ_HEADERS.sourcePartition]: '0',
        [DLQ_HEADERS.sourceOffset]: String(i),
        [DLQ_HEADERS.failedAt]: String(d.failedAt),
      },
    });
    lines.set(table, [...(lines.get(table) ?? []), line]);
  });
  // One insert per table, each row in log order (equal versions keep the last inserted).
  // Lines are JSONEachRow objects or, since the sink's compact format, arrays in the
  // order of TABLE_COLUMNS: both become row objects, which every backend inserts.
  const columnsOf = (sinkRows as { TABLE_COLUMNS?: Record<string, readonly string[]> }).TABLE_COLUMNS;
  for (const [table, rows] of lines) {
    const objects = rows.map((line) => {
      const parsed = JSON.parse(line) as unknown;
      if (!Array.isArray(parsed)) return parsed as Record<string, unknown>;
      const columns = columnsOf?.[table];
      if (!columns) throw new Error(`no column list for compact rows of ${table}`);
      return Object.fromEntries(columns.map((column, i) => [column, parsed[i]]));
    });
    await backend.insert(table, objects);
  }
}
