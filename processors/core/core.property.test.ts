/**
 * The docs/design.md §3 window invariant as a property: for random streams with reordering
 * within grace, duplicates and late events, the newest revision of every window equals
 * a recomputation from the distinct events with ts in the window that arrived within
 * max lateness — computed here by a deliberately naive reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RawEvent, WindowAggregate } from '../../schemas/types.ts';
import { WINDOW_FIELDS } from '../windows/window.ts';
import { parseCoreConfig } from './config.ts';
import { createPartitionCore } from './index.ts';
import { engine, solar, T0, truck, turbine } from './testing.ts';

// Small windows so that short streams span many of them, and every kind of lateness occurs.
const config = parseCoreConfig({
  windowSizeMs: 10_000,
  graceMs: 5_000,
  maxLatenessMs: 60_000,
  sampleIntervalMs: 1_000,
});

const sampleArb = fc.record({
  gapMs: fc.integer({ min: 1, max: 3_000 }),
  a: fc.double({ min: 0, max: 100, noNaN: true }),
  b: fc.double({ min: 0, max: 100, noNaN: true }),
  flag: fc.boolean(),
  variant: fc.integer({ min: 0, max: 9 }),
});

const streamArb = fc.record({
  devices: fc.array(fc.array(sampleArb, { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 4 }),
  /** Per event (by index modulo length): arrival jitter in positions, small enough to stay within grace. */
  jitter: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 50 }),
  /** Events delayed far (revisions or TOO_LATE): [event index, delay in positions]. */
  late: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 10, max: 300 })), { maxLength: 12 }),
  /** Resends: [event index, delay in positions]. */
  duplicates: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 200 })), { maxLength: 20 }),
});

type Sample = typeof sampleArb extends fc.Arbitrary<infer T> ? T : never;

function buildEvents(devices: Sample[][]): RawEvent[] {
  const events: RawEvent[] = [];
  devices.forEach((samples, d) => {
    let ts = T0 + d * 137;
    samples.forEach((s, seq) => {
      ts += s.gapMs;
      const id = `d${d}`;
      if (d % 3 === 0) {
        if (s.variant === 0) events.push(engine(id, ts, s.flag, seq));
        else
          events.push(
            truck(id, ts, {
              seq,
              speedKmh: s.a,
              engineTempC: s.b,
              odometerKm: 1000 + seq * 0.3 + s.a / 1000,
              engineOn: s.flag,
              cargoTempC: s.variant < 5 ? null : s.b - 50,
            }),
          );
      } else if (d % 3 === 1) {
        events.push(
          turbine(id, ts, {
            seq,
            powerKw: s.a * 30,
            windSpeedMs: s.b / 5,
            status: s.flag ? 'RUNNING' : 'FAULT',
          }),
        );
      } else {
        events.push(solar(id, ts, { seq, acPowerW: s.a * 100, irradianceWm2: s.b * 10 }));
      }
    });
  });
  return events.sort((x, y) => x.value.ts - y.value.ts);
}

/** Reference recomputation of one window from its distinct events (naive, no shared code but the field list). */
function recompute(events: RawEvent[], start: number): Omit<WindowAggregate, 'revision'> {
  const first = events[0] as RawEvent;
  const kind =
    first.type === 'TurbineTelemetry' ? 'TURBINE' : first.type === 'SolarTelemetry' ? 'SOLAR' : 'TRUCK';
  const fields = WINDOW_FIELDS[kind].flatMap((name) => {
    const values = events
      .map((e) => (e.value as unknown as Record<string, unknown>)[name])
      .filter((v): v is number => typeof v === 'number');
    if (values.length === 0) return [];
    return [
      {
        name,
        count: values.length,
        min: Math.min(...values),
        max: Math.max(...values),
        sum: values.reduce((a, b) => a + b, 0),
      },
    ];
  });
  const times = events.map((e) => e.value.ts);
  const firstEventTs = Math.min(...times);
  const lastEventTs = Math.max(...times);
  const covered = Math.min(config.windowSizeMs, lastEventTs - firstEventTs + config.sampleIntervalMs) / 1000;
  const mean = (name: string) => {
    const f = fields.find((x) => x.name === name);
    return f ? f.sum / f.count : 0;
  };
  let derived: Record<string, number>;
  if (kind === 'TRUCK') {
    const samples = events.filter((e) => e.type === 'TruckTelemetry' || e.type === 'EngineStateChanged');
    const on = samples.filter((e) => (e.value as { engineOn: boolean }).engineOn);
    const idle = on.filter((e) => e.type === 'EngineStateChanged' || e.value.speedKmh < config.idleSpeedKmh);
    const odo = fields.find((f) => f.name === 'odometerKm');
    derived = {
      coveredSeconds: covered,
      distanceKm: odo ? odo.max - odo.min : 0,
      engineOnSeconds: samples.length ? (covered * on.length) / samples.length : 0,
      idleSeconds: samples.length ? (covered * idle.length) / samples.length : 0,
    };
  } else if (kind === 'TURBINE') {
    const available = events.filter((e) => e.type === 'TurbineTelemetry' && e.value.status !== 'FAULT');
    derived = {
      coveredSeconds: covered,
      energyKwh: (mean('powerKw') * covered) / 3600,
      availableSeconds: (covered * available.length) / events.length,
    };
  } else {
    derived = { coveredSeconds: covered, energyKwh: (mean('acPowerW') / 1000) * (covered / 3600) };
  }
  return {
    deviceId: first.value.deviceId,
    siteId: first.value.siteId,
    kind,
    model: null,
    driverId: null,
    windowStart: start,
    windowEnd: start + config.windowSizeMs,
    eventCount: events.length,
    firstEventTs,
    lastEventTs,
    fields,
    derived,
  };
}

function closeTo(actual: unknown, expected: unknown): boolean {
  if (typeof actual === 'number' && typeof expected === 'number') {
    return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    return actual.length === expected.length && actual.every((a, i) => closeTo(a, expected[i]));
  }
  if (actual && expected && typeof actual === 'object' && typeof expected === 'object') {
    const keys = Object.keys(expected);
    return (
      keys.length === Object.keys(actual).length &&
      keys.every((k) =>
        closeTo((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k]),
      )
    );
  }
  return actual === expected;
}

describe('window invariant (property)', () => {
  it('the newest revision of every window equals the recomputation from the distinct events accepted within max lateness', () => {
    fc.assert(
      fc.property(streamArb, ({ devices, jitter, late, duplicates }) => {
        const events = buildEvents(devices);
        // Arrival order: position + jitter (+ a long delay for late ones), and resends.
        const lateBy = new Map(late.map(([i, delay]) => [i % events.length, delay]));
        const arrivals = events.map((event, i) => ({
          key: i + (jitter[i % jitter.length] as number) + (lateBy.get(i) ?? 0),
          event,
        }));
        for (const [i, delay] of duplicates) {
          const at = i % events.length;
          arrivals.push({ key: at + delay + 0.5, event: structuredClone(events[at] as RawEvent) });
        }
        arrivals.sort((x, y) => x.key - y.key);

        const core = createPartitionCore(config);
        const newest = new Map<string, WindowAggregate>();
        const revisionsSeen = new Map<string, number[]>();
        const record = (aggregates: WindowAggregate[]) => {
          for (const a of aggregates) {
            const key = `${a.deviceId}@${a.windowStart}`;
            newest.set(key, a);
            revisionsSeen.set(key, [...(revisionsSeen.get(key) ?? []), a.revision]);
          }
        };
        // Reference acceptance: stream time = max accepted ts; too late if ts < streamTime - maxLateness.
        let streamTime = 0;
        const accepted = new Map<string, RawEvent>();
        let now = 0;
        for (const { event } of arrivals) {
          const out = core.apply(event, now++);
          record(out.aggregates);
          const tooLate = streamTime > 0 && event.value.ts < streamTime - config.maxLatenessMs;
          expect(out.rejected.length).toBe(tooLate ? 1 : 0);
          if (tooLate) continue;
          if (!accepted.has(event.value.eventId)) accepted.set(event.value.eventId, event);
          streamTime = Math.max(streamTime, event.value.ts);
        }
        // Flush: a long idle period closes every open window.
        core.onTimer(now + 1);
        record(core.onTimer(now + 10_000_000).aggregates);

        const byWindow = new Map<string, RawEvent[]>();
        for (const event of accepted.values()) {
          const start = Math.floor(event.value.ts / config.windowSizeMs) * config.windowSizeMs;
          const key = `${event.value.deviceId}@${start}`;
          byWindow.set(key, [...(byWindow.get(key) ?? []), event]);
        }
        expect([...newest.keys()].sort()).toEqual([...byWindow.keys()].sort());
        for (const [key, windowEvents] of byWindow) {
          const start = Number(key.split('@')[1]);
          const actual = newest.get(key) as WindowAggregate;
          const { revision, ...rest } = actual;
          const expected = recompute(windowEvents, start);
          if (!closeTo(rest, expected)) expect(rest).toEqual(expected);
          // revisions 0, 1, 2, … in order, one per emission
          expect(revisionsSeen.get(key)).toEqual(Array.from({ length: revision + 1 }, (_, i) => i));
        }
      }),
      { numRuns: 150 },
    );
  });
});
