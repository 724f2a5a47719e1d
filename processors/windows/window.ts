/**
 * One tumbling event-time window of one device: running count/min/max/sum per numeric
 * field, the counters behind the derived figures, and the seqs it already holds (its
 * dedup memory). Everything here is additive over the window's own distinct events, so
 * the newest revision of a window is a function of the set of events it received, and
 * hourly/daily rollups (sums of minute windows) equal a recomputation from raw events.
 * Formulas: docs/processors-core.md.
 */
import type { DeviceKindSymbol, FieldStats, RawEvent, WindowAggregate } from '../../schemas/types.ts';
import { FleetgridError } from '../../lib/errors.ts';
import { addSeq } from './seq-ranges.ts';

/** Numeric fields aggregated per kind (TruckTelemetry's cargoTempC only when non-null). */
export const WINDOW_FIELDS = {
  TRUCK: ['lat', 'lon', 'speedKmh', 'headingDeg', 'engineTempC', 'fuelPct', 'odometerKm', 'cargoTempC'],
  TURBINE: ['windSpeedMs', 'rotorRpm', 'powerKw', 'pitchDeg', 'nacelleTempC', 'vibrationMmS'],
  SOLAR: ['irradianceWm2', 'panelTempC', 'dcVoltageV', 'dcCurrentA', 'acPowerW'],
} as const satisfies Record<DeviceKindSymbol, readonly string[]>;

/** Stats layout: 4 slots per field. */
const COUNT = 0;
const MIN = 1;
const MAX = 2;
const SUM = 3;

/**
 * Counter slots per kind. TRUCK: engine-state samples (TruckTelemetry and
 * EngineStateChanged), of which engine on, of which idling. TURBINE: samples, of which
 * available (RUNNING or IDLE).
 */
const COUNTERS = { TRUCK: 3, TURBINE: 2, SOLAR: 0 } as const satisfies Record<DeviceKindSymbol, number>;
const T_STATE = 0;
const T_ON = 1;
const T_IDLE = 2;
const W_SAMPLES = 0;
const W_AVAILABLE = 1;

const ODOMETER = WINDOW_FIELDS.TRUCK.indexOf('odometerKm');
const TURBINE_POWER = WINDOW_FIELDS.TURBINE.indexOf('powerKw');
const SOLAR_POWER = WINDOW_FIELDS.SOLAR.indexOf('acPowerW');

export interface WindowState {
  readonly kind: DeviceKindSymbol;
  readonly start: number;
  /** Last emitted revision; -1 while the window has never been emitted. */
  revision: number;
  eventCount: number;
  firstEventTs: number;
  lastEventTs: number;
  /** [count, min, max, sum] per field of WINDOW_FIELDS[kind]. */
  readonly stats: Float64Array;
  readonly counters: Float64Array;
  /** Seqs held, as flattened inclusive ranges (seq-ranges.ts). */
  readonly seqs: number[];
}

export interface WindowMath {
  windowSizeMs: number;
  sampleIntervalMs: number;
  idleSpeedKmh: number;
}

export function kindOf(event: RawEvent): DeviceKindSymbol {
  switch (event.type) {
    case 'TurbineTelemetry':
      return 'TURBINE';
    case 'SolarTelemetry':
      return 'SOLAR';
    default:
      return 'TRUCK';
  }
}

export function createWindow(kind: DeviceKindSymbol, start: number): WindowState {
  return {
    kind,
    start,
    revision: -1,
    eventCount: 0,
    firstEventTs: 0,
    lastEventTs: 0,
    stats: new Float64Array(WINDOW_FIELDS[kind].length * 4),
    counters: new Float64Array(COUNTERS[kind]),
    seqs: [],
  };
}

function bump(counters: Float64Array, slot: number): void {
  counters[slot] = (counters[slot] as number) + 1;
}

function addValue(stats: Float64Array, field: number, value: number): void {
  const base = field * 4;
  const count = stats[base + COUNT] as number;
  if (count === 0) {
    stats[base + MIN] = value;
    stats[base + MAX] = value;
  } else {
    if (value < (stats[base + MIN] as number)) stats[base + MIN] = value;
    if (value > (stats[base + MAX] as number)) stats[base + MAX] = value;
  }
  stats[base + COUNT] = count + 1;
  stats[base + SUM] = (stats[base + SUM] as number) + value;
}

/**
 * Folds one event into the window. Returns false, changing nothing, when the window
 * already holds the event's seq (a duplicate: resends repeat eventId and seq).
 */
export function addToWindow(window: WindowState, event: RawEvent, math: WindowMath): boolean {
  const value = event.value;
  if (!addSeq(window.seqs, value.seq)) return false;
  const ts = value.ts;
  if (window.eventCount === 0) {
    window.firstEventTs = ts;
    window.lastEventTs = ts;
  } else {
    if (ts < window.firstEventTs) window.firstEventTs = ts;
    if (ts > window.lastEventTs) window.lastEventTs = ts;
  }
  window.eventCount++;
  const { stats, counters } = window;
  switch (event.type) {
    case 'TruckTelemetry': {
      const t = event.value;
      addValue(stats, 0, t.lat);
      addValue(stats, 1, t.lon);
      addValue(stats, 2, t.speedKmh);
      addValue(stats, 3, t.headingDeg);
      addValue(stats, 4, t.engineTempC);
      addValue(stats, 5, t.fuelPct);
      addValue(stats, 6, t.odometerKm);
      if (t.cargoTempC !== null) addValue(stats, 7, t.cargoTempC);
      bump(counters, T_STATE);
      if (t.engineOn) {
        bump(counters, T_ON);
        if (t.speedKmh < math.idleSpeedKmh) bump(counters, T_IDLE);
      }
      break;
    }
    case 'EngineStateChanged':
      // A state change is a sample of the engine state taken while stationary.
      bump(counters, T_STATE);
      if (event.value.engineOn) {
        bump(counters, T_ON);
        bump(counters, T_IDLE);
      }
      break;
    case 'DiagnosticReported':
      break;
    case 'TurbineTelemetry': {
      const t = event.value;
      addValue(stats, 0, t.windSpeedMs);
      addValue(stats, 1, t.rotorRpm);
      addValue(stats, 2, t.powerKw);
      addValue(stats, 3, t.pitchDeg);
      addValue(stats, 4, t.nacelleTempC);
      addValue(stats, 5, t.vibrationMmS);
      bump(counters, W_SAMPLES);
      if (t.status === 'RUNNING' || t.status === 'IDLE') bump(counters, W_AVAILABLE);
      break;
    }
    case 'SolarTelemetry': {
      const s = event.value;
      addValue(stats, 0, s.irradianceWm2);
      addValue(stats, 1, s.panelTempC);
      addValue(stats, 2, s.dcVoltageV);
      addValue(stats, 3, s.dcCurrentA);
      addValue(stats, 4, s.acPowerW);
      break;
    }
  }
  return true;
}

function mean(stats: Float64Array, field: number): number {
  const count = stats[field * 4 + COUNT] as number;
  return count === 0 ? 0 : (stats[field * 4 + SUM] as number) / count;
}

/** Time the window's samples stand for: first to last event plus one nominal interval, at most the size. */
export function coveredMs(window: WindowState, math: WindowMath): number {
  if (window.eventCount === 0) return 0;
  return Math.min(math.windowSizeMs, window.lastEventTs - window.firstEventTs + math.sampleIntervalMs);
}

/** Energy of the window in kWh (turbines and solar; 0 for trucks): mean power × covered time. */
export function windowEnergyKwh(window: WindowState, math: WindowMath): number {
  const hours = coveredMs(window, math) / 3_600_000;
  if (window.kind === 'TURBINE') return mean(window.stats, TURBINE_POWER) * hours;
  if (window.kind === 'SOLAR') return (mean(window.stats, SOLAR_POWER) / 1000) * hours;
  return 0;
}

export function derivedFigures(window: WindowState, math: WindowMath): Record<string, number> {
  const covered = coveredMs(window, math) / 1000;
  const { stats, counters } = window;
  const share = (part: number, whole: number) => (whole === 0 ? 0 : (covered * part) / whole);
  switch (window.kind) {
    case 'TRUCK': {
      const odo = ODOMETER * 4;
      const state = counters[T_STATE] as number;
      return {
        coveredSeconds: covered,
        distanceKm:
          (stats[odo + COUNT] as number) === 0
            ? 0
            : (stats[odo + MAX] as number) - (stats[odo + MIN] as number),
        engineOnSeconds: share(counters[T_ON] as number, state),
        idleSeconds: share(counters[T_IDLE] as number, state),
      };
    }
    case 'TURBINE':
      return {
        coveredSeconds: covered,
        energyKwh: windowEnergyKwh(window, math),
        availableSeconds: share(counters[W_AVAILABLE] as number, counters[W_SAMPLES] as number),
      };
    case 'SOLAR':
      return { coveredSeconds: covered, energyKwh: windowEnergyKwh(window, math) };
  }
}

export function toAggregate(
  window: WindowState,
  deviceId: string,
  siteId: string,
  math: WindowMath,
): WindowAggregate {
  const names = WINDOW_FIELDS[window.kind];
  const fields: FieldStats[] = [];
  for (let i = 0; i < names.length; i++) {
    const count = window.stats[i * 4 + COUNT] as number;
    if (count === 0) continue;
    fields.push({
      name: names[i] as string,
      count,
      min: window.stats[i * 4 + MIN] as number,
      max: window.stats[i * 4 + MAX] as number,
      sum: window.stats[i * 4 + SUM] as number,
    });
  }
  return {
    deviceId,
    siteId,
    kind: window.kind,
    model: null,
    driverId: null,
    windowStart: window.start,
    windowEnd: window.start + math.windowSizeMs,
    revision: window.revision,
    eventCount: window.eventCount,
    firstEventTs: window.firstEventTs,
    lastEventTs: window.lastEventTs,
    fields,
    derived: derivedFigures(window, math),
  };
}

/**
 * JSON-safe form for checkpoints: [start, revision, eventCount, firstTs, lastTs, stats,
 * counters, seqs]. The stats travel as base64 of their float64 bytes: exact (no decimal
 * round trip), about half the size of the numbers printed as JSON, and encoded natively.
 */
export type WindowSnapshot = [number, number, number, number, number, string, number[], number[]];

export function snapshotWindow(window: WindowState): WindowSnapshot {
  const { stats } = window;
  return [
    window.start,
    window.revision,
    window.eventCount,
    window.firstEventTs,
    window.lastEventTs,
    Buffer.from(stats.buffer, stats.byteOffset, stats.byteLength).toString('base64'),
    Array.from(window.counters),
    window.seqs.slice(),
  ];
}

export function restoreWindow(kind: DeviceKindSymbol, s: WindowSnapshot): WindowState {
  const window = createWindow(kind, s[0]);
  window.revision = s[1];
  window.eventCount = s[2];
  window.firstEventTs = s[3];
  window.lastEventTs = s[4];
  const bytes = Buffer.from(s[5], 'base64');
  if (bytes.byteLength !== window.stats.byteLength) {
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `snapshot of window ${s[0]}: ${bytes.byteLength} bytes of stats, expected ${window.stats.byteLength}`,
    );
  }
  // Copied through a Uint8Array view: the Buffer's bytes may not be 8-byte aligned.
  new Uint8Array(window.stats.buffer).set(bytes);
  window.counters.set(s[6]);
  for (const seq of s[7]) window.seqs.push(seq);
  return window;
}
