import { describe, expect, it } from 'vitest';
import {
  type Histogram,
  histogramPercentile,
  judgeLag,
  judgeSustainable,
  latencyBucket,
  mergeHistograms,
  percentile,
  recoveryTime,
  slope,
  summarize,
  troughGrowth,
} from './stats.ts';

describe('percentiles', () => {
  it('uses the nearest rank on raw values', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 0.5)).toBe(50);
    expect(percentile(values, 0.99)).toBe(99);
    expect(percentile(values, 1)).toBe(100);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeUndefined();
  });

  it('buckets latencies 10 ms wide below 1 s, 100 ms below 10 s and 1 s above, never negative', () => {
    expect(latencyBucket(-5)).toBe(0);
    expect(latencyBucket(999)).toBe(990);
    expect(latencyBucket(1_999)).toBe(1_900);
    expect(latencyBucket(12_345)).toBe(12_000);
  });

  it('reports the upper edge of the bucket holding the rank, so it never flatters', () => {
    const h: Histogram = new Map([
      [10, 98],
      [1_500, 2],
    ]);
    expect(histogramPercentile(h, 0.5)).toEqual({ ms: 20, atLeast: false });
    expect(histogramPercentile(h, 0.98)).toEqual({ ms: 20, atLeast: false });
    expect(histogramPercentile(h, 0.99)).toEqual({ ms: 1_600, atLeast: false });
  });

  it('counts events not visible yet as at least as late as their wait so far', () => {
    const h: Histogram = new Map([[100, 97]]);
    // 3 of 100 still missing after 5 s: the p99 is at least 5 s, not 110 ms.
    expect(histogramPercentile(h, 0.99, 3, 5_000)).toEqual({ ms: 5_000, atLeast: true });
    expect(histogramPercentile(h, 0.95, 3, 5_000)).toEqual({ ms: 110, atLeast: false });
    expect(summarize(new Map())).toMatchObject({ count: 0, p99: undefined });
  });

  it('merges histograms by adding counts per bucket', () => {
    const merged = mergeHistograms([
      new Map([[10, 1]]),
      new Map([
        [10, 2],
        [20, 5],
      ]),
    ]);
    expect([...merged]).toEqual([
      [10, 3],
      [20, 5],
    ]);
  });
});

describe('lag', () => {
  it('fits the growth of a backlog by least squares', () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 5 + 2 * x })))).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 1 }])).toBe(0);
  });

  it('follows the floor of a backlog, not the peaks of a commit sawtooth', () => {
    const saw = Array.from({ length: 30 }, (_, t) => ({ t, lag: (t % 5) * 1_000 }));
    expect(troughGrowth(saw)).toBe(0);
    const rising = Array.from({ length: 31 }, (_, t) => ({ t, lag: (t % 5) * 1_000 + 30 * t }));
    // floors: 0 in the first third, 30·20 = 600 in the last; centres 20 s apart.
    expect(troughGrowth(rising)).toBeCloseTo(30);
  });

  it('calls a steady sawtooth bounded and a steadily growing backlog unbounded', () => {
    const saw = Array.from({ length: 30 }, (_, t) => ({ t, lag: (t % 5) * 1_000 }));
    expect(judgeLag(saw, 1_000, { maxGrowthShare: 0.05, maxLagS: 30 }).bounded).toBe(true);
    const growing = Array.from({ length: 30 }, (_, t) => ({ t, lag: t * 200 }));
    const verdict = judgeLag(growing, 1_000, { maxGrowthShare: 0.05, maxLagS: 30 });
    expect(verdict.bounded).toBe(false);
    expect(verdict.reason).toMatch(/backlog grows by 20\d\/s/);
  });

  it('calls a flat but huge backlog unbounded', () => {
    const flat = Array.from({ length: 10 }, (_, t) => ({ t, lag: 50_000 }));
    expect(judgeLag(flat, 1_000, { maxGrowthShare: 0.05, maxLagS: 30 }).reason).toMatch(/lag reached 50000/);
  });

  it('judges a rate sustainable only when produced, bounded and fresh', () => {
    const bounded = { bounded: true, growthPerS: 0, maxLag: 0, reason: undefined };
    const base = {
      offeredRate: 1_000,
      achievedRate: 990,
      lag: { sink: bounded },
      rawP99: { ms: 800, atLeast: false },
      minAchievedShare: 0.95,
      p99MaxMs: 2_000,
    };
    expect(judgeSustainable(base)).toEqual({ sustainable: true, reasons: [] });
    expect(judgeSustainable({ ...base, achievedRate: 900 }).reasons[0]).toMatch(/produced 900\/s/);
    expect(judgeSustainable({ ...base, rawP99: { ms: 3_000, atLeast: true } }).reasons[0]).toMatch(
      /≥ 3000 ms > 2000 ms/,
    );
    expect(
      judgeSustainable({ ...base, lag: { sink: { ...bounded, bounded: false, reason: 'grows' } } }).reasons,
    ).toEqual(['sink: grows']);
  });

  it('measures spike recovery from the spike end until the lag stays at its earlier level', () => {
    const samples = [
      ...[0, 1, 2, 3, 4].map((t) => ({ t, lag: 50 })),
      ...[5, 6, 7].map((t) => ({ t, lag: 5_000 * (t - 4) })),
      { t: 8, lag: 9_000 },
      { t: 9, lag: 3_000 },
      { t: 10, lag: 90 },
      { t: 11, lag: 400 },
      { t: 12, lag: 60 },
      { t: 13, lag: 40 },
    ];
    // Threshold: max(base rate 100, pre-spike max 50) = 100: first back at t = 10, for good at t = 12.
    expect(recoveryTime(samples, { startS: 5, endS: 8, baseRate: 100 })).toEqual({
      seconds: 2,
      stableSeconds: 4,
      thresholdLag: 100,
    });
    const cut = recoveryTime(samples.slice(0, 10), { startS: 5, endS: 8, baseRate: 100 });
    expect(cut).toMatchObject({ seconds: undefined, stableSeconds: undefined });
  });
});
