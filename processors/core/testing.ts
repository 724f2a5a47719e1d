/**
 * Event builders and a seeded random stream for the tests and the benchmark of the
 * processor cores. Not used in production code.
 */
import type { EntityName } from '../../registry/model.ts';
import { defaultRuleParams, RULE_IDS, ruleKind } from '../../registry/rules.ts';
import { createRegistryTable, type RegistryRecord, type RegistryTable } from '../../registry/table.ts';
import type {
  DiagnosticReported,
  EngineStateChanged,
  RawEvent,
  SolarTelemetry,
  TruckTelemetry,
  TurbineTelemetry,
} from '../../schemas/types.ts';

/** 2026-01-01T00:00:00Z: a day, hour and minute boundary. */
export const T0 = Date.UTC(2026, 0, 1);

const seqs = new Map<string, number>();

/** Next seq of a device (tests that need a specific seq pass it explicitly). */
function nextSeq(deviceId: string): number {
  const seq = seqs.get(deviceId) ?? 0;
  seqs.set(deviceId, seq + 1);
  return seq;
}

function base(deviceId: string, ts: number, seq: number | undefined, siteId: string) {
  const s = seq ?? nextSeq(deviceId);
  return { eventId: `${deviceId}-${s}`, deviceId, siteId, ts, seq: s };
}

export function truck(
  deviceId: string,
  ts: number,
  fields: Partial<TruckTelemetry> = {},
): { type: 'TruckTelemetry'; value: TruckTelemetry } {
  return {
    type: 'TruckTelemetry',
    value: {
      ...base(deviceId, ts, fields.seq, fields.siteId ?? 'depot-1'),
      lat: 52.5,
      lon: 13.4,
      speedKmh: 50,
      headingDeg: 90,
      engineTempC: 90,
      fuelPct: 60,
      odometerKm: 1000,
      engineOn: true,
      cargoTempC: null,
      ...fields,
    } as TruckTelemetry,
  };
}

export function engine(deviceId: string, ts: number, engineOn: boolean, seq?: number): RawEvent {
  const value: EngineStateChanged = { ...base(deviceId, ts, seq, 'depot-1'), engineOn };
  return { type: 'EngineStateChanged', value };
}

export function diagnostic(
  deviceId: string,
  ts: number,
  code: string,
  active: boolean,
  seq?: number,
): RawEvent {
  const value: DiagnosticReported = {
    ...base(deviceId, ts, seq, 'depot-1'),
    code,
    severity: 'WARNING',
    description: `code ${code}`,
    active,
  };
  return { type: 'DiagnosticReported', value };
}

export function turbine(
  deviceId: string,
  ts: number,
  fields: Partial<TurbineTelemetry> = {},
): { type: 'TurbineTelemetry'; value: TurbineTelemetry } {
  return {
    type: 'TurbineTelemetry',
    value: {
      ...base(deviceId, ts, fields.seq, fields.siteId ?? 'plant-1'),
      windSpeedMs: 10,
      rotorRpm: 14,
      powerKw: 2464,
      pitchDeg: 0,
      nacelleTempC: 40,
      vibrationMmS: 2,
      status: 'RUNNING',
      ...fields,
    } as TurbineTelemetry,
  };
}

export function solar(
  deviceId: string,
  ts: number,
  fields: Partial<SolarTelemetry> = {},
): { type: 'SolarTelemetry'; value: SolarTelemetry } {
  return {
    type: 'SolarTelemetry',
    value: {
      ...base(deviceId, ts, fields.seq, fields.siteId ?? 'plant-2'),
      irradianceWm2: 800,
      panelTempC: 45,
      dcVoltageV: 600,
      dcCurrentA: 20,
      acPowerW: 11_500,
      status: 'PRODUCING',
      ...fields,
    } as SolarTelemetry,
  };
}

/** mulberry32: a tiny seeded PRNG, so streams are reproducible without fast-check. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface StreamOptions {
  devices: number;
  eventsPerDevice: number;
  /** Mean gap between two events of a device, ms. */
  stepMs: number;
  start?: number;
}

/**
 * A plausible mixed stream of one partition, in event-time order: trucks (with engine
 * and diagnostic events and threshold crossings), turbines and solar arrays, round-robin.
 * Values wander across alert thresholds so every rule fires now and then.
 */
export function randomStream(seed: number, options: StreamOptions): RawEvent[] {
  const random = seededRandom(seed);
  const start = options.start ?? T0;
  const events: RawEvent[] = [];
  const walk = Array.from({ length: options.devices }, () => ({
    ts: start + Math.floor(random() * options.stepMs),
    speed: 60,
    temp: 90,
    odo: 1000,
    wind: 9,
    vib: 3,
    irr: 600,
    panel: 50,
    on: true,
  }));
  for (let i = 0; i < options.eventsPerDevice; i++) {
    for (let d = 0; d < options.devices; d++) {
      const w = walk[d] as (typeof walk)[number];
      w.ts += Math.max(1, Math.round(options.stepMs * (0.5 + random())));
      const seq = i;
      const id = `dev-${d}`;
      const wander = (v: number, step: number, lo: number, hi: number) =>
        Math.min(hi, Math.max(lo, v + (random() - 0.5) * step));
      switch (d % 3) {
        case 0: {
          const roll = random();
          if (roll < 0.03) {
            w.on = !w.on;
            events.push(engine(id, w.ts, w.on, seq));
          } else if (roll < 0.06) {
            events.push(diagnostic(id, w.ts, random() < 0.5 ? 'P0217' : 'P0300', random() < 0.6, seq));
          } else {
            w.speed = random() < 0.05 ? Math.max(0, w.speed - 30) : wander(w.speed, 12, 0, 120);
            w.temp = wander(w.temp, 6, 70, 115);
            w.odo += (w.speed * options.stepMs) / 3_600_000;
            events.push(
              truck(id, w.ts, {
                seq,
                speedKmh: w.speed,
                engineTempC: w.temp,
                odometerKm: w.odo,
                engineOn: w.on,
                cargoTempC: d % 2 === 0 ? wander(6, 8, -20, 20) : null,
                lat: 50 + random(),
                lon: 10 + random(),
                headingDeg: random() * 360,
                fuelPct: 50 + random() * 10,
              }),
            );
          }
          break;
        }
        case 1:
          w.wind = wander(w.wind, 1, 0, 26);
          w.vib = wander(w.vib, 1.5, 0, 12);
          events.push(
            turbine(id, w.ts, {
              seq,
              windSpeedMs: w.wind,
              powerKw: Math.max(0, w.wind * 200 * (0.5 + random())),
              vibrationMmS: w.vib,
              status: random() < 0.05 ? 'FAULT' : 'RUNNING',
              rotorRpm: 10 + random() * 5,
              pitchDeg: random() * 5,
              nacelleTempC: 30 + random() * 20,
            }),
          );
          break;
        default:
          w.irr = wander(w.irr, 80, 0, 1100);
          w.panel = wander(w.panel, 6, 10, 95);
          events.push(
            solar(id, w.ts, {
              seq,
              irradianceWm2: w.irr,
              panelTempC: w.panel,
              acPowerW: random() < 0.1 ? 0 : w.irr * 12,
              dcVoltageV: 600 + random() * 20,
              dcCurrentA: w.irr / 40,
            }),
          );
      }
    }
  }
  // Devices drift apart a little; a partition sees its events roughly in event-time order.
  return events.sort((a, b) => a.value.ts - b.value.ts);
}

// ---------------------------------------------------------------------------------------
// Registry records, as Debezium writes them (ExtractNewRecordState, JSON with schemas)

/** A registry topic record of `row`, committed at `sourceTsMs` (omitted: a record without a commit time). */
export function registryRecord(
  entity: EntityName,
  row: Record<string, unknown>,
  sourceTsMs?: number,
): RegistryRecord {
  const payload = { ...row, __op: 'u', ...(sourceTsMs === undefined ? {} : { __source_ts_ms: sourceTsMs }) };
  return { entity, key: String(row.id), value: JSON.stringify({ schema: { type: 'struct' }, payload }) };
}

const rowStamp = (version: number) => ({ version, updated_at: '2026-01-01T00:00:00Z' });

/** A device row of the registry; `extra` overrides columns (snake_case, as in PostgreSQL). */
export function deviceRow(
  id: string,
  kind: 'truck' | 'turbine' | 'solar',
  version: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const none = { plate: null, refrigerated: null, cargo_min_c: null, cargo_max_c: null, driver_id: null };
  const attributes = {
    truck: { plate: `P-${id}`, refrigerated: false, cargo_min_c: null, cargo_max_c: null, driver_id: null },
    turbine: { ...none, rated_kw: 3000, power_curve: 'generic-3mw-112' },
    solar: { ...none, kwp: 500 },
  }[kind];
  const site = {
    truck: ['depot-1', 'depot'],
    turbine: ['plant-1', 'wind_farm'],
    solar: ['plant-2', 'solar_park'],
  }[kind];
  return {
    id,
    kind,
    site_id: site[0],
    site_kind: site[1],
    model: `${kind}-model`,
    status: 'active',
    rated_kw: null,
    power_curve: null,
    kwp: null,
    ...attributes,
    ...rowStamp(version),
    ...extra,
  };
}

/** An alert rule row: `<ruleId>:<scope>:<scopeId>`. */
export function ruleRow(
  ruleId: string,
  scope: 'kind' | 'model' | 'site' | 'device',
  scopeId: string,
  version: number,
  params: Record<string, unknown>,
  enabled = true,
): Record<string, unknown> {
  return {
    id: `${ruleId}:${scope}:${scopeId}`,
    rule_id: ruleId,
    scope,
    scope_id: scopeId,
    params: JSON.stringify(params),
    enabled,
    site_id: scope === 'site' ? scopeId : null,
    device_id: scope === 'device' ? scopeId : null,
    ...rowStamp(version),
  };
}

/**
 * A registry table in which every device of `events` is registered (with the event's site
 * and kind), plus unrelated devices up to `total`, and one kind row per rule with the
 * built-in parameters (as `fleetgrid registry seed` writes them), all committed an hour
 * before the first event: the benchmark's registry.
 */
export function registryForStream(events: readonly RawEvent[], total: number): RegistryTable {
  const table = createRegistryTable();
  const committed = (events[0]?.value.ts ?? T0) - 3_600_000;
  let version = 0;
  const kinds = {
    TruckTelemetry: 'truck',
    EngineStateChanged: 'truck',
    DiagnosticReported: 'truck',
    TurbineTelemetry: 'turbine',
    SolarTelemetry: 'solar',
  } as const;
  const seen = new Set<string>();
  for (const event of events) {
    const { deviceId, siteId } = event.value;
    if (seen.has(deviceId)) continue;
    seen.add(deviceId);
    table.apply(
      registryRecord(
        'devices',
        deviceRow(deviceId, kinds[event.type], ++version, { site_id: siteId }),
        committed,
      ),
    );
  }
  for (let i = 0; seen.size < total; i++) {
    const id = `registered-only-${i}`;
    seen.add(id);
    table.apply(registryRecord('devices', deviceRow(id, 'truck', ++version), committed));
  }
  for (const ruleId of RULE_IDS)
    table.apply(
      registryRecord(
        'rules',
        ruleRow(ruleId, 'kind', ruleKind(ruleId), ++version, { ...defaultRuleParams(ruleId) }),
        committed,
      ),
    );
  return table;
}
