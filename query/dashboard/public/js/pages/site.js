/**
 * A site's page (`/sites/<id>`): a depot, a wind farm or a solar park. Its figures (the
 * summary for the site: energy, capacity factor, distance…), energy (kWh) by day for
 * power plants, its devices with their state (each linking to its page), its trucks on the
 * map, and the open alerts of its devices.
 */
import { allDevices, api, encodeId, QUERYABLE_ID } from '../api.js';
import { alertsPanel } from '../alerts.js';
import { timeChart } from '../charts.js';
import { el, load, section, table } from '../dom.js';
import { formatNumber, time } from '../format.js';
import { hrefOf } from '../router.js';
import { deviceMap, showTrucks } from './common.js';
import { kindFigures } from './fleet.js';

/** The figure of a device's state that says most about it now. */
function stateText(d) {
  if (d.kind === 'truck')
    return `${d.engineOn ? 'engine on' : 'engine off'} · ${formatNumber(d.speedKmh, 0)} km/h`;
  if (d.kind === 'turbine') return `${d.status ?? '–'} · ${formatNumber(d.powerKw, 0)} kW`;
  return `${d.status ?? '–'} · ${formatNumber((d.acPowerW ?? 0) / 1000, 1)} kW`;
}

export function sitePage(ctx, siteId) {
  const figuresPart = section('figures', 'Key figures', { className: 'wide figures-grid' });
  const energyPart = section('energy', 'Energy by day', { className: 'chart-panel wide' });
  const energyChart = el('div', { class: 'chart', id: 'chart-energy' });
  energyPart.body.append(energyChart);
  const devicesPart = section('devices', 'Devices', { className: 'devices' });
  const mapPart = section('map-section', 'Positions', { className: 'map-panel' });
  const mapNode = el('div', {
    class: 'map',
    id: 'map',
    role: 'region',
    'aria-label': 'Map of the site’s trucks',
  });
  mapPart.body.append(mapNode);
  const alerts = alertsPanel({
    id: 'alerts',
    title: 'Open alerts of the site',
    query: () => ({ state: 'open' }),
    filter: (a) => a.siteId === siteId,
  });
  let map;

  async function loadFigures() {
    const summary = await api('fleet/summary', { ...ctx.range(), siteId });
    const kinds = ['truck', 'turbine', 'solar'].filter((k) => summary[k].devices > 0);
    figuresPart.body.replaceChildren(...kindFigures(summary, [...kinds, 'alerts']));
    energyPart.node.hidden = !kinds.some((k) => k !== 'truck');
    mapPart.node.hidden = !kinds.includes('truck');
    return kinds;
  }

  async function loadEnergy() {
    if (energyPart.node.hidden) return;
    const span = ctx.range();
    const answer = await api(`sites/${encodeId(siteId)}/energy`, { step: '1d', ...span });
    const from = Math.floor(Date.parse(span.from) / 86_400_000) * 86_400_000;
    const to = Math.ceil(Date.parse(span.to) / 86_400_000) * 86_400_000;
    timeChart(energyChart, {
      series: [
        {
          label: 'energy',
          unit: 'kWh',
          xs: answer.points.map((p) => Date.parse(p.t) / 1000),
          ys: answer.points.map((p) => p.totalKwh),
        },
      ],
      span: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
      bars: true,
      minPoints: 1,
    });
    energyChart.dataset.total = String(answer.totals.totalKwh);
  }

  async function loadDevices() {
    const devices = await allDevices({ siteId });
    devicesPart.body.replaceChildren(
      table({
        caption: `Devices of ${siteId}`,
        columns: [
          { label: 'device' },
          { label: 'kind' },
          { label: 'state' },
          { label: 'last seen' },
          { label: 'open alerts', num: true },
        ],
        rows: devices.map((d) => ({
          attributes: { 'data-device': d.deviceId },
          cells: [
            QUERYABLE_ID.test(d.deviceId)
              ? el('a', { href: hrefOf('device', d.deviceId) }, d.deviceId)
              : d.deviceId,
            d.kind,
            stateText(d),
            time(d.lastSeen),
            formatNumber(d.openAlerts.length, 0),
          ],
        })),
      }),
    );
    if (!mapPart.node.hidden) {
      map ??= deviceMap(mapNode, ctx);
      const placed = showTrucks(map, devices);
      map.fit(placed.map((d) => [d.lat, d.lon]));
    }
  }

  return {
    title: siteId,
    crumbs: [{ text: siteId }],
    sections: [figuresPart.node, energyPart.node, devicesPart.node, mapPart.node, alerts.part.node],
    async refresh() {
      await load(figuresPart, loadFigures);
      await Promise.all([
        load(energyPart, loadEnergy),
        load(devicesPart, loadDevices),
        load(alerts.part, alerts.load),
      ]);
    },
    destroy: () => {
      map?.destroy();
      alerts.destroy();
    },
  };
}
