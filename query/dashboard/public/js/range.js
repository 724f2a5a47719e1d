/**
 * The time range of every page. A preset span ending now, whose start is never before the
 * oldest stored event (GET /api/v1/fleet/extent): a new demo shows its first minutes, not
 * six empty hours. The preset travels in the URL (`?range=6h`), so a page's URL is the view;
 * `?to=<ISO time>` ends the range at that moment instead of now (a past period, shared as a link).
 */
import { api } from './api.js';

export const RANGES = [
  { key: '1h', label: 'last hour', ms: 3_600_000 },
  { key: '6h', label: 'last 6 hours', ms: 21_600_000 },
  { key: '24h', label: 'last 24 hours', ms: 86_400_000 },
  { key: '7d', label: 'last 7 days', ms: 7 * 86_400_000 },
];
export const DEFAULT_RANGE = '6h';

let extent = { oldest: null, newest: null };

/** Asks for the stored extent again (each refresh: the data grows). */
export async function refreshExtent() {
  extent = await api('fleet/extent');
  return extent;
}

export function rangeKey() {
  const key = new URLSearchParams(location.search).get('range');
  return RANGES.some((r) => r.key === key) ? key : DEFAULT_RANGE;
}

/**
 * Start and end of the current range, ISO. The start is cut to the oldest stored event
 * (floored to its minute, so 1-minute windows are whole); `clipped` says whether it was.
 */
/** The end of the range: `?to=` when it is a valid time, else now. */
export function rangeEnd(now = Date.now()) {
  const to = Date.parse(new URLSearchParams(location.search).get('to') ?? '');
  return Number.isFinite(to) ? to : now;
}

export function currentRange(clock = Date.now()) {
  const now = rangeEnd(clock);
  const span = RANGES.find((r) => r.key === rangeKey())?.ms ?? 21_600_000;
  let from = now - span;
  let clipped = false;
  if (extent.oldest) {
    const oldest = Math.floor(Date.parse(extent.oldest) / 60_000) * 60_000;
    if (oldest > from && oldest < now) {
      from = oldest;
      clipped = true;
    }
  }
  return { from: new Date(from).toISOString(), to: new Date(now).toISOString(), clipped };
}
