/**
 * Load profiles: the offered rate as a function of time since the start of the run.
 * Pure (no clock, no I/O): the runner asks "how many events should have been offered by
 * t seconds?" and sends the difference, so the pacing never drifts, whatever the tick
 * jitter, and a late tick catches up instead of silently lowering the rate.
 *
 * - constant: `rate` for the whole run.
 * - spike: `rate`, then `factor ×` (10 by default) for `spikeForS` starting at `spikeAtS`,
 *   then `rate` again: the tenfold surge of year-end reporting; the run goes on after the
 *   spike so the lag can be watched draining.
 * - diurnal: one day compressed into the run, from a night trough of 10 % of `rate` up to
 *   `rate` at mid-run and back: `rate × (0.55 − 0.45·cos(2πt/D))` (mean 0.55 × rate).
 * - step: `rate`, `rate + stepRate`, `rate + 2·stepRate`, … each for `stepS`; the runner
 *   judges every step and stops at the first that is not sustainable.
 */

export const PROFILE_NAMES = ['constant', 'step', 'spike', 'diurnal'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export type Profile =
  | { name: 'constant'; rate: number; durationS: number }
  | { name: 'spike'; rate: number; durationS: number; factor: number; spikeAtS: number; spikeForS: number }
  | { name: 'diurnal'; rate: number; durationS: number }
  | { name: 'step'; rate: number; durationS: number; stepRate: number; stepS: number };

export interface ProfileInput {
  name: ProfileName;
  rate: number;
  durationS: number;
  spikeFactor?: number | undefined;
  spikeAtS?: number | undefined;
  spikeForS?: number | undefined;
  stepRate?: number | undefined;
  stepS?: number | undefined;
}

/**
 * Fills in the profile's defaults. The spike comes at 20 % of the run and lasts 10 % of
 * it (at least 1 s), which leaves 70 % of the run to watch the backlog drain; steps last
 * 30 s (enough for several sink flushes and processor checkpoints) and add `rate` each.
 */
export function buildProfile(input: ProfileInput): Profile {
  const { rate, durationS } = input;
  switch (input.name) {
    case 'constant':
    case 'diurnal':
      return { name: input.name, rate, durationS };
    case 'spike': {
      const spikeAtS = input.spikeAtS ?? Math.round(durationS * 0.2);
      const spikeForS = input.spikeForS ?? Math.max(1, Math.round(durationS * 0.1));
      return { name: 'spike', rate, durationS, factor: input.spikeFactor ?? 10, spikeAtS, spikeForS };
    }
    case 'step':
      return {
        name: 'step',
        rate,
        durationS,
        stepRate: input.stepRate ?? rate,
        stepS: input.stepS ?? Math.min(30, durationS),
      };
  }
}

const DIURNAL_BASE = 0.55;
const DIURNAL_SWING = 0.45;

/** The offered rate (events/s) at `t` seconds; 0 outside [0, durationS). */
export function rateAt(profile: Profile, t: number): number {
  if (t < 0 || t >= profile.durationS) return 0;
  switch (profile.name) {
    case 'constant':
      return profile.rate;
    case 'spike':
      return t >= profile.spikeAtS && t < profile.spikeAtS + profile.spikeForS
        ? profile.rate * profile.factor
        : profile.rate;
    case 'diurnal':
      return profile.rate * (DIURNAL_BASE - DIURNAL_SWING * Math.cos((2 * Math.PI * t) / profile.durationS));
    case 'step':
      return profile.rate + profile.stepRate * Math.floor(t / profile.stepS);
  }
}

/** Events that should have been offered by `t` seconds: the integral of `rateAt` over [0, t]. */
export function offeredBy(profile: Profile, t: number): number {
  const x = Math.min(Math.max(t, 0), profile.durationS);
  switch (profile.name) {
    case 'constant':
      return profile.rate * x;
    case 'spike': {
      const inSpike = Math.min(Math.max(x - profile.spikeAtS, 0), profile.spikeForS);
      return profile.rate * x + profile.rate * (profile.factor - 1) * inSpike;
    }
    case 'diurnal': {
      const d = profile.durationS;
      return (
        profile.rate *
        (DIURNAL_BASE * x - ((DIURNAL_SWING * d) / (2 * Math.PI)) * Math.sin((2 * Math.PI * x) / d))
      );
    }
    case 'step': {
      const full = Math.floor(x / profile.stepS);
      // Steps 0..full-1 complete (rates rate + k·stepRate), then the partial one.
      const complete = profile.stepS * (full * profile.rate + (profile.stepRate * full * (full - 1)) / 2);
      return complete + (x - full * profile.stepS) * (profile.rate + profile.stepRate * full);
    }
  }
}

/** Total events the profile offers over the whole run. */
export function totalOffered(profile: Profile): number {
  return offeredBy(profile, profile.durationS);
}

export interface Phase {
  /** e.g. `step 3`, `spike`, `before spike`. */
  label: string;
  startS: number;
  endS: number;
  /** The offered rate in the phase (the peak for diurnal). */
  rate: number;
}

/** The profile's phases: what the report breaks figures down by. */
export function phases(profile: Profile): Phase[] {
  switch (profile.name) {
    case 'constant':
    case 'diurnal':
      return [{ label: profile.name, startS: 0, endS: profile.durationS, rate: profile.rate }];
    case 'spike': {
      const end = Math.min(profile.spikeAtS + profile.spikeForS, profile.durationS);
      return [
        { label: 'before spike', startS: 0, endS: profile.spikeAtS, rate: profile.rate },
        { label: 'spike', startS: profile.spikeAtS, endS: end, rate: profile.rate * profile.factor },
        { label: 'after spike', startS: end, endS: profile.durationS, rate: profile.rate },
      ].filter((phase) => phase.endS > phase.startS);
    }
    case 'step': {
      const out: Phase[] = [];
      for (let k = 0; k * profile.stepS < profile.durationS; k++) {
        out.push({
          label: `step ${k + 1}`,
          startS: k * profile.stepS,
          endS: Math.min((k + 1) * profile.stepS, profile.durationS),
          rate: profile.rate + profile.stepRate * k,
        });
      }
      return out;
    }
  }
}
