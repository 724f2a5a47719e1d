/** What the pages share: series requests and charts, thresholds from the reference data, markers, kind names. */
import { api, encodeId, QUERYABLE_ID } from '../api.js';
import { seriesXY, timeChart } from '../charts.js';
import { el, load } from '../dom.js';
import { formatNumber } from '../format.js';
import { createMap } from '../map.js';
import { hrefOf } from '../router.js';

export const KIND_TITLES = { truck: 'Trucks', turbine: 'Wind turbines', solar: 'Solar arrays' };
export const KIND_NAMES = { truck: 'truck', turbine: 'wind turbine', solar: 'solar array' };

/** A device's metric over the range, step auto (raw for short ranges, windows beyond). */
export function series(deviceId, metric, span) {
  return api(`devices/${encodeId(deviceId)}/series`, { metric, step: 'auto', from: span.from, to: span.to });
}

/** The alert thresholds on a metric of a kind, from GET /api/v1/reference (processors/alerts/rules.ts). */
export function thresholdsFor(reference, kind, field) {
  return reference.alertRules
    .filter((rule) => rule.kind === kind)
    .flatMap((rule) =>
      rule.thresholds.filter((t) => t.field === field).map((t) => ({ ...t, rule: rule.id })),
    );
}

/** Pairs of two series' values at the same times (power against wind at each sample or window). */
export function joinSeries(xAnswer, yAnswer, scaleY = 1) {
  const value = (answer, p) => (answer.step === 'raw' ? p.value : p.avg);
  const ys = new Map(yAnswer.points.map((p) => [p.t, value(yAnswer, p)]));
  const pairs = [];
  for (const p of xAnswer.points) {
    const y = ys.get(p.t);
    const x = value(xAnswer, p);
    if (y !== undefined && y !== null && x !== null) pairs.push([x, y * scaleY]);
  }
  return pairs;
}

/** Marker colour by speed (style.css .device-marker). */
export function speedClass(speed) {
  if (speed === null || speed === undefined || speed < 1) return 'speed-stopped';
  if (speed < 50) return 'speed-slow';
  if (speed < 85) return 'speed-medium';
  return 'speed-fast';
}

/** A map whose device markers open the device's page. */
export function deviceMap(node, ctx) {
  return createMap(node, { onSelect: (id) => QUERYABLE_ID.test(id) && ctx.navigate(hrefOf('device', id)) });
}

/** Places the trucks that have a position on the map (titled with id and speed); returns them. */
export function showTrucks(map, devices) {
  const placed = devices.filter((d) => Number.isFinite(d.lat) && Number.isFinite(d.lon));
  map.setMarkers(
    placed.map((d) => ({
      id: d.deviceId,
      lat: d.lat,
      lon: d.lon,
      title: `${d.deviceId} · ${formatNumber(d.speedKmh, 0)} km/h`,
      className: speedClass(d.speedKmh),
    })),
  );
  return placed;
}

/**
 * Time charts of a device's metrics over the range, each in its own section, with the
 * alert thresholds on the metric (`parts`: [{metric, label, unit, part, node}]).
 */
export async function metricCharts(ctx, parts, { id, kind, noRuleNote = false }) {
  const span = ctx.range();
  const reference = await ctx.reference();
  await Promise.all(
    parts.map((c) =>
      load(c.part, async () => {
        const answer = await series(id, c.metric, span);
        const { xs, ys } = seriesXY(answer);
        c.node.dataset.step = answer.step;
        const thresholds = thresholdsFor(reference, kind, c.metric);
        timeChart(c.node, { series: [{ label: c.label, unit: c.unit, xs, ys }], span, thresholds });
        if (noRuleNote && thresholds.length === 0)
          c.node.append(el('p', { class: 'muted note' }, 'no alert rule on this metric'));
      }),
    ),
  );
}
