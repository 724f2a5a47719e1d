/**
 * A truck's page: its track on the map for the range (raw positions simplified for the
 * zoom, redrawn when the zoom changes), speed, engine and cargo temperature with the alert
 * thresholds drawn, fuel, its diagnostic code history and its alerts.
 *
 * Panels are a list (PANELS order): the trips panel of issue 17 part 2 (trips of the range,
 * choosing one draws its track with the same map.setTrack) slots in after the map.
 */
import { api, encodeId } from '../api.js';
import { alertsPanel } from '../alerts.js';
import { el, load, section, table } from '../dom.js';
import { figures } from '../figures.js';
import { time } from '../format.js';
import { createMap } from '../map.js';
import { metricCharts } from './common.js';

const CHARTS = [
  { metric: 'speedKmh', title: 'Speed', label: 'speed', unit: 'km/h' },
  { metric: 'engineTempC', title: 'Engine temperature', label: 'engine', unit: '°C' },
  { metric: 'cargoTempC', title: 'Cargo temperature', label: 'cargo', unit: '°C' },
  { metric: 'fuelPct', title: 'Fuel', label: 'fuel', unit: '%' },
];

export function truckPage(ctx, initial) {
  const id = initial.deviceId;
  const statePart = section('state', `Truck ${id}`, { className: 'wide' });
  const mapPart = section('map-section', 'Track', { className: 'map-panel wide' });
  const mapNode = el('div', { class: 'map', id: 'map', role: 'region', 'aria-label': `Track of ${id}` });
  const trackNote = el('p', { class: 'muted', id: 'track-note' });
  mapPart.body.append(mapNode, trackNote);
  const chartParts = CHARTS.map((c) => {
    const part = section(`chart-${c.metric}-section`, c.title, { className: 'chart-panel' });
    const node = el('div', { class: 'chart', id: `chart-${c.metric}`, 'data-metric': c.metric });
    part.body.append(node);
    return { ...c, part, node };
  });
  const diagnosticsPart = section('diagnostics', 'Diagnostic codes', { className: 'wide' });
  const alerts = alertsPanel({
    id: 'alerts',
    title: 'Alerts of the truck',
    query: () => ({ state: 'all', deviceId: id, ...ctx.range() }),
    deviceLinks: false,
  });
  let map;
  let trackZoom;

  async function loadState() {
    const { state } = await api(`devices/${encodeId(id)}/state`);
    statePart.body.replaceChildren(
      el('p', { class: 'muted' }, `${state.siteId} · last seen ${time(state.lastSeen)}`),
      figures([
        { key: 'speedKmh', label: 'speed', value: state.speedKmh, digits: 1, unit: 'km/h' },
        {
          key: 'engineOn',
          label: 'engine',
          value: state.engineOn === null ? null : state.engineOn ? 1 : 0,
          digits: 0,
        },
        { key: 'engineTempC', label: 'engine temperature', value: state.engineTempC, digits: 1, unit: '°C' },
        { key: 'cargoTempC', label: 'cargo temperature', value: state.cargoTempC, digits: 1, unit: '°C' },
        { key: 'fuelPct', label: 'fuel', value: state.fuelPct, digits: 1, unit: '%' },
        { key: 'odometerKm', label: 'odometer', value: state.odometerKm, digits: 0, unit: 'km' },
      ]),
      el(
        'p',
        { 'data-codes': state.activeDiagnosticCodes.join(',') },
        `active codes: ${state.activeDiagnosticCodes.join(', ') || 'none'}`,
      ),
    );
    // "engine" is on/off, not a number.
    const engine = statePart.body.querySelector('[data-figure="engineOn"]');
    if (engine) engine.textContent = state.engineOn === null ? '–' : state.engineOn ? 'on' : 'off';
    return state;
  }

  async function loadTrack() {
    map ??= createMap(mapNode);
    const zoom = map.zoom();
    const answer = await api(`devices/${encodeId(id)}/track`, { ...ctx.range(), zoom });
    trackZoom = zoom;
    map.setTrack(answer.points);
    mapNode.dataset.trackZoom = String(zoom);
    trackNote.textContent =
      answer.points.length < 2
        ? 'no track yet in this range'
        : `${answer.points.length} of ${answer.positions} positions drawn (simplified for zoom ${zoom})`;
    const last = answer.points.at(-1);
    map.setLabels(
      last ? [{ id, kind: 'device', text: id, lat: last.lat, lon: last.lon, priority: 200 }] : [],
    );
    if (answer.points.length > 1 && !mapNode.dataset.fitted) {
      map.fit(
        answer.points.map((p) => [p.lat, p.lon]),
        { maxZoom: 12 },
      );
      // The fit changed the zoom: the simplification follows it.
      if (map.zoom() !== zoom) await loadTrack();
    }
  }

  const loadCharts = () => metricCharts(ctx, chartParts, { id, kind: 'truck' });

  async function loadDiagnostics() {
    const answer = await api(`devices/${encodeId(id)}/diagnostics`, ctx.range());
    diagnosticsPart.body.replaceChildren(
      answer.diagnostics.length === 0
        ? el('p', { class: 'muted note' }, 'no diagnostic report in this range')
        : table({
            caption: `Diagnostic codes of ${id}`,
            columns: [
              { label: 'time' },
              { label: 'code' },
              { label: 'severity' },
              { label: 'state' },
              { label: 'description' },
            ],
            rows: answer.diagnostics.map((d) => ({
              attributes: { 'data-code': d.code, 'data-active': String(d.active) },
              cells: [time(d.t), d.code, d.severity, d.active ? 'raised' : 'cleared', d.description],
            })),
          }),
    );
  }

  const PANELS = [statePart, mapPart, ...chartParts.map((c) => c.part), diagnosticsPart, alerts.part];
  return {
    sections: PANELS.map((p) => p.node),
    async refresh() {
      await Promise.all([
        load(statePart, loadState),
        load(mapPart, async () => {
          await loadTrack();
          if (!mapNode.dataset.zoomHandler) {
            mapNode.dataset.zoomHandler = '1';
            map.onZoom(() => map.zoom() !== trackZoom && load(mapPart, loadTrack));
          }
        }),
        loadCharts(),
        load(diagnosticsPart, loadDiagnostics),
        load(alerts.part, alerts.load),
      ]);
    },
    destroy: () => {
      map?.destroy();
      alerts.destroy();
    },
  };
}
