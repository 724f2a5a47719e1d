/**
 * Device state, pure: the device_state projection row as a DeviceState, and the
 * event-sourced time travel behind `GET /devices/{id}/state?asOf=` — the state rebuilt by
 * folding the device's raw events up to asOf with the processors' own fold
 * (processors/state/device-state.ts foldEvent), so the query side cannot drift from the
 * write side's definition of state.
 *
 * Folding every event since the start of retention would read up to millions of rows per
 * request. The fold only needs the events whose effect survives to asOf, in event-time
 * order: foldEvent overwrites every "latest" field with each newer sample, so
 *  - turbine/solar: the newest telemetry sample decides everything but the event count;
 *  - trucks: the newest TruckTelemetry sets position, speed, temperatures and engineOn;
 *    only EngineStateChanged events at or after it can still change engineOn/speed; the
 *    active diagnostic codes depend on every DiagnosticReported (they are few);
 *  - eventCount is a count, lastSeen/lastEventId/seq come from the newest event.
 * `relevantEvents` is that selection as a pure function; a unit test checks that folding
 * it equals folding everything, and sql.ts asOfEventsSql selects the same rows.
 * energyTodayKwh and openAlerts are not part of foldEvent (the partition core maintains
 * them from windows and alert machines); at asOf they are recomputed from the raw samples
 * of asOf's UTC day and from the alert lifecycle (sql.ts asOfEnergySql, asOfOpenAlertsSql).
 */
import { createDeviceState, foldEvent } from '../processors/state/device-state.ts';
import type { DeviceKindSymbol, DeviceState, RawEvent } from '../schemas/types.ts';

type Row = Record<string, unknown>;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const bool = (v: unknown): boolean | null =>
  v === null || v === undefined ? null : v === true || v === 1 || v === 'true';
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** A device_state row (sql.ts STATE_COLUMNS) as the DeviceState record. */
export function stateFromRow(row: Row): DeviceState {
  return {
    deviceId: str(row.device_id),
    siteId: str(row.site_id),
    kind: str(row.kind) as DeviceKindSymbol,
    model: row.model == null ? null : String(row.model),
    driverId: row.driver_id == null ? null : String(row.driver_id),
    lastSeen: Number(row.last_seen_ms),
    lastEventId: str(row.last_event_id),
    seq: Number(row.seq),
    eventCount: Number(row.event_count),
    lat: num(row.lat),
    lon: num(row.lon),
    speedKmh: num(row.speed_kmh),
    headingDeg: num(row.heading_deg),
    engineOn: bool(row.engine_on),
    engineTempC: num(row.engine_temp_c),
    fuelPct: num(row.fuel_pct),
    odometerKm: num(row.odometer_km),
    cargoTempC: num(row.cargo_temp_c),
    activeDiagnosticCodes: strs(row.active_diagnostic_codes),
    status: row.status === null || row.status === undefined ? null : String(row.status),
    powerKw: num(row.power_kw),
    windSpeedMs: num(row.wind_speed_ms),
    acPowerW: num(row.ac_power_w),
    irradianceWm2: num(row.irradiance_wm2),
    energyTodayKwh: num(row.energy_today_kwh),
    openAlerts: strs(row.open_alerts),
  };
}

/** A row of sql.ts asOfEventsSql as the raw event it was stored from. */
export function eventFromRow(row: Row): RawEvent {
  const base = {
    eventId: str(row.event_id),
    deviceId: str(row.device_id),
    siteId: str(row.site_id),
    ts: Number(row.ts_ms),
    seq: Number(row.seq),
  };
  switch (row.type) {
    case 'TruckTelemetry':
      return {
        type: 'TruckTelemetry',
        value: {
          ...base,
          lat: Number(row.lat),
          lon: Number(row.lon),
          speedKmh: Number(row.speed_kmh),
          headingDeg: Number(row.heading_deg),
          engineTempC: Number(row.engine_temp_c),
          fuelPct: Number(row.fuel_pct),
          odometerKm: Number(row.odometer_km),
          engineOn: bool(row.engine_on) === true,
          cargoTempC: num(row.cargo_temp_c),
        },
      };
    case 'EngineStateChanged':
      return { type: 'EngineStateChanged', value: { ...base, engineOn: bool(row.engine_on) === true } };
    case 'DiagnosticReported':
      return {
        type: 'DiagnosticReported',
        value: {
          ...base,
          code: str(row.code),
          severity: str(row.severity) as 'INFO' | 'WARNING' | 'CRITICAL',
          description: str(row.description),
          active: bool(row.active) === true,
        },
      };
    case 'TurbineTelemetry':
      return {
        type: 'TurbineTelemetry',
        value: {
          ...base,
          windSpeedMs: Number(row.wind_speed_ms),
          rotorRpm: Number(row.rotor_rpm),
          powerKw: Number(row.power_kw),
          pitchDeg: Number(row.pitch_deg),
          nacelleTempC: Number(row.nacelle_temp_c),
          vibrationMmS: Number(row.vibration_mm_s),
          status: str(row.status) as 'RUNNING',
        },
      };
    case 'SolarTelemetry':
      return {
        type: 'SolarTelemetry',
        value: {
          ...base,
          irradianceWm2: Number(row.irradiance_wm2),
          panelTempC: Number(row.panel_temp_c),
          dcVoltageV: Number(row.dc_voltage_v),
          dcCurrentA: Number(row.dc_current_a),
          acPowerW: Number(row.ac_power_w),
          status: str(row.status) as 'PRODUCING',
        },
      };
    default:
      throw new Error(`unexpected event type in asOf rows: ${String(row.type)}`);
  }
}

const byEventTime = (a: RawEvent, b: RawEvent) => a.value.ts - b.value.ts || a.value.seq - b.value.seq;

/** The subset of events (with ts <= asOf) whose fold equals the fold of all of them; see the header. */
export function relevantEvents(events: readonly RawEvent[], asOf: number): RawEvent[] {
  const upTo = events.filter((e) => e.value.ts <= asOf).sort(byEventTime);
  let newestSample: RawEvent | undefined;
  for (const e of upTo)
    if (e.type !== 'EngineStateChanged' && e.type !== 'DiagnosticReported') newestSample = e;
  const sampleTs = newestSample?.value.ts ?? Number.NEGATIVE_INFINITY;
  return upTo.filter(
    (e) =>
      e === newestSample ||
      e.type === 'DiagnosticReported' ||
      (e.type === 'EngineStateChanged' && e.value.ts >= sampleTs),
  );
}

export interface AsOfFacts {
  /** Distinct events with ts <= asOf (all of them, not only the folded ones). */
  eventCount: number;
  /** Turbines and solar: energy of asOf's UTC day up to asOf; null for trucks. */
  energyTodayKwh: number | null;
  /** Rules with an alert open at asOf. */
  openAlerts: string[];
}

/**
 * Folds events (any order; sorted here by event time) into the state of one device.
 * Event time, not arrival order, decides "latest", which is what the processors converge
 * to and what makes the answer independent of how the log was partitioned or replayed.
 */
export function foldState(
  identity: { deviceId: string; siteId: string; kind: DeviceKindSymbol },
  events: readonly RawEvent[],
  facts: AsOfFacts,
): DeviceState {
  const state = createDeviceState(identity.deviceId, identity.siteId, identity.kind);
  for (const event of [...events].sort(byEventTime)) foldEvent(state, event);
  state.eventCount = facts.eventCount;
  state.energyTodayKwh = identity.kind === 'TRUCK' ? null : facts.energyTodayKwh;
  state.openAlerts = [...facts.openAlerts].sort();
  return state;
}

export const DAY_MS = 86_400_000;

export function utcDayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The API shape of a state: the DeviceState record with lowercase kind and ISO lastSeen. */
export function stateView(state: DeviceState): Record<string, unknown> {
  return {
    ...state,
    kind: state.kind.toLowerCase(),
    lastSeen: new Date(state.lastSeen).toISOString(),
  };
}
