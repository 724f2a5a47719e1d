/**
 * Reconciliation of the pipeline's derived outputs against what the load test produced
 * (pure): every device-window of `aggregates_1m`, the alerts and `device_state`.
 *
 * - Windows: the expected count and per-field count/min/max/sum of every device-window are
 *   folded here from the acknowledged events themselves, independently of the processor's
 *   code (every numeric field of an event but ts and seq is a measurement the processor
 *   aggregates; a null is not a value). Only windows closed by stream time are judged:
 *   end + grace at or before the judged horizon (the newest event time of the run minus a
 *   margin); later ones wait for the processor's idle timer and are counted as open.
 * - Alerts: recomputed by the processors' pure core (processors/core) from the acknowledged
 *   events, each topic-partition in its own core and offset order as the processor sees
 *   them; compared as the state of every alert id at the horizon (transitions after it
 *   depend on processing-time timers, which a recomputation cannot know).
 * - Device state: per device, the event count and the last seq.
 *
 * Sums are compared with a relative tolerance (the processor may add in another order);
 * counts, minima and maxima exactly.
 */
import { type CoreConfig, createPartitionCore, type PartitionCore } from '../processors/core/index.ts';
import type { RawEvent } from '../schemas/types.ts';
import type { DeviceTally } from './reconcile.ts';

export interface FieldStat {
  count: number;
  min: number;
  max: number;
  sum: number;
}

export interface WindowFigures {
  deviceId: string;
  windowStart: number;
  count: number;
  fields: Record<string, FieldStat>;
}

export interface AlertTransition {
  alertId: string;
  rule: string;
  deviceId: string;
  state: 'RAISED' | 'RESOLVED';
  /** Event time of the transition. */
  ts: number;
}

export interface StoredDeviceState {
  deviceId: string;
  eventCount: number;
  seq: number;
}

const NOT_MEASUREMENTS = new Set(['ts', 'seq']);

/** The measurements of one event: its numeric fields but ts and seq. */
export function measurements(value: Record<string, unknown>): [string, number][] {
  const out: [string, number][] = [];
  for (const [name, v] of Object.entries(value))
    if (typeof v === 'number' && !NOT_MEASUREMENTS.has(name)) out.push([name, v]);
  return out;
}

export function windowKey(deviceId: string, windowStart: number): string {
  return `${deviceId}\u0000${windowStart}`;
}

/** Folds one event into the expected windows (epoch-aligned tumbling windows of `sizeMs`). */
export function foldWindow(windows: Map<string, WindowFigures>, event: RawEvent, sizeMs: number): void {
  const value = event.value as unknown as Record<string, unknown> & { deviceId: string; ts: number };
  const windowStart = Math.floor(value.ts / sizeMs) * sizeMs;
  const key = windowKey(value.deviceId, windowStart);
  let window = windows.get(key);
  if (!window) {
    window = { deviceId: value.deviceId, windowStart, count: 0, fields: {} };
    windows.set(key, window);
  }
  window.count++;
  for (const [name, v] of measurements(value)) {
    const stat = window.fields[name];
    if (!stat) window.fields[name] = { count: 1, min: v, max: v, sum: v };
    else {
      stat.count++;
      if (v < stat.min) stat.min = v;
      if (v > stat.max) stat.max = v;
      stat.sum += v;
    }
  }
}

/**
 * What the run's outputs must be, built while the load runs from every acknowledged event
 * (in acknowledgement order, which is offset order per partition).
 */
export interface OutputManifest {
  add(topic: string, partition: number, event: RawEvent): void;
  readonly windows: Map<string, WindowFigures>;
  /** Every transition of the recomputed alerts, in order. */
  alerts(): AlertTransition[];
  /** Newest event time acknowledged (0 before any). */
  readonly maxTs: number;
}

export function createOutputManifest(core: CoreConfig): OutputManifest {
  const windows = new Map<string, WindowFigures>();
  const cores = new Map<string, PartitionCore>();
  const transitions: AlertTransition[] = [];
  let maxTs = 0;
  return {
    windows,
    get maxTs() {
      return maxTs;
    },
    add(topic, partition, event) {
      foldWindow(windows, event, core.windowSizeMs);
      if (event.value.ts > maxTs) maxTs = event.value.ts;
      const key = `${topic}\u0000${partition}`;
      let partitionCore = cores.get(key);
      if (!partitionCore) {
        partitionCore = createPartitionCore(core);
        cores.set(key, partitionCore);
      }
      // Processing time = event time: no partition of a running load is ever idle.
      for (const alert of partitionCore.apply(event, event.value.ts).alerts)
        transitions.push({
          alertId: alert.alertId,
          rule: alert.rule,
          deviceId: alert.deviceId,
          state: alert.state,
          ts: alert.ts,
        });
    },
    alerts: () => transitions,
  };
}

export interface WindowMismatch {
  deviceId: string;
  windowStart: number;
  /** missing: expected, not stored; unexpected: stored, not expected; wrong: figures differ. */
  problem: 'missing' | 'unexpected' | 'wrong';
  detail: string;
}

export interface OutputReconciliation {
  ok: boolean;
  /** Windows whose end + grace is at or before this event time are judged. */
  horizonMs: number;
  windows: {
    expected: number;
    judged: number;
    /** Judged windows missing, unexpected or with wrong figures. */
    wrong: number;
    missing: number;
    unexpected: number;
    /** Not yet due by stream time at the horizon: not judged. */
    open: number;
    examples: WindowMismatch[];
  };
  alerts: {
    expected: number;
    stored: number;
    /** Alert ids whose state at the horizon differs (or exists on one side only). */
    wrong: number;
    examples: { alertId: string; rule: string; deviceId: string; expected?: string; stored?: string }[];
  };
  deviceState: {
    devices: number;
    wrong: number;
    examples: {
      deviceId: string;
      expected: { eventCount: number; seq: number };
      stored?: { eventCount: number; seq: number };
    }[];
  };
}

const SUM_TOLERANCE = 1e-9;

function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= SUM_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
}

/** How one stored window differs from the expected one, or undefined if it does not. */
export function windowDifference(expected: WindowFigures, stored: WindowFigures): string | undefined {
  if (expected.count !== stored.count) return `event_count ${stored.count}, expected ${expected.count}`;
  const names = new Set([...Object.keys(expected.fields), ...Object.keys(stored.fields)]);
  for (const name of [...names].sort()) {
    const e = expected.fields[name];
    const s = stored.fields[name];
    if (!e || !s) return `field ${name} ${e ? 'not stored' : 'not expected'}`;
    if (e.count !== s.count) return `${name} count ${s.count}, expected ${e.count}`;
    if (e.min !== s.min) return `${name} min ${s.min}, expected ${e.min}`;
    if (e.max !== s.max) return `${name} max ${s.max}, expected ${e.max}`;
    if (!near(e.sum, s.sum)) return `${name} sum ${s.sum}, expected ${e.sum}`;
  }
  return undefined;
}

/** The state of every alert id at `horizonMs`: its newest transition at or before it. */
export function alertStatesAt(
  transitions: readonly AlertTransition[],
  horizonMs: number,
): Map<string, AlertTransition> {
  const states = new Map<string, AlertTransition>();
  for (const t of transitions) {
    if (t.ts > horizonMs) continue;
    const seen = states.get(t.alertId);
    // RESOLVED wins a tie: it always follows its RAISED.
    if (!seen || t.ts > seen.ts || (t.ts === seen.ts && t.state === 'RESOLVED')) states.set(t.alertId, t);
  }
  return states;
}

export function reconcileOutputs(input: {
  expectedWindows: ReadonlyMap<string, WindowFigures>;
  storedWindows: readonly WindowFigures[];
  expectedAlerts: readonly AlertTransition[];
  storedAlerts: readonly AlertTransition[];
  producedByDevice: ReadonlyMap<string, DeviceTally>;
  storedStates: readonly StoredDeviceState[];
  windowSizeMs: number;
  graceMs: number;
  horizonMs: number;
  maxExamples?: number;
}): OutputReconciliation {
  const max = input.maxExamples ?? 20;
  const due = (windowStart: number) => windowStart + input.windowSizeMs + input.graceMs <= input.horizonMs;
  const examples: WindowMismatch[] = [];
  const note = (m: WindowMismatch) => {
    if (examples.length < max) examples.push(m);
  };
  let judged = 0;
  let open = 0;
  let missing = 0;
  let unexpected = 0;
  let wrongFigures = 0;
  const stored = new Map(input.storedWindows.map((w) => [windowKey(w.deviceId, w.windowStart), w]));
  for (const [key, expected] of input.expectedWindows) {
    if (!due(expected.windowStart)) {
      open++;
      continue;
    }
    judged++;
    const s = stored.get(key);
    if (!s) {
      missing++;
      note({
        deviceId: expected.deviceId,
        windowStart: expected.windowStart,
        problem: 'missing',
        detail: 'not stored',
      });
      continue;
    }
    const difference = windowDifference(expected, s);
    if (difference) {
      wrongFigures++;
      note({
        deviceId: expected.deviceId,
        windowStart: expected.windowStart,
        problem: 'wrong',
        detail: difference,
      });
    }
  }
  for (const [key, s] of stored) {
    if (input.expectedWindows.has(key) || !due(s.windowStart)) continue;
    unexpected++;
    note({
      deviceId: s.deviceId,
      windowStart: s.windowStart,
      problem: 'unexpected',
      detail: `${s.count} events`,
    });
  }

  const expectedAlerts = alertStatesAt(input.expectedAlerts, input.horizonMs);
  const storedAlerts = alertStatesAt(input.storedAlerts, input.horizonMs);
  const alertExamples: OutputReconciliation['alerts']['examples'] = [];
  let alertsWrong = 0;
  for (const id of new Set([...expectedAlerts.keys(), ...storedAlerts.keys()])) {
    const e = expectedAlerts.get(id);
    const s = storedAlerts.get(id);
    if (e && s && e.state === s.state) continue;
    alertsWrong++;
    const any = (e ?? s) as AlertTransition;
    if (alertExamples.length < max)
      alertExamples.push({
        alertId: id,
        rule: any.rule,
        deviceId: any.deviceId,
        ...(e ? { expected: e.state } : {}),
        ...(s ? { stored: s.state } : {}),
      });
  }

  const states = new Map(input.storedStates.map((s) => [s.deviceId, s]));
  const stateExamples: OutputReconciliation['deviceState']['examples'] = [];
  let statesWrong = 0;
  for (const [deviceId, produced] of input.producedByDevice) {
    const s = states.get(deviceId);
    if (s && s.eventCount === produced.count && s.seq === produced.maxSeq) continue;
    statesWrong++;
    if (stateExamples.length < max)
      stateExamples.push({
        deviceId,
        expected: { eventCount: produced.count, seq: produced.maxSeq },
        ...(s ? { stored: { eventCount: s.eventCount, seq: s.seq } } : {}),
      });
  }

  const windowsWrong = missing + unexpected + wrongFigures;
  return {
    ok: windowsWrong === 0 && alertsWrong === 0 && statesWrong === 0,
    horizonMs: input.horizonMs,
    windows: {
      expected: input.expectedWindows.size,
      judged,
      wrong: windowsWrong,
      missing,
      unexpected,
      open,
      examples,
    },
    alerts: {
      expected: expectedAlerts.size,
      stored: storedAlerts.size,
      wrong: alertsWrong,
      examples: alertExamples,
    },
    deviceState: { devices: input.producedByDevice.size, wrong: statesWrong, examples: stateExamples },
  };
}
