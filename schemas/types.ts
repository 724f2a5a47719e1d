/**
 * TypeScript shapes of the Avro records in schemas/*.avsc (docs/design.md §3). Avro `long`
 * timestamps are plain numbers of epoch milliseconds; nullable fields are `null`, not
 * undefined, because that is what Avro decodes.
 */

export interface RawEventBase {
  eventId: string;
  deviceId: string;
  siteId: string;
  /** Event time, epoch ms. */
  ts: number;
  /** Per device, +1 per new event; a resend repeats it. */
  seq: number;
}

export interface TruckTelemetry extends RawEventBase {
  lat: number;
  lon: number;
  speedKmh: number;
  headingDeg: number;
  engineTempC: number;
  fuelPct: number;
  odometerKm: number;
  engineOn: boolean;
  /** v2 only; null for v1 writers and for trucks without a refrigerated hold. */
  cargoTempC: number | null;
}

export interface EngineStateChanged extends RawEventBase {
  engineOn: boolean;
}

export type DiagnosticSeverity = 'INFO' | 'WARNING' | 'CRITICAL';

export interface DiagnosticReported extends RawEventBase {
  code: string;
  severity: DiagnosticSeverity;
  description: string;
  active: boolean;
}

export type TurbineStatus = 'RUNNING' | 'IDLE' | 'FAULT' | 'MAINTENANCE';

export interface TurbineTelemetry extends RawEventBase {
  windSpeedMs: number;
  rotorRpm: number;
  powerKw: number;
  pitchDeg: number;
  nacelleTempC: number;
  vibrationMmS: number;
  status: TurbineStatus;
}

export type SolarStatus = 'PRODUCING' | 'IDLE' | 'FAULT';

export interface SolarTelemetry extends RawEventBase {
  irradianceWm2: number;
  panelTempC: number;
  dcVoltageV: number;
  dcCurrentA: number;
  acPowerW: number;
  status: SolarStatus;
}

export type DeviceKindSymbol = 'TRUCK' | 'TURBINE' | 'SOLAR';

export interface FieldStats {
  name: string;
  count: number;
  min: number;
  max: number;
  sum: number;
}

export interface WindowAggregate {
  deviceId: string;
  siteId: string;
  kind: DeviceKindSymbol;
  /** Registry model when processed (null: join off or unregistered). */
  model: string | null;
  /** Registry driver of a truck when processed (null: none, not a truck, or no registry). */
  driverId: string | null;
  windowStart: number;
  windowEnd: number;
  revision: number;
  eventCount: number;
  firstEventTs: number;
  lastEventTs: number;
  fields: FieldStats[];
  derived: Record<string, number>;
}

export type AlertState = 'RAISED' | 'RESOLVED';
export type AlertSeverity = 'INFO' | 'WARNING' | 'CRITICAL';

export interface Alert {
  alertId: string;
  rule: string;
  deviceId: string;
  siteId: string;
  kind: DeviceKindSymbol;
  /** Registry model when processed (null: join off or unregistered). */
  model: string | null;
  /** Registry driver of a truck when processed (null: none, not a truck, or no registry). */
  driverId: string | null;
  state: AlertState;
  severity: AlertSeverity;
  raisedAt: number;
  resolvedAt: number | null;
  ts: number;
  value: number | null;
  threshold: number | null;
  message: string;
  /** Version of the registry rule row that decided this transition; 0 for the built-in parameters. */
  ruleVersion: number;
}

export interface DeviceState {
  deviceId: string;
  siteId: string;
  kind: DeviceKindSymbol;
  /** Registry model when processed (null: join off or unregistered). */
  model: string | null;
  /** Registry driver of a truck when processed (null: none, not a truck, or no registry). */
  driverId: string | null;
  lastSeen: number;
  lastEventId: string;
  seq: number;
  eventCount: number;
  lat: number | null;
  lon: number | null;
  speedKmh: number | null;
  headingDeg: number | null;
  engineOn: boolean | null;
  engineTempC: number | null;
  fuelPct: number | null;
  odometerKm: number | null;
  cargoTempC: number | null;
  activeDiagnosticCodes: string[];
  status: string | null;
  powerKw: number | null;
  windSpeedMs: number | null;
  acPowerW: number | null;
  irradianceWm2: number | null;
  energyTodayKwh: number | null;
  openAlerts: string[];
}

export type AlertAction = 'ACK' | 'SHELVE' | 'UNSHELVE' | 'COMMENT';

/** schemas/AlertCommand.avsc: an operator's command on an alert (alerts.commands). */
export interface AlertCommand {
  commandId: string;
  alertId: string;
  action: AlertAction;
  rule: string;
  deviceId: string;
  by: string;
  comment: string;
  shelvedUntil: number | null;
  silenceId: string | null;
  ts: number;
}

export interface RecordTypes {
  TruckTelemetry: TruckTelemetry;
  EngineStateChanged: EngineStateChanged;
  DiagnosticReported: DiagnosticReported;
  TurbineTelemetry: TurbineTelemetry;
  SolarTelemetry: SolarTelemetry;
  WindowAggregate: WindowAggregate;
  Alert: Alert;
  DeviceState: DeviceState;
  AlertCommand: AlertCommand;
}

export type RecordName = keyof RecordTypes;

/** Any raw device event, tagged with its record name. */
export type RawEvent =
  | { type: 'TruckTelemetry'; value: TruckTelemetry }
  | { type: 'EngineStateChanged'; value: EngineStateChanged }
  | { type: 'DiagnosticReported'; value: DiagnosticReported }
  | { type: 'TurbineTelemetry'; value: TurbineTelemetry }
  | { type: 'SolarTelemetry'; value: SolarTelemetry };
