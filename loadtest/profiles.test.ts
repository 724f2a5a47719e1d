import { describe, expect, it } from 'vitest';
import { buildProfile, offeredBy, phases, rateAt, totalOffered } from './profiles.ts';

/** Numerical integral of rateAt, to check the closed forms of offeredBy. */
function integrate(profile: ReturnType<typeof buildProfile>, t: number, steps = 20_000): number {
  const dt = t / steps;
  let sum = 0;
  for (let i = 0; i < steps; i++) sum += rateAt(profile, (i + 0.5) * dt) * dt;
  return sum;
}

describe('load profiles', () => {
  it('offers a constant rate for the whole run and nothing after it', () => {
    const p = buildProfile({ name: 'constant', rate: 500, durationS: 10 });
    expect(rateAt(p, 0)).toBe(500);
    expect(rateAt(p, 9.99)).toBe(500);
    expect(rateAt(p, 10)).toBe(0);
    expect(offeredBy(p, 4)).toBe(2_000);
    expect(offeredBy(p, 60)).toBe(5_000);
    expect(totalOffered(p)).toBe(5_000);
  });

  it('spikes to ten times the base rate at 20 % of the run for 10 % of it by default', () => {
    const p = buildProfile({ name: 'spike', rate: 100, durationS: 100 });
    expect(p).toMatchObject({ factor: 10, spikeAtS: 20, spikeForS: 10 });
    expect(rateAt(p, 19.9)).toBe(100);
    expect(rateAt(p, 20)).toBe(1_000);
    expect(rateAt(p, 29.9)).toBe(1_000);
    expect(rateAt(p, 30)).toBe(100);
    expect(totalOffered(p)).toBe(100 * 90 + 1_000 * 10);
    expect(offeredBy(p, 25)).toBe(100 * 20 + 1_000 * 5);
  });

  it('ramps steps up by the step rate and integrates them exactly', () => {
    const p = buildProfile({ name: 'step', rate: 1_000, durationS: 90, stepS: 30 });
    expect(rateAt(p, 0)).toBe(1_000);
    expect(rateAt(p, 30)).toBe(2_000);
    expect(rateAt(p, 89)).toBe(3_000);
    expect(offeredBy(p, 45)).toBe(30 * 1_000 + 15 * 2_000);
    expect(totalOffered(p)).toBe(30 * (1_000 + 2_000 + 3_000));
    expect(phases(p).map((ph) => [ph.label, ph.rate])).toEqual([
      ['step 1', 1_000],
      ['step 2', 2_000],
      ['step 3', 3_000],
    ]);
  });

  it('follows a compressed day from a 10 % trough to the peak at mid-run', () => {
    const p = buildProfile({ name: 'diurnal', rate: 1_000, durationS: 120 });
    expect(rateAt(p, 0)).toBeCloseTo(100, 6);
    expect(rateAt(p, 60)).toBeCloseTo(1_000, 6);
    expect(totalOffered(p)).toBeCloseTo(0.55 * 1_000 * 120, 6);
  });

  it.each(['constant', 'spike', 'step', 'diurnal'] as const)(
    'offeredBy is the integral of rateAt for %s',
    (name) => {
      const p = buildProfile({ name, rate: 700, durationS: 37, stepS: 10, spikeAtS: 5, spikeForS: 3 });
      // The midpoint rule is off by at most one slice at each jump of the rate.
      for (const t of [0.5, 7.25, 19, 36.9])
        expect(Math.abs(offeredBy(p, t) - integrate(p, t))).toBeLessThan(2 * 7_000 * (t / 20_000) + 1e-6);
    },
  );

  it('labels the spike profile before, during and after the spike', () => {
    const p = buildProfile({ name: 'spike', rate: 10, durationS: 60, spikeAtS: 10, spikeForS: 5 });
    expect(phases(p).map((ph) => [ph.label, ph.startS, ph.endS, ph.rate])).toEqual([
      ['before spike', 0, 10, 10],
      ['spike', 10, 15, 100],
      ['after spike', 15, 60, 10],
    ]);
  });
});
