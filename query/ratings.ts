/**
 * Devices' sizes for the read side (rated kW of turbines, kWp of solar arrays) from the
 * fleet registry, kept for `ttlMs` so a summary costs the registry one listing a minute at
 * most. The registry is the control plane, not a dependency of the reports: when it cannot
 * be read the last known sizes stay (or none), the reports fall back to the documented
 * defaults (views.ts capacityOf), and the failure is logged once per refresh.
 */
import type { Logger } from '../lib/log.ts';
import type { DeviceRating } from './views.ts';

export interface RatedDevice {
  id: string;
  ratedKw: number | null;
  kwp: number | null;
}

/** One page of the registry's device listing (registry/service.ts list('devices')). */
export type ListDevices = (filter: {
  kind: string;
  after?: string;
  limit: number;
}) => Promise<{ items: RatedDevice[]; nextCursor: string | null }>;

export function createRatingsProvider(
  list: ListDevices,
  options: { ttlMs: number; now: () => number; log: Logger; maxPages?: number },
): () => Promise<ReadonlyMap<string, DeviceRating>> {
  let current: { at: number; ratings: Map<string, DeviceRating> } | undefined;
  let loading: Promise<void> | undefined;

  async function load(): Promise<void> {
    const ratings = new Map<string, DeviceRating>();
    try {
      for (const kind of ['turbine', 'solar']) {
        let after: string | undefined;
        // Bounded: 50 pages of 1,000 devices.
        for (let page = 0; page < (options.maxPages ?? 50); page++) {
          const answer = await list({ kind, limit: 1_000, ...(after === undefined ? {} : { after }) });
          for (const d of answer.items) ratings.set(d.id, { ratedKw: d.ratedKw, kwp: d.kwp });
          if (answer.nextCursor === null) break;
          after = answer.nextCursor;
        }
      }
      current = { at: options.now(), ratings };
    } catch (error) {
      options.log.warn(
        { err: error },
        'device ratings: the fleet registry cannot be read; using the defaults',
      );
      // Tried: the next attempt waits a full ttl, and the last known sizes (if any) stay.
      current = { at: options.now(), ratings: current?.ratings ?? new Map() };
    }
  }

  return async () => {
    if (!current || options.now() - current.at > options.ttlMs) {
      loading ??= load().finally(() => {
        loading = undefined;
      });
      // The first call waits; later ones are served the previous sizes while refreshing.
      if (!current) await loading;
    }
    return current?.ratings ?? new Map();
  };
}
