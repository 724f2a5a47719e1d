/**
 * Heap of the processor's pure core per device and per retained window (issue 12 item 8:
 * is the processor's growth under a soak retention by design or a leak?). No Kafka, no
 * Redis: N devices' events go through PartitionCores as the runner feeds them (one core per
 * partition, devices spread over the partitions), outputs are dropped, and the V8 heap is
 * read after forced garbage collections at three points:
 *
 *   h0  before any core exists;
 *   h1  after minute 0: every device has its state, its alert machines and one open window
 *       → (h1 − h0) / N = heap per device including its open window;
 *   h2  after `--minutes` more minutes, stopped at the same phase of a minute (one open
 *       window per device again): every earlier window is emitted and, with the default
 *       max lateness (1 h), retained for late events
 *       → (h2 − h1) / (retained windows) = heap per retained window.
 *
 * The same stream is then run again with max lateness = window + grace (the least the core
 * accepts): retention is bounded, so h2 should stay near h1. The checkpoint snapshot's JSON
 * size per device is given too (what a restore reads).
 *
 *   node --expose-gc bench/core-memory.ts [--devices 5000] [--minutes 10] [--hz 1] [--partitions 6]
 *
 * Prints a table, then one line `BENCH_JSON {...}`.
 */
import { parseArgs } from 'node:util';
import type { RawEvent } from '../schemas/types.ts';
import {
  type CoreConfig,
  createPartitionCore,
  type PartitionCore,
  parseCoreConfig,
} from '../processors/core/index.ts';
import { solar, T0, truck, turbine } from '../processors/core/testing.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '5000' },
    minutes: { type: 'string', default: '10' },
    hz: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '6' },
  },
});
const DEVICES = Number(values.devices);
const MINUTES = Number(values.minutes);
const HZ = Number(values.hz);
const PARTITIONS = Number(values.partitions);
for (const [name, value] of Object.entries({ DEVICES, MINUTES, HZ, PARTITIONS }))
  if (!(value > 0)) throw new Error(`${name.toLowerCase()}: a positive number`);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc bench/core-memory.ts: the heap is read after forced GCs\n');
  process.exit(2);
}

const WINDOW_MS = 60_000;
const GRACE_MS = 30_000;
const KB = 1_024;

/** Heap used after full collections (twice: weak references and finalizers free more on the second). */
function settledHeap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** The load test's mix (loadtest/config.ts deviceMix): half trucks, a fifth turbines, the rest solar. */
function deviceIds(): { id: string; kind: 'truck' | 'turbine' | 'solar' }[] {
  const trucks = Math.round(DEVICES * 0.5);
  const turbines = Math.round(DEVICES * 0.2);
  return Array.from({ length: DEVICES }, (_, i) => {
    const kind = i < trucks ? 'truck' : i < trucks + turbines ? 'turbine' : 'solar';
    // Ids as long as a load test's (`lt1a2b3c4d-truck-00001`): the id is part of every record.
    return { id: `lt0c0ffee0-${kind}-${String(i).padStart(5, '0')}`, kind };
  });
}

/**
 * Minute `minute` of every device, in event-time order, at HZ events/s: values wander a
 * little so windows hold real min/max/sum figures. Built per step, never kept.
 */
function feedMinute(cores: PartitionCore[], devices: ReturnType<typeof deviceIds>, minute: number): number {
  const perMinute = Math.round(60 * HZ);
  const stepMs = 1_000 / HZ;
  let applied = 0;
  for (let k = 0; k < perMinute; k++) {
    for (let d = 0; d < devices.length; d++) {
      const device = devices[d] as (typeof devices)[number];
      // Devices are spread over the step, so event time only moves forward within a partition.
      const ts = T0 + minute * WINDOW_MS + Math.floor(k * stepMs + (d / devices.length) * stepMs);
      const seq = minute * perMinute + k;
      const wobble = ((seq * 7 + d) % 11) - 5;
      let event: RawEvent;
      if (device.kind === 'truck')
        event = truck(device.id, ts, { seq, speedKmh: 50 + wobble, engineTempC: 90 + wobble / 2 });
      else if (device.kind === 'turbine')
        event = turbine(device.id, ts, { seq, windSpeedMs: 10 + wobble / 5 });
      else event = solar(device.id, ts, { seq, acPowerW: 11_500 + wobble * 10 });
      (cores[d % cores.length] as PartitionCore).apply(event, ts);
      applied++;
    }
  }
  return applied;
}

interface Totals {
  openWindows: number;
  retainedWindows: number;
  devices: number;
  applied: number;
}

function totals(cores: readonly PartitionCore[]): Totals {
  const out: Totals = { openWindows: 0, retainedWindows: 0, devices: 0, applied: 0 };
  for (const core of cores) {
    const s = core.stats();
    out.openWindows += s.openWindows;
    out.retainedWindows += s.retainedWindows;
    out.devices += s.devices;
    out.applied += s.applied;
  }
  return out;
}

function snapshotBytes(cores: readonly PartitionCore[]): number {
  return cores.reduce((sum, core) => sum + Buffer.byteLength(JSON.stringify(core.snapshot())), 0);
}

interface Result {
  maxLatenessMs: number;
  events: number;
  afterMinute0: Totals;
  afterRun: Totals;
  heapMiB: { before: number; afterMinute0: number; afterRun: number };
  kbPerDevice: number;
  kbPerRetainedWindow: number | undefined;
  snapshotKbPerDevice: { afterMinute0: number; afterRun: number };
}

function run(config: CoreConfig): Result {
  const devices = deviceIds();
  const h0 = settledHeap();
  let cores: PartitionCore[] | undefined = Array.from({ length: PARTITIONS }, () =>
    createPartitionCore(config),
  );
  let events = feedMinute(cores, devices, 0);
  const afterMinute0 = totals(cores);
  const h1 = settledHeap();
  const snap1 = snapshotBytes(cores);
  for (let m = 1; m <= MINUTES; m++) events += feedMinute(cores, devices, m);
  const afterRun = totals(cores);
  const h2 = settledHeap();
  const snap2 = snapshotBytes(cores);
  const retainedAdded = afterRun.retainedWindows - afterMinute0.retainedWindows;
  const openAdded = afterRun.openWindows - afterMinute0.openWindows;
  const mib = (bytes: number) => Math.round((bytes / 1_048_576) * 10) / 10;
  const kb = (bytes: number) => Math.round((bytes / KB) * 100) / 100;
  const result: Result = {
    maxLatenessMs: config.maxLatenessMs,
    events,
    afterMinute0,
    afterRun,
    heapMiB: { before: mib(h0), afterMinute0: mib(h1), afterRun: mib(h2) },
    kbPerDevice: kb((h1 - h0) / DEVICES),
    // Open windows are one per device at both readings; if not, the difference is not one kind of object.
    kbPerRetainedWindow: retainedAdded > 0 && openAdded === 0 ? kb((h2 - h1) / retainedAdded) : undefined,
    snapshotKbPerDevice: { afterMinute0: kb(snap1 / DEVICES), afterRun: kb(snap2 / DEVICES) },
  };
  cores = undefined; // released before the next run's h0
  return result;
}

const retained = run(parseCoreConfig({ windowSizeMs: WINDOW_MS, graceMs: GRACE_MS }));
const bounded = run(
  parseCoreConfig({ windowSizeMs: WINDOW_MS, graceMs: GRACE_MS, maxLatenessMs: WINDOW_MS + GRACE_MS }),
);

console.log(
  `processor core memory: ${DEVICES} devices over ${PARTITIONS} partition cores, ${HZ} event/s each, 1 + ${MINUTES} minutes of 60 s windows (grace 30 s); node ${process.version}`,
);
console.log(
  'max lateness   events     open  retained  heap MiB (before → minute 0 → end)  KB/device  KB/retained window  snapshot KB/device',
);
for (const r of [retained, bounded])
  console.log(
    `${`${r.maxLatenessMs / 1_000} s`.padEnd(14)} ${String(r.events).padStart(9)} ${String(r.afterRun.openWindows).padStart(8)} ${String(r.afterRun.retainedWindows).padStart(9)}  ${`${r.heapMiB.before} → ${r.heapMiB.afterMinute0} → ${r.heapMiB.afterRun}`.padEnd(35)} ${String(r.kbPerDevice).padStart(9)}  ${String(r.kbPerRetainedWindow ?? '–').padStart(18)}  ${r.snapshotKbPerDevice.afterMinute0} → ${r.snapshotKbPerDevice.afterRun}`,
  );
const perHourMiB =
  retained.kbPerRetainedWindow === undefined
    ? undefined
    : Math.round(((DEVICES * 60 * retained.kbPerRetainedWindow) / KB) * 10) / 10;
if (perHourMiB !== undefined)
  console.log(
    `with the default max lateness (1 h) the retained windows of ${DEVICES} devices reach ${DEVICES * 60} after an hour: about ${perHourMiB} MiB of heap, then level off`,
  );
console.log(
  `BENCH_JSON ${JSON.stringify({ component: 'core-memory', devices: DEVICES, minutes: MINUTES, hz: HZ, partitions: PARTITIONS, retained, bounded, retainedHourMiB: perHourMiB })}`,
);
