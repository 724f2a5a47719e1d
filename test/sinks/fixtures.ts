/**
 * Input for the sink's integration tests, crafted with the real serde (the producers and
 * processors are other components): raw events of every kind, window aggregates computed
 * here from the raw truck events (with a late revision), alerts, device states, bad bytes.
 */
import { randomUUID } from 'node:crypto';
import type { OutgoingMessage } from '../../lib/kafka/index.ts';
import type { Serde } from '../../schemas/serde.ts';
import type {
  Alert,
  AlertCommand,
  DeviceState,
  DiagnosticReported,
  EngineStateChanged,
  SolarTelemetry,
  TruckTelemetry,
  TurbineTelemetry,
  WindowAggregate,
} from '../../schemas/types.ts';

export const MINUTE = 60_000;

/** A minute boundary an hour or so ago: inside every TTL and validation range. */
export function baseTime(now = Date.now()): number {
  return Math.floor((now - 2 * 3_600_000) / 3_600_000) * 3_600_000;
}

export function truck(deviceId: string, ts: number, seq: number, speed = 50 + (seq % 40)): TruckTelemetry {
  return {
    eventId: randomUUID(),
    deviceId,
    siteId: 'depot-1',
    ts,
    seq,
    lat: 52.1 + seq / 10_000,
    lon: 4.3,
    speedKmh: speed,
    headingDeg: 90,
    engineTempC: 80 + (seq % 7),
    fuelPct: 60,
    odometerKm: 1000 + seq,
    engineOn: true,
    cargoTempC: seq % 2 === 0 ? 4.5 : null,
  };
}

export function engine(deviceId: string, ts: number, seq: number): EngineStateChanged {
  return { eventId: randomUUID(), deviceId, siteId: 'depot-1', ts, seq, engineOn: seq % 2 === 0 };
}

export function diagnostic(deviceId: string, ts: number, seq: number): DiagnosticReported {
  return {
    eventId: randomUUID(),
    deviceId,
    siteId: 'depot-1',
    ts,
    seq,
    code: 'P0217',
    severity: 'WARNING',
    description: 'engine over temperature',
    active: true,
  };
}

export function turbine(deviceId: string, ts: number, seq: number): TurbineTelemetry {
  return {
    eventId: randomUUID(),
    deviceId,
    siteId: 'plant-w',
    ts,
    seq,
    windSpeedMs: 9,
    rotorRpm: 14,
    powerKw: 1500 + seq,
    pitchDeg: 3,
    nacelleTempC: 40,
    vibrationMmS: 2.5,
    status: 'RUNNING',
  };
}

export function solar(deviceId: string, ts: number, seq: number): SolarTelemetry {
  return {
    eventId: randomUUID(),
    deviceId,
    siteId: 'plant-s',
    ts,
    seq,
    irradianceWm2: 700,
    panelTempC: 45,
    dcVoltageV: 600,
    dcCurrentA: 10,
    acPowerW: 5800 + seq,
    status: 'PRODUCING',
  };
}

const TRUCK_FIELDS = ['speedKmh', 'engineTempC', 'fuelPct'] as const;

/** The window aggregate of `events` (one device, one minute), as the window processor defines it. */
export function windowOf(events: TruckTelemetry[], windowStart: number, revision: number): WindowAggregate {
  const first = events[0] as TruckTelemetry;
  return {
    deviceId: first.deviceId,
    siteId: first.siteId,
    kind: 'TRUCK',
    model: null,
    driverId: null,
    windowStart,
    windowEnd: windowStart + MINUTE,
    revision,
    eventCount: events.length,
    firstEventTs: Math.min(...events.map((e) => e.ts)),
    lastEventTs: Math.max(...events.map((e) => e.ts)),
    fields: TRUCK_FIELDS.map((name) => {
      const values = events.map((e) => e[name]);
      return {
        name,
        count: values.length,
        min: Math.min(...values),
        max: Math.max(...values),
        sum: values.reduce((a, b) => a + b, 0),
      };
    }),
    derived: { distanceKm: events.length / 10 },
  };
}

export function alert(deviceId: string, raisedAt: number, state: 'RAISED' | 'RESOLVED'): Alert {
  return {
    alertId: `truck.overspeed:${deviceId}:${raisedAt}`,
    rule: 'truck.overspeed',
    deviceId,
    siteId: 'depot-1',
    kind: 'TRUCK',
    model: null,
    driverId: null,
    ruleVersion: 0,
    state,
    severity: 'WARNING',
    raisedAt,
    resolvedAt: state === 'RESOLVED' ? raisedAt + 45_000 : null,
    ts: state === 'RESOLVED' ? raisedAt + 45_000 : raisedAt,
    value: 95,
    threshold: 90,
    message: 'speed above 90 km/h for 30 s',
  };
}

export function alertCommand(alertId: string, commandId: string, ts: number): AlertCommand {
  return {
    commandId,
    alertId,
    action: 'SHELVE',
    rule: 'truck.overspeed',
    deviceId: 'truck-1',
    by: 'ops@example.org',
    comment: 'maintenance window',
    shelvedUntil: ts + 3_600_000,
    silenceId: 'silence-1',
    ts,
  };
}

export function deviceState(deviceId: string, seq: number, lastSeen: number): DeviceState {
  return {
    deviceId,
    siteId: 'depot-1',
    kind: 'TRUCK',
    model: null,
    driverId: null,
    lastSeen,
    lastEventId: randomUUID(),
    seq,
    eventCount: seq + 1,
    lat: 52.1,
    lon: 4.3,
    speedKmh: 60,
    headingDeg: 90,
    engineOn: true,
    engineTempC: 85,
    fuelPct: 55,
    odometerKm: 1200,
    cargoTempC: null,
    activeDiagnosticCodes: ['P0217'],
    status: null,
    powerKw: null,
    windSpeedMs: null,
    acPowerW: null,
    irradianceWm2: null,
    energyTodayKwh: null,
    openAlerts: [],
  };
}

export function message(key: string, value: Buffer): OutgoingMessage {
  return { key, value };
}

/** Encodes raw truck events by record type. */
export function encodeTruckEvent(
  serde: Serde,
  event: TruckTelemetry | EngineStateChanged | DiagnosticReported,
): Buffer {
  if ('code' in event) return serde.encode('DiagnosticReported', event);
  if ('lat' in event) return serde.encode('TruckTelemetry', event);
  return serde.encode('EngineStateChanged', event);
}

/** Polls until `check` returns true or the time runs out; returns the last value of `check`. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return check();
}
