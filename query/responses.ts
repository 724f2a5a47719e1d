/**
 * The shapes of the API's answers, as zod schemas: the OpenAPI document's response schemas
 * are generated from them, and the integration test parses real answers with them, so the
 * document is checked against what the server sends.
 */
import { z } from 'zod';
import { SUMMARY_GROUPINGS } from './params.ts';

const time = z.iso.datetime();
const num = z.number();
const nullableNum = num.nullable();

export const errorBody = z.strictObject({ error: z.string(), message: z.string() });

export const summaryBody = z.strictObject({
  from: time,
  to: time,
  siteId: z.string().optional(),
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
    capacityKw: nullableNum,
    capacityFactor: nullableNum,
  }),
  solar: z.strictObject({
    devices: num,
    activeDevices: num,
    events: num,
    energyKwh: num,
    capacityKw: nullableNum,
    capacityFactor: nullableNum,
  }),
  alerts: z.strictObject({ raised: num, open: num }),
});

const kindName = z.enum(['truck', 'turbine', 'solar']);

/** `?groupBy=`: one row per group, every figure present (null where it does not apply). */
export const summaryGroupsBody = z.strictObject({
  from: time,
  to: time,
  siteId: z.string().optional(),
  groupBy: z.enum(SUMMARY_GROUPINGS),
  groups: z.array(
    z.strictObject({
      siteId: z.string().optional(),
      /** groupBy=model|driver: the registry's value; null in the unregistered bucket (registered: false). */
      model: z.string().nullable().optional(),
      driverId: z.string().nullable().optional(),
      driverName: z.string().nullable().optional(),
      registered: z.boolean().optional(),
      kind: kindName,
      devices: num,
      activeDevices: num,
      events: num,
      avgSpeedKmh: nullableNum,
      distanceKm: nullableNum,
      engineOnHours: nullableNum,
      idleHours: nullableNum,
      energyKwh: nullableNum,
      availability: nullableNum,
      capacityKw: nullableNum,
      capacityFactor: nullableNum,
      alertsRaised: num,
      alertsOpen: num,
    }),
  ),
});

export const extentBody = z.strictObject({ oldest: time.nullable(), newest: time.nullable(), rows: num });

export const referenceBody = z.strictObject({
  alertRules: z.array(
    z.strictObject({
      id: z.string(),
      kind: kindName,
      severity: z.string(),
      description: z.string(),
      thresholds: z.array(
        z.strictObject({
          field: z.string(),
          op: z.enum(['>', '>=', '<', '<=']),
          value: num,
          role: z.enum(['raise', 'resolve']),
        }),
      ),
    }),
  ),
  powerCurve: z.strictObject({
    model: z.string(),
    ratedKw: num,
    cutInMs: num,
    ratedWindMs: num,
    cutOutMs: num,
    points: z.array(z.strictObject({ windMs: num, powerKw: num })),
  }),
});

export const diagnosticsBody = z.strictObject({
  deviceId: z.string(),
  kind: kindName,
  from: time,
  to: time,
  truncated: z.boolean(),
  diagnostics: z.array(
    z.strictObject({
      t: time,
      code: z.string(),
      severity: z.string(),
      description: z.string(),
      active: z.boolean(),
    }),
  ),
});

export const statusBody = z.strictObject({
  deviceId: z.string(),
  kind: kindName,
  from: time,
  to: time,
  gapSeconds: num,
  truncated: z.boolean(),
  seconds: z.record(z.string(), num),
  runs: z.array(z.strictObject({ from: time, to: time, status: z.string() })),
});

export const trackBody = z.strictObject({
  deviceId: z.string(),
  from: time,
  to: time,
  zoom: num.nullable(),
  positions: num,
  thinnedToMs: num.nullable(),
  points: z.array(z.strictObject({ t: time, lat: num, lon: num })),
});

const trackFields = {
  zoom: num.nullable(),
  positions: num,
  thinnedToMs: num.nullable(),
  points: z.array(z.strictObject({ t: time, lat: num, lon: num })),
};

const trip = z.strictObject({
  tripId: z.string(),
  deviceId: z.string(),
  startedAt: time,
  endedAt: time,
  startLat: num,
  startLon: num,
  endLat: num,
  endLon: num,
  endedBy: z.enum(['engine_off', 'silence', 'open']),
  durationS: num,
  drivingS: num,
  idleS: num,
  distanceKm: num,
  maxSpeedKmh: num,
  avgSpeedKmh: num,
  harshBrakings: num,
  overspeedS: num,
  fuelUsedPct: num,
  cargoExcursions: num,
  cargoExcursionS: num,
  maxCargoTempC: nullableNum,
  samples: num,
});

export const tripsBody = z.strictObject({
  deviceId: z.string(),
  from: time,
  to: time,
  truncated: z.boolean(),
  trips: z.array(trip),
});

export const tripBody = z.strictObject({ trip, track: z.strictObject(trackFields) });

const performanceFigures = {
  energyKwh: num,
  coveredSeconds: num,
  capacityFactor: nullableNum,
  availability: nullableNum.optional(),
  irradiationKwhM2: num.optional(),
  performanceRatio: nullableNum.optional(),
};

export const performanceBody = z.strictObject({
  deviceId: z.string(),
  kind: kindName,
  step: z.enum(['1m', '1h', '1d']),
  from: time,
  to: time,
  capacityKw: nullableNum,
  capacitySource: z.enum(['registry', 'default']).nullable(),
  totals: z.strictObject(performanceFigures),
  points: z.array(z.strictObject({ t: time, ...performanceFigures })),
});

export const deviceState = z.strictObject({
  deviceId: z.string(),
  siteId: z.string(),
  kind: z.enum(['truck', 'turbine', 'solar']),
  model: z
    .string()
    .nullable()
    .describe("The registry's model when the newest event was processed; null: no registry join."),
  driverId: z
    .string()
    .nullable()
    .describe(
      "The truck's driver when the newest event was processed; null: no driver, not a truck, or no registry join.",
    ),
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

/** A recorded operator command on an alert (query/alert-actions.ts). */
export const actionBody = z.strictObject({
  commandId: z.string(),
  action: z.enum(['ACK', 'SHELVE', 'UNSHELVE', 'COMMENT']),
  by: z.string(),
  comment: z.string(),
  shelvedUntil: time.nullable(),
  silenceId: z.string().nullable(),
  at: time,
});

/** The answer to a command: the command as recorded, the same for a repeated commandId. */
export const commandBody = actionBody.extend({ alertId: z.string() });

export const alertBody = z.strictObject({
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
  model: z
    .string()
    .nullable()
    .describe(
      "The registry's model of the device when the transition was processed; null: no registry join.",
    ),
  driverId: z
    .string()
    .nullable()
    .describe(
      "The truck's driver when the transition was processed; null: no driver, not a truck, or no registry join.",
    ),
  ruleVersion: num.describe(
    'Version of the registry rule row that decided the transition; 0: the built-in parameters.',
  ),
  acknowledged: z.strictObject({ by: z.string(), at: time, comment: z.string() }).nullable(),
  shelved: z
    .strictObject({
      until: time,
      by: z.string(),
      at: time,
      reason: z.string(),
      silenceId: z.string().nullable(),
    })
    .nullable(),
  history: z.array(actionBody),
});

export const alertsBody = z.strictObject({
  state: z.enum(['open', 'resolved', 'all']),
  from: time.nullable(),
  to: time.nullable(),
  alerts: z.array(alertBody),
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
    byStage: z.array(z.strictObject({ stage: z.string(), records: num })),
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
  /** The fleet registry's CDC (docs/registry.md); present when the server knows the registry. */
  registry: z
    .union([
      unavailable,
      z.strictObject({
        available: z.literal(true),
        healthy: z.boolean(),
        database: z.strictObject({ available: z.boolean(), error: z.string().optional() }),
        connector: z.strictObject({
          name: z.string(),
          state: z.string(),
          tasks: z.array(z.string()),
          error: z.string().optional(),
        }),
        slot: z
          .strictObject({ name: z.string(), active: z.boolean(), retainedBytes: num, lagBytes: num })
          .nullable(),
      }),
    ])
    .optional(),
});

/** JSON Schema of a response body for the OpenAPI document. */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}
