import { describe, expect, it } from 'vitest';
import { reconcileOutputs, windowKey } from './outputs.ts';
import { buildProfile } from './profiles.ts';
import { formatProgress, groupLabel } from './progress.ts';
import { emptyProducedTally, reconcile, tallyProduced } from './reconcile.ts';
import { serviceMemory } from './memory.ts';
import { queryApiReport } from './query-probe.ts';
import { type LoadTestReport, niceCeil, REPORT_VERSION, renderHtml, svgLineChart } from './report.ts';
import { summarize } from './stats.ts';
import { stepSummary, summaryLines } from './summary.ts';

function sampleReport(): LoadTestReport {
  const produced = emptyProducedTally();
  tallyProduced(produced, 'TruckTelemetry', 'lt1-truck-00001', 0);
  const reconciliation = reconcile(produced, {
    tables: { truck_telemetry: { rows: 1, distinct: 1 } },
    deadLettered: {},
    byDevice: new Map([['lt1-truck-00001', { count: 1, minSeq: 0, maxSeq: 0 }]]),
  });
  const raw = summarize(new Map([[120, 10]]));
  return {
    version: REPORT_VERSION,
    runId: 'lt1',
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:01:00.000Z',
    command: 'fleetgrid loadtest --profile spike <script>',
    machine: {
      cpus: 2,
      cpuModel: 'cpu',
      memoryGiB: 24,
      os: 'Linux',
      node: 'v24',
      loadAverage: { start: 1, end: 2 },
    },
    settings: {
      profile: buildProfile({ name: 'spike', rate: 100, durationS: 60 }),
      devices: 10,
      partitions: 6,
      warmupS: 0,
      topicPrefix: 'lt1.',
      pipeline: 'started',
      windowSizeMs: 10_000,
      graceMs: 5_000,
      groups: ['lt1.fleetgrid-processors', 'lt1.fleetgrid-sink-clickhouse'],
    },
    totals: {
      offered: 1,
      produced: 1,
      sendErrors: 0,
      avgRecordBytes: 140,
      loadSeconds: 60,
      drainSeconds: 2,
      achievedPerS: 100,
    },
    freshness: {
      raw,
      aggregates: summarize(new Map()),
      sinkInsertMeanMs: 12.5,
      rawSeries: [{ t: 0, count: 10, p50Ms: 130, p99Ms: 130 }],
      aggregatesSeries: [],
    },
    series: [0, 1, 2].map((t) => ({
      t,
      offeredPerS: 100,
      achievedPerS: 99,
      lag: { 'lt1.fleetgrid-processors': t * 10, 'lt1.fleetgrid-sink-clickhouse': 5 },
      pauses: 0,
      paused: 0,
      errors: 0,
      cpuPct: { sink: 30 },
      rssMiB: { sink: 300 },
    })),
    phases: [],
    backpressure: { pauses: 0, maxPaused: 0, services: 2, scrapes: 10, failedScrapes: 0 },
    processes: [{ name: 'sink', pid: 1, cpuAvgPct: 30, cpuMaxPct: 40, rssMaxMiB: 300 }],
    step: undefined,
    spike: { recoverySeconds: 4.5, stableSeconds: 6, thresholdLag: 100, spikeEndS: 18 },
    baseline: undefined,
    reconciliation,
    notes: ['a <note>'],
  };
}

describe('report', () => {
  it('rounds axes up to 1, 2 or 5 times a power of ten', () => {
    expect(niceCeil(0)).toBe(1);
    expect(niceCeil(7)).toBe(10);
    expect(niceCeil(1_500)).toBe(2_000);
    expect(niceCeil(4_100)).toBe(5_000);
  });

  it('draws one path per series and breaks a line where values are missing', () => {
    const svg = svgLineChart('t', 'y', [
      {
        name: 'a',
        points: [
          { x: 0, y: 1 },
          { x: 1, y: undefined },
          { x: 2, y: 3 },
        ],
      },
      {
        name: 'b',
        points: [
          { x: 0, y: 2 },
          { x: 2, y: 2 },
        ],
      },
    ]);
    const paths = svg.match(/<path d="([^"]+)"/g) ?? [];
    expect(paths).toHaveLength(2);
    expect((paths[0]?.match(/M/g) ?? []).length).toBe(2);
  });

  it('renders a self-contained page: charts inline, text escaped, no external resource', () => {
    const html = renderHtml(sampleReport());
    expect(html).toMatch(/^<!doctype html>/);
    expect((html.match(/<svg /g) ?? []).length).toBe(6);
    expect(html).toContain('Consumer lag');
    expect(html).toContain('a &#60;note&#62;');
    expect(html).toContain('&#60;script&#62;');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain('OK: nothing lost, nothing duplicated');
  });

  it('draws the heap of every service that has one, tabulates its memory and says it in one line', () => {
    const report: LoadTestReport = {
      ...sampleReport(),
      memory: {
        intervalMs: 1_000,
        services: {
          processor: serviceMemory([
            { t: 0, pid: 11, rssMiB: 406, heapUsedMiB: 76, heapTotalMiB: 232 },
            { t: 1, pid: 11, rssMiB: 616, heapUsedMiB: 106, heapTotalMiB: 437 },
          ]),
          '<sink>': serviceMemory([{ t: 0, pid: 12, rssMiB: 650 }]),
        },
      },
    };
    const html = renderHtml(report);
    // The six charts, then heap used and heap total (only the processor has a heap).
    expect((html.match(/<svg /g) ?? []).length).toBe(8);
    expect(html).toContain('Heap used (V8)');
    expect(html).toContain('406 → 616 (min 406, max 616)');
    expect(html).toContain('&#60;sink&#62;');
    expect(html).not.toContain('<sink>');
    expect(summaryLines(report).join('\n')).toContain(
      'memory (MiB, first→last): processor RSS 406→616 (max 616), heap used 76→106 (min 76), heap total 232→437; <sink> RSS 650→650 (max 650)',
    );
  });

  it('shades the fault on every chart and lists wrong outputs, escaped', () => {
    const report: LoadTestReport = {
      ...sampleReport(),
      fault: {
        schedule: { kind: 'sink-kill', target: 'sink', atS: 20, forS: 5, endS: 25 },
        events: [{ t: 20.01, event: 'sink killed (-9)' }],
        recovery: {
          lagS: 3,
          rawResumeS: 2,
          aggregatesResumeS: 9,
          seconds: 9,
          backS: 1.5,
          afterBackS: 7.5,
          thresholdLag: 100,
        },
      },
      outputs: reconcileOutputs({
        expectedWindows: new Map([
          [windowKey('lt1-<b>', 0), { deviceId: 'lt1-<b>', windowStart: 0, count: 2, fields: {} }],
        ]),
        storedWindows: [{ deviceId: 'lt1-<b>', windowStart: 0, count: 3, fields: {} }],
        expectedAlerts: [],
        storedAlerts: [],
        producedByDevice: new Map(),
        storedStates: [],
        windowSizeMs: 1_000,
        graceMs: 0,
        horizonMs: 5_000,
      }),
    };
    const html = renderHtml(report);
    expect((html.match(/class="fault"/g) ?? []).length).toBe(6);
    expect(html).toContain('sink killed (-9)');
    expect(html).toContain('lt1-&#60;b&#62;');
    expect(html).not.toContain('lt1-<b>');
    expect(html).toContain('FAILED: windows wrong 1 of 1');
    const lines = summaryLines(report).join('\n');
    expect(lines).toContain('derived outputs: FAILED: windows wrong 1 of 1');
    expect(lines).toContain('fault sink-kill at 20 s for 5 s: recovery 9 s after its end');
    expect(lines).toContain('back 1.5 s after its end, recovered 7.5 s after it was back');
    expect(html).toContain('recovered 7.5 s after it was back');
  });

  it("marks a scale-out's member changes on every chart, below the span's label", () => {
    const report: LoadTestReport = {
      ...sampleReport(),
      fault: {
        schedule: { kind: 'scale-out', target: 'pipeline', atS: 10, forS: 20, endS: 30 },
        events: [
          { t: 10.2, event: 'processor-2 joined: 2 processors', mark: '2p' },
          { t: 15, event: 'sink stopping (SIGTERM) for a handover' },
          { t: 20.1, event: 'processor stopped (SIGTERM): 1 processors', mark: '1p' },
        ],
        recovery: { lagS: 1, rawResumeS: 1, aggregatesResumeS: 1, seconds: 1, thresholdLag: 100 },
      },
    };
    const html = renderHtml(report);
    // 6 charts × (the span + two marked moments); the unmarked event draws nothing.
    expect((html.match(/class="fault"/g) ?? []).length).toBe(18);
    expect(html).toMatch(/y="52" font-size="10" fill="#d62728">2p</);
    expect(html).toContain('processor-2 joined: 2 processors');
  });

  it("draws the query API's latency and gives its p99 during the spike", () => {
    const report: LoadTestReport = {
      ...sampleReport(),
      queryApi: queryApiReport(
        'http://127.0.0.1:1',
        [
          { t: 1, ms: 20, ok: true, status: 200 },
          { t: 31, ms: 400.5, ok: true, status: 200 },
          { t: 32, ms: 10_000, ok: false, status: 0 },
        ],
        [
          { label: 'before spike', startS: 0, endS: 30 },
          { label: 'spike', startS: 30, endS: 40 },
        ],
      ),
    };
    const html = renderHtml(report);
    expect((html.match(/<svg /g) ?? []).length).toBe(7);
    expect(html).toContain('Query API latency');
    expect(summaryLines(report).join('\n')).toContain(
      'query API p50/p99: 20 ms / 400.5 ms over 3 requests, 1 errors (1 × no answer); during the spike 400.5 ms / 400.5 ms (2 requests, 1 errors)',
    );
  });

  it('summarises the run in a few lines', () => {
    const lines = summaryLines(sampleReport());
    expect(lines[0]).toContain('offered 1 events, produced 1');
    expect(lines.join('\n')).toContain(
      'spike recovery: lag back under 100 4.5 s after the spike (and for good after 6 s)',
    );
    expect(lines.join('\n')).toContain('reconciliation: OK');
  });

  it('takes the highest sustainable step before the first that is not', () => {
    expect(
      stepSummary([
        { rate: 1_000, sustainable: true, reasons: [] },
        { rate: 2_000, sustainable: true, reasons: [] },
        { rate: 3_000, sustainable: false, reasons: ['slow'] },
        { rate: 4_000, sustainable: true, reasons: [] },
      ]),
    ).toEqual({ highestSustainableRate: 2_000, firstUnsustainable: { rate: 3_000, reasons: ['slow'] } });
    expect(
      stepSummary([{ rate: 1_000, sustainable: false, reasons: ['x'] }])?.highestSustainableRate,
    ).toBeUndefined();
  });

  it('prints a status line with rates, lag per group, freshness and time left', () => {
    const line = formatProgress(
      {
        elapsedS: 12.4,
        durationS: 60,
        phase: 'step 2',
        offeredPerS: 2_000,
        achievedPerS: 1_990,
        lag: { 'p.fleetgrid-processors': 1_234, 'p.fleetgrid-sink-clickhouse': 300 },
        rawP99Ms: 1_500,
        rawP99AtLeast: true,
        errors: 0,
        shed: 0,
        draining: false,
      },
      groupLabel,
    );
    expect(line).toBe(
      '[12/60 s] step 2 offered 2.0k/s achieved 2.0k/s lag proc 1.2k sink 300 p99 ≥1.5k ms errors 0 · 48 s left',
    );
  });
});
