/**
 * A small, deterministic world for the dashboard tests, written straight into the
 * projection tables (the shapes of docs/sinks.md): 3 trucks at 2 depots, 2 turbines and
 * 2 solar arrays at 2 plants, 3 hours of raw samples every 10 s ending shortly before
 * now (the raw tables have a TTL, so the data must be recent), the 1-minute windows
 * computed from those samples, the latest device states, open and resolved alerts, and
 * dead letters. Every panel of the dashboards has something to show.
 */
import { expectedPowerKw } from '../../domain/power-curve.ts';
import type { ClickHouseBackend } from '../../clickhouse/index.ts';

export const MINUTE = 60_000;
export const SAMPLE_MS = 10_000;
export const SPAN_MS = 3 * 60 * MINUTE;

export interface Device {
  id: string;
  site: string;
  kind: 'TRUCK' | 'TURBINE' | 'SOLAR';
}

export const DEVICES: readonly Device[] = [
  { id: 'truck-001', site: 'depot-rotterdam', kind: 'TRUCK' },
  { id: 'truck-002', site: 'depot-rotterdam', kind: 'TRUCK' },
  { id: 'truck-003', site: 'depot-lyon', kind: 'TRUCK' },
  { id: 'turbine-001', site: 'plant-northsea', kind: 'TURBINE' },
  { id: 'turbine-002', site: 'plant-northsea', kind: 'TURBINE' },
  { id: 'solar-001', site: 'plant-sevilla', kind: 'SOLAR' },
  { id: 'solar-002', site: 'plant-northsea', kind: 'SOLAR' },
];

type Row = Record<string, unknown>;

interface FieldStats {
  count: number;
  min: number;
  max: number;
  sum: number;
}

function addStat(stats: Map<string, FieldStats>, field: string, value: number): void {
  const s = stats.get(field);
  if (!s) stats.set(field, { count: 1, min: value, max: value, sum: value });
  else {
    s.count++;
    s.min = Math.min(s.min, value);
    s.max = Math.max(s.max, value);
    s.sum += value;
  }
}

const DIAGNOSTIC_TEXT: Record<string, string> = {
  P0217: 'Engine coolant over temperature',
  P0300: 'Random/multiple cylinder misfire',
  P0420: 'Catalyst system efficiency below threshold',
};

export interface FixtureWorld {
  /** Last sample time (epoch ms); the data covers [end - SPAN_MS, end]. */
  end: number;
  rows: Record<string, Row[]>;
}

/** Builds the rows; `end` defaults to the last whole minute at least 2 minutes ago. */
export function buildWorld(now = Date.now()): FixtureWorld {
  const end = Math.floor(now / MINUTE) * MINUTE - 2 * MINUTE;
  const start = end - SPAN_MS;
  const rows: Record<string, Row[]> = {
    truck_telemetry: [],
    turbine_telemetry: [],
    solar_telemetry: [],
    truck_diagnostics: [],
    aggregates_1m: [],
    device_state: [],
    alerts: [],
    dead_letters: [],
    dim_devices: [],
  };
  let offset = 0;
  for (const [d, device] of DEVICES.entries()) {
    // Per-minute window statistics, in Avro field names like the window processor's.
    const windows = new Map<
      number,
      { stats: Map<string, FieldStats>; first: number; last: number; n: number }
    >();
    let seq = 0;
    let last: Row = {};
    for (let ts = start; ts <= end; ts += SAMPLE_MS) {
      const i = (ts - start) / SAMPLE_MS;
      seq++;
      const common = {
        event_id: `${device.id}-${seq}`,
        device_id: device.id,
        site_id: device.site,
        ts,
        seq,
        schema_id: 1,
        kafka_partition: d % 3,
        kafka_offset: offset++,
      };
      const fields: Record<string, number> = {};
      if (device.kind === 'TRUCK') {
        const speed = 60 + 30 * Math.sin(i / 20 + d);
        const row = {
          ...common,
          lat: 51.9 - d * 2 + i * 0.0005,
          lon: 4.5 + d + i * 0.0007,
          speed_kmh: speed,
          heading_deg: 90,
          engine_temp_c: 88 + d + 3 * Math.sin(i / 40),
          fuel_pct: 90 - i * 0.01 - d * 5,
          odometer_km: 120_000 + d * 1000 + i * 0.2,
          // A 30 s stop with the engine off every 10 minutes, so trips (query/sql-trips.ts) start
          // in every range the tests ask (the speed is left as it is: no figure reads it with the engine state).
          engine_on: i % 60 < 57,
          // truck-001 and truck-003 are refrigerated: their cargo stays in the chilled band; truck-002 is dry.
          cargo_temp_c: device.id === 'truck-002' ? null : 4 + d + 2 * Math.sin(i / 60),
        };
        rows.truck_telemetry?.push(row);
        Object.assign(fields, {
          speedKmh: row.speed_kmh,
          fuelPct: row.fuel_pct,
          engineTempC: row.engine_temp_c,
          odometerKm: row.odometer_km,
          ...(row.cargo_temp_c === null ? {} : { cargoTempC: row.cargo_temp_c }),
        });
        last = row;
      } else if (device.kind === 'TURBINE') {
        const wind = 9 + 5 * Math.sin(i / 30 + d);
        const fault = device.id === 'turbine-002' && i % 180 < 20;
        const power = fault ? 0 : expectedPowerKw(wind) * (0.92 + 0.04 * d);
        const row = {
          ...common,
          wind_speed_ms: wind,
          rotor_rpm: 12,
          power_kw: power,
          pitch_deg: 0,
          nacelle_temp_c: 38 + (8 * power) / 3000,
          // turbine-002's bearing is worn: vibration above the 7 mm/s limit for a while each half hour.
          vibration_mm_s: device.id === 'turbine-002' && i % 180 > 150 ? 8.5 : 2 + wind / 10,
          status: fault ? 'FAULT' : 'RUNNING',
        };
        rows.turbine_telemetry?.push(row);
        Object.assign(fields, {
          windSpeedMs: wind,
          powerKw: power,
          rotorRpm: 12,
          nacelleTempC: row.nacelle_temp_c,
          vibrationMmS: row.vibration_mm_s,
        });
        last = row;
      } else {
        const irradiance = 600 + 200 * Math.sin(i / 50);
        const row = {
          ...common,
          irradiance_wm2: irradiance,
          panel_temp_c: 30 + irradiance * 0.02,
          dc_voltage_v: 600,
          dc_current_a: irradiance / 20,
          ac_power_w: irradiance * 40,
          status: 'PRODUCING',
        };
        rows.solar_telemetry?.push(row);
        Object.assign(fields, {
          irradianceWm2: irradiance,
          acPowerW: row.ac_power_w,
          panelTempC: row.panel_temp_c,
        });
        last = row;
      }
      const windowStart = Math.floor(ts / MINUTE) * MINUTE;
      let w = windows.get(windowStart);
      if (!w) {
        w = { stats: new Map(), first: ts, last: ts, n: 0 };
        windows.set(windowStart, w);
      }
      w.n++;
      w.last = ts;
      for (const [field, value] of Object.entries(fields)) addStat(w.stats, field, value);
    }
    for (const [windowStart, w] of windows) {
      const covered = Math.min(60, (w.last - w.first + SAMPLE_MS) / 1000);
      const mean = (f: string) => {
        const s = w.stats.get(f);
        return s ? s.sum / s.count : 0;
      };
      const odo = w.stats.get('odometerKm');
      const derived: Record<string, number> =
        device.kind === 'TRUCK'
          ? {
              coveredSeconds: covered,
              distanceKm: odo ? odo.max - odo.min : 0,
              engineOnSeconds: covered,
              idleSeconds: 0,
            }
          : device.kind === 'TURBINE'
            ? {
                coveredSeconds: covered,
                energyKwh: (mean('powerKw') * covered) / 3600,
                availableSeconds: covered,
              }
            : { coveredSeconds: covered, energyKwh: (mean('acPowerW') / 1000) * (covered / 3600) };
      const map = (key: keyof FieldStats) =>
        Object.fromEntries([...w.stats].map(([field, s]) => [field, s[key]]));
      const aggregate = {
        device_id: device.id,
        site_id: device.site,
        kind: device.kind,
        window_start: windowStart,
        window_end: windowStart + MINUTE,
        revision: 0,
        event_count: w.n,
        first_event_ts: w.first,
        last_event_ts: w.last,
        field_count: map('count'),
        field_min: map('min'),
        field_max: map('max'),
        field_sum: map('sum'),
        derived,
        kafka_partition: d % 3,
        kafka_offset: offset++,
      };
      rows.aggregates_1m?.push(aggregate);
      // A late revision of the first window: FINAL must show only this one.
      if (windowStart === Math.floor(start / MINUTE) * MINUTE) {
        rows.aggregates_1m?.push({ ...aggregate, revision: 1, kafka_offset: offset++ });
      }
    }
    rows.device_state?.push(deviceState(device, last, seq));
  }
  // truck-001's diagnostic code history: the engine overheated and cooled down, a misfire and a
  // catalyst code are still active (the last one inside every range the Grafana test uses).
  const diagnostic = (n: number, at: number, code: string, active: boolean) => ({
    event_id: `truck-001-diag-${n}`,
    device_id: 'truck-001',
    site_id: 'depot-rotterdam',
    ts: at,
    seq: 100_000 + n,
    code,
    severity: code === 'P0217' ? 'CRITICAL' : 'WARNING',
    description: DIAGNOSTIC_TEXT[code] ?? code,
    active,
    schema_id: 1,
    kafka_partition: 0,
    kafka_offset: offset++,
  });
  rows.truck_diagnostics?.push(
    diagnostic(1, end - 100 * MINUTE, 'P0217', true),
    diagnostic(2, end - 80 * MINUTE, 'P0217', false),
    diagnostic(3, end - 30 * MINUTE, 'P0300', true),
    diagnostic(4, end - 5 * MINUTE, 'P0420', true),
  );
  rows.alerts?.push(
    alert('a-1', 'truck.overspeed', DEVICES[0] as Device, end - 20 * MINUTE, 'RAISED', 95, 90),
    alert('a-2', 'truck.engine_overheat', DEVICES[1] as Device, end - 90 * MINUTE, 'RAISED', 107, 105),
    {
      ...alert('a-2', 'truck.engine_overheat', DEVICES[1] as Device, end - 90 * MINUTE, 'RESOLVED', 99, 100),
    },
    alert('a-3', 'turbine.high_vibration', DEVICES[4] as Device, end - 30 * MINUTE, 'RAISED', 8, 7),
    alert('a-4', 'solar.inverter_fault', DEVICES[5] as Device, end - 10 * MINUTE, 'RAISED', 5, 10),
  );
  // The registry's dimension rows (sinks/dims.ts): two trucks registered, truck-003 not, one
  // deleted row (it must not count).
  const dim = (id: string, model: string, version: number, deleted = 0) => ({
    id,
    kind: 'truck',
    site_id: 'depot-rotterdam',
    model,
    status: 'active',
    version,
    updated_at: end,
    deleted,
    kafka_offset: version,
  });
  rows.dim_devices?.push(
    dim('truck-001', 'tractor-40t', 1),
    dim('truck-002', 'tractor-18t', 2),
    dim('truck-002', '', 3, 1),
    dim('truck-002', 'tractor-40t-reefer', 4),
  );
  const codes = ['DECODE_BAD_MAGIC', 'DECODE_UNKNOWN_SCHEMA', 'VALIDATION_OUT_OF_RANGE', 'TOO_LATE'];
  for (let i = 0; i < 8; i++) {
    rows.dead_letters?.push({
      error_code: codes[i % codes.length],
      error_message: `fixture dead letter ${i}`,
      stage: i % 2 === 0 ? 'process' : 'sink',
      source_topic: 'telemetry.truck',
      source_partition: 0,
      source_offset: 1000 + i,
      failed_at: end - i * 7 * MINUTE,
      dlq_partition: 0,
      dlq_offset: i,
      key: 'truck-001',
      value_base64: Buffer.from(`garbage ${i}`).toString('base64'),
      value_size: 9,
    });
  }
  return { end, rows };
}

function deviceState(device: Device, last: Row, seq: number): Row {
  const base: Row = {
    device_id: device.id,
    site_id: device.site,
    kind: device.kind,
    last_seen: last.ts,
    last_event_id: last.event_id,
    seq,
    event_count: seq,
    active_diagnostic_codes: [],
    open_alerts: [],
    kafka_partition: 0,
    kafka_offset: seq,
  };
  if (device.kind === 'TRUCK') {
    return {
      ...base,
      lat: last.lat,
      lon: last.lon,
      speed_kmh: last.speed_kmh,
      heading_deg: last.heading_deg,
      engine_on: true,
      engine_temp_c: last.engine_temp_c,
      fuel_pct: last.fuel_pct,
      odometer_km: last.odometer_km,
      open_alerts: device.id === 'truck-001' ? ['a-1'] : [],
      active_diagnostic_codes: device.id === 'truck-001' ? ['P0300', 'P0420'] : [],
      cargo_temp_c: last.cargo_temp_c,
    };
  }
  if (device.kind === 'TURBINE') {
    return {
      ...base,
      status: last.status,
      power_kw: last.power_kw,
      wind_speed_ms: last.wind_speed_ms,
      energy_today_kwh: 1234.5,
    };
  }
  return {
    ...base,
    status: last.status,
    ac_power_w: last.ac_power_w,
    irradiance_wm2: last.irradiance_wm2,
    energy_today_kwh: 321,
  };
}

function alert(
  id: string,
  rule: string,
  device: Device,
  raisedAt: number,
  state: 'RAISED' | 'RESOLVED',
  value: number,
  threshold: number,
): Row {
  return {
    alert_id: id,
    rule,
    device_id: device.id,
    site_id: device.site,
    kind: device.kind,
    state,
    severity: 'WARNING',
    raised_at: raisedAt,
    resolved_at: state === 'RESOLVED' ? raisedAt + 5 * MINUTE : null,
    ts: state === 'RESOLVED' ? raisedAt + 5 * MINUTE : raisedAt,
    value,
    threshold,
    message: `${rule} on ${device.id}`,
    kafka_partition: 0,
    kafka_offset: 0,
  };
}

export async function loadWorld(backend: ClickHouseBackend, world: FixtureWorld): Promise<void> {
  for (const [table, rows] of Object.entries(world.rows)) {
    if (rows.length > 0) await backend.insert(table, rows);
  }
}
