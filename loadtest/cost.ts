/**
 * What the pipeline's processes cost per event in a run (pure, from its report): CPU summed
 * over the processors (and the sink's, apart) divided by the events acknowledged, over a
 * window of the load that leaves out the start (group joins, JIT) and the end. For
 * bench/scale.ts: with 1, 2 and 3 processors on the same load, how the cost grows.
 */
import type { LoadTestReport } from './report.ts';

export interface RunCost {
  processors: number;
  /** Events/s acknowledged by Kafka over the window (the pipeline kept up if lag stayed low). */
  eventsPerS: number;
  /** CPU in % of one core: all processors summed, and the sink. */
  processorsCpuPct: number;
  sinkCpuPct: number;
  /** CPU µs per event: processors summed, and the sink. */
  processorsUsPerEvent: number;
  sinkUsPerEvent: number;
  /** Highest total consumer lag in the window (records). */
  maxLag: number;
  /** The window, in seconds of the load. */
  fromS: number;
  toS: number;
}

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;

/** Processes of the started pipeline: `processor`, `processor-N`; the sink is `sink`. */
const isProcessor = (name: string) => name === 'processor' || /^processor-\d+$/.test(name);

export function runCost(report: LoadTestReport, processors: number, skipS: number): RunCost {
  const fromS = skipS;
  const toS = report.totals.loadSeconds - 2;
  const window = report.series.filter((p) => p.t > fromS && p.t <= toS);
  const sumOf = (p: (typeof window)[number], pick: (name: string) => boolean) =>
    Object.entries(p.cpuPct).reduce((sum, [name, pct]) => (pick(name) ? sum + pct : sum), 0);
  const eventsPerS = mean(window.map((p) => p.achievedPerS));
  const processorsCpuPct = mean(window.map((p) => sumOf(p, isProcessor)));
  const sinkCpuPct = mean(window.map((p) => sumOf(p, (name) => name === 'sink')));
  const usPerEvent = (pct: number) => (eventsPerS > 0 ? ((pct / 100) * 1e6) / eventsPerS : Number.NaN);
  return {
    processors,
    eventsPerS,
    processorsCpuPct,
    sinkCpuPct,
    processorsUsPerEvent: usPerEvent(processorsCpuPct),
    sinkUsPerEvent: usPerEvent(sinkCpuPct),
    maxLag: Math.max(0, ...window.map((p) => Object.values(p.lag).reduce((a, b) => a + b, 0))),
    fromS,
    toS,
  };
}

export function renderCosts(rows: readonly RunCost[]): string {
  const f = (v: number, d = 0) =>
    Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d }) : '–';
  const lines = [
    '| processors | events/s | processors CPU (% of a core, summed) | µs CPU per event, processors | sink CPU % | µs per event, sink | max lag |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.processors} | ${f(r.eventsPerS)} | ${f(r.processorsCpuPct, 1)} | ${f(r.processorsUsPerEvent)} | ${f(r.sinkCpuPct, 1)} | ${f(r.sinkUsPerEvent)} | ${f(r.maxLag)} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
