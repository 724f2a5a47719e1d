/**
 * The arithmetic of the load test, pure and unit-tested: percentiles (exact, and from the
 * latency histograms ClickHouse returns), trends of lag, the verdict on whether a rate is
 * sustainable, and the spike's recovery time.
 */

/** Nearest-rank percentile of `values` (q in [0, 1]); undefined for no values. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/**
 * Latency buckets (ms): 10 ms wide below 1 s, 100 ms below 10 s, 1 s above. Fine where the
 * targets are (p99 ≤ 2 s), coarse where only "very late" matters, so a histogram of a
 * whole run stays a few hundred rows. The same expression runs in SQL (`latencyBucketSql`).
 */
export function latencyBucket(ms: number): number {
  const v = Math.max(0, Math.floor(ms));
  if (v < 1_000) return v - (v % 10);
  if (v < 10_000) return v - (v % 100);
  return v - (v % 1_000);
}

export function bucketWidth(lowerMs: number): number {
  return lowerMs < 1_000 ? 10 : lowerMs < 10_000 ? 100 : 1_000;
}

/** `latencyBucket` in ClickHouse SQL, over an expression giving whole milliseconds. */
export function latencyBucketSql(msExpr: string): string {
  const v = `greatest(toInt64(${msExpr}), 0)`;
  return `multiIf(${v} < 1000, intDiv(${v}, 10) * 10, ${v} < 10000, intDiv(${v}, 100) * 100, intDiv(${v}, 1000) * 1000)`;
}

/** Bucket lower bound (ms) → count. */
export type Histogram = Map<number, number>;

export function addToHistogram(into: Histogram, bucket: number, count: number): void {
  into.set(bucket, (into.get(bucket) ?? 0) + count);
}

export function mergeHistograms(histograms: Iterable<Histogram>): Histogram {
  const out: Histogram = new Map();
  for (const h of histograms) for (const [bucket, count] of h) addToHistogram(out, bucket, count);
  return out;
}

export function histogramCount(h: Histogram): number {
  let n = 0;
  for (const count of h.values()) n += count;
  return n;
}

export interface PercentileResult {
  /** Milliseconds: the upper edge of the bucket holding the rank (never optimistic). */
  ms: number;
  /**
   * True when the rank falls among events not visible yet: their latency is only known to
   * be at least `ms` (the time they have been waiting so far).
   */
  atLeast: boolean;
}

/**
 * Percentile `q` of a latency histogram plus `pending` events that are not visible yet and
 * have waited at least `pendingAtLeastMs`. Counting the pending ones is what keeps the
 * figure honest under overload: without them, a p99 over only the rows that made it would
 * look fine while a growing share never arrives.
 */
export function histogramPercentile(
  h: Histogram,
  q: number,
  pending = 0,
  pendingAtLeastMs = 0,
): PercentileResult | undefined {
  const stored = histogramCount(h);
  const total = stored + Math.max(0, pending);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  if (rank > stored) return { ms: pendingAtLeastMs, atLeast: true };
  let seen = 0;
  for (const bucket of [...h.keys()].sort((a, b) => a - b)) {
    seen += h.get(bucket) ?? 0;
    if (seen >= rank) return { ms: bucket + bucketWidth(bucket), atLeast: false };
  }
  /* c8 ignore next */
  return undefined;
}

export interface Percentiles {
  count: number;
  pending: number;
  p50: PercentileResult | undefined;
  p95: PercentileResult | undefined;
  p99: PercentileResult | undefined;
}

export function summarize(h: Histogram, pending = 0, pendingAtLeastMs = 0): Percentiles {
  return {
    count: histogramCount(h),
    pending: Math.max(0, pending),
    p50: histogramPercentile(h, 0.5, pending, pendingAtLeastMs),
    p95: histogramPercentile(h, 0.95, pending, pendingAtLeastMs),
    p99: histogramPercentile(h, 0.99, pending, pendingAtLeastMs),
  };
}

/** Least-squares slope of y over x (units of y per unit of x); 0 for fewer than 2 points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface LagSample {
  /** Seconds since the start of the run. */
  t: number;
  /** Records behind, summed over the group's partitions. */
  lag: number;
}

export interface LagVerdict {
  bounded: boolean;
  /** Records per second by which the backlog grew (least squares). */
  growthPerS: number;
  maxLag: number;
  reason: string | undefined;
}

/**
 * How fast the floor of a backlog rises (records/s): the lowest lag in the last third of
 * the window minus the lowest in the first third, over the time between the thirds'
 * centres. The floor, not a fit through every sample: the processors commit offsets every
 * few seconds, so their lag is a sawtooth whose peaks say nothing about keeping up, while
 * its troughs (just after a commit) rise only when the group falls behind.
 */
export function troughGrowth(samples: readonly LagSample[]): number {
  if (samples.length < 3) return 0;
  const t0 = samples[0]?.t ?? 0;
  const t1 = samples.at(-1)?.t ?? 0;
  const span = t1 - t0;
  if (span <= 0) return 0;
  const first = samples.filter((s) => s.t <= t0 + span / 3);
  const last = samples.filter((s) => s.t >= t1 - span / 3);
  if (first.length === 0 || last.length === 0) return 0;
  const floor = (list: readonly LagSample[]) =>
    list.reduce((min, s) => Math.min(min, s.lag), Number.POSITIVE_INFINITY);
  return (floor(last) - floor(first)) / ((2 * span) / 3);
}

/**
 * Whether a consumer group keeps up: the floor of its backlog must not rise by more than
 * `maxGrowthShare` of the input rate (a group that consumes 95 % of its input falls behind
 * forever, whatever the lag is now), and the lag must stay under `maxLagS` seconds of
 * input (some lag is the steady state of periodic commits, not a fault).
 */
export function judgeLag(
  samples: readonly LagSample[],
  inputRate: number,
  options: { maxGrowthShare: number; maxLagS: number },
): LagVerdict {
  const growthPerS = troughGrowth(samples);
  const maxLag = samples.reduce((max, s) => Math.max(max, s.lag), 0);
  let reason: string | undefined;
  if (growthPerS > options.maxGrowthShare * inputRate)
    reason = `backlog grows by ${Math.round(growthPerS)}/s (> ${Math.round(options.maxGrowthShare * 100)} % of ${Math.round(inputRate)}/s)`;
  else if (maxLag > options.maxLagS * inputRate)
    reason = `lag reached ${maxLag} records (> ${options.maxLagS} s of input)`;
  return { bounded: reason === undefined, growthPerS, maxLag, reason };
}

export interface SustainVerdict {
  sustainable: boolean;
  reasons: string[];
}

/**
 * The definition of "sustainable" (issue 8): the generator offered the rate (achieved ≥
 * `minAchievedShare` of offered, else the load test itself was the bottleneck), every
 * group's lag stayed bounded, and the p99 freshness of raw events was at most `p99MaxMs`
 * (a p99 that is only a lower bound because events are still missing counts against it).
 */
export function judgeSustainable(input: {
  offeredRate: number;
  achievedRate: number;
  lag: Record<string, LagVerdict>;
  rawP99: PercentileResult | undefined;
  minAchievedShare: number;
  p99MaxMs: number;
}): SustainVerdict {
  const reasons: string[] = [];
  if (input.achievedRate < input.minAchievedShare * input.offeredRate)
    reasons.push(
      `produced ${Math.round(input.achievedRate)}/s of ${Math.round(input.offeredRate)}/s offered`,
    );
  for (const [group, verdict] of Object.entries(input.lag))
    if (!verdict.bounded) reasons.push(`${group}: ${verdict.reason}`);
  if (!input.rawP99) reasons.push('no raw event became visible');
  else if (input.rawP99.ms > input.p99MaxMs)
    reasons.push(
      `raw p99 freshness ${input.rawP99.atLeast ? '≥ ' : ''}${input.rawP99.ms} ms > ${input.p99MaxMs} ms`,
    );
  return { sustainable: reasons.length === 0, reasons };
}

/**
 * How long the backlog of a spike takes to drain. The threshold is the highest lag seen
 * before the spike (the steady state's commit sawtooth) or one second of the base rate,
 * whichever is larger. `seconds`: from the end of the spike to the first sample at or under
 * it (the spike's backlog is gone: what the "lag drained within 2 minutes" asks);
 * `stableSeconds`: to the moment after which every sample stays at or under it (later
 * excursions, e.g. from other load on the machine, count against it). Undefined if never.
 */
export function recoveryTime(
  samples: readonly LagSample[],
  spike: { startS: number; endS: number; baseRate: number },
): { seconds: number | undefined; stableSeconds: number | undefined; thresholdLag: number } {
  const before = samples.filter((s) => s.t < spike.startS);
  const thresholdLag = Math.max(
    spike.baseRate,
    before.reduce((max, s) => Math.max(max, s.lag), 0),
  );
  const after = samples.filter((s) => s.t >= spike.endS);
  const first = after.find((s) => s.lag <= thresholdLag);
  let stableAt: number | undefined;
  for (const s of after) {
    if (s.lag > thresholdLag) stableAt = undefined;
    else if (stableAt === undefined) stableAt = s.t;
  }
  const since = (t: number | undefined) => (t === undefined ? undefined : Math.max(0, t - spike.endS));
  return { seconds: since(first?.t), stableSeconds: since(stableAt), thresholdLag };
}
