/**
 * The load-test report: its model (what the JSON holds, field by field), and the HTML page
 * rendered from it with inline SVG charts (no chart library, no CDN: the page opens from
 * disk on a machine without network). Pure: the runner collects, this file shapes.
 */
import type { FaultEvent, FaultRecovery, FaultSchedule } from './faults.ts';
import type { MemoryFigure, MemoryReport } from './memory.ts';
import type { OutputReconciliation } from './outputs.ts';
import type { Phase, Profile } from './profiles.ts';
import type { ProducerPerfSummary } from './probes.ts';
import type { QueryApiReport, QueryLatency } from './query-probe.ts';
import type { Reconciliation } from './reconcile.ts';
import type { Percentiles } from './stats.ts';

export const REPORT_VERSION = 1;

/** One sample per second of the run. `t` is seconds since the start of the load. */
export interface SeriesPoint {
  t: number;
  /** Offered and achieved (acknowledged by Kafka) events/s over the last interval. */
  offeredPerS: number;
  achievedPerS: number;
  /** Records behind per consumer group. */
  lag: Record<string, number>;
  /** Backpressure pause decisions so far (all services) and partitions paused now. */
  pauses: number;
  paused: number;
  /** Produce errors so far. */
  errors: number;
  /** CPU in % of one core and RSS in MiB, per process name. */
  cpuPct: Record<string, number>;
  rssMiB: Record<string, number>;
}

/** Freshness per second of event time: what the charts draw. */
export interface FreshnessPoint {
  t: number;
  count: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

export interface PhaseReport extends Phase {
  offered: number;
  produced: number;
  achievedRate: number;
  rawFreshness: Percentiles;
  lag: Record<string, { bounded: boolean; growthPerS: number; maxLag: number; reason: string | undefined }>;
  sustainable: boolean | undefined;
  reasons: string[];
}

export interface ProcessReport {
  name: string;
  pid: number;
  cpuAvgPct: number;
  cpuMaxPct: number;
  rssMaxMiB: number;
}

export interface BaselineReport {
  tool: 'org.apache.kafka.tools.ProducerPerformance';
  command: string;
  recordSize: number;
  acks: string;
  result: ProducerPerfSummary | undefined;
  /** End-to-end sustained (or achieved) rate ÷ the broker's raw produce rate. */
  ratio: number | undefined;
  error: string | undefined;
}

export interface LoadTestReport {
  version: typeof REPORT_VERSION;
  runId: string;
  startedAt: string;
  endedAt: string;
  command: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    os: string;
    node: string;
    /** 1-minute load average at the start and the end: how much else ran on the machine. */
    loadAverage: { start: number; end: number };
  };
  settings: {
    profile: Profile;
    devices: number;
    partitions: number;
    warmupS: number;
    topicPrefix: string;
    pipeline: 'started' | 'external';
    windowSizeMs: number;
    graceMs: number;
    /** The started processor's max lateness (how long emitted windows are retained); undefined: its default. */
    maxLatenessMs?: number | undefined;
    groups: string[];
  };
  totals: {
    offered: number;
    produced: number;
    sendErrors: number;
    avgRecordBytes: number;
    loadSeconds: number;
    drainSeconds: number;
    achievedPerS: number;
  };
  freshness: {
    /** Event time → row visible (ingested_at) for raw events. */
    raw: Percentiles;
    /** Window end + grace → aggregate row visible, first revision of each window. */
    aggregates: Percentiles;
    /**
     * The sink's mean insert time: rows are stamped (ingested_at) when an insert starts and
     * visible when it ends, so freshness is understated by about this much.
     */
    sinkInsertMeanMs: number | undefined;
    rawSeries: FreshnessPoint[];
    aggregatesSeries: FreshnessPoint[];
  };
  series: SeriesPoint[];
  phases: PhaseReport[];
  backpressure: {
    pauses: number;
    maxPaused: number;
    /** Services whose /metrics were scraped, and how many scrapes answered or not. */
    services: number;
    scrapes: number;
    failedScrapes: number;
  };
  processes: ProcessReport[];
  step:
    | {
        highestSustainableRate: number | undefined;
        firstUnsustainable: { rate: number; reasons: string[] } | undefined;
      }
    | undefined;
  spike:
    | {
        /** Spike end → first time the total lag is back at its pre-spike level. */
        recoverySeconds: number | undefined;
        /** Spike end → the lag stays at that level for the rest of the run. */
        stableSeconds: number | undefined;
        thresholdLag: number;
        spikeEndS: number;
      }
    | undefined;
  baseline: BaselineReport | undefined;
  reconciliation: Reconciliation | undefined;
  /** The derived outputs against the produced events (a fault run, or --verify-outputs). */
  outputs?: OutputReconciliation | undefined;
  /** A fault run: what was done when, and how long the pipeline took to recover. */
  fault?:
    | {
        schedule: FaultSchedule;
        events: FaultEvent[];
        recovery: FaultRecovery;
        error?: string;
      }
    | undefined;
  /**
   * Resident memory and V8 heap per service at every sample (loadtest/memory.ts): whether
   * the services' memory is bounded under a long run (docs/reliability.md, "Memory under soak").
   */
  memory?: MemoryReport | undefined;
  /** The query API's latency through the run and per phase (`--probe-api`, loadtest/query-probe.ts). */
  queryApi?: QueryApiReport | undefined;
  notes: string[];
}

// ---------------------------------------------------------------------------------------
// HTML

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export interface ChartSeries {
  name: string;
  points: { x: number; y: number | undefined }[];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A "nice" upper bound for an axis: 1, 2 or 5 × 10^k at or above `max`. */
export function niceCeil(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function formatTick(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return `${+value.toFixed(2)}`;
}

/** A span of the x axis shaded and labelled on a chart (a fault: from its start to its end). */
export interface ChartMark {
  fromX: number;
  toX: number;
  label: string;
}

/** An SVG line chart; a gap in a series (y undefined) breaks its line. */
export function svgLineChart(
  title: string,
  yLabel: string,
  series: ChartSeries[],
  width = 760,
  height = 240,
  marks: readonly ChartMark[] = [],
): string {
  const left = 60;
  const right = 150;
  const top = 28;
  const bottom = 32;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.flatMap((p) => (p.y === undefined ? [] : [p.y])));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const yMax = niceCeil(ys.length ? Math.max(...ys) : 1);
  const sx = (x: number) => left + (xMax === xMin ? 0 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number) => top + plotH - (y / yMax) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">`,
    `<text x="${left}" y="16" font-size="13" font-weight="bold">${escapeHtml(title)}</text>`,
    `<text x="12" y="${top + plotH / 2}" font-size="11" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
  ];
  // Round tick values: 5 intervals for 1 or 5 × 10^k, 4 for 2 × 10^k.
  const lead = Math.round(yMax / 10 ** Math.floor(Math.log10(yMax)));
  const intervals = lead === 2 ? 4 : 5;
  for (let i = 0; i <= intervals; i++) {
    const y = (yMax * i) / intervals;
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 4}" y="${(sy(y) + 4).toFixed(1)}" font-size="10" text-anchor="end">${formatTick(y)}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const x = xMin + ((xMax - xMin) * i) / 5;
    parts.push(
      `<text x="${sx(x).toFixed(1)}" y="${top + plotH + 14}" font-size="10" text-anchor="middle">${formatTick(Math.round(x))}s</text>`,
    );
  }
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (const mark of marks) {
    // Clipped to the plot; an instantaneous fault is drawn as a 2 px band.
    const x1 = Math.min(left + plotW, Math.max(left, sx(mark.fromX)));
    const x2 = Math.min(left + plotW, Math.max(x1 + 2, sx(mark.toX)));
    parts.push(
      `<rect class="fault" x="${x1.toFixed(1)}" y="${top}" width="${(x2 - x1).toFixed(1)}" height="${plotH}" fill="#d62728" fill-opacity="0.15" stroke="#d62728" stroke-dasharray="3,2"/>`,
      // A moment's label sits below a span's, so one inside a span stays readable.
      `<text x="${(x1 + 2).toFixed(1)}" y="${top + (mark.fromX === mark.toX ? 24 : 11)}" font-size="10" fill="#d62728">${escapeHtml(mark.label)}</text>`,
    );
  }
  series.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (p.y === undefined || !Number.isFinite(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`;
      pen = true;
    }
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    const ly = top + 12 + index * 16;
    parts.push(
      `<line x1="${left + plotW + 10}" x2="${left + plotW + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${left + plotW + 30}" y="${ly}" font-size="11">${escapeHtml(s.name.slice(0, 22))}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value)
    ? '–'
    : value.toLocaleString('en-US', { maximumFractionDigits: digits });

const pct = (p: Percentiles, key: 'p50' | 'p95' | 'p99') => {
  const r = p[key];
  return r ? `${r.atLeast ? '≥ ' : ''}${fmt(r.ms)} ms` : '–';
};

function table(headers: string[], rows: (string | number)[][]): string {
  const th = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(String(cell))}</td>`).join('')}</tr>`)
    .join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

export function renderHtml(report: LoadTestReport): string {
  const { series } = report;
  // Group ids carry the run's prefix; the legend and tables are readable without it.
  const prefix = report.settings.topicPrefix;
  const shortGroup = (group: string) =>
    prefix && group.startsWith(prefix) ? group.slice(prefix.length) : group;
  const groups = report.settings.groups;
  const procNames = report.processes.map((p) => p.name);
  const marks: ChartMark[] = report.fault
    ? [
        {
          fromX: report.fault.schedule.atS,
          toX: report.fault.schedule.endS,
          label: report.fault.schedule.kind,
        },
        // Moments within it (a scale-out's member changes): a thin band each, labelled.
        ...report.fault.events.flatMap((e) => (e.mark ? [{ fromX: e.t, toX: e.t, label: e.mark }] : [])),
      ]
    : [];
  const chart = (title: string, yLabel: string, lines: ChartSeries[]) =>
    svgLineChart(title, yLabel, lines, undefined, undefined, marks);
  const charts = [
    chart('Produce rate', 'events/s', [
      { name: 'offered', points: series.map((p) => ({ x: p.t, y: p.offeredPerS })) },
      { name: 'achieved', points: series.map((p) => ({ x: p.t, y: p.achievedPerS })) },
    ]),
    chart(
      'Consumer lag',
      'records',
      groups.map((g) => ({ name: shortGroup(g), points: series.map((p) => ({ x: p.t, y: p.lag[g] })) })),
    ),
    chart('Raw freshness (by event time)', 'ms', [
      { name: 'p50', points: report.freshness.rawSeries.map((p) => ({ x: p.t, y: p.p50Ms })) },
      { name: 'p99', points: report.freshness.rawSeries.map((p) => ({ x: p.t, y: p.p99Ms })) },
    ]),
    chart('Aggregate freshness (from window end + grace)', 'ms', [
      { name: 'p50', points: report.freshness.aggregatesSeries.map((p) => ({ x: p.t, y: p.p50Ms })) },
      { name: 'p99', points: report.freshness.aggregatesSeries.map((p) => ({ x: p.t, y: p.p99Ms })) },
    ]),
    chart(
      'CPU',
      '% of one core',
      procNames.map((n) => ({ name: n, points: series.map((p) => ({ x: p.t, y: p.cpuPct[n] })) })),
    ),
    chart(
      'Resident memory',
      'MiB',
      procNames.map((n) => ({ name: n, points: series.map((p) => ({ x: p.t, y: p.rssMiB[n] })) })),
    ),
    ...memoryCharts(report.memory, chart),
    ...(report.queryApi
      ? [
          chart('Query API latency (fleet summary, answered requests)', 'ms', [
            {
              name: 'latency',
              points: report.queryApi.series.map((p) => ({ x: p.t, y: p.ok ? p.ms : undefined })),
            },
          ]),
        ]
      : []),
  ];
  const r = report.reconciliation;
  const s = report.settings;
  const sections = [
    `<h1>fleetgrid load test — ${escapeHtml(s.profile.name)} ${fmt(s.profile.rate)}/s, ${fmt(s.profile.durationS)} s, ${fmt(s.devices)} devices</h1>`,
    `<p>Run <code>${escapeHtml(report.runId)}</code>, ${escapeHtml(report.startedAt)} → ${escapeHtml(report.endedAt)} on ${report.machine.cpus} × ${escapeHtml(report.machine.cpuModel)}, ${fmt(report.machine.memoryGiB, 1)} GiB, node ${escapeHtml(report.machine.node)}, load average ${fmt(report.machine.loadAverage.start, 2)} → ${fmt(report.machine.loadAverage.end, 2)}.<br><code>${escapeHtml(report.command)}</code></p>`,
    '<h2>Summary</h2>',
    table(
      ['figure', 'value'],
      [
        ['offered events', fmt(report.totals.offered)],
        ['produced (acked) events', fmt(report.totals.produced)],
        ['achieved produce rate', `${fmt(report.totals.achievedPerS)}/s`],
        ['send errors', fmt(report.totals.sendErrors)],
        ['average record size', `${fmt(report.totals.avgRecordBytes)} B`],
        [
          'raw freshness p50 / p95 / p99',
          `${pct(report.freshness.raw, 'p50')} / ${pct(report.freshness.raw, 'p95')} / ${pct(report.freshness.raw, 'p99')}`,
        ],
        [
          'aggregate freshness p50 / p95 / p99',
          `${pct(report.freshness.aggregates, 'p50')} / ${pct(report.freshness.aggregates, 'p95')} / ${pct(report.freshness.aggregates, 'p99')}`,
        ],
        [
          'sink insert time, mean (freshness is understated by about this)',
          `${fmt(report.freshness.sinkInsertMeanMs, 1)} ms`,
        ],
        [
          'backpressure pauses',
          `${fmt(report.backpressure.pauses)} (at most ${fmt(report.backpressure.maxPaused)} partitions paused; ${report.backpressure.services} services, ${fmt(report.backpressure.scrapes)} scrapes, ${fmt(report.backpressure.failedScrapes)} failed)`,
        ],
        ...(report.step
          ? [
              [
                'highest sustainable rate',
                report.step.highestSustainableRate === undefined
                  ? 'none of the steps'
                  : `${fmt(report.step.highestSustainableRate)}/s`,
              ],
            ]
          : []),
        ...(report.spike
          ? [
              [
                'spike recovery',
                report.spike.recoverySeconds === undefined
                  ? 'not recovered in the run'
                  : `${fmt(report.spike.recoverySeconds, 1)} s after the spike (stays down after ${fmt(report.spike.stableSeconds, 1)} s)`,
              ],
            ]
          : []),
        ...(report.baseline?.result
          ? [
              [
                'broker baseline (ProducerPerformance)',
                `${fmt(report.baseline.result.recordsPerS)}/s at ${report.baseline.recordSize} B; ratio ${fmt(report.baseline.ratio, 3)}`,
              ],
            ]
          : []),
        [
          'reconciliation',
          r
            ? r.ok
              ? 'OK: nothing lost, nothing duplicated'
              : `FAILED: lost ${r.lost}, duplicates ${r.duplicates}, unexpected ${r.unexpected}`
            : 'not run',
        ],
        ...(report.outputs
          ? [
              [
                'derived outputs',
                `${report.outputs.ok ? 'OK' : 'FAILED'}: windows wrong ${report.outputs.windows.wrong} of ${report.outputs.windows.judged}, alerts wrong ${report.outputs.alerts.wrong}, device states wrong ${report.outputs.deviceState.wrong}`,
              ],
            ]
          : []),
        ...(report.fault
          ? [
              [
                `fault ${report.fault.schedule.kind}`,
                `${fmt(report.fault.schedule.atS, 1)} s → ${fmt(report.fault.schedule.endS, 1)} s; recovery ${
                  report.fault.recovery.seconds === undefined
                    ? 'not within the run'
                    : `${fmt(report.fault.recovery.seconds, 1)} s`
                } (lag ${fmt(report.fault.recovery.lagS, 1)} s, raw rows ${fmt(report.fault.recovery.rawResumeS, 1)} s, aggregates ${fmt(report.fault.recovery.aggregatesResumeS, 1)} s)${
                  report.fault.recovery.backS === undefined
                    ? ''
                    : `; back ${fmt(report.fault.recovery.backS, 1)} s after the fault's end, recovered ${
                        report.fault.recovery.afterBackS === undefined
                          ? 'not within the run'
                          : `${fmt(report.fault.recovery.afterBackS, 1)} s`
                      } after it was back`
                }`,
              ],
            ]
          : []),
      ],
    ),
    '<h2>Charts</h2>',
    ...charts.map((c) => `<div class="chart">${c}</div>`),
    '<h2>Phases</h2>',
    table(
      ['phase', 'offered/s', 'achieved/s', 'raw p50', 'raw p99', 'lag', 'sustainable'],
      report.phases.map((p) => [
        p.label,
        fmt(p.rate),
        fmt(p.achievedRate),
        pct(p.rawFreshness, 'p50'),
        pct(p.rawFreshness, 'p99'),
        Object.entries(p.lag)
          .map(
            ([g, v]) =>
              `${shortGroup(g)}: max ${fmt(v.maxLag)}, floor ${v.growthPerS >= 0 ? '+' : '−'}${fmt(Math.abs(v.growthPerS))}/s`,
          )
          .join('; '),
        p.sustainable === undefined ? '–' : p.sustainable ? 'yes' : `no: ${p.reasons.join('; ')}`,
      ]),
    ),
    '<h2>Processes</h2>',
    table(
      ['process', 'pid', 'CPU avg %', 'CPU max %', 'RSS max MiB'],
      report.processes.map((p) => [p.name, p.pid, fmt(p.cpuAvgPct), fmt(p.cpuMaxPct), fmt(p.rssMaxMiB)]),
    ),
    report.memory ? memoryTable(report.memory) : '',
    report.queryApi ? queryApiTable(report.queryApi) : '',
    '<h2>Reconciliation</h2>',
    r
      ? table(
          [
            'kind',
            'produced',
            'stored rows',
            'stored distinct',
            'dead-lettered',
            'lost',
            'duplicates',
            'unexpected',
          ],
          r.kinds.map((k) => [
            k.kind,
            k.produced,
            k.storedRows,
            k.storedDistinct,
            k.deadLettered,
            k.lost,
            k.duplicates,
            k.unexpected,
          ]),
        ) +
        `<p>${r.devicesChecked} devices checked, ${r.deviceMismatchCount} with a count or seq range that differs.</p>`
      : '<p>not run</p>',
    report.fault
      ? `<h2>Fault</h2>${table(
          ['t (s)', 'event'],
          report.fault.events.map((e) => [fmt(e.t, 2), e.event]),
        )}`
      : '',
    report.outputs ? outputsSection(report.outputs) : '',
    report.baseline
      ? `<h2>Broker baseline</h2><p><code>${escapeHtml(report.baseline.command)}</code></p>${
          report.baseline.result
            ? table(
                ['records', 'records/s', 'MB/s', 'avg ms', 'p99 ms'],
                [
                  [
                    report.baseline.result.records,
                    fmt(report.baseline.result.recordsPerS),
                    fmt(report.baseline.result.mbPerS, 2),
                    fmt(report.baseline.result.avgLatencyMs, 1),
                    fmt(report.baseline.result.p99Ms),
                  ],
                ],
              )
            : `<p>failed: ${escapeHtml(report.baseline.error ?? 'no output')}</p>`
        }`
      : '',
    report.notes.length
      ? `<h2>Notes</h2><ul>${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`
      : '',
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fleetgrid load test ${escapeHtml(report.runId)}</title><style>
body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}
th{background:#f4f4f4}code{font-size:12px}.chart{margin:8px 0}
</style></head><body>${sections.join('\n')}</body></html>\n`;
}

/**
 * The services' heap, used and total, per sample (their RSS is on the resident memory chart):
 * used that keeps rising through its GC dips is what a leak looks like; retention by design
 * levels off once the retained windows reach the lateness horizon.
 */
function memoryCharts(
  memory: MemoryReport | undefined,
  chart: (title: string, yLabel: string, lines: ChartSeries[]) => string,
): string[] {
  const withHeap = Object.entries(memory?.services ?? {}).filter(([, s]) => s.heapUsedMiB);
  if (withHeap.length === 0) return [];
  return [
    chart(
      'Heap used (V8)',
      'MiB',
      withHeap.map(([name, s]) => ({ name, points: s.series.map((p) => ({ x: p.t, y: p.heapUsedMiB })) })),
    ),
    chart(
      'Heap total (V8)',
      'MiB',
      withHeap.map(([name, s]) => ({ name, points: s.series.map((p) => ({ x: p.t, y: p.heapTotalMiB })) })),
    ),
  ];
}

function queryApiTable(q: QueryApiReport): string {
  const row = (label: string, l: QueryLatency) => [
    label,
    fmt(l.requests),
    fmt(l.errors),
    `${fmt(l.p50Ms, 1)} / ${fmt(l.p95Ms, 1)} / ${fmt(l.p99Ms, 1)}`,
    fmt(l.maxMs, 1),
  ];
  return `<h2>Query API</h2><p><code>GET ${escapeHtml(q.path)}</code>, one request at a time, through the run.</p>${table(
    ['phase', 'requests', 'errors', 'p50 / p95 / p99 ms', 'max ms'],
    [row('whole run', q), ...q.phases.map((p) => row(p.label, p))],
  )}`;
}

function memoryTable(memory: MemoryReport): string {
  const span = (f: MemoryFigure | undefined) =>
    f ? `${fmt(f.first)} → ${fmt(f.last)} (min ${fmt(f.min)}, max ${fmt(f.max)})` : '–';
  return `<h2>Memory</h2><p>Sampled every ${fmt(memory.intervalMs / 1_000, 1)} s; MiB, first → last.</p>${table(
    ['service', 'pids', 'RSS', 'heap used', 'heap total'],
    Object.entries(memory.services).map(([name, s]) => [
      name,
      s.pids.join(', '),
      span(s.rssMiB),
      span(s.heapUsedMiB),
      span(s.heapTotalMiB),
    ]),
  )}`;
}

function outputsSection(o: OutputReconciliation): string {
  const when = (ms: number) => new Date(ms).toISOString().slice(11, 23);
  return [
    '<h2>Derived outputs</h2>',
    `<p>Windows, alerts and device states against the produced events; windows closed by stream time at ${escapeHtml(new Date(o.horizonMs).toISOString())} judged.</p>`,
    table(
      ['output', 'expected', 'judged', 'wrong', 'detail'],
      [
        [
          'aggregates_1m windows',
          o.windows.expected,
          o.windows.judged,
          o.windows.wrong,
          `missing ${o.windows.missing}, unexpected ${o.windows.unexpected}, open (not judged) ${o.windows.open}`,
        ],
        [
          'alerts',
          o.alerts.expected,
          o.alerts.stored,
          o.alerts.wrong,
          'state of every alert id at the horizon',
        ],
        [
          'device_state',
          o.deviceState.devices,
          o.deviceState.devices,
          o.deviceState.wrong,
          'event count and last seq',
        ],
      ],
    ),
    o.windows.examples.length
      ? table(
          ['device', 'window', 'problem', 'detail'],
          o.windows.examples.map((e) => [e.deviceId, when(e.windowStart), e.problem, e.detail]),
        )
      : '',
    o.alerts.examples.length
      ? table(
          ['alert', 'rule', 'device', 'expected', 'stored'],
          o.alerts.examples.map((e) => [e.alertId, e.rule, e.deviceId, e.expected ?? '–', e.stored ?? '–']),
        )
      : '',
    o.deviceState.examples.length
      ? table(
          ['device', 'expected count / seq', 'stored count / seq'],
          o.deviceState.examples.map((e) => [
            e.deviceId,
            `${e.expected.eventCount} / ${e.expected.seq}`,
            e.stored ? `${e.stored.eventCount} / ${e.stored.seq}` : 'none',
          ]),
        )
      : '',
  ].join('');
}
