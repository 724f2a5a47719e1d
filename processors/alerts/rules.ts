/**
 * The alert rules of docs/design.md §3, as data. Each rule names a machine type (engine.ts) and
 * its parameters; the engine keeps one small state machine per device and rule. Bump
 * ALERT_RULES_VERSION whenever a rule's meaning changes: checkpoints record it, and a
 * core refuses machine state written under another version (it starts those machines
 * afresh instead of misreading them).
 */
import type { AlertSeverity, DeviceKindSymbol, RawEvent } from '../../schemas/types.ts';

export const ALERT_RULES_VERSION = 1;

export type Comparison = '>' | '>=' | '<' | '<=';

/** `record[field] op value`; a null field never matches (e.g. cargoTempC of a dry truck). */
export interface Predicate {
  field: string;
  op: Comparison;
  value: number;
}

interface RuleBase {
  id: string;
  kind: DeviceKindSymbol;
  severity: AlertSeverity;
  /** Human text of the condition, used in the alert message. */
  description: string;
}

/**
 * Raised when `when` holds on every sample of a run that lasts at least `forMs` (first
 * to current sample, event time) and counts at least `minSamples`; a sample where `when`
 * fails restarts the run. Once raised, resolved by the first sample where `resolveWhen`
 * holds (the gap between the two thresholds is hysteresis).
 */
export interface SustainedRule extends RuleBase {
  type: 'sustained';
  record: RawEvent['type'];
  when: Predicate[];
  resolveWhen: Predicate[];
  forMs: number;
  minSamples: number;
  /** Field reported as the alert's value; its threshold is the matching `when` predicate's value. */
  valueField: string;
}

/** Raised and resolved at once when `field` drops by >= minDrop between consecutive samples <= maxGapMs apart. */
export interface DropRule extends RuleBase {
  type: 'drop';
  record: RawEvent['type'];
  field: string;
  minDrop: number;
  maxGapMs: number;
}

/** Raised when the engine is on and the device was silent for silenceMs of stream time; resolved by its next event. */
export interface HeartbeatRule extends RuleBase {
  type: 'heartbeat';
  silenceMs: number;
}

/**
 * Per epoch-aligned period of event time (10 min) with every sample in `status` and at
 * least minSamples: ratio = mean power / expectedPowerKw(mean wind speed). Raised when
 * ratio < raiseBelowRatio, resolved by a later period with ratio >= resolveAtOrAboveRatio.
 * Periods whose expected power is below minExpectedKw (near cut-in) are not judged.
 */
export interface PowerCurveRule extends RuleBase {
  type: 'powerCurve';
  periodMs: number;
  status: string;
  raiseBelowRatio: number;
  resolveAtOrAboveRatio: number;
  minSamples: number;
  minExpectedKw: number;
  /**
   * The turbine's rated power when the registry says it differs from the curve's
   * (domain/power-curve.ts RATED_POWER_KW): expected power scales with it. Absent: the curve as is.
   */
  ratedKw?: number;
}

export type AlertRule = SustainedRule | DropRule | HeartbeatRule | PowerCurveRule;

export const ALERT_RULES: readonly AlertRule[] = [
  {
    id: 'truck.overspeed',
    kind: 'TRUCK',
    severity: 'WARNING',
    type: 'sustained',
    record: 'TruckTelemetry',
    description: 'speed above 90 km/h for 30 s',
    when: [{ field: 'speedKmh', op: '>', value: 90 }],
    resolveWhen: [{ field: 'speedKmh', op: '<=', value: 85 }],
    forMs: 30_000,
    minSamples: 1,
    valueField: 'speedKmh',
  },
  {
    id: 'truck.engine_overheat',
    kind: 'TRUCK',
    severity: 'CRITICAL',
    type: 'sustained',
    record: 'TruckTelemetry',
    description: 'engine temperature above 105 °C on 3 consecutive samples',
    when: [{ field: 'engineTempC', op: '>', value: 105 }],
    resolveWhen: [{ field: 'engineTempC', op: '<=', value: 100 }],
    forMs: 0,
    minSamples: 3,
    valueField: 'engineTempC',
  },
  {
    id: 'truck.harsh_braking',
    kind: 'TRUCK',
    severity: 'WARNING',
    type: 'drop',
    record: 'TruckTelemetry',
    description: 'speed dropped by 25 km/h or more within 2 s',
    field: 'speedKmh',
    minDrop: 25,
    maxGapMs: 2_000,
  },
  {
    id: 'truck.cargo_temp_breach',
    kind: 'TRUCK',
    severity: 'CRITICAL',
    type: 'sustained',
    record: 'TruckTelemetry',
    description: 'cargo temperature above 8 °C for 5 min',
    when: [{ field: 'cargoTempC', op: '>', value: 8 }],
    resolveWhen: [{ field: 'cargoTempC', op: '<=', value: 8 }],
    forMs: 300_000,
    minSamples: 1,
    valueField: 'cargoTempC',
  },
  {
    id: 'truck.heartbeat_lost',
    kind: 'TRUCK',
    severity: 'WARNING',
    type: 'heartbeat',
    description: 'engine on and no event for 60 s',
    silenceMs: 60_000,
  },
  {
    id: 'turbine.high_vibration',
    kind: 'TURBINE',
    severity: 'WARNING',
    type: 'sustained',
    record: 'TurbineTelemetry',
    description: 'vibration above 7 mm/s for 60 s',
    when: [{ field: 'vibrationMmS', op: '>', value: 7 }],
    resolveWhen: [{ field: 'vibrationMmS', op: '<=', value: 5 }],
    forMs: 60_000,
    minSamples: 1,
    valueField: 'vibrationMmS',
  },
  {
    id: 'turbine.underperformance',
    kind: 'TURBINE',
    severity: 'WARNING',
    type: 'powerCurve',
    description: '10-min mean power below 70 % of the power curve',
    periodMs: 600_000,
    status: 'RUNNING',
    raiseBelowRatio: 0.7,
    resolveAtOrAboveRatio: 0.8,
    minSamples: 10,
    minExpectedKw: 100,
  },
  {
    id: 'solar.inverter_fault',
    kind: 'SOLAR',
    severity: 'CRITICAL',
    type: 'sustained',
    record: 'SolarTelemetry',
    description: 'irradiance above 300 W/m² and AC power at most 10 W for 5 min',
    when: [
      { field: 'acPowerW', op: '<=', value: 10 },
      { field: 'irradianceWm2', op: '>', value: 300 },
    ],
    resolveWhen: [{ field: 'acPowerW', op: '>', value: 10 }],
    forMs: 300_000,
    minSamples: 1,
    valueField: 'acPowerW',
  },
  {
    id: 'solar.panel_overheat',
    kind: 'SOLAR',
    severity: 'WARNING',
    type: 'sustained',
    record: 'SolarTelemetry',
    description: 'panel temperature above 85 °C for 60 s',
    when: [{ field: 'panelTempC', op: '>', value: 85 }],
    resolveWhen: [{ field: 'panelTempC', op: '<=', value: 80 }],
    forMs: 60_000,
    minSamples: 1,
    valueField: 'panelTempC',
  },
];
