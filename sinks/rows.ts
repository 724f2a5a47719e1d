/**
 * Row mapping, pure: a decoded record (or a DLQ record) becomes one encoded row of its
 * table, values in the order of TABLE_COLUMNS (snake_case, as in clickhouse/migrations and
 * docs/sinks.md), in the table's ROW_FORMAT:
 *  - the raw tables (the sink's volume: every device event) in RowBinary
 *    (clickhouse/rowbinary.ts), written straight from the decoded record: no JSON text to
 *    build in JS nor to parse in the engine;
 *  - the others (a few rows per device and minute, with maps, arrays and nested objects)
 *    as JSONCompactEachRow lines: a JSON array per row, no keys to write or parse.
 * Times stay epoch milliseconds (DateTime64(3) holds milliseconds; ClickHouse reads a JSON
 * integer into it as milliseconds too).
 * Hand-written per record instead of generic case conversion, building each row object in
 * column order (a unit test holds every mapping to TABLE_COLUMNS): a renamed field must be
 * a visible change here, not a silent new column.
 */
import { DLQ_HEADERS } from '../lib/dlq.ts';
import { FleetgridError } from '../lib/errors.ts';
import type { TopicKey } from '../lib/topics.ts';
import { RowBinaryWriter } from '../clickhouse/rowbinary.ts';
import { RECORD_TOPICS } from '../schemas/catalog.ts';
import type { Decoded } from '../schemas/serde.ts';
import type {
  Alert,
  AlertCommand,
  DeviceState,
  DiagnosticReported,
  EngineStateChanged,
  RecordName,
  SolarTelemetry,
  TruckTelemetry,
  TurbineTelemetry,
  WindowAggregate,
} from '../schemas/types.ts';

export const RECORD_TABLES = {
  TruckTelemetry: 'truck_telemetry',
  EngineStateChanged: 'truck_engine_events',
  DiagnosticReported: 'truck_diagnostics',
  TurbineTelemetry: 'turbine_telemetry',
  SolarTelemetry: 'solar_telemetry',
  WindowAggregate: 'aggregates_1m',
  Alert: 'alerts',
  DeviceState: 'device_state',
  AlertCommand: 'alert_actions',
} as const satisfies Record<RecordName, string>;

export const DEAD_LETTERS_TABLE = 'dead_letters';
export type TableName = (typeof RECORD_TABLES)[RecordName] | typeof DEAD_LETTERS_TABLE;

const RAW_COMMON = ['event_id', 'device_id', 'site_id', 'ts', 'seq'] as const;
const LINEAGE = ['schema_id', 'kafka_partition', 'kafka_offset'] as const;
/**
 * The registry's fields as the processors' join set them when the event was processed
 * (clickhouse/migrations/006_registry_enrichment.sql); null without the join.
 */
const REGISTRY_FIELDS = ['model', 'driver_id'] as const;

/** The columns each line fills, in line order (`ingested_at` is left to its default). */
export const TABLE_COLUMNS: Record<TableName, readonly string[]> = {
  truck_telemetry: [
    ...RAW_COMMON,
    'lat',
    'lon',
    'speed_kmh',
    'heading_deg',
    'engine_temp_c',
    'fuel_pct',
    'odometer_km',
    'engine_on',
    'cargo_temp_c',
    ...LINEAGE,
  ],
  truck_engine_events: [...RAW_COMMON, 'engine_on', ...LINEAGE],
  truck_diagnostics: [...RAW_COMMON, 'code', 'severity', 'description', 'active', ...LINEAGE],
  turbine_telemetry: [
    ...RAW_COMMON,
    'wind_speed_ms',
    'rotor_rpm',
    'power_kw',
    'pitch_deg',
    'nacelle_temp_c',
    'vibration_mm_s',
    'status',
    ...LINEAGE,
  ],
  solar_telemetry: [
    ...RAW_COMMON,
    'irradiance_wm2',
    'panel_temp_c',
    'dc_voltage_v',
    'dc_current_a',
    'ac_power_w',
    'status',
    ...LINEAGE,
  ],
  aggregates_1m: [
    'device_id',
    'site_id',
    'kind',
    ...REGISTRY_FIELDS,
    'window_start',
    'window_end',
    'revision',
    'event_count',
    'first_event_ts',
    'last_event_ts',
    'field_count',
    'field_min',
    'field_max',
    'field_sum',
    'derived',
    'kafka_partition',
    'kafka_offset',
  ],
  alerts: [
    'alert_id',
    'rule',
    'device_id',
    'site_id',
    'kind',
    ...REGISTRY_FIELDS,
    'state',
    'severity',
    'raised_at',
    'resolved_at',
    'ts',
    'value',
    'threshold',
    'message',
    'rule_version',
    'kafka_partition',
    'kafka_offset',
  ],
  device_state: [
    'device_id',
    'site_id',
    'kind',
    ...REGISTRY_FIELDS,
    'last_seen',
    'last_event_id',
    'seq',
    'event_count',
    'lat',
    'lon',
    'speed_kmh',
    'heading_deg',
    'engine_on',
    'engine_temp_c',
    'fuel_pct',
    'odometer_km',
    'cargo_temp_c',
    'active_diagnostic_codes',
    'status',
    'power_kw',
    'wind_speed_ms',
    'ac_power_w',
    'irradiance_wm2',
    'energy_today_kwh',
    'open_alerts',
    'kafka_partition',
    'kafka_offset',
  ],
  alert_actions: [
    'command_id',
    'alert_id',
    'action',
    'rule',
    'device_id',
    'by',
    'comment',
    'shelved_until',
    'silence_id',
    'ts',
    'kafka_partition',
    'kafka_offset',
  ],
  dead_letters: [
    'error_code',
    'error_message',
    'stage',
    'source_topic',
    'source_partition',
    'source_offset',
    'failed_at',
    'dlq_partition',
    'dlq_offset',
    'key',
    'value_base64',
    'value_size',
  ],
};

/** A row object in column order → its line. */
function compactLine(row: Record<string, unknown>): string {
  return `${JSON.stringify(Object.values(row))}\n`;
}

/** Exposed for tests: the row object of a record, keys in TABLE_COLUMNS order. */
export function rowObject(decoded: Decoded, at: KafkaPosition): Record<string, unknown> {
  return toRow(decoded.record, decoded.value, {
    schema_id: decoded.schemaId,
    kafka_partition: at.partition,
    kafka_offset: at.offset,
  });
}

export const RAW_TABLES = [
  'truck_telemetry',
  'truck_engine_events',
  'truck_diagnostics',
  'turbine_telemetry',
  'solar_telemetry',
] as const;

export type RowFormat = 'RowBinary' | 'JSONCompactEachRow';

/** The insert format of each table's encoded rows (see the top of this file). */
export const ROW_FORMAT: Record<TableName, RowFormat> = {
  truck_telemetry: 'RowBinary',
  truck_engine_events: 'RowBinary',
  truck_diagnostics: 'RowBinary',
  turbine_telemetry: 'RowBinary',
  solar_telemetry: 'RowBinary',
  aggregates_1m: 'JSONCompactEachRow',
  alerts: 'JSONCompactEachRow',
  device_state: 'JSONCompactEachRow',
  alert_actions: 'JSONCompactEachRow',
  dead_letters: 'JSONCompactEachRow',
};

/** Tables that each topic feeds: what `replay --projection` rebuilds from which topic. */
export const TOPIC_TABLES: Record<TopicKey, readonly TableName[]> = {
  truck: ['truck_telemetry', 'truck_engine_events', 'truck_diagnostics'],
  turbine: ['turbine_telemetry'],
  solar: ['solar_telemetry'],
  aggregates: ['aggregates_1m'],
  alerts: ['alerts'],
  deviceState: ['device_state'],
  dlq: [DEAD_LETTERS_TABLE],
  commands: ['alert_actions'],
};

export interface KafkaPosition {
  partition: number;
  offset: string;
}

/**
 * One encoded row: a RowBinary row (Buffer) or a JSONCompactEachRow line (string, ending in
 * '\n'), as its table's ROW_FORMAT says. Either way a batch is their concatenation.
 */
export type EncodedRow = Buffer | string;

export interface MappedRow {
  table: TableName;
  row: EncodedRow;
}

export function mapRecord(topicKey: TopicKey, decoded: Decoded, at: KafkaPosition): MappedRow {
  if (RECORD_TOPICS[decoded.record] !== topicKey) {
    throw new FleetgridError(
      'DECODE_UNEXPECTED_TYPE',
      `${decoded.record} does not belong on the ${topicKey} topic`,
      { details: { record: decoded.record, schemaId: decoded.schemaId } },
    );
  }
  const table = RECORD_TABLES[decoded.record];
  if (ROW_FORMAT[table] === 'RowBinary') return { table, row: rawRowBinary(decoded, at) };
  const kafka = { schema_id: decoded.schemaId, kafka_partition: at.partition, kafka_offset: at.offset };
  return { table, row: compactLine(toRow(decoded.record, decoded.value, kafka)) };
}

/** One writer for the process: rows are views of its slabs (clickhouse/rowbinary.ts). */
const binary = new RowBinaryWriter();

/**
 * A raw record's RowBinary row: the same values as toRow's, in TABLE_COLUMNS order, typed
 * as clickhouse/migrations/001_raw_events.sql declares them (a unit test inserts both
 * encodings and compares the stored rows).
 */
function rawRowBinary(decoded: Decoded, at: KafkaPosition): Buffer {
  const w = binary.begin();
  const v = decoded.value as TruckTelemetry;
  w.string(v.eventId).string(v.deviceId).string(v.siteId).int64(v.ts).uint64(v.seq);
  switch (decoded.record) {
    case 'TruckTelemetry':
      w.float64(v.lat)
        .float64(v.lon)
        .float32(v.speedKmh)
        .float32(v.headingDeg)
        .float32(v.engineTempC)
        .float32(v.fuelPct)
        .float64(v.odometerKm)
        .bool(v.engineOn)
        .nullableFloat32(v.cargoTempC);
      break;
    case 'EngineStateChanged':
      w.bool((decoded.value as EngineStateChanged).engineOn);
      break;
    case 'DiagnosticReported': {
      const d = decoded.value as DiagnosticReported;
      w.string(d.code).string(d.severity).string(d.description).bool(d.active);
      break;
    }
    case 'TurbineTelemetry': {
      const t = decoded.value as TurbineTelemetry;
      w.float32(t.windSpeedMs)
        .float32(t.rotorRpm)
        .float32(t.powerKw)
        .float32(t.pitchDeg)
        .float32(t.nacelleTempC)
        .float32(t.vibrationMmS)
        .string(t.status);
      break;
    }
    case 'SolarTelemetry': {
      const p = decoded.value as SolarTelemetry;
      w.float32(p.irradianceWm2)
        .float32(p.panelTempC)
        .float32(p.dcVoltageV)
        .float32(p.dcCurrentA)
        .float32(p.acPowerW)
        .string(p.status);
      break;
    }
    default:
      throw new FleetgridError('INTERNAL', `${decoded.record} has no RowBinary row`);
  }
  return w.uint32(decoded.schemaId).uint16(at.partition).uint64Text(at.offset).end();
}

/**
 * The registry columns of a record. A record written before the fields existed decodes
 * into the newest reader schema (schemas/serde.ts) with their defaults: null, and 0 for
 * ruleVersion.
 */
function registryFields(v: { model: string | null; driverId: string | null }) {
  return { model: v.model, driver_id: v.driverId };
}

type Lineage = { schema_id: number; kafka_partition: number; kafka_offset: string };

function toRow(record: RecordName, value: Decoded['value'], k: Lineage): Record<string, unknown> {
  switch (record) {
    case 'TruckTelemetry': {
      const v = value as TruckTelemetry;
      return {
        event_id: v.eventId,
        device_id: v.deviceId,
        site_id: v.siteId,
        ts: v.ts,
        seq: v.seq,
        lat: v.lat,
        lon: v.lon,
        speed_kmh: v.speedKmh,
        heading_deg: v.headingDeg,
        engine_temp_c: v.engineTempC,
        fuel_pct: v.fuelPct,
        odometer_km: v.odometerKm,
        engine_on: v.engineOn,
        cargo_temp_c: v.cargoTempC ?? null,
        ...k,
      };
    }
    case 'EngineStateChanged': {
      const v = value as EngineStateChanged;
      return {
        event_id: v.eventId,
        device_id: v.deviceId,
        site_id: v.siteId,
        ts: v.ts,
        seq: v.seq,
        engine_on: v.engineOn,
        ...k,
      };
    }
    case 'DiagnosticReported': {
      const v = value as DiagnosticReported;
      return {
        event_id: v.eventId,
        device_id: v.deviceId,
        site_id: v.siteId,
        ts: v.ts,
        seq: v.seq,
        code: v.code,
        severity: v.severity,
        description: v.description,
        active: v.active,
        ...k,
      };
    }
    case 'TurbineTelemetry': {
      const v = value as TurbineTelemetry;
      return {
        event_id: v.eventId,
        device_id: v.deviceId,
        site_id: v.siteId,
        ts: v.ts,
        seq: v.seq,
        wind_speed_ms: v.windSpeedMs,
        rotor_rpm: v.rotorRpm,
        power_kw: v.powerKw,
        pitch_deg: v.pitchDeg,
        nacelle_temp_c: v.nacelleTempC,
        vibration_mm_s: v.vibrationMmS,
        status: v.status,
        ...k,
      };
    }
    case 'SolarTelemetry': {
      const v = value as SolarTelemetry;
      return {
        event_id: v.eventId,
        device_id: v.deviceId,
        site_id: v.siteId,
        ts: v.ts,
        seq: v.seq,
        irradiance_wm2: v.irradianceWm2,
        panel_temp_c: v.panelTempC,
        dc_voltage_v: v.dcVoltageV,
        dc_current_a: v.dcCurrentA,
        ac_power_w: v.acPowerW,
        status: v.status,
        ...k,
      };
    }
    case 'WindowAggregate': {
      const v = value as WindowAggregate;
      const count: Record<string, number> = {};
      const min: Record<string, number> = {};
      const max: Record<string, number> = {};
      const sum: Record<string, number> = {};
      for (const f of v.fields) {
        count[f.name] = f.count;
        min[f.name] = f.min;
        max[f.name] = f.max;
        sum[f.name] = f.sum;
      }
      return {
        device_id: v.deviceId,
        site_id: v.siteId,
        kind: v.kind,
        ...registryFields(v),
        window_start: v.windowStart,
        window_end: v.windowEnd,
        revision: v.revision,
        event_count: v.eventCount,
        first_event_ts: v.firstEventTs,
        last_event_ts: v.lastEventTs,
        field_count: count,
        field_min: min,
        field_max: max,
        field_sum: sum,
        derived: v.derived,
        kafka_partition: k.kafka_partition,
        kafka_offset: k.kafka_offset,
      };
    }
    case 'Alert': {
      const v = value as Alert;
      return {
        alert_id: v.alertId,
        rule: v.rule,
        device_id: v.deviceId,
        site_id: v.siteId,
        kind: v.kind,
        ...registryFields(v),
        state: v.state,
        severity: v.severity,
        raised_at: v.raisedAt,
        resolved_at: v.resolvedAt,
        ts: v.ts,
        value: v.value,
        threshold: v.threshold,
        message: v.message,
        rule_version: v.ruleVersion,
        kafka_partition: k.kafka_partition,
        kafka_offset: k.kafka_offset,
      };
    }
    case 'DeviceState': {
      const v = value as DeviceState;
      return {
        device_id: v.deviceId,
        site_id: v.siteId,
        kind: v.kind,
        ...registryFields(v),
        last_seen: v.lastSeen,
        last_event_id: v.lastEventId,
        seq: v.seq,
        event_count: v.eventCount,
        lat: v.lat,
        lon: v.lon,
        speed_kmh: v.speedKmh,
        heading_deg: v.headingDeg,
        engine_on: v.engineOn,
        engine_temp_c: v.engineTempC,
        fuel_pct: v.fuelPct,
        odometer_km: v.odometerKm,
        cargo_temp_c: v.cargoTempC,
        active_diagnostic_codes: v.activeDiagnosticCodes,
        status: v.status,
        power_kw: v.powerKw,
        wind_speed_ms: v.windSpeedMs,
        ac_power_w: v.acPowerW,
        irradiance_wm2: v.irradianceWm2,
        energy_today_kwh: v.energyTodayKwh,
        open_alerts: v.openAlerts,
        kafka_partition: k.kafka_partition,
        kafka_offset: k.kafka_offset,
      };
    }
    case 'AlertCommand': {
      const v = value as AlertCommand;
      return {
        command_id: v.commandId,
        alert_id: v.alertId,
        action: v.action,
        rule: v.rule,
        device_id: v.deviceId,
        by: v.by,
        comment: v.comment,
        shelved_until: v.shelvedUntil,
        silence_id: v.silenceId,
        ts: v.ts,
        kafka_partition: k.kafka_partition,
        kafka_offset: k.kafka_offset,
      };
    }
  }
}

export interface DlqRecord extends KafkaPosition {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * A record of the DLQ topic becomes a dead_letters row. Never throws: whatever its headers
 * say (or do not say), the record is loaded, because dead-lettering it again would loop.
 */
export function mapDeadLetter(record: DlqRecord): MappedRow & { row: string } {
  const h = record.headers;
  const int = (text: string | undefined, fallback: number) => {
    const n = Number(text);
    return Number.isInteger(n) ? n : fallback;
  };
  const row = {
    error_code: h[DLQ_HEADERS.code] ?? 'UNKNOWN',
    error_message: h[DLQ_HEADERS.message] ?? '',
    stage: h[DLQ_HEADERS.stage] ?? '',
    source_topic: h[DLQ_HEADERS.sourceTopic] ?? '',
    source_partition: int(h[DLQ_HEADERS.sourcePartition], -1),
    source_offset: int(h[DLQ_HEADERS.sourceOffset], -1),
    failed_at: Math.max(0, int(h[DLQ_HEADERS.failedAt], 0)),
    dlq_partition: record.partition,
    dlq_offset: record.offset,
    key: record.key ? record.key.toString('utf8') : '',
    value_base64: record.value ? record.value.toString('base64') : '',
    value_size: record.value ? record.value.length : 0,
  };
  return { table: DEAD_LETTERS_TABLE, row: compactLine(row) };
}
