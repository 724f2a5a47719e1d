/**
 * The event contracts against the real broker and registry: every record round-trips
 * through Kafka in Confluent framing, older writers decode into the newest reader,
 * the registry enforces BACKWARD compatibility, and bad bytes fail with typed errors.
 */
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_SCHEMAS, parseSchema, RECORDS } from '../../schemas/catalog.ts';
import { createSerde, frame, type Serde } from '../../schemas/serde.ts';
import type { RecordName, RecordTypes } from '../../schemas/types.ts';
import { consumeAll, createTestStack, type TestStack } from '../helpers.ts';

const TS = Date.UTC(2026, 10, 22, 10, 0, 0);
const base = (deviceId: string, seq: number) => ({
  eventId: randomUUID(),
  deviceId,
  siteId: 'site-1',
  ts: TS + seq * 1_000,
  seq,
});

const SAMPLES: { [N in RecordName]: RecordTypes[N] } = {
  TruckTelemetry: {
    ...base('truck-1', 1),
    lat: 52.52,
    lon: 13.405,
    speedKmh: 81.5,
    headingDeg: 270,
    engineTempC: 92.25,
    fuelPct: 64.5,
    odometerKm: 120_345.5,
    engineOn: true,
    cargoTempC: 4.5,
  },
  EngineStateChanged: { ...base('truck-1', 2), engineOn: false },
  DiagnosticReported: {
    ...base('truck-1', 3),
    code: 'P0217',
    severity: 'CRITICAL',
    description: 'Engine coolant over temperature',
    active: true,
  },
  TurbineTelemetry: {
    ...base('turbine-1', 1),
    windSpeedMs: 9.5,
    rotorRpm: 14.25,
    powerKw: 1_234.5,
    pitchDeg: 2.5,
    nacelleTempC: 41.5,
    vibrationMmS: 2.25,
    status: 'RUNNING',
  },
  SolarTelemetry: {
    ...base('solar-1', 1),
    irradianceWm2: 812.5,
    panelTempC: 48.5,
    dcVoltageV: 640.5,
    dcCurrentA: 120.25,
    acPowerW: 74_000.5,
    status: 'PRODUCING',
  },
  WindowAggregate: {
    deviceId: 'truck-1',
    siteId: 'site-1',
    kind: 'TRUCK',
    model: null,
    driverId: null,
    windowStart: TS,
    windowEnd: TS + 60_000,
    revision: 1,
    eventCount: 60,
    firstEventTs: TS,
    lastEventTs: TS + 59_000,
    fields: [{ name: 'speedKmh', count: 60, min: 10, max: 90, sum: 3_000 }],
    derived: { distanceKm: 0.8, engineOnSeconds: 60 },
  },
  Alert: {
    alertId: 'truck.overspeed:truck-1:1790000000000',
    rule: 'truck.overspeed',
    deviceId: 'truck-1',
    siteId: 'site-1',
    kind: 'TRUCK',
    model: null,
    driverId: null,
    ruleVersion: 0,
    state: 'RESOLVED',
    severity: 'WARNING',
    raisedAt: TS,
    resolvedAt: TS + 45_000,
    ts: TS + 45_000,
    value: 84,
    threshold: 85,
    message: 'speed back to 84 km/h',
  },
  AlertCommand: {
    commandId: 'cmd-1',
    alertId: 'truck.overspeed:truck-1:1790000000000',
    action: 'SHELVE',
    rule: 'truck.overspeed',
    deviceId: 'truck-1',
    by: 'ops',
    comment: 'maintenance <b>window</b>',
    shelvedUntil: TS + 3_600_000,
    silenceId: 'b5f8c7e2-0000-4000-8000-000000000001',
    ts: TS,
  },
  DeviceState: {
    deviceId: 'turbine-1',
    siteId: 'site-1',
    kind: 'TURBINE',
    model: null,
    driverId: null,
    lastSeen: TS,
    lastEventId: randomUUID(),
    seq: 17,
    eventCount: 17,
    lat: null,
    lon: null,
    speedKmh: null,
    headingDeg: null,
    engineOn: null,
    engineTempC: null,
    fuelPct: null,
    odometerKm: null,
    cargoTempC: null,
    activeDiagnosticCodes: [],
    status: 'RUNNING',
    powerKw: 1_500,
    windSpeedMs: 10.5,
    acPowerW: null,
    irradianceWm2: null,
    energyTodayKwh: 812.25,
    openAlerts: ['turbine.high_vibration'],
  },
};

describe('event contracts on the real broker and registry', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createTestStack('schemas', { partitions: 1 });
    serde = createSerde(stack.config.registry, { topics: stack.topics });
    await serde.registerAll();
  });
  afterAll(async () => {
    await stack?.cleanup();
  });

  it('round-trips every record type through Kafka in Confluent framing', async () => {
    const producer = stack.kafka.producer();
    await producer.connect();
    const names = Object.keys(SAMPLES) as RecordName[];
    const sent = new Map<string, { record: RecordName; value: unknown }>();
    for (const record of names) {
      const value = SAMPLES[record];
      const encoded = serde.encode(record, value as never);
      expect(encoded[0]).toBe(0);
      expect(encoded.readInt32BE(1)).toBe(serde.schemaId(record));
      const key = `${record}-${(value as { deviceId: string }).deviceId}`;
      sent.set(key, { record, value });
      await producer.send(stack.topics[RECORDS[record].topic], [{ key, value: encoded }]);
    }
    await producer.disconnect();

    const topics = new Set(names.map((record) => stack.topics[RECORDS[record].topic]));
    const received = (
      await Promise.all(
        [...topics].map((topic) =>
          consumeAll(stack, topic, names.filter((n) => stack.topics[RECORDS[n].topic] === topic).length),
        ),
      )
    ).flat();
    expect(received).toHaveLength(names.length);

    // A fresh serde has no cache: decoding fetches each writer schema from the registry by id.
    const reader = createSerde(stack.config.registry, { topics: stack.topics });
    for (const message of received) {
      const expected = sent.get(String(message.key));
      expect(expected).toBeDefined();
      const decoded = await reader.decode(message.value);
      expect(decoded.record).toBe(expected?.record);
      expect(decoded.value).toEqual(expected?.value);
    }
  });

  it('decodes a v1 TruckTelemetry with the v2 reader, cargoTempC null', async () => {
    const v1Id = await serde.registerSchema('TruckTelemetry', LEGACY_SCHEMAS.TruckTelemetryV1);
    const { cargoTempC: _dropped, ...v1Value } = SAMPLES.TruckTelemetry;
    const bytes = frame(v1Id, parseSchema(LEGACY_SCHEMAS.TruckTelemetryV1).toBuffer(v1Value));
    const decoded = await createSerde(stack.config.registry, { topics: stack.topics }).decode(bytes);
    expect(decoded.record).toBe('TruckTelemetry');
    expect(decoded.value).toEqual({ ...v1Value, cargoTempC: null });
  });

  it('refuses a backward-incompatible schema (a new field without default) with a clear error', async () => {
    const incompatible = structuredClone(RECORDS.TurbineTelemetry.schema) as { fields: unknown[] };
    incompatible.fields.push({ name: 'bladeCount', type: 'int' });
    await expect(serde.registerSchema('TurbineTelemetry', incompatible as never)).rejects.toMatchObject({
      code: 'SCHEMA_INCOMPATIBLE',
      retriable: false,
      message: expect.stringMatching(/incompatible/i),
    });
  });

  it('accepts a backward-compatible evolution (a new field with a default)', async () => {
    const evolved = structuredClone(RECORDS.SolarTelemetry.schema) as { fields: unknown[] };
    evolved.fields.push({ name: 'stringCount', type: 'int', default: 1 });
    await expect(serde.registerSchema('SolarTelemetry', evolved as never)).resolves.toBeGreaterThan(0);
  });

  it.each([
    ['garbage bytes', () => Buffer.from('this is not avro at all'), 'DECODE_BAD_MAGIC'],
    [
      'a wrong magic byte',
      () =>
        Buffer.concat([
          Buffer.from([7]),
          serde.encode('TurbineTelemetry', SAMPLES.TurbineTelemetry).subarray(1),
        ]),
      'DECODE_BAD_MAGIC',
    ],
    ['an unknown schema id', () => frame(2_000_000_000, Buffer.from([2, 4, 6])), 'DECODE_UNKNOWN_SCHEMA'],
    [
      'truncated Avro',
      () => serde.encode('TurbineTelemetry', SAMPLES.TurbineTelemetry).subarray(0, 20),
      'DECODE_TRUNCATED',
    ],
    ['an empty value', () => Buffer.alloc(0), 'DECODE_EMPTY'],
  ])('raises a typed, non-retriable error for %s', async (_name, bytes, code) => {
    await expect(serde.decode(bytes())).rejects.toMatchObject({
      name: 'FleetgridError',
      code,
      retriable: false,
    });
  });

  it('answers an unknown schema id again from its cache, without asking the registry', async () => {
    const fresh = createSerde(stack.config.registry, { topics: stack.topics });
    const poison = frame(1_999_999_999, Buffer.from([1]));
    await expect(fresh.decode(poison)).rejects.toMatchObject({ code: 'DECODE_UNKNOWN_SCHEMA' });
    // With the registry unreachable, only a cached answer can still say "unknown".
    const offline = createSerde(
      { url: 'http://127.0.0.1:9/apis/ccompat/v7', auth: undefined },
      { topics: stack.topics },
    );
    await expect(offline.decode(poison)).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    const started = Date.now();
    for (let i = 0; i < 200; i++)
      await expect(fresh.decode(poison)).rejects.toMatchObject({ code: 'DECODE_UNKNOWN_SCHEMA' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('raises a retriable REGISTRY_UNAVAILABLE when the registry is down', async () => {
    const down = createSerde(
      { url: 'http://127.0.0.1:9/apis/ccompat/v7', auth: undefined },
      { topics: stack.topics },
    );
    const bytes = serde.encode('SolarTelemetry', SAMPLES.SolarTelemetry);
    await expect(down.decode(bytes)).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retriable: true });
    await expect(down.registerAll(['SolarTelemetry'])).rejects.toMatchObject({
      code: 'REGISTRY_UNAVAILABLE',
      retriable: true,
    });
  });

  it('gives up on a registry that accepts the connection and never answers: retriable, not a hang', async () => {
    // The registry client has no timeout of its own (its `timeout` option never existed).
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const stalled = createSerde(
        { url: `http://127.0.0.1:${port}/apis/ccompat/v7`, auth: undefined },
        { topics: stack.topics, timeoutMs: 1_000 },
      );
      const bytes = serde.encode('SolarTelemetry', SAMPLES.SolarTelemetry);
      await expect(stalled.decode(bytes)).rejects.toMatchObject({
        code: 'REGISTRY_UNAVAILABLE',
        retriable: true,
      });
      await expect(stalled.registerAll(['SolarTelemetry'])).rejects.toMatchObject({
        code: 'REGISTRY_UNAVAILABLE',
        retriable: true,
      });
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);
});
