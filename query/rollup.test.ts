import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compactPartials,
  createDayCompactor,
  createHourReader,
  emptyKindPartial,
  HOUR_MS,
  HourCache,
  hourSpans,
  mergeSummaryPartials,
  settledBefore,
  type SummaryPartial,
  splitAtMark,
  splitRange,
} from './rollup.ts';

const H = HOUR_MS;
const T0 = Date.UTC(2026, 0, 1);

describe('splitRange', () => {
  it('answers settled whole hours from the cache and scans the edges live', () => {
    expect(splitRange({ from: T0 + 30 * 60_000, to: T0 + 5 * H + 10 }, T0 + 4 * H)).toEqual({
      hours: [T0 + H, T0 + 2 * H, T0 + 3 * H],
      live: [
        { from: T0 + 30 * 60_000, to: T0 + H },
        { from: T0 + 4 * H, to: T0 + 5 * H + 10 },
      ],
    });
  });

  it('needs no live scan for an aligned, settled range', () => {
    expect(splitRange({ from: T0, to: T0 + 2 * H }, T0 + 10 * H)).toEqual({ hours: [T0, T0 + H], live: [] });
  });

  it('scans everything live when no whole settled hour is inside', () => {
    const range = { from: T0 + 10, to: T0 + H + 10 };
    expect(splitRange(range, T0 + 10 * H)).toEqual({ hours: [], live: [range] });
    expect(splitRange({ from: T0, to: T0 + 3 * H }, T0)).toEqual({
      hours: [],
      live: [{ from: T0, to: T0 + 3 * H }],
    });
  });
});

describe('splitAtMark', () => {
  it('reads the hours before the rollups mark from the rollups and the rest from the windows', () => {
    const span = { from: T0, to: T0 + 3 * H };
    expect(splitAtMark(span, T0 + H)).toEqual({
      rollups: { from: T0, to: T0 + H },
      windows: { from: T0 + H, to: T0 + 3 * H },
    });
    expect(splitAtMark(span, T0 + 3 * H)).toEqual({ rollups: span });
    expect(splitAtMark(span, T0)).toEqual({ windows: span });
    expect(splitAtMark(span, Number.NEGATIVE_INFINITY)).toEqual({ windows: span });
  });
});

describe('settledBefore', () => {
  it('leaves maxLateness, two windows and a margin behind the clock, on an hour boundary', () => {
    const lateness = { maxLatenessMs: H, windowSizeMs: 60_000 };
    expect(settledBefore(T0 + 3 * H, lateness)).toBe(T0 + H); // 3 h - 1 h 7 min → 1:53 → 1:00
    expect(settledBefore(T0 + 2 * H + 7 * 60_000, lateness)).toBe(T0 + H);
  });
});

describe('HourCache', () => {
  it('tells missing from stale entries and evicts the oldest beyond its bound', () => {
    let now = 0;
    const cache = new HourCache<number>({ maxEntries: 2, ttlMs: 100, now: () => now });
    cache.set(T0, 1);
    now = 50;
    cache.set(T0 + H, 2);
    expect(cache.lookup([T0, T0 + H, T0 + 2 * H])).toEqual({ missing: [T0 + 2 * H], stale: [] });
    now = 120;
    expect(cache.lookup([T0, T0 + H])).toEqual({ missing: [], stale: [T0] });
    cache.set(T0 + 2 * H, 3);
    expect(cache.size).toBe(2);
    expect(cache.get(T0)).toBeUndefined();
    expect(cache.get(T0 + 2 * H)).toBe(3);
  });
});

describe('hourSpans', () => {
  it('groups contiguous hours into spans of at most maxHours', () => {
    expect(hourSpans([T0 + 3 * H, T0, T0 + H, T0 + 2 * H, T0 + 7 * H], 3)).toEqual([
      { from: T0, to: T0 + 3 * H },
      { from: T0 + 3 * H, to: T0 + 4 * H },
      { from: T0 + 7 * H, to: T0 + 8 * H },
    ]);
  });
});

describe('mergeSummaryPartials', () => {
  it('adds the figures and counts each device once across hours', () => {
    const a = {
      TRUCK: { ...emptyKindPartial(), events: 10, speedSum: 600, speedCount: 10, devices: ['t1', 't2'] },
    };
    const b = {
      TRUCK: { ...emptyKindPartial(), events: 5, speedSum: 400, speedCount: 5, devices: ['t2', 't3'] },
    };
    const c = { SOLAR: { ...emptyKindPartial(), energyKwh: 1.5, devices: ['s1'] } };
    const merged = mergeSummaryPartials([a, b, c]);
    expect(merged.TRUCK).toMatchObject({ events: 15, speedSum: 1000, speedCount: 15, activeDevices: 3 });
    expect(merged.SOLAR).toMatchObject({ energyKwh: 1.5, activeDevices: 1 });
  });
});

describe('compactPartials and createDayCompactor', () => {
  /** An hour's partial: devices of the hour (ids repeat across hours), one group per kind. */
  const hourPartial = (hour: number): SummaryPartial => ({
    TRUCK: {
      ...emptyKindPartial(),
      events: hour % 7,
      distanceKm: (hour % 5) / 4,
      devices: [`t${hour % 3}`, `t${hour % 4}`],
    },
    ...(hour % 2 === 0 ? { SOLAR: { ...emptyKindPartial(), energyKwh: 0.5, devices: ['s1'] } } : {}),
  });

  it('merge whole days to the same answer as the hours, compacting each day once', () => {
    // From 20:00 the day before: 4 loose hours, two whole days, then 3 loose hours.
    const hours = Array.from({ length: 55 }, (_, i) => T0 - 4 * H + i * H);
    const parts = hours.map((h) => hourPartial(h / H));
    let compactions = 0;
    const days = createDayCompactor((p: readonly SummaryPartial[]) => {
      compactions += 1;
      return compactPartials(p);
    });
    const compacted = days(hours, parts);
    expect(compacted).toHaveLength(4 + 2 + 3);
    expect(mergeSummaryPartials(compacted)).toEqual(mergeSummaryPartials(parts));
    expect(compactions).toBe(2);
    // The same hour objects: the days come from the compactor's cache.
    expect(days(hours, parts)[4]).toBe(compacted[4]);
    expect(compactions).toBe(2);
    // A refreshed hour (a new object) compacts its day again.
    const refreshed = [...parts];
    refreshed[10] = { TRUCK: { ...emptyKindPartial(), events: 100, devices: ['t9'] } };
    const again = days(hours, refreshed);
    expect(compactions).toBe(3);
    expect(mergeSummaryPartials(again)).toEqual(mergeSummaryPartials(refreshed));
    expect(again[5]).toBe(compacted[5]);
  });
});

describe('createHourReader', () => {
  /** What a scan of the hour answers (the data does not change during a sequence). */
  const truth = (hour: number) => `partial of ${hour}`;

  it('answers every request sequence as recomputing each hour would, whatever it evicts', async () => {
    const request = fc.record({
      first: fc.integer({ min: 0, max: 47 }),
      length: fc.integer({ min: 1, max: 30 }),
      // Requests started together share scans and race for the cache.
      concurrent: fc.boolean(),
      advanceMs: fc.integer({ min: 0, max: 300 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(request, { minLength: 1, maxLength: 12 }),
        async (maxEntries, ttlMs, requests) => {
          let now = 0;
          const cache = new HourCache<string>({ maxEntries, ttlMs, now: () => now });
          const read = createHourReader(cache, async (span) => {
            await Promise.resolve();
            const out = new Map<number, string>();
            for (let h = span.from; h < span.to; h += H) out.set(h, truth(h));
            return out;
          });
          const hoursOf = (r: { first: number; length: number }) =>
            Array.from({ length: r.length }, (_, i) => T0 + (r.first + i) * H);
          let batch: Promise<void>[] = [];
          for (const r of requests) {
            const hours = hoursOf(r);
            const answer = read(hours).then((values) => {
              expect(values).toEqual(hours.map((h) => truth(h)));
            });
            batch.push(answer);
            if (!r.concurrent) {
              await Promise.all(batch);
              batch = [];
            }
            now += r.advanceMs;
          }
          await Promise.all(batch);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers the issue 11 sequence: 90 days, then 92 days ending in the first one', async () => {
    // The fleet summary's settled-hour cache holds 2,232 hours; these two ranges need 4,344.
    const cache = new HourCache<number>({ maxEntries: 24 * 93, ttlMs: 300_000, now: () => 0 });
    const read = createHourReader(cache, async (span) => {
      const out = new Map<number, number>();
      for (let h = span.from; h < span.to; h += H) out.set(h, h);
      return out;
    });
    const hours = (from: number, to: number) =>
      Array.from({ length: (to - from) / H }, (_, i) => from + i * H);
    const first = hours(Date.UTC(2026, 0, 1), Date.UTC(2026, 3, 1));
    const second = hours(Date.UTC(2025, 9, 2), Date.UTC(2026, 0, 2));
    expect(await read(first)).toEqual(first);
    expect(await read(second)).toEqual(second);
  });
});
