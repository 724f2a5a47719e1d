/**
 * Benchmark of the pure processor cores: µs per event for the window, alert and
 * device-state stages alone, and for the whole PartitionCore.apply (which adds dedup
 * bookkeeping, closing, eviction and output building), on a seeded mixed stream of
 * trucks, turbines and solar arrays at 1 Hz each. No I/O. Bounded: ~20 s.
 *
 *   node processors/core/bench.ts [--devices 1000] [--minutes 10]
 *
 * Prints a table, then one line `BENCH_JSON {...}`.
 */
import { parseArgs } from 'node:util';
import type { Alert, RawEvent } from '../../schemas/types.ts';
import { createAlertEngine, type DeviceMachines } from '../alerts/engine.ts';
import { copyDeviceState, createDeviceState, foldEvent } from '../state/device-state.ts';
import {
  addToWindow,
  createWindow,
  kindOf,
  toAggregate,
  type WindowMath,
  type WindowState,
} from '../windows/window.ts';
import { DEFAULT_CORE_CONFIG } from './config.ts';
import { createPartitionCore } from './index.ts';
import { randomStream } from './testing.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '10' },
  },
});
const devices = Number(values.devices);
const minutes = Number(values.minutes);
const events = randomStream(7, { devices, eventsPerDevice: minutes * 60, stepMs: 1_000 });
const math: WindowMath = {
  windowSizeMs: DEFAULT_CORE_CONFIG.windowSizeMs,
  sampleIntervalMs: DEFAULT_CORE_CONFIG.sampleIntervalMs,
  idleSpeedKmh: DEFAULT_CORE_CONFIG.idleSpeedKmh,
};

/** Runs `pass` over the stream until at least `minMs` elapsed (at least twice, after one warm-up); µs per event. */
function measure(
  pass: () => number,
  minMs = 2_500,
): { usPerEvent: number; eventsPerSecond: number; sink: number } {
  let sink = pass(); // warm-up: JIT and allocations
  let count = 0;
  const start = process.hrtime.bigint();
  let elapsedMs = 0;
  let rounds = 0;
  while (rounds < 2 || elapsedMs < minMs) {
    sink += pass();
    count += events.length;
    rounds++;
    elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  }
  const usPerEvent = (elapsedMs * 1000) / count;
  return { usPerEvent, eventsPerSecond: 1e6 / usPerEvent, sink };
}

/** Windows alone: find or create the device's window, fold the event, build the aggregate at close. */
function windowsPass(): number {
  const byDevice = new Map<string, Map<number, WindowState>>();
  let emitted = 0;
  for (const event of events) {
    const v = event.value;
    let windows = byDevice.get(v.deviceId);
    if (!windows) {
      windows = new Map();
      byDevice.set(v.deviceId, windows);
    }
    const start = Math.floor(v.ts / math.windowSizeMs) * math.windowSizeMs;
    let window = windows.get(start);
    if (!window) {
      // Closing the previous window of this device stands for the emission at end + grace.
      for (const [s, w] of windows) {
        toAggregate(w, v.deviceId, v.siteId, math);
        windows.delete(s);
        emitted++;
      }
      window = createWindow(kindOf(event), start);
      windows.set(start, window);
    }
    addToWindow(window, event, math);
  }
  return emitted;
}

function alertsPass(): number {
  const engine = createAlertEngine();
  const machines = new Map<string, DeviceMachines>();
  const out: Alert[] = [];
  for (const event of events) {
    const v = event.value;
    let m = machines.get(v.deviceId);
    if (!m) {
      m = {};
      machines.set(v.deviceId, m);
    }
    engine.onEvent({ deviceId: v.deviceId, siteId: v.siteId, kind: kindOf(event) }, m, event, out);
  }
  return out.length;
}

function statePass(): number {
  const states = new Map<string, ReturnType<typeof createDeviceState>>();
  let copies = 0;
  for (const event of events) {
    const v = event.value;
    let state = states.get(v.deviceId);
    if (!state) {
      state = createDeviceState(v.deviceId, v.siteId, kindOf(event));
      states.set(v.deviceId, state);
    }
    foldEvent(state, event);
    copies += copyDeviceState(state).eventCount > 0 ? 1 : 0;
  }
  return copies;
}

function combinedPass(): number {
  const core = createPartitionCore(DEFAULT_CORE_CONFIG);
  let outputs = 0;
  let now = 0;
  for (const event of events as RawEvent[]) {
    const out = core.apply(event, now++);
    outputs += out.aggregates.length + out.alerts.length + out.deviceStates.length;
  }
  return outputs;
}

const rows = {
  windows: measure(windowsPass),
  alerts: measure(alertsPass),
  state: measure(statePass),
  combined: measure(combinedPass),
};

// Snapshot cost and size at the end of the stream (the runner checkpoints it).
const core = createPartitionCore(DEFAULT_CORE_CONFIG);
for (const event of events) core.apply(event);
const snapStart = process.hrtime.bigint();
const json = JSON.stringify(core.snapshot());
const snapshotMs = Number(process.hrtime.bigint() - snapStart) / 1e6;
const restoreStart = process.hrtime.bigint();
createPartitionCore(DEFAULT_CORE_CONFIG, JSON.parse(json));
const restoreMs = Number(process.hrtime.bigint() - restoreStart) / 1e6;
const stats = core.stats();

console.log(`processors/core bench: ${events.length} events, ${devices} devices × ${minutes} min at 1 Hz`);
console.log('stage     µs/event   events/s');
for (const [name, r] of Object.entries(rows)) {
  console.log(
    `${name.padEnd(9)} ${r.usPerEvent.toFixed(3).padStart(8)} ${Math.round(r.eventsPerSecond).toString().padStart(10)}`,
  );
}
console.log(
  `snapshot: ${(json.length / 1e6).toFixed(2)} MB JSON for ${stats.openWindows + stats.retainedWindows} windows, ` +
    `${stats.dedupEntries} seq ranges; snapshot+stringify ${snapshotMs.toFixed(0)} ms, parse+restore ${restoreMs.toFixed(0)} ms`,
);
console.log(
  `BENCH_JSON ${JSON.stringify({
    component: 'processors-core',
    events: events.length,
    devices,
    usPerEvent: Object.fromEntries(
      Object.entries(rows).map(([k, r]) => [k, Number(r.usPerEvent.toFixed(3))]),
    ),
    eventsPerSecond: Math.round(rows.combined.eventsPerSecond),
    snapshotBytes: json.length,
    snapshotMs: Math.round(snapshotMs),
    restoreMs: Math.round(restoreMs),
  })}`,
);
