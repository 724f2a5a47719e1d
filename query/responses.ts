/**
 * The shapes of the API's answers, as zod schemas: the OpenAPI document's response schemas
 * are generated from them, and the integration test parses real answers with them, so the
 * document is checked against what the server sends.
 */
import { z } from 'zod';

const time = z.iso.datetime();
const num = z.number();
const nullableNum = num.nullable();

export const errorBody = z.strictObject({ error: z.string(), message: z.string() });

export const summaryBody = z.strictObject({
  from: time,
  to: time,
  truck: z.strictObject({
    devices: num,
    activeDevices: num,
    events: num,
    avgSpeedKmh: nullableNum,
    distanceKm: num,
    engineOnHours: num,
    idleHours: num,
  }),
  turbine: z.strictObject({
    devices: num,
    activeDevices: num,
    events: num,
    energyKwh: num,
    availability: nullableNum,
  }),
  solar: z.strictObject({ devices: num, activeDevices: num, events: num, energyKwh: num }),
  alerts: z.strictObject({ raised: num, open: num }),
});

export const deviceState = z.strictObject({
  deviceId: z.string(),
  siteId: z.string(),
  kind: z.enum(['truck', 'turbine', 'solar']),
  lastSeen: time,
  lastEventId: z.string(),
  seq: num,
  eventCount: num,
  lat: nullableNum,
  lon: nullableNum,
  speedKmh: nullableNum,
  headingDeg: nullableNum,
  engineOn: z.boolean().nullable(),
  engineTempC: nullableNum,
  fuelPct: nullableNum,
  odometerKm: nullableNum,
  cargoTempC: nullableNum,
  activeDiagnosticCodes: z.array(z.string()),
  status: z.string().nullable(),
  powerKw: nullableNum,
  windSpeedMs: nullableNum,
  acPowerW: nullableNum,
  irradianceWm2: nullableNum,
  energyTodayKwh: nullableNum,
  openAlerts: z.array(z.string()),
});

export const devicesBody = z.strictObject({
  devices: z.array(deviceState),
  nextCursor: z.string().nullable(),
});

export const stateBody = z.strictObject({
  deviceId: z.string(),
  asOf: time.nullable(),
  source: z.enum(['projection', 'event-fold']),
  state: deviceState,
});

export const seriesBody = z.strictObject({
  deviceId: z.string(),
  kind: z.enum(['truck', 'turbine', 'solar']),
  metric: z.string(),
  step: z.enum(['raw', '1m', '1h', '1d']),
  from: time,
  to: time,
  truncated: z.boolean(),
  points: z.union([
    z.array(z.strictObject({ t: time, value: num })),
    z.array(
      z.strictObject({
        t: time,
        count: num,
        min: num,
        max: num,
        avg: nullableNum,
        sum: num,
        final: z.boolean(),
        revision: num,
      }),
    ),
  ]),
});

export const energyBody = z.strictObject({
  siteId: z.string(),
  step: z.enum(['1m', '1h', '1d']),
  from: time,
  to: time,
  totals: z.strictObject({ turbineKwh: num, solarKwh: num, totalKwh: num }),
  points: z.array(z.strictObject({ t: time, turbineKwh: num, solarKwh: num, totalKwh: num })),
});

export const alertsBody = z.strictObject({
  state: z.enum(['open', 'resolved', 'all']),
  from: time.nullable(),
  to: time.nullable(),
  alerts: z.array(
    z.strictObject({
      alertId: z.string(),
      rule: z.string(),
      deviceId: z.string(),
      siteId: z.string(),
      kind: z.string(),
      state: z.enum(['RAISED', 'RESOLVED']),
      severity: z.string(),
      raisedAt: time,
      resolvedAt: time.nullable(),
      updatedAt: time,
      value: nullableNum,
      threshold: nullableNum,
      message: z.string(),
    }),
  ),
});

const unavailable = z.strictObject({ available: z.literal(false), reason: z.string() });

export const healthBody = z.strictObject({
  at: time,
  freshness: z.strictObject({
    newestEvent: time.nullable(),
    seconds: nullableNum,
    sources: z.array(
      z.strictObject({ source: z.string(), newest: time.nullable(), seconds: nullableNum, rows: num }),
    ),
  }),
  consumerLag: z.union([
    unavailable,
    z.strictObject({
      available: z.literal(true),
      groups: z.array(
        z.object({
          groupId: z.string(),
          lag: num,
          partitions: z.array(
            z.strictObject({ topic: z.string(), partition: num, committed: nullableNum, end: num, lag: num }),
          ),
          error: z.string().optional(),
        }),
      ),
    }),
  ]),
  deadLetters: z.strictObject({
    total: num,
    byCode: z.array(z.strictObject({ code: z.string(), stage: z.string(), records: num, last: time })),
  }),
  backpressure: z.union([
    unavailable,
    z.strictObject({
      available: z.literal(true),
      services: z.array(
        z.union([
          z.strictObject({
            service: z.string(),
            pausedPartitions: nullableNum,
            bufferedRows: nullableNum,
            pauses: nullableNum,
            state: z.enum(['flowing', 'paused', 'unknown']),
          }),
          z.strictObject({ service: z.string(), error: z.string() }),
        ]),
      ),
    }),
  ]),
});

/** JSON Schema of a response body for the OpenAPI document. */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}
