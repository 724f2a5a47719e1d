/**
 * Benchmark of the pure processor cores: µs per event for the window, alert and
 * device-state stages alone, and for the whole PartitionCore.apply (which adds dedup
 * bookkeeping, closing, eviction and output building), on a seeded mixed stream of
 * trucks, turbines and solar arrays at 1 Hz each. No I/O. Bounded: ~20 s.
 *
 *   node processors/core/bench.ts [--devices 1000] [--minutes 10]
 *
 * `combined+join` is the same core with the registry join (issue 13): every device of the
 * stream registered among --registered devices (default 10,000), the seed's kind rule rows;
 * `join` = combined+join − combined, each the fastest of 3 alternating measurements.
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
import { type CoreJoin, createPartitionCore } from './index.ts';
import { randomStream, registryForStream } from './testing.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '10' },
    registered: { type: 'string', default: '10000' },
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

const join: CoreJoin = {
  table: registryForStream(events, Number(values.registered)),
  unknownDevice: 'quarantine',
};

function combinedPass(withJoin = false): number {
  const core = createPartitionCore(DEFAULT_CORE_CONFIG, undefined, withJoin ? join : undefined);
  let outputs = 0;
  let now = 0;
  for (const event of events as RawEvent[]) {
    const out = core.apply(event, now++);
    outputs += out.aggregates.length + out.alerts.length + out.deviceStates.length;
  }
  return outputs;
}

/** The faster of alternating measurements of the core without and with the join (the machine is shared). */
function withAndWithoutJoin(): {
  combined: ReturnType<typeof measure>;
  'combined+join': ReturnType<typeof measure>;
} {
  const fastest = (a: ReturnType<typeof measure>, b: ReturnType<typeof measure> | undefined) =>
    b === undefined || a.usPerEvent < b.usPerEvent ? a : b;
  let without: ReturnType<typeof measure> | undefined;
  let withJoin: ReturnType<typeof measure> | undefined;
  for (let round = 0; round < 3; round++) {
    without = fastest(
      measure(() => combinedPass(false)),
      without,
    );
    withJoin = fastest(
      measure(() => combinedPass(true)),
      withJoin,
    );
  }
  return {
    combined: without as ReturnType<typeof measure>,
    'combined+join': withJoin as ReturnType<typeof measure>,
  };
}

const rows = {
  windows: measure(windowsPass),
  alerts: measure(alertsPass),
  state: measure(statePass),
  ...withAndWithoutJoin(),
};
const joinUsPerEvent = rows['combined+join'].usPerEvent - rows.combined.usPerEvent;

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
  `join: ${joinUsPerEvent.toFixed(3)} µs/event extra with ${join.table.devices.size} registered devices (target ≤ 0.3)`,
);
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
    joinUsPerEvent: Number(joinUsPerEvent.toFixed(3)),
    registeredDevices: join.table.devices.size,
    snapshotBytes: json.length,
    snapshotMs: Math.round(snapshotMs),
    restoreMs: Math.round(restoreMs),
  })}`,
);
