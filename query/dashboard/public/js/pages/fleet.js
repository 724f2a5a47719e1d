/**
 * The fleet page (`/`): key figures per kind, every truck on the map (clustered, depots
 * labelled), one row per site linking to its page, the open alerts and pipeline health.
 */
import { allDevices, api, QUERYABLE_ID } from '../api.js';
import { alertsPanel } from '../alerts.js';
import { el, h, load, section, table } from '../dom.js';
import { figures } from '../figures.js';
import { formatFigure, formatNumber } from '../format.js';
import { healthPanel } from '../health.js';
import { isLive, subscribe } from '../live.js';
import { hrefOf } from '../router.js';
import { deviceMap, KIND_TITLES, showTrucks } from './common.js';

const FIGURES = {
  truck: [
    ['devices', 'devices', 0],
    ['activeDevices', 'active', 0],
    ['events', 'events', 0],
    ['avgSpeedKmh', 'avg speed', 1, 'km/h'],
    ['distanceKm', 'distance', 1, 'km'],
    ['engineOnHours', 'engine on', 1, 'h'],
    ['idleHours', 'idle', 1, 'h'],
  ],
  turbine: [
    ['devices', 'devices', 0],
    ['activeDevices', 'active', 0],
    ['events', 'events', 0],
    ['energyKwh', 'energy', 1, 'kWh'],
    ['availability', 'availability', 1, '%', 100],
    ['capacityFactor', 'capacity factor', 1, '%', 100],
  ],
  solar: [
    ['devices', 'devices', 0],
    ['activeDevices', 'active', 0],
    ['events', 'events', 0],
    ['energyKwh', 'energy', 1, 'kWh'],
    ['capacityFactor', 'capacity factor', 1, '%', 100],
  ],
  alerts: [
    ['raised', 'raised', 0],
    ['open', 'open', 0],
  ],
};

export function kindFigures(summary, kinds) {
  return kinds.map((kind) =>
    h(
      'article',
      { class: 'kind', 'data-kind': kind },
      el('h3', {}, kind === 'alerts' ? 'Alerts' : KIND_TITLES[kind]),
      figures(
        FIGURES[kind].map(([field, label, digits, unit, scale]) => ({
          key: `${kind}.${field}`,
          label,
          value: summary[kind]?.[field] ?? null,
          digits,
          unit,
          scale,
        })),
      ),
    ),
  );
}

export function fleetPage(ctx) {
  const figuresPart = section('figures', 'Key figures', { className: 'wide figures-grid' });
  const mapPart = section('map-section', 'Truck positions', { className: 'map-panel' });
  const mapNode = el('div', { class: 'map', id: 'map', role: 'region', 'aria-label': 'Map of the trucks' });
  mapPart.body.append(mapNode);
  const truckCount = el('span', { class: 'muted', id: 'truck-count' });
  mapPart.heading.append(' ', truckCount);
  const sitesPart = section('sites', 'Sites', { className: 'sites' });
  const alerts = alertsPanel({ id: 'alerts', title: 'Open alerts', query: () => ({ state: 'open' }) });
  const health = healthPanel();
  let map;
  /** Set when the page is left: answers still in flight must not draw on the removed map. */
  let destroyed = false;

  async function loadFigures() {
    const summary = await api('fleet/summary', ctx.range());
    figuresPart.body.replaceChildren(...kindFigures(summary, ['truck', 'turbine', 'solar', 'alerts']));
  }

  /** The trucks by id: loaded once, then moved by the live stream's device states. */
  let trucks;
  let redraw;
  const unsubscribe = subscribe((type, data) => {
    if (type !== 'device.state' || data.kind !== 'truck' || !trucks) return;
    trucks.set(data.deviceId, { ...trucks.get(data.deviceId), ...data });
    // Many devices move at once: one redraw for them, at most every half second.
    redraw ??= setTimeout(() => {
      redraw = undefined;
      if (map && !destroyed) drawTrucks();
    }, 500);
  });

  async function loadMap() {
    map ??= deviceMap(mapNode, ctx);
    // While the stream is open, positions arrive by push: no reload of every truck.
    if (trucks && isLive()) return;
    trucks = new Map((await allDevices({ kind: 'truck' })).map((t) => [t.deviceId, t]));
    if (!destroyed) drawTrucks();
  }

  function drawTrucks() {
    const all = [...trucks.values()];
    const placed = showTrucks(map, all);
    truckCount.textContent = `${placed.length} of ${all.length} placed`;
    // Depots are labelled where their trucks are (device states have no position of a plant).
    const depots = new Map();
    for (const t of placed) depots.set(t.siteId, [...(depots.get(t.siteId) ?? []), [t.lat, t.lon]]);
    const labels = [...depots].map(([siteId, points]) => ({
      id: siteId,
      kind: 'site',
      text: `${siteId} (${points.length})`,
      lat: points.reduce((s, p) => s + p[0], 0) / points.length,
      lon: points.reduce((s, p) => s + p[1], 0) / points.length,
    }));
    map.setLabels(labels);
    map.fit(placed.map((t) => [t.lat, t.lon]));
    mapNode.dataset.positions = String(placed.length);
  }

  async function loadSites() {
    const answer = await api('fleet/summary', { ...ctx.range(), groupBy: 'site' });
    const rows = answer.groups.map((g) => ({
      attributes: { 'data-site': g.siteId, 'data-kind': g.kind },
      cells: [
        QUERYABLE_ID.test(g.siteId) ? el('a', { href: hrefOf('site', g.siteId) }, g.siteId) : g.siteId,
        g.kind,
        formatNumber(g.devices, 0),
        formatNumber(g.activeDevices, 0),
        g.kind === 'truck'
          ? formatFigure(g.distanceKm, { digits: 1, unit: 'km' })
          : formatFigure(g.energyKwh, { digits: 1, unit: 'kWh' }),
        formatFigure(g.capacityFactor, { digits: 1, unit: '%', scale: 100 }),
        formatNumber(g.alertsOpen, 0),
      ],
    }));
    sitesPart.body.replaceChildren(
      table({
        caption: 'Sites',
        columns: [
          { label: 'site' },
          { label: 'kind' },
          { label: 'devices', num: true },
          { label: 'active', num: true },
          { label: 'distance / energy', num: true },
          { label: 'capacity factor', num: true },
          { label: 'open alerts', num: true },
        ],
        rows,
      }),
    );
  }

  return {
    title: 'Fleet',
    crumbs: [],
    sections: [figuresPart.node, mapPart.node, health.part.node, sitesPart.node, alerts.part.node],
    refresh: () =>
      Promise.all([
        load(figuresPart, loadFigures),
        load(mapPart, loadMap),
        load(sitesPart, loadSites),
        load(alerts.part, alerts.load),
        load(health.part, health.load),
      ]),
    destroy: () => {
      destroyed = true;
      clearTimeout(redraw);
      unsubscribe();
      map?.destroy();
      alerts.destroy();
    },
  };
}
