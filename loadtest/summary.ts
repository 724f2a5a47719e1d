/** The few lines `fleetgrid loadtest` prints at the end (pure). */
import { memorySummaryLine } from './memory.ts';
import type { LoadTestReport, PhaseReport } from './report.ts';
import type { PercentileResult } from './stats.ts';

const n = (value: number | undefined, digits = 0) =>
  value === undefined ? '–' : value.toLocaleString('en-US', { maximumFractionDigits: digits });
const p = (r: PercentileResult | undefined) => (r ? `${r.atLeast ? '≥' : ''}${n(r.ms)} ms` : '–');

export function summaryLines(report: LoadTestReport): string[] {
  const { totals, freshness } = report;
  const lines = [
    `load: ${report.settings.profile.name}, offered ${n(totals.offered)} events, produced ${n(totals.produced)} (${n(totals.achievedPerS)}/s), send errors ${totals.sendErrors}`,
    `raw freshness p50/p95/p99: ${p(freshness.raw.p50)} / ${p(freshness.raw.p95)} / ${p(freshness.raw.p99)}; aggregates: ${p(freshness.aggregates.p50)} / ${p(freshness.aggregates.p95)} / ${p(freshness.aggregates.p99)}`,
  ];
  if (report.step)
    lines.push(
      `highest sustainable rate: ${report.step.highestSustainableRate === undefined ? 'none' : `${n(report.step.highestSustainableRate)}/s`}${
        report.step.firstUnsustainable
          ? ` (${n(report.step.firstUnsustainable.rate)}/s was not: ${report.step.firstUnsustainable.reasons.join('; ')})`
          : ''
      }`,
    );
  if (report.spike)
    lines.push(
      `spike recovery: ${report.spike.recoverySeconds === undefined ? 'lag not back to its earlier level within the run' : `lag back under ${n(report.spike.thresholdLag)} ${n(report.spike.recoverySeconds, 1)} s after the spike (and for good after ${n(report.spike.stableSeconds, 1)} s)`}`,
    );
  if (report.baseline)
    lines.push(
      report.baseline.result
        ? `broker baseline: ${n(report.baseline.result.recordsPerS)} records/s of ${report.baseline.recordSize} B (acks=all); end-to-end ratio ${n(report.baseline.ratio, 3)}`
        : `broker baseline failed: ${report.baseline.error ?? ''}`,
    );
  const r = report.reconciliation;
  lines.push(
    r
      ? `reconciliation: ${r.ok ? 'OK' : 'FAILED'}: produced ${n(r.produced)} = stored ${n(r.stored)} + dead-lettered ${n(r.deadLettered)}; lost ${r.lost}, duplicates ${r.duplicates}, unexpected ${r.unexpected}`
      : 'reconciliation: not run',
  );
  const o = report.outputs;
  if (o)
    lines.push(
      `derived outputs: ${o.ok ? 'OK' : 'FAILED'}: windows wrong ${o.windows.wrong} of ${n(o.windows.judged)} (missing ${o.windows.missing}, unexpected ${o.windows.unexpected}), alerts wrong ${o.alerts.wrong} of ${n(o.alerts.expected)}, device states wrong ${o.deviceState.wrong} of ${n(o.deviceState.devices)}`,
    );
  const f = report.fault;
  if (f)
    lines.push(
      `fault ${f.schedule.kind} at ${f.schedule.atS} s for ${f.schedule.forS} s: recovery ${f.recovery.seconds === undefined ? 'not within the run' : `${n(f.recovery.seconds, 1)} s`} after its end (lag ${n(f.recovery.lagS, 1)} s, raw rows ${n(f.recovery.rawResumeS, 1)} s, aggregates ${n(f.recovery.aggregatesResumeS, 1)} s)${f.recovery.backS === undefined ? '' : `; back ${n(f.recovery.backS, 1)} s after its end, recovered ${f.recovery.afterBackS === undefined ? 'not within the run' : `${n(f.recovery.afterBackS, 1)} s`} after it was back`}`,
    );
  const q = report.queryApi;
  if (q) {
    const ms = (v: number | undefined) => (v === undefined ? '–' : `${n(v, 1)} ms`);
    const spike = q.phases.find((phase) => phase.label === 'spike');
    lines.push(
      `query API p50/p99: ${ms(q.p50Ms)} / ${ms(q.p99Ms)} over ${n(q.requests)} requests, ${q.errors} errors${
        q.errors > 0
          ? ` (${Object.entries(q.errorStatuses)
              .map(([status, count]) => `${count} × ${status === '0' ? 'no answer' : `HTTP ${status}`}`)
              .join(', ')})`
          : ''
      }${
        spike
          ? `; during the spike ${ms(spike.p50Ms)} / ${ms(spike.p99Ms)} (${spike.requests} requests, ${spike.errors} errors)`
          : ''
      }`,
    );
  }
  if (report.memory) lines.push(memorySummaryLine(report.memory));
  const load = report.machine.loadAverage;
  lines.push(
    `machine: ${report.machine.cpus} cores, load average ${load.start} at the start, ${load.end} at the end`,
  );
  for (const note of report.notes) lines.push(`note: ${note}`);
  return lines;
}

/** The highest sustainable rate: the last step that passed before the first that failed. */
export function stepSummary(
  reports: readonly Pick<PhaseReport, 'rate' | 'sustainable' | 'reasons'>[],
): LoadTestReport['step'] {
  let highest: number | undefined;
  for (const report of reports) {
    if (report.sustainable === false)
      return {
        highestSustainableRate: highest,
        firstUnsustainable: { rate: report.rate, reasons: report.reasons },
      };
    if (report.sustainable) highest = report.rate;
  }
  return { highestSustainableRate: highest, firstUnsustainable: undefined };
}
