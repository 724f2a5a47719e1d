/**
 * The query API's latency while the load runs (issue 12 item 9: "the query API's p99 during
 * [the spike] reported"). One request at a time, at a fixed pace, of a dashboard's figure
 * (the fleet summary of the last 15 minutes: every run's windows are in it); each answer's
 * time and status is kept, and the report gives p50/p95/p99 over the run and per phase (the
 * spike). A request that fails or times out counts as an error, not as a latency.
 * The summaries are pure; the probe is the only part that does I/O.
 */
import type { Phase } from './profiles.ts';
import { percentile } from './stats.ts';

/** The request the probe repeats: what the dashboard's fleet page asks first, over the last 15 minutes. */
export const PROBE_PATH = '/api/v1/fleet/summary';
const SPAN_MS = 15 * 60_000;
const TIMEOUT_MS = 10_000;

/** The probe's URL at `nowMs`: the API takes ISO times only. */
export function probeUrl(baseUrl: string, nowMs: number): URL {
  const url = new URL(PROBE_PATH, baseUrl);
  url.searchParams.set('from', new Date(nowMs - SPAN_MS).toISOString());
  return url;
}

export interface QuerySample {
  /** Seconds since the start of the load, when the request was sent. */
  t: number;
  ms: number;
  ok: boolean;
  /** The HTTP status; 0 when there was no answer (refused, timed out). */
  status: number;
}

export interface QueryLatency {
  requests: number;
  errors: number;
  /** Failed requests by HTTP status (0: no answer). */
  errorStatuses: Record<string, number>;
  p50Ms: number | undefined;
  p95Ms: number | undefined;
  p99Ms: number | undefined;
  maxMs: number | undefined;
}

export interface QueryApiReport extends QueryLatency {
  url: string;
  path: string;
  phases: (QueryLatency & { label: string; startS: number; endS: number })[];
  series: QuerySample[];
}

/** Percentiles of the answered requests; errors counted apart. */
export function queryLatency(samples: readonly QuerySample[]): QueryLatency {
  const answered = samples.filter((s) => s.ok).map((s) => s.ms);
  const errorStatuses: Record<string, number> = {};
  for (const s of samples) if (!s.ok) errorStatuses[s.status] = (errorStatuses[s.status] ?? 0) + 1;
  return {
    requests: samples.length,
    errors: samples.length - answered.length,
    errorStatuses,
    p50Ms: percentile(answered, 0.5),
    p95Ms: percentile(answered, 0.95),
    p99Ms: percentile(answered, 0.99),
    maxMs: answered.length ? Math.max(...answered) : undefined,
  };
}

/** The whole run (load and drain) and each phase of the profile, by the time a request was sent. */
export function queryApiReport(
  url: string,
  samples: readonly QuerySample[],
  phases: readonly Pick<Phase, 'label' | 'startS' | 'endS'>[],
): QueryApiReport {
  return {
    url,
    path: PROBE_PATH,
    ...queryLatency(samples),
    phases: phases.map((p) => ({
      label: p.label,
      startS: p.startS,
      endS: p.endS,
      ...queryLatency(samples.filter((s) => s.t >= p.startS && s.t < p.endS)),
    })),
    series: [...samples],
  };
}

/** One probe request to the API at `baseUrl`; `fetchImpl` is injectable for the tests. */
export async function probeQueryApi(
  baseUrl: string,
  t: number,
  headers: Record<string, string> = {},
  fetchImpl: typeof fetch = fetch,
  nowMs: number = Date.now(),
): Promise<QuerySample> {
  const began = performance.now();
  let status = 0;
  try {
    const response = await fetchImpl(probeUrl(baseUrl, nowMs), {
      headers,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.arrayBuffer(); // the answer is read in full: that is what a page waits for
    status = response.status;
  } catch {
    // refused or timed out: an error
  }
  return {
    t: Math.round(t * 100) / 100,
    ms: Math.round((performance.now() - began) * 10) / 10,
    ok: status >= 200 && status < 300,
    status,
  };
}
