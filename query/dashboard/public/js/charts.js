/**
 * Charts (uPlot, from npm through vendor/uplot): time series with the alert thresholds
 * drawn as lines, XY scatters (power against wind or irradiance) with a reference curve,
 * bars per day, and a status timeline. A line chart with fewer than two points says "no
 * data yet" instead of drawing a lone dot (a bar chart draws one bar). Each chart leaves `data-state` (empty or drawn) and
 * `data-points` on its container for the tests.
 */
import { el, h, note } from './dom.js';
import { formatNumber } from './format.js';

const uPlot = window.uPlot;
const COLORS = ['#1f5fbf', '#8a4b00', '#2e6b30', '#7b3fa0'];
const RAISE = '#b3261e';
const RESOLVE = '#8a5300';

function reset(container) {
  container._chart?.destroy();
  container._chart = undefined;
  container.replaceChildren();
}

function empty(container, text = 'no data yet') {
  reset(container);
  container.dataset.state = 'empty';
  container.dataset.points = '0';
  container.append(note(text, { 'data-empty': '' }));
}

const widthOf = (container) =>
  Math.max(280, container.clientWidth || container.parentElement?.clientWidth || 600);

/** x and y arrays (seconds, values) from a series answer: raw values, or the windows' means. */
export function seriesXY(answer) {
  const points = answer?.points ?? [];
  return {
    xs: points.map((p) => Date.parse(p.t) / 1000),
    ys: points.map((p) => (answer.step === 'raw' ? p.value : p.avg)),
  };
}

/** A threshold in words, for the legend under the chart. */
export function thresholdText(t, unit) {
  const words = t.role === 'raise' ? 'alert when' : 'resolves when';
  return `${words} ${t.op} ${formatNumber(t.value, 1)} ${unit}`.trim();
}

function thresholdHook(thresholds, unit) {
  return (u) => {
    const ctx = u.ctx;
    const ratio = window.devicePixelRatio || 1;
    ctx.save();
    for (const t of thresholds) {
      const y = u.valToPos(t.value, 'y', true);
      if (!Number.isFinite(y)) continue;
      const color = t.role === 'raise' ? RAISE : RESOLVE;
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = 1.5 * ratio;
      ctx.setLineDash(t.role === 'raise' ? [6 * ratio, 4 * ratio] : [2 * ratio, 3 * ratio]);
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.font = `${11 * ratio}px system-ui, sans-serif`;
      ctx.textAlign = 'right';
      ctx.fillText(
        thresholdText(t, unit),
        u.bbox.left + u.bbox.width - 6 * ratio,
        t.role === 'raise' ? y - 4 * ratio : y + 12 * ratio,
      );
    }
    ctx.restore();
  };
}

/**
 * A time chart. `series`: [{label, unit, xs, ys}] sharing the x of the first; `thresholds`:
 * [{value, op, role}] drawn across (and kept inside the y range); `span`: the x range.
 */
export function timeChart(
  container,
  { series, span, thresholds = [], bars = false, height = 200, minPoints = 2 },
) {
  const first = series[0];
  const count = first ? first.ys.filter((y) => y !== null && y !== undefined).length : 0;
  const legend = thresholds.length > 0 ? thresholdLegend(thresholds, first?.unit ?? '') : undefined;
  if (count < minPoints) {
    empty(container);
    if (legend) container.append(legend);
    return;
  }
  reset(container);
  container.dataset.state = 'drawn';
  container.dataset.points = String(first.xs.length);
  const limits = thresholds.map((t) => t.value);
  const options = {
    width: widthOf(container),
    height,
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        fill: bars ? 'rgba(31,95,191,0.35)' : undefined,
        width: 1.5,
        value: (_u, v) => (v === null ? '–' : `${formatNumber(v, 1)} ${s.unit}`),
        ...(bars && uPlot.paths?.bars ? { paths: uPlot.paths.bars({ size: [0.7, 60] }) } : {}),
      })),
    ],
    axes: [{}, { values: (_u, ticks) => ticks.map((v) => formatNumber(v, 1)), size: 56 }],
    scales: {
      // The x axis spans the selected range: a few points must not stretch to years.
      x: { time: true, range: () => [Date.parse(span.from) / 1000, Date.parse(span.to) / 1000] },
      y: {
        range: (_u, min, max) => {
          const values = [min, max, ...limits, ...(bars ? [0] : [])].filter(Number.isFinite);
          const lo = Math.min(...values);
          const hi = Math.max(...values);
          const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
          return [bars ? Math.min(0, lo) : lo - pad, hi + pad];
        },
      },
    },
    hooks: thresholds.length > 0 ? { draw: [thresholdHook(thresholds, first.unit)] } : {},
    legend: { show: true },
  };
  const plot = el('div', { class: 'plot' });
  container.append(plot);
  if (legend) container.append(legend);
  container._chart = new uPlot(options, [first.xs, ...series.map((s) => s.ys)], plot);
}

function thresholdLegend(thresholds, unit) {
  return h(
    'p',
    {
      class: 'thresholds',
      'data-thresholds': thresholds.map((t) => `${t.role}:${t.op}${t.value}`).join(','),
    },
    ...thresholds.map((t) => el('span', { class: `threshold ${t.role}` }, thresholdText(t, unit))),
  );
}

/**
 * An XY scatter (e.g. power against wind speed), with a reference curve over the same x
 * (the documented power curve). Points are sorted by x; uPlot draws them without lines.
 */
export function scatterChart(container, { points, xLabel, xUnit, yLabel, yUnit, curve, height = 240 }) {
  const valid = points
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    .sort((a, b) => a[0] - b[0]);
  if (valid.length < 2) {
    empty(container);
    return;
  }
  reset(container);
  container.dataset.state = 'drawn';
  container.dataset.points = String(valid.length);
  const xs = valid.map((p) => p[0]);
  const data = [xs, valid.map((p) => p[1])];
  const series = [
    { label: xLabel },
    {
      label: yLabel,
      stroke: COLORS[0],
      paths: () => null,
      points: { show: true, size: 4, fill: COLORS[0] },
      value: (_u, v) => (v === null ? '–' : `${formatNumber(v, 1)} ${yUnit}`),
    },
  ];
  if (curve) {
    data.push(xs.map(curve.at));
    series.push({ label: curve.label, stroke: RAISE, width: 2, points: { show: false } });
  }
  const plot = el('div', { class: 'plot' });
  container.append(plot);
  container._chart = new uPlot(
    {
      width: widthOf(container),
      height,
      mode: 1,
      series,
      scales: { x: { time: false } },
      axes: [
        { label: `${xLabel} (${xUnit})`, values: (_u, t) => t.map((v) => formatNumber(v, 1)) },
        { label: `${yLabel} (${yUnit})`, values: (_u, t) => t.map((v) => formatNumber(v, 0)), size: 60 },
      ],
      legend: { show: true },
    },
    data,
    plot,
  );
}

/** Linear interpolation through [{x, y}] points (the power curve), 0 outside [x0, cutOut]. */
export function interpolator(points, cutOut) {
  return (x) => {
    if (!Number.isFinite(x) || x < points[0].x || x > cutOut) return 0;
    const last = points[points.length - 1];
    if (x >= last.x) return last.y;
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1];
      if (x >= a.x && x <= b.x) return a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x);
    }
    return 0;
  };
}

const STATUS_CLASS = { RUNNING: 'good', PRODUCING: 'good', IDLE: 'idle', FAULT: 'bad', MAINTENANCE: 'warn' };

/**
 * A status timeline: one bar per run across the range (left and width in % of the span,
 * set through the CSSOM, which the style-src policy allows), and the seconds per status.
 */
export function statusTimeline(container, answer, span) {
  const runs = answer?.runs ?? [];
  if (runs.length === 0) {
    empty(container);
    return;
  }
  reset(container);
  container.dataset.state = 'drawn';
  container.dataset.points = String(runs.length);
  const from = Date.parse(span.from);
  const width = Date.parse(span.to) - from;
  const bar = el('div', { class: 'timeline', role: 'img', 'aria-label': 'status over the range' });
  for (const run of runs) {
    const start = Math.max(0, (Date.parse(run.from) - from) / width);
    const end = Math.min(1, (Date.parse(run.to) - from) / width);
    const piece = el('span', {
      class: `run ${STATUS_CLASS[run.status] ?? 'other'}`,
      title: `${run.status} ${run.from} → ${run.to}`,
      'data-status': run.status,
    });
    piece.style.left = `${(start * 100).toFixed(3)}%`;
    piece.style.width = `${(Math.max(0.002, end - start) * 100).toFixed(3)}%`;
    bar.append(piece);
  }
  const totals = Object.entries(answer.seconds ?? {}).map(([status, seconds]) =>
    el(
      'li',
      { 'data-status': status, 'data-seconds': seconds },
      `${status}: ${formatNumber(seconds / 60, 1)} min`,
    ),
  );
  container.append(bar, h('ul', { class: 'timeline-legend' }, totals));
}
