/**
 * What a trip is and what its figures count, in one place (docs/query.md "Trips"). The
 * thresholds are not restated here: they are read from the rules that already define them,
 * so a trip's "harsh braking" or "overspeed" is exactly what raises the alert of that name
 * (processors/alerts/rules.ts), and "idle" is the window processor's idle speed
 * (processors/core/config.ts). sql-trips.ts turns these into SQL; trips.ts shapes the rows.
 */
import { FleetgridError } from '../lib/errors.ts';
import {
  ALERT_RULES,
  type AlertRule,
  type DropRule,
  type SustainedRule,
} from '../processors/alerts/rules.ts';
import { DEFAULT_CORE_CONFIG } from '../processors/core/config.ts';
import { EARTH_RADIUS_KM } from '../producers/models/routes.ts';

function rule<T extends AlertRule['type']>(id: string, type: T): Extract<AlertRule, { type: T }> {
  const found = ALERT_RULES.find((r) => r.id === id);
  if (!found || found.type !== type)
    throw new FleetgridError('INTERNAL', `trip rules: alert rule ${id} of type ${type} is missing`);
  return found as Extract<AlertRule, { type: T }>;
}

/** The `field > value` predicate of a sustained rule: the level whose crossing the rule watches. */
function raiseAbove(r: SustainedRule, field: string): number {
  const predicate = r.when.find((p) => p.field === field && p.op === '>');
  if (!predicate) throw new FleetgridError('INTERNAL', `trip rules: ${r.id} has no ${field} > predicate`);
  return predicate.value;
}

const overspeed = rule('truck.overspeed', 'sustained');
const harshBraking: DropRule = rule('truck.harsh_braking', 'drop');
const cargoBreach = rule('truck.cargo_temp_breach', 'sustained');

export const TRIP_RULES = Object.freeze({
  /**
   * A trip is a run of telemetry samples with the engine on (engine on → off). A silence
   * longer than this also ends it: modem dropouts (70-180 s, docs/producers.md) stay inside
   * a trip, a truck that stopped reporting for longer does not drive on in our figures.
   */
  maxGapMs: 10 * 60_000,
  /**
   * A trip starting in the asked range is followed this far past the range's end (samples
   * are read up to `to + maxTripMs`); a longer trip is cut there and reported `open`.
   */
  maxTripMs: 24 * 3_600_000,
  /** Below this speed an engine-on interval is idle time, else driving (the window processor's idle speed). */
  idleSpeedKmh: DEFAULT_CORE_CONFIG.idleSpeedKmh,
  /** Above this speed an interval counts as overspeed time (truck.overspeed's raise level). */
  overspeedKmh: raiseAbove(overspeed, 'speedKmh'),
  /** A drop of at least this much between consecutive samples at most maxGapMs apart is a harsh braking (truck.harsh_braking). */
  harshDropKmh: harshBraking.minDrop,
  harshMaxGapMs: harshBraking.maxGapMs,
  /** Cargo warmer than this is an excursion (truck.cargo_temp_breach's raise level). */
  cargoMaxC: raiseAbove(cargoBreach, 'cargoTempC'),
  /** Distances: great circle (haversine) between consecutive positions on this sphere. */
  earthRadiusKm: EARTH_RADIUS_KM,
  /** A trip that never moved faster than idle (the engine run at a stop) is not a trip. */
  minDrivingMs: 1,
  /** Trips of one answer at most (more: `truncated`). */
  maxTrips: 1_000,
});

export type TripRules = typeof TRIP_RULES;
