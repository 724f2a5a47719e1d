import { describe, expect, it } from 'vitest';
import { renderCosts, runCost } from './cost.ts';
import type { LoadTestReport, SeriesPoint } from './report.ts';

const point = (t: number, cpuPct: Record<string, number>, lag = 10): SeriesPoint => ({
  t,
  offeredPerS: 1_000,
  achievedPerS: 1_000,
  lag: { a: lag, b: lag },
  pauses: 0,
  paused: 0,
  errors: 0,
  cpuPct,
  rssMiB: {},
});

describe('runCost', () => {
  it('sums every processor’s CPU, leaves out the start and the end, and divides by the events', () => {
    const report = {
      totals: { loadSeconds: 12 },
      series: [
        point(1, { processor: 90, sink: 90 }, 5_000),
        point(4, { processor: 20, 'processor-2': 20, sink: 10, loadtest: 50 }),
        point(6, { processor: 30, 'processor-2': 10, sink: 30, 'processors-x': 99 }),
        point(12, { processor: 99, sink: 99 }, 9_000),
      ],
    } as unknown as LoadTestReport;
    const cost = runCost(report, 2, 3);
    expect(cost.processorsCpuPct).toBe(40);
    expect(cost.sinkCpuPct).toBe(20);
    // 0.4 core for 1,000 events/s: 400 µs each.
    expect(cost.processorsUsPerEvent).toBeCloseTo(400);
    expect(cost.sinkUsPerEvent).toBeCloseTo(200);
    expect(cost.maxLag).toBe(20);
    expect(renderCosts([cost])).toContain('| 2 | 1,000 | 40 | 400 | 20 | 200 | 20 |');
  });
});
