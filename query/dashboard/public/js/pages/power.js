/**
 * What the turbine and solar pages share: the scatter of power against its driver (wind,
 * irradiance) beside the reference curve, condition charts with thresholds, performance
 * per step, the status timeline and the device's alerts.
 */
import { api, encodeId } from '../api.js';
import { alertsPanel } from '../alerts.js';
import { scatterChart, statusTimeline, timeChart } from '../charts.js';
import { el, load, section } from '../dom.js';
import { figures } from '../figures.js';
import { time } from '../format.js';
import { joinSeries, metricCharts, series } from './common.js';

/**
 * @param options.kind 'turbine' | 'solar'
 * @param options.stateFigures (state, performance) → figure items
 * @param options.scatter {x: {metric, label, unit}, y: {metric, label, unit, scale}, title, curve?: (reference) => {label, at}}
 * @param options.conditions [{metric, title, label, unit}]
 * @param options.performance {title, series: [{field, label, unit, scale}]}
 */
export function powerPage(ctx, initial, options) {
  const id = initial.deviceId;
  const statePart = section('state', `${options.title} ${id}`, { className: 'wide' });
  const scatterPart = section('scatter', options.scatter.title, { className: 'chart-panel' });
  const scatterNode = el('div', { class: 'chart', id: 'chart-scatter' });
  scatterPart.body.append(scatterNode);
  const conditionParts = options.conditions.map((c) => {
    const part = section(`chart-${c.metric}-section`, c.title, { className: 'chart-panel' });
    const node = el('div', { class: 'chart', id: `chart-${c.metric}`, 'data-metric': c.metric });
    part.body.append(node);
    return { ...c, part, node };
  });
  const performancePart = section('performance', options.performance.title, { className: 'chart-panel' });
  const performanceNode = el('div', { class: 'chart', id: 'chart-performance' });
  performancePart.body.append(performanceNode);
  const statusPart = section('status', 'Status timeline', { className: 'wide' });
  const statusNode = el('div', { class: 'chart timeline-chart', id: 'chart-status' });
  statusPart.body.append(statusNode);
  const alerts = alertsPanel({
    id: 'alerts',
    title: `Alerts of the ${options.noun}`,
    query: () => ({ state: 'all', deviceId: id, ...ctx.range() }),
    deviceLinks: false,
  });

  /** Figures every power device has: energy of the range, capacity factor, its size and where it comes from. */
  const powerFigures = (p) => [
    { key: 'energyKwh', label: 'energy in range', value: p.totals.energyKwh, digits: 1, unit: 'kWh' },
    {
      key: 'capacityFactor',
      label: 'capacity factor',
      value: p.totals.capacityFactor,
      digits: 1,
      unit: '%',
      scale: 100,
    },
    {
      key: 'capacityKw',
      label: `${options.capacityLabel} (${p.capacitySource ?? 'not in the registry'})`,
      value: p.capacityKw,
      digits: 1,
      unit: options.capacityUnit,
    },
  ];

  async function loadState() {
    const span = ctx.range();
    const [{ state }, performance] = await Promise.all([
      api(`devices/${encodeId(id)}/state`),
      api(`devices/${encodeId(id)}/performance`, { ...span, step: 'auto' }),
    ]);
    statePart.body.replaceChildren(
      el(
        'p',
        { class: 'muted' },
        `${state.siteId} · ${state.status ?? '–'} · last seen ${time(state.lastSeen)}`,
      ),
      figures([...options.stateFigures(state, performance), ...powerFigures(performance)]),
    );
  }

  async function loadScatter() {
    const span = ctx.range();
    const [xs, ys] = await Promise.all([
      series(id, options.scatter.x.metric, span),
      series(id, options.scatter.y.metric, span),
    ]);
    const reference = await ctx.reference();
    scatterNode.dataset.step = xs.step;
    scatterChart(scatterNode, {
      points: joinSeries(xs, ys, options.scatter.y.scale ?? 1),
      xLabel: options.scatter.x.label,
      xUnit: options.scatter.x.unit,
      yLabel: options.scatter.y.label,
      yUnit: options.scatter.y.unit,
      curve: options.scatter.curve?.(reference),
    });
  }

  const loadConditions = () =>
    metricCharts(ctx, conditionParts, { id, kind: options.kind, noRuleNote: true });

  async function loadPerformance() {
    const span = ctx.range();
    const answer = await api(`devices/${encodeId(id)}/performance`, { ...span, step: 'auto' });
    performanceNode.dataset.step = answer.step;
    if (options.kind === 'solar' && answer.capacityKw === null) {
      performanceNode.dataset.state = 'empty';
      performanceNode.replaceChildren(
        el(
          'p',
          { class: 'muted note' },
          'no performance ratio: the array’s size (kWp) is not in the fleet registry',
        ),
      );
      return;
    }
    timeChart(performanceNode, {
      series: options.performance.series.map((s) => ({
        label: s.label,
        unit: s.unit,
        xs: answer.points.map((p) => Date.parse(p.t) / 1000),
        ys: answer.points.map((p) => (p[s.field] === null ? null : p[s.field] * (s.scale ?? 1))),
      })),
      span,
    });
  }

  async function loadStatus() {
    const span = ctx.range();
    statusTimeline(statusNode, await api(`devices/${encodeId(id)}/status`, span), span);
  }

  return {
    sections: [
      statePart,
      scatterPart,
      ...conditionParts.map((c) => c.part),
      performancePart,
      statusPart,
      alerts.part,
    ].map((p) => p.node),
    destroy: () => alerts.destroy(),
    async refresh() {
      await Promise.all([
        load(statePart, loadState),
        load(scatterPart, loadScatter),
        loadConditions(),
        load(performancePart, loadPerformance),
        load(statusPart, loadStatus),
        load(alerts.part, alerts.load),
      ]);
    },
  };
}
