/**
 * The allow-lists of the query side: every identifier that reaches SQL (tables, columns,
 * map keys chosen by the caller) comes from here, never from a request. A request names a
 * metric by its Avro field name (as in WindowAggregate.fields) or a derived figure of the
 * window processor; this module maps it to the raw column and says where it lives.
 */
import { WINDOW_FIELDS } from '../processors/windows/window.ts';
import type { DeviceKindSymbol } from '../schemas/types.ts';

export const KINDS = ['truck', 'turbine', 'solar'] as const;
export type Kind = (typeof KINDS)[number];

export const KIND_SYMBOL: Record<Kind, DeviceKindSymbol> = {
  truck: 'TRUCK',
  turbine: 'TURBINE',
  solar: 'SOLAR',
};
export const KIND_OF_SYMBOL: Record<DeviceKindSymbol, Kind> = {
  TRUCK: 'truck',
  TURBINE: 'turbine',
  SOLAR: 'solar',
};

/** Avro field → column of the raw table (written by sinks/rows.ts, see docs/sinks.md). */
export const RAW_COLUMNS: Record<string, string> = {
  lat: 'lat',
  lon: 'lon',
  speedKmh: 'speed_kmh',
  headingDeg: 'heading_deg',
  engineTempC: 'engine_temp_c',
  fuelPct: 'fuel_pct',
  odometerKm: 'odometer_km',
  cargoTempC: 'cargo_temp_c',
  windSpeedMs: 'wind_speed_ms',
  rotorRpm: 'rotor_rpm',
  powerKw: 'power_kw',
  pitchDeg: 'pitch_deg',
  nacelleTempC: 'nacelle_temp_c',
  vibrationMmS: 'vibration_mm_s',
  irradianceWm2: 'irradiance_wm2',
  panelTempC: 'panel_temp_c',
  dcVoltageV: 'dc_voltage_v',
  dcCurrentA: 'dc_current_a',
  acPowerW: 'ac_power_w',
};

/** The raw telemetry table of each kind (the one with the numeric fields). */
export const TELEMETRY_TABLE: Record<DeviceKindSymbol, string> = {
  TRUCK: 'truck_telemetry',
  TURBINE: 'turbine_telemetry',
  SOLAR: 'solar_telemetry',
};

/** Every raw table (freshness looks at all of them): the sink's list, the one that creates them. */
export { RAW_TABLES } from '../sinks/rows.ts';

/** Derived figures of processors/windows/window.ts derivedFigures(), per kind. */
export const DERIVED_METRICS: Record<DeviceKindSymbol, readonly string[]> = {
  TRUCK: ['coveredSeconds', 'distanceKm', 'engineOnSeconds', 'idleSeconds'],
  TURBINE: ['coveredSeconds', 'energyKwh', 'availableSeconds'],
  SOLAR: ['coveredSeconds', 'energyKwh'],
};

export type MetricSource = 'field' | 'derived';

export interface MetricInfo {
  name: string;
  source: MetricSource;
  /** Raw column, for fields only (derived figures exist per window, not per event). */
  column: string | undefined;
}

/** Metrics a device of this kind has. */
export function metricsOf(kind: DeviceKindSymbol): MetricInfo[] {
  return [
    ...WINDOW_FIELDS[kind].map((name) => ({ name, source: 'field' as const, column: RAW_COLUMNS[name] })),
    ...DERIVED_METRICS[kind].map((name) => ({ name, source: 'derived' as const, column: undefined })),
  ];
}

/** Every metric name of any kind: the first gate of a request, before the device's kind is known. */
export const ALL_METRICS: readonly string[] = [
  ...new Set((['TRUCK', 'TURBINE', 'SOLAR'] as const).flatMap((kind) => metricsOf(kind).map((m) => m.name))),
].sort();

export function metricFor(kind: DeviceKindSymbol, name: string): MetricInfo | undefined {
  return metricsOf(kind).find((m) => m.name === name);
}

/** Derived figures exist per window only (no raw samples); field and derived names never overlap. */
export function isDerivedMetric(name: string): boolean {
  return Object.values(DERIVED_METRICS).some((names) => names.includes(name));
}
