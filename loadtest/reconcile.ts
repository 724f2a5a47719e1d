/**
 * Reconciliation of what the load test produced against what ClickHouse holds (pure).
 *
 * Per raw topic: produced = stored + dead-lettered, where "stored" counts distinct event
 * ids (so a duplicate cannot hide a loss) and "dead-lettered" counts only the sink's dead
 * letters of that topic (the processors dead-letter the same bad input again for their own
 * stage; counting both would count one event twice). Duplicates are rows beyond the
 * distinct ids: with the sink's deduplication tokens there must be none even without FINAL.
 * Per device, the stored count and seq range must match what was acknowledged, which
 * pinpoints a loss to a device and a seq range instead of a bare number.
 */
import type { DeviceKind } from '../lib/topics.ts';
import type { RecordName } from '../schemas/types.ts';

/** The ClickHouse raw table of each record (docs/sinks.md). */
export const RAW_TABLES: Record<RecordName, { table: string; kind: DeviceKind }> = {
  TruckTelemetry: { table: 'truck_telemetry', kind: 'truck' },
  EngineStateChanged: { table: 'truck_engine_events', kind: 'truck' },
  DiagnosticReported: { table: 'truck_diagnostics', kind: 'truck' },
  TurbineTelemetry: { table: 'turbine_telemetry', kind: 'turbine' },
  SolarTelemetry: { table: 'solar_telemetry', kind: 'solar' },
} as Record<RecordName, { table: string; kind: DeviceKind }>;

export interface DeviceTally {
  count: number;
  minSeq: number;
  maxSeq: number;
}

/** What the load test had acknowledged by Kafka (acks=all), per record and per device. */
export interface ProducedTally {
  byRecord: Partial<Record<RecordName, number>>;
  byDevice: Map<string, DeviceTally>;
}

export interface StoredTally {
  /** Per raw table: rows (count()) and distinct event ids (uniqExact). */
  tables: Record<string, { rows: number; distinct: number }>;
  /** Dead letters written by the sink stage, per raw device kind. */
  deadLettered: Partial<Record<DeviceKind, number>>;
  byDevice: Map<string, DeviceTally>;
}

export interface KindReconciliation {
  kind: DeviceKind;
  produced: number;
  storedRows: number;
  storedDistinct: number;
  deadLettered: number;
  /** Produced but neither stored nor dead-lettered. */
  lost: number;
  /** Rows beyond the distinct ids. */
  duplicates: number;
  /** Stored or dead-lettered beyond what was produced (e.g. a send that failed but landed). */
  unexpected: number;
}

export interface DeviceMismatch {
  deviceId: string;
  produced: DeviceTally | undefined;
  stored: DeviceTally | undefined;
}

export interface Reconciliation {
  ok: boolean;
  produced: number;
  stored: number;
  deadLettered: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  kinds: KindReconciliation[];
  devicesChecked: number;
  /** At most `maxMismatches` devices whose count or seq range differs. */
  deviceMismatches: DeviceMismatch[];
  deviceMismatchCount: number;
}

export function emptyProducedTally(): ProducedTally {
  return { byRecord: {}, byDevice: new Map() };
}

/** Adds one acknowledged event. */
export function tallyProduced(tally: ProducedTally, record: RecordName, deviceId: string, seq: number): void {
  tally.byRecord[record] = (tally.byRecord[record] ?? 0) + 1;
  const device = tally.byDevice.get(deviceId);
  if (!device) tally.byDevice.set(deviceId, { count: 1, minSeq: seq, maxSeq: seq });
  else {
    device.count++;
    if (seq < device.minSeq) device.minSeq = seq;
    if (seq > device.maxSeq) device.maxSeq = seq;
  }
}

export function reconcile(produced: ProducedTally, stored: StoredTally, maxMismatches = 20): Reconciliation {
  const kinds: KindReconciliation[] = [];
  for (const kind of ['truck', 'turbine', 'solar'] as const) {
    let producedN = 0;
    let rows = 0;
    let distinct = 0;
    for (const [record, spec] of Object.entries(RAW_TABLES) as [
      RecordName,
      (typeof RAW_TABLES)[RecordName],
    ][]) {
      if (spec.kind !== kind) continue;
      producedN += produced.byRecord[record] ?? 0;
      rows += stored.tables[spec.table]?.rows ?? 0;
      distinct += stored.tables[spec.table]?.distinct ?? 0;
    }
    const dead = stored.deadLettered[kind] ?? 0;
    const accounted = distinct + dead;
    kinds.push({
      kind,
      produced: producedN,
      storedRows: rows,
      storedDistinct: distinct,
      deadLettered: dead,
      lost: Math.max(0, producedN - accounted),
      duplicates: Math.max(0, rows - distinct),
      unexpected: Math.max(0, accounted - producedN),
    });
  }
  const mismatches: DeviceMismatch[] = [];
  let mismatchCount = 0;
  const ids = new Set([...produced.byDevice.keys(), ...stored.byDevice.keys()]);
  for (const deviceId of [...ids].sort()) {
    const p = produced.byDevice.get(deviceId);
    const s = stored.byDevice.get(deviceId);
    const same = p && s && p.count === s.count && p.minSeq === s.minSeq && p.maxSeq === s.maxSeq;
    if (same) continue;
    mismatchCount++;
    if (mismatches.length < maxMismatches) mismatches.push({ deviceId, produced: p, stored: s });
  }
  const sum = (pick: (k: KindReconciliation) => number) => kinds.reduce((total, k) => total + pick(k), 0);
  const lost = sum((k) => k.lost);
  const duplicates = sum((k) => k.duplicates);
  const unexpected = sum((k) => k.unexpected);
  return {
    // Device mismatches are only a failure when the totals disagree too: a device's
    // dead-lettered events are legitimately missing from its stored range.
    ok:
      lost === 0 &&
      duplicates === 0 &&
      unexpected === 0 &&
      (mismatchCount === 0 || sum((k) => k.deadLettered) > 0),
    produced: sum((k) => k.produced),
    stored: sum((k) => k.storedDistinct),
    deadLettered: sum((k) => k.deadLettered),
    lost,
    duplicates,
    unexpected,
    kinds,
    devicesChecked: ids.size,
    deviceMismatches: mismatches,
    deviceMismatchCount: mismatchCount,
  };
}
