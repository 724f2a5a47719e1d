import { describe, expect, it } from 'vitest';
import type { RawEvent } from '../../schemas/types.ts';
import { parseCoreConfig } from './config.ts';
import { type CoreOutput, createPartitionCore, DEFAULT_CORE_CONFIG, type PartitionCore } from './index.ts';
import { randomStream, T0, truck, turbine } from './testing.ts';

/** 2 minutes of max lateness, so a 5-minute stream has too-late events too. */
const config = parseCoreConfig({ maxLatenessMs: 120_000 });

/** A stream with duplicates (30 positions later), late (500 later, ~40 s) and too-late events (2,000 later). */
function messyStream(): RawEvent[] {
  const events = randomStream(42, { devices: 12, eventsPerDevice: 300, stepMs: 1_000 });
  const arrivals = events.map((event, i) => ({
    key: i + (i % 97 === 0 ? 500 : 0) + (i % 211 === 5 ? 2_000 : 0),
    event,
  }));
  events.forEach((event, i) => {
    if (i % 50 === 7) arrivals.push({ key: i + 30.5, event: structuredClone(event) });
  });
  return arrivals.sort((a, b) => a.key - b.key).map((a) => a.event);
}

type Step = { event: RawEvent; now: number } | { timer: number };

/** Events 10 ms of processing time apart, with an idle gap of 2 minutes in the middle. */
function schedule(events: RawEvent[]): Step[] {
  const steps: Step[] = [];
  let now = 1_000_000;
  events.forEach((event, i) => {
    if (i === 1_500) {
      for (let t = 0; t <= 120_000; t += 5_000) steps.push({ timer: now + t });
      now += 120_000;
    }
    now += 10;
    steps.push({ event, now });
    if (i % 100 === 0) steps.push({ timer: now });
  });
  return steps;
}

/** Outputs with errors reduced to their code and message (FleetgridError instances differ). */
function plain(output: CoreOutput) {
  return {
    ...output,
    rejected: output.rejected.map((r) => [r.event.value.eventId, r.error.code, r.error.message]),
  };
}

function run(steps: Step[], restartAt: Set<number>) {
  let core: PartitionCore = createPartitionCore(config);
  const outputs: ReturnType<typeof plain>[] = [];
  steps.forEach((step, i) => {
    if (restartAt.has(i)) {
      // Through JSON, as the runner stores it in Redis.
      core = createPartitionCore(config, JSON.parse(JSON.stringify(core.snapshot())));
    }
    outputs.push(plain('event' in step ? core.apply(step.event, step.now) : core.onTimer(step.timer)));
  });
  return { outputs, core };
}

describe('snapshot and restore', () => {
  it('continues after a restore exactly as a core that never stopped', () => {
    const steps = schedule(messyStream());
    const reference = run(steps, new Set());
    const all = reference.outputs;
    // the stream really exercises windows, revisions, rejections, alerts and states
    expect(all.flatMap((o) => o.aggregates).some((a) => a.revision > 0)).toBe(true);
    expect(all.flatMap((o) => o.alerts).length).toBeGreaterThan(10);
    expect(all.flatMap((o) => o.rejected).length).toBeGreaterThan(0);
    const cuts = steps.flatMap((step, i) => ('event' in step && i % 457 === 13 ? [i] : []));
    expect(cuts.length).toBeGreaterThan(5);
    const restarted = run(steps, new Set(cuts));
    expect(restarted.outputs).toEqual(reference.outputs);
    expect(restarted.core.snapshot()).toEqual(reference.core.snapshot());
  });

  it('is compact: seq ranges rather than event ids', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    // 1,000 devices × 10 minutes at 1 Hz = 600,000 events, 10 windows each
    for (let s = 0; s < 600; s++) {
      for (let d = 0; d < 1_000; d++) core.apply(turbine(`w${d}`, T0 + s * 1_000 + d, { seq: s }));
    }
    const stats = core.stats();
    expect(stats).toMatchObject({ devices: 1_000, dedupEntries: 10_000 });
    const bytes = JSON.stringify(core.snapshot()).length;
    expect(bytes / (stats.openWindows + stats.retainedWindows)).toBeLessThan(400);
  });

  it('keeps windows and states but restarts the alert machines of a snapshot written under other rules', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    for (const [seq, engineTempC] of [106, 107, 108].entries())
      core.apply(truck('t1', T0 + seq * 1_000, { seq, engineTempC }));
    const snapshot = { ...(core.snapshot() as Record<string, unknown>), rulesVersion: -1 };
    const restored = createPartitionCore(DEFAULT_CORE_CONFIG, snapshot);
    expect(restored.stats()).toMatchObject({ devices: 1, openWindows: 1 });
    const out = restored.apply(truck('t1', T0 + 3_000, { seq: 3, engineTempC: 90 }));
    // the RAISED alert of the old machine is not resolved by the new one
    expect(out.alerts).toEqual([]);
    expect(out.deviceStates[0]).toMatchObject({ eventCount: 4, openAlerts: [] });
  });

  it('refuses a snapshot taken with another window size', () => {
    const core = createPartitionCore(DEFAULT_CORE_CONFIG);
    core.apply(turbine('w1', T0, { seq: 0 }));
    expect(() =>
      createPartitionCore({ ...DEFAULT_CORE_CONFIG, windowSizeMs: 30_000 }, core.snapshot()),
    ).toThrow(/window size/);
    expect(() => createPartitionCore(DEFAULT_CORE_CONFIG, { v: 99 })).toThrow(/snapshot/);
  });
});
