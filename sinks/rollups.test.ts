import { describe, expect, it } from 'vitest';
import { changedHours, HOUR_MS, planRollups, rollHoursSql } from './rollups.ts';

const H = HOUR_MS;
const T0 = Date.UTC(2026, 0, 1);
const lateness = { maxLatenessMs: H, windowSizeMs: 60_000 };

describe('planRollups', () => {
  it('rolls from the oldest window hour to the hour settled in the loaded data, a day per span', () => {
    const plan = planRollups({
      progress: null,
      oldestWindow: T0 + 10 * 60_000,
      newestWindow: T0 + 30 * H,
      now: T0 + 100 * H,
      lateness,
    });
    // Loaded until 30:01 → minus 1 h 7 min → 28:54 → hours before 28:00 are settled.
    expect(plan.settledUntil).toBe(T0 + 28 * H);
    expect(plan.spans).toEqual([
      { from: T0, to: T0 + 24 * H },
      { from: T0 + 24 * H, to: T0 + 28 * H },
    ]);
  });

  it('goes on from the progress mark and settles nothing the loaded data has not passed', () => {
    const base = { oldestWindow: T0, now: T0 + 100 * H, lateness };
    expect(planRollups({ ...base, progress: T0 + 28 * H, newestWindow: T0 + 30 * H }).spans).toEqual([]);
    expect(planRollups({ ...base, progress: T0 + 28 * H, newestWindow: T0 + 30 * H + 10 * 60_000 })).toEqual({
      spans: [{ from: T0 + 28 * H, to: T0 + 29 * H }],
      settledUntil: T0 + 29 * H,
    });
    // A sink that lags: the clock is far ahead, the loaded windows are not.
    expect(planRollups({ ...base, progress: T0, newestWindow: T0 + 30 * 60_000 }).spans).toEqual([]);
    // A window stamped ahead of the clock does not settle hours early.
    expect(
      planRollups({ ...base, now: T0 + 3 * H, progress: T0, newestWindow: T0 + 50 * H }).settledUntil,
    ).toBe(T0 + H);
    expect(planRollups({ ...base, progress: null, oldestWindow: null, newestWindow: null })).toEqual({
      spans: [],
      settledUntil: null,
    });
  });
});

describe('changedHours', () => {
  it('re-rolls hours loaded after (or just before) their roll, and loaded hours never rolled', () => {
    const loaded = new Map([
      [T0, T0 + 10 * H],
      [T0 + H, T0 + 12 * H],
      [T0 + 2 * H, T0 + 20 * H - 30_000],
      [T0 + 3 * H, T0 + 5 * H],
    ]);
    const rolled = new Map([
      [T0, T0 + 20 * H],
      [T0 + H, T0 + 11 * H],
      [T0 + 2 * H, T0 + 20 * H],
    ]);
    expect(changedHours(loaded, rolled)).toEqual([T0 + H, T0 + 2 * H, T0 + 3 * H]);
  });
});

describe('rollHoursSql', () => {
  it('rolls the newest revision of each window (FINAL) per hour, device, site and kind', () => {
    const statement = rollHoursSql({ from: T0, to: T0 + H });
    expect(statement.sql).toContain('FROM aggregates_1m FINAL');
    expect(statement.sql).toContain('GROUP BY bucket, device_id, site_id, kind');
    expect(statement.params).toEqual({ from: T0, to: T0 + H });
  });
});
