/**
 * The schedule of a `--fault scale-out` run (pure; the I/O is loadtest/fault-run.ts): the
 * processors' group grows by one member every `everyS` seconds up to `max`, then shrinks
 * back one at a time to where it began, and again, until the scale-out window ends. Every
 * change is a rebalance of the one group. Removals are clean stops (SIGTERM: the member
 * drains and leaves), except the `killRemoval`-th, which is a kill -9 (the group notices it
 * only at its session timeout). The oldest member is the one removed, so the processor the
 * run started with goes too.
 *
 * Sinks: the embedded chDB opens in one process at a time, so a second concurrent sink
 * cannot run on one data directory. What can be exercised is a handover: halfway through,
 * the sink is stopped cleanly (it drains and commits, its group is left empty) and a new
 * sink process joins the group on the same data directory.
 */
import { FleetgridError } from '../lib/errors.ts';

export type ScaleAction = 'add' | 'stop' | 'kill' | 'sink-handover';

export interface ScaleStep {
  /** Seconds since the load began. */
  atS: number;
  action: ScaleAction;
  /** Processors in the group once the step is done. */
  processors: number;
}

export interface ScaleOptions {
  /** The scale-out window: its first step is at `atS`, none at or after `atS + forS`. */
  atS: number;
  forS: number;
  /** Seconds between two member changes. */
  everyS: number;
  /** Processors at the start (the run's --processors) and the most the group grows to. */
  from: number;
  max: number;
  /** Which removal (1-based) is a kill -9 instead of a clean stop; 0: none. */
  killRemoval: number;
  /** A sink handover halfway through (between two member changes). */
  sinkHandover: boolean;
}

export function scaleSteps(options: ScaleOptions): ScaleStep[] {
  const { atS, forS, everyS, from, max, killRemoval, sinkHandover } = options;
  const invalid = (message: string) => new FleetgridError('CONFIG_INVALID', `--fault scale-out: ${message}`);
  if (!(everyS > 0)) throw invalid('--scale-every must be more than 0 s');
  if (!Number.isInteger(max) || max <= from)
    throw invalid(`--scale-max (${max}) must be more than the processors it starts with (${from})`);
  if (!Number.isInteger(killRemoval) || killRemoval < 0) throw invalid('--scale-kill must be 0 or more');
  const count = Math.ceil(forS / everyS - 1e-9);
  if (count < 1) throw invalid(`--fault-for (${forS} s) leaves no room for one change every ${everyS} s`);
  const steps: ScaleStep[] = [];
  let processors = from;
  let growing = true;
  let removals = 0;
  for (let k = 0; k < count; k++) {
    if (growing && processors === max) growing = false;
    else if (!growing && processors === from) growing = true;
    const t = atS + k * everyS;
    if (growing) {
      processors += 1;
      steps.push({ atS: t, action: 'add', processors });
    } else {
      processors -= 1;
      removals += 1;
      steps.push({ atS: t, action: removals === killRemoval ? 'kill' : 'stop', processors });
    }
  }
  if (sinkHandover) {
    // Between two member changes, so the sink's rebalance is not the processors'.
    const middle = Math.floor((count - 1) / 2);
    const before = steps[middle] as ScaleStep;
    steps.splice(middle + 1, 0, {
      atS: before.atS + everyS / 2,
      action: 'sink-handover',
      processors: before.processors,
    });
  }
  return steps;
}

/** Member changes of the processors' group a schedule makes (each one a rebalance). */
export function memberChanges(steps: readonly ScaleStep[]): number {
  return steps.filter((s) => s.action !== 'sink-handover').length;
}
