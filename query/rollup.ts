/**
 * Settled-hour cache of the fleet-wide reports (summary, site energy), pure apart from
 * the injected clock. Those reports scan every device's 1-minute windows of the range
 * with FINAL: 1.44 M rows for a day of 1,000 devices, seconds on 2 cores, while the
 * answers for old hours cannot change any more. So a range is split into
 *  - whole hours that are settled (their last window can no longer be revised: the hour
 *    ended more than maxLateness + window + grace + a margin ago), answered from per-hour
 *    partial results computed once and cached; and
 *  - at most two live edges (the unaligned start, and everything not yet settled),
 *    queried every time, a few minutes to two hours of windows.
 * Partials are additive (sums, and device-id sets for "active devices"), so merging hours
 * gives exactly what one scan of the range gives. A cached hour is still recomputed in
 * the background after `ttlMs`, which bounds how stale an hour can be if the sink loaded
 * it late (lag) or a replay rewrote it. Multiple API instances each keep their own cache.
 */
import { FleetgridError } from '../lib/errors.ts';
import { HOUR_MS, hourSpans } from '../sinks/rollups.ts';
import type { TimeRange } from './params.ts';

// The settled rule and the spans of one grouped statement are the stored rollups' too (sinks/rollups.ts).
export { HOUR_MS, hourSpans, settledBefore } from '../sinks/rollups.ts';

const DAY_MS = 24 * HOUR_MS;

export interface SplitRange {
  /** Live parts, queried on every request (0, 1 or 2). */
  live: TimeRange[];
  /** Hour starts answered from the cache, ascending. */
  hours: number[];
}

/** Splits [from, to) into cacheable whole hours ending at or before `settledBefore` and live edges. */
export function splitRange(range: TimeRange, settledBefore: number): SplitRange {
  const firstHour = Math.ceil(range.from / HOUR_MS) * HOUR_MS;
  const lastHourEnd = Math.min(
    Math.floor(range.to / HOUR_MS) * HOUR_MS,
    Math.floor(settledBefore / HOUR_MS) * HOUR_MS,
  );
  if (lastHourEnd <= firstHour) return { live: [range], hours: [] };
  const hours: number[] = [];
  for (let h = firstHour; h < lastHourEnd; h += HOUR_MS) hours.push(h);
  const live: TimeRange[] = [];
  if (range.from < firstHour) live.push({ from: range.from, to: firstHour });
  if (lastHourEnd < range.to) live.push({ from: lastHourEnd, to: range.to });
  return { live, hours };
}

/**
 * A span of whole hours split at the stored rollups' progress mark (sinks/rollups.ts):
 * the hours before it are read from the rollups, the others from the windows.
 */
export function splitAtMark(span: TimeRange, mark: number): { rollups?: TimeRange; windows?: TimeRange } {
  if (mark <= span.from) return { windows: span };
  if (mark >= span.to) return { rollups: span };
  return { rollups: { from: span.from, to: mark }, windows: { from: mark, to: span.to } };
}

interface Entry<V> {
  value: V;
  computedAt: number;
}

/** A bounded map of hour → partial, oldest-inserted evicted first. */
export class HourCache<V> {
  readonly #entries = new Map<number, Entry<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { maxEntries: number; ttlMs: number; now: () => number }) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Which of `hours` are missing (must be computed now) and which are stale (refresh in the background). */
  lookup(hours: readonly number[]): { missing: number[]; stale: number[] } {
    const now = this.#now();
    const missing: number[] = [];
    const stale: number[] = [];
    for (const hour of hours) {
      const entry = this.#entries.get(hour);
      if (!entry) missing.push(hour);
      else if (now - entry.computedAt > this.#ttlMs) stale.push(hour);
    }
    return { missing, stale };
  }

  get(hour: number): V | undefined {
    return this.#entries.get(hour)?.value;
  }

  set(hour: number, value: V): void {
    this.#entries.delete(hour);
    this.#entries.set(hour, { value, computedAt: this.#now() });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as number;
      this.#entries.delete(oldest);
    }
  }
}

/** Computes the partials of every hour (or minute bucket) of a span of whole hours. */
export type ComputeHours<V> = (span: TimeRange) => Promise<Map<number, V>>;

/**
 * Reads hours through a cache: missing ones are computed now (one grouped query per
 * contiguous span), stale ones are served and recomputed in the background; concurrent
 * reads needing the same span share one computation.
 */
export function createHourReader<V>(
  cache: HourCache<V>,
  compute: ComputeHours<V>,
): (hours: readonly number[]) => Promise<V[]> {
  const inFlight = new Map<string, Promise<Map<number, V>>>();

  function computeOnce(span: TimeRange): Promise<Map<number, V>> {
    const key = `${span.from}:${span.to}`;
    const running = inFlight.get(key);
    if (running) return running;
    const work = compute(span)
      .then((values) => {
        for (const [hour, value] of values) cache.set(hour, value);
        return values;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, work);
    return work;
  }

  return async (hours) => {
    if (hours.length === 0) return [];
    const { missing, stale } = cache.lookup(hours);
    // The cached hours are taken now, before computing the missing ones: those may evict
    // them (a request can need more hours than the cache holds, or its new hours push out
    // the older ones it also needs).
    const values = new Map<number, V>();
    for (const hour of hours) {
      const cached = cache.get(hour);
      if (cached !== undefined) values.set(hour, cached);
    }
    // One span after the other: parallel scans would only contend for the same cores.
    for (const span of hourSpans(missing)) {
      for (const [hour, value] of await computeOnce(span)) values.set(hour, value);
    }
    for (const span of hourSpans(stale)) {
      // Served stale meanwhile; on failure the stale partials stay and a later request retries.
      computeOnce(span).catch(() => undefined);
    }
    return hours.map((hour) => {
      const value = values.get(hour);
      // Unreachable unless a compute function leaves out an hour of its span: a programmer error.
      if (value === undefined)
        throw new FleetgridError('INTERNAL', `hour ${new Date(hour).toISOString()} was not computed`);
      return value;
    });
  };
}

/** Per device kind, the additive figures of the fleet summary. */
export interface KindPartial {
  events: number;
  speedSum: number;
  speedCount: number;
  distanceKm: number;
  engineOnSeconds: number;
  idleSeconds: number;
  energyKwh: number;
  availableSeconds: number;
  coveredSeconds: number;
  devices: string[];
}

/** Partials keyed by group (groupKey: kind and site), so that one cached hour answers any site or grouping. */
export type SummaryPartial = Record<string, KindPartial>;

/**
 * The key of a (kind, site) group in a SummaryPartial; any site id round-trips. `detail`
 * refines it by the value of a registry dimension (a model, a driver id; '' for a
 * registered device without one, null for a device the registry does not know).
 */
export function groupKey(kind: string, siteId: string, detail?: string | null): string {
  return JSON.stringify(detail === undefined ? [kind, siteId] : [kind, siteId, detail]);
}

export function parseGroupKey(key: string): { kind: string; siteId: string; detail?: string | null } {
  const [kind, siteId, ...rest] = JSON.parse(key) as [string, string, (string | null)?];
  return rest.length === 0 ? { kind, siteId } : { kind, siteId, detail: rest[0] ?? null };
}

/**
 * A partial keyed by (kind, site) re-keyed by `keyOf` (undefined drops the group): e.g. by
 * kind alone for the fleet, or only one site's groups. Groups that fall on one key are
 * added, their device lists concatenated (mergeSummaryPartials counts distinct devices).
 */
export function regroupPartial(
  partial: SummaryPartial,
  keyOf: (group: { kind: string; siteId: string; detail?: string | null }) => string | undefined,
): SummaryPartial {
  const out: SummaryPartial = {};
  for (const [key, p] of Object.entries(partial)) {
    const target = keyOf(parseGroupKey(key));
    if (target === undefined) continue;
    out[target] = addKindPartials(out[target], p);
  }
  return out;
}

/** Two partials of one group added (a fresh object; `acc` absent: a copy of `p`), device lists concatenated. */
export function addKindPartials(acc: KindPartial | undefined, p: KindPartial): KindPartial {
  if (acc === undefined) return { ...p, devices: [...p.devices] };
  return {
    events: acc.events + p.events,
    speedSum: acc.speedSum + p.speedSum,
    speedCount: acc.speedCount + p.speedCount,
    distanceKm: acc.distanceKm + p.distanceKm,
    engineOnSeconds: acc.engineOnSeconds + p.engineOnSeconds,
    idleSeconds: acc.idleSeconds + p.idleSeconds,
    energyKwh: acc.energyKwh + p.energyKwh,
    availableSeconds: acc.availableSeconds + p.availableSeconds,
    coveredSeconds: acc.coveredSeconds + p.coveredSeconds,
    devices: [...acc.devices, ...p.devices],
  };
}

export function emptyKindPartial(): KindPartial {
  return {
    events: 0,
    speedSum: 0,
    speedCount: 0,
    distanceKm: 0,
    engineOnSeconds: 0,
    idleSeconds: 0,
    energyKwh: 0,
    availableSeconds: 0,
    coveredSeconds: 0,
    devices: [],
  };
}

/** Adds partials kind by kind; "active devices" is the size of the union of the device sets. */
export function mergeSummaryPartials(
  partials: readonly SummaryPartial[],
): Record<string, KindPartial & { activeDevices: number }> {
  const out: Record<string, KindPartial & { activeDevices: number }> = {};
  for (const [kind, p] of Object.entries(compactPartials(partials))) {
    out[kind] = { ...p, devices: [], activeDevices: p.devices.length };
  }
  return out;
}

/**
 * Many partials as one: groups added, device lists deduplicated. "Active devices" makes a
 * merge insert every hour's device ids into a set; a 90-day range is 2,160 hours of up to
 * 1,000 ids each, the warm summary's cost. A day's hours compacted once (createDayCompactor)
 * leave 90 lists of distinct ids, and mergeSummaryPartials gives the same answer.
 */
export function compactPartials(partials: readonly SummaryPartial[]): SummaryPartial {
  const out: SummaryPartial = {};
  const sets = new Map<string, Set<string>>();
  for (const partial of partials) {
    for (const [key, p] of Object.entries(partial)) {
      const acc = out[key] ?? emptyKindPartial();
      out[key] = acc;
      acc.events += p.events;
      acc.speedSum += p.speedSum;
      acc.speedCount += p.speedCount;
      acc.distanceKm += p.distanceKm;
      acc.engineOnSeconds += p.engineOnSeconds;
      acc.idleSeconds += p.idleSeconds;
      acc.energyKwh += p.energyKwh;
      acc.availableSeconds += p.availableSeconds;
      acc.coveredSeconds += p.coveredSeconds;
      const set = sets.get(key) ?? new Set<string>();
      sets.set(key, set);
      for (const d of p.devices) set.add(d);
    }
  }
  for (const [key, set] of sets) {
    const acc = out[key];
    if (acc) acc.devices = [...set];
  }
  return out;
}

/**
 * Replaces each whole UTC day of consecutive hourly partials by one compacted partial,
 * computed once per day and reused while the day's 24 hourly partials are the same objects
 * (a cache refresh of an hour makes a new object, so the day is compacted again).
 */
export function createDayCompactor<V>(
  compact: (parts: readonly V[]) => V,
  maxDays = 93,
): (hours: readonly number[], parts: readonly V[]) => V[] {
  const days = new Map<number, { parts: readonly V[]; merged: V }>();
  return (hours, parts) => {
    const out: V[] = [];
    let i = 0;
    while (i < hours.length) {
      const hour = hours[i] as number;
      if (hour % DAY_MS === 0 && hours[i + 23] === hour + DAY_MS - HOUR_MS) {
        const day = parts.slice(i, i + 24);
        const cached = days.get(hour);
        if (cached?.parts.every((p, j) => p === day[j])) out.push(cached.merged);
        else {
          const merged = compact(day);
          days.delete(hour);
          days.set(hour, { parts: day, merged });
          while (days.size > maxDays) days.delete(days.keys().next().value as number);
          out.push(merged);
        }
        i += 24;
      } else {
        out.push(parts[i] as V);
        i += 1;
      }
    }
    return out;
  };
}

/** Site energy per hour: site → kind → kWh. */
export type EnergyPartial = Record<string, { TURBINE: number; SOLAR: number }>;
