/**
 * The pure parts of the dashboard's drill-down answers (docs/query.md "Device and site
 * pages"): status runs from status changes, performance per step (capacity factor of a
 * turbine, performance ratio of a solar array), the capacity of a group of devices from
 * their ratings, and the reference data the pages draw (alert thresholds, power curve).
 * Everything that decides a number is here and unit-tested; service.ts does the I/O.
 */
import {
  CUT_IN_MS,
  CUT_OUT_MS,
  POWER_CURVE_TABLE,
  RATED_POWER_KW,
  RATED_WIND_MS,
  TURBINE_MODEL,
} from '../domain/power-curve.ts';
import { ALERT_RULES, type Predicate } from '../processors/alerts/rules.ts';
import type { DeviceKindSymbol } from '../schemas/types.ts';
import type { TimeRange } from './params.ts';

const HOUR_MS = 3_600_000;
const round = (v: number, digits = 6) => Math.round(v * 10 ** digits) / 10 ** digits;

// --- status timeline ---------------------------------------------------------------------------

export interface StatusChangeRow {
  t: number;
  status: string;
  /** Time of the sample before this one (0 for the first sample of the range). */
  previousT: number;
  /** Time of the last sample of the range. */
  lastT: number;
}

export interface StatusRun {
  from: number;
  to: number;
  status: string;
}

/**
 * Runs of one status from the rows of sql-views.ts statusChangesSql: a run starts at a
 * change and lasts until the next change, or until the last sample before a silence of
 * more than `gapMs` (that time shows as no run: no data), or until the range's last
 * sample. A run's `to` is its last sample time plus nothing: runs are drawn between sample
 * times, so a run of one sample has zero length and seconds count sample to sample.
 */
export function statusRuns(rows: readonly StatusChangeRow[], gapMs: number): StatusRun[] {
  const runs: StatusRun[] = [];
  rows.forEach((row, i) => {
    const next = rows[i + 1];
    const to = next === undefined ? row.lastT : next.t - next.previousT > gapMs ? next.previousT : next.t;
    runs.push({ from: row.t, to: Math.max(row.t, to), status: row.status });
  });
  return runs;
}

/** Seconds spent in each status over the runs. */
export function secondsByStatus(runs: readonly StatusRun[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const run of runs) out[run.status] = round((out[run.status] ?? 0) + (run.to - run.from) / 1000, 3);
  return out;
}

// --- ratings and capacity ------------------------------------------------------------------------

/** What the fleet registry says about a device's size (registry `rated_kw`, `kwp`). */
export interface DeviceRating {
  ratedKw: number | null;
  kwp: number | null;
}

export type RatingSource = 'registry' | 'default';

/**
 * A device's capacity (kW; kWp for solar arrays) and where it comes from: the registry
 * when it has the device's rating, else the simulated machine's documented size where
 * there is one: every simulated turbine is the 3 MW machine of domain/power-curve.ts. The
 * simulator draws each array's size (50-500 kWp, docs/producers.md), so an array without
 * a registry entry has no known size: null, and its ratios are not computed.
 */
export function capacityOf(
  kind: DeviceKindSymbol,
  rating: DeviceRating | undefined,
): { kw: number | null; source: RatingSource | null } {
  if (kind === 'TURBINE') {
    if (rating?.ratedKw != null) return { kw: rating.ratedKw, source: 'registry' };
    return { kw: RATED_POWER_KW, source: 'default' };
  }
  if (kind === 'SOLAR' && rating?.kwp != null) return { kw: rating.kwp, source: 'registry' };
  return { kw: null, source: null };
}

/** Σ capacity of a group of devices; null as soon as one device's size is unknown. */
export function groupCapacityKw(
  kind: DeviceKindSymbol,
  deviceIds: readonly string[],
  ratings: ReadonlyMap<string, DeviceRating>,
): number | null {
  if (kind === 'TRUCK' || deviceIds.length === 0) return null;
  let total = 0;
  for (const id of deviceIds) {
    const { kw } = capacityOf(kind, ratings.get(id));
    if (kw === null) return null;
    total += kw;
  }
  return total;
}

/** Hours of a range that can have produced anything: the part before now. */
export function elapsedHours(range: TimeRange, now: number): number {
  return Math.max(0, Math.min(range.to, now) - range.from) / HOUR_MS;
}

/** Energy / (capacity × hours); null without a capacity or without elapsed time. */
export function capacityFactor(energyKwh: number, capacityKw: number | null, hours: number): number | null {
  if (capacityKw === null || capacityKw <= 0 || hours <= 0) return null;
  return round(energyKwh / (capacityKw * hours));
}

/**
 * Performance ratio of a solar array: AC energy / (irradiation × kWp / 1 kW/m²), i.e. the
 * energy made over what the array's nameplate would make at standard test conditions
 * (1,000 W/m²) under the plane-of-array irradiation it received. Null without a kWp or
 * without irradiation (night).
 */
export function performanceRatio(
  energyKwh: number,
  irradiationKwhM2: number,
  kwp: number | null,
): number | null {
  if (kwp === null || kwp <= 0 || irradiationKwhM2 <= 0) return null;
  return round(energyKwh / (irradiationKwhM2 * kwp));
}

export interface PerformanceRow {
  t: number;
  energyKwh: number;
  coveredSeconds: number;
  availableSeconds: number;
  irradiationKwhM2: number;
}

/** Per bucket and in total: energy, availability, capacity factor; for solar arrays irradiation and PR. */
export function performancePoints(
  kind: 'TURBINE' | 'SOLAR',
  rows: readonly PerformanceRow[],
  options: { capacityKw: number | null; stepMs: number; range: TimeRange; now: number },
) {
  const hoursOf = (from: number, to: number) =>
    elapsedHours(
      { from: Math.max(from, options.range.from), to: Math.min(to, options.range.to) },
      options.now,
    );
  const figures = (r: Omit<PerformanceRow, 't'>, hours: number) => ({
    energyKwh: round(r.energyKwh),
    coveredSeconds: round(r.coveredSeconds, 3),
    capacityFactor: capacityFactor(r.energyKwh, options.capacityKw, hours),
    ...(kind === 'TURBINE'
      ? { availability: r.coveredSeconds > 0 ? round(r.availableSeconds / r.coveredSeconds) : null }
      : {
          irradiationKwhM2: round(r.irradiationKwhM2),
          performanceRatio: performanceRatio(r.energyKwh, r.irradiationKwhM2, options.capacityKw),
        }),
  });
  const points = rows.map((r) => ({
    t: new Date(r.t).toISOString(),
    ...figures(r, hoursOf(r.t, r.t + options.stepMs)),
  }));
  const sum = (f: (r: PerformanceRow) => number) => rows.reduce((acc, r) => acc + f(r), 0);
  const totals = figures(
    {
      energyKwh: sum((r) => r.energyKwh),
      coveredSeconds: sum((r) => r.coveredSeconds),
      availableSeconds: sum((r) => r.availableSeconds),
      irradiationKwhM2: sum((r) => r.irradiationKwhM2),
    },
    elapsedHours(options.range, options.now),
  );
  return { points, totals };
}

// --- reference data the pages draw --------------------------------------------------------------

export interface Threshold {
  /** Avro field name of the metric the threshold applies to. */
  field: string;
  op: Predicate['op'];
  value: number;
  /** raise: the alert's condition; resolve: the condition that ends it (hysteresis). */
  role: 'raise' | 'resolve';
}

/**
 * The alert rules as the pages need them: for each rule its thresholds on a metric
 * (from the rule's own predicates, processors/alerts/rules.ts: one source), so a chart of
 * engine temperature draws the very limit the processors alert on.
 */
export function referenceData() {
  return {
    alertRules: ALERT_RULES.map((rule) => {
      const thresholds: Threshold[] =
        rule.type === 'sustained'
          ? [
              ...rule.when.map((p) => ({ ...p, role: 'raise' as const })),
              ...rule.resolveWhen.map((p) => ({ ...p, role: 'resolve' as const })),
            ]
          : [];
      return {
        id: rule.id,
        kind: rule.kind.toLowerCase(),
        severity: rule.severity,
        description: rule.description,
        thresholds,
      };
    }),
    powerCurve: {
      model: TURBINE_MODEL,
      ratedKw: RATED_POWER_KW,
      cutInMs: CUT_IN_MS,
      ratedWindMs: RATED_WIND_MS,
      cutOutMs: CUT_OUT_MS,
      points: [...POWER_CURVE_TABLE.map(([windMs, powerKw]) => ({ windMs, powerKw }))],
    },
  };
}
