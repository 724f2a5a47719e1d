/**
 * Latency figures of the component benchmarks (notify, registry CDC): count, nearest-rank
 * p50/p90/p99 (the load test's one percentile rule), max and mean, in ms to 0.1.
 */
import { percentile } from '../loadtest/index.ts';

export function latencySummary(values: readonly number[]) {
  const round = (v: number | undefined) => (v === undefined ? Number.NaN : Math.round(v * 10) / 10);
  return {
    n: values.length,
    p50: round(percentile(values, 0.5)),
    p90: round(percentile(values, 0.9)),
    p99: round(percentile(values, 0.99)),
    max: round(percentile(values, 1)),
    mean: round(values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length),
  };
}
