/**
 * A truck's page: its track on the map for the range (raw positions simplified for the
 * zoom, redrawn when the zoom changes), speed, engine and cargo temperature with the alert
 * thresholds drawn, fuel, its diagnostic code history and its alerts.
 *
 * Panels are a list (PANELS order); the trips panel follows the map: the trips that start
 * in the range (docs/query.md "Trips"), each with a button that draws that trip's track
 * with the same map.setTrack (simplified for the zoom like the range's track), and one
 * that goes back to the whole range.
 */
import { api, encodeId } from '../api.js';
import { alertsPanel } from '../alerts.js';
import { el, load, section, table } from '../dom.js';
import { figures } from '../figures.js';
import { formatDuration, formatNumber, time } from '../format.js';
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
  const tripsPart = section('trips', 'Trips in the range', { className: 'wide' });
  const diagnosticsPart = section('diagnostics', 'Diagnostic codes', { className: 'wide' });
  const alerts = alertsPanel({
    id: 'alerts',
    title: 'Alerts of the truck',
    query: () => ({ state: 'all', deviceId: id, ...ctx.range() }),
    deviceLinks: false,
  });
  let map;
  let trackZoom;
  /** The trip whose track the map shows; undefined: the whole range's track. */
  let selectedTrip;

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
    const tripId = selectedTrip;
    const answer =
      tripId === undefined
        ? await api(`devices/${encodeId(id)}/track`, { ...ctx.range(), zoom })
        : (await api(`devices/${encodeId(id)}/trips/${encodeId(tripId)}`, { zoom })).track;
    trackZoom = zoom;
    map.setTrack(answer.points);
    mapNode.dataset.trackZoom = String(zoom);
    if (tripId === undefined) delete mapNode.dataset.trip;
    else mapNode.dataset.trip = tripId;
    const what = tripId === undefined ? 'this range' : 'this trip';
    trackNote.textContent =
      answer.points.length < 2
        ? `no track yet in ${what}`
        : `${answer.points.length} of ${answer.positions} positions of ${what} drawn (simplified for zoom ${zoom})`;
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

  /** Draws a trip's track (undefined: the range's) and marks which button is pressed. */
  async function showTrip(tripId) {
    selectedTrip = tripId;
    for (const button of tripsPart.body.querySelectorAll('button[data-trip]'))
      button.setAttribute('aria-pressed', String(button.dataset.trip === (tripId ?? '')));
    delete mapNode.dataset.fitted;
    await load(mapPart, loadTrack);
  }

  async function loadTrips() {
    const answer = await api(`devices/${encodeId(id)}/trips`, ctx.range());
    if (selectedTrip !== undefined && !answer.trips.some((t) => t.tripId === selectedTrip))
      await showTrip(undefined);
    const button = (tripId, label, text) => {
      const b = el(
        'button',
        {
          type: 'button',
          'data-trip': tripId ?? '',
          'aria-pressed': String(tripId === selectedTrip),
          'aria-label': label,
        },
        text,
      );
      b.addEventListener('click', () => showTrip(tripId));
      return b;
    };
    const n = (v, digits = 1) => formatNumber(v, digits);
    tripsPart.body.replaceChildren(
      ...(answer.trips.length === 0
        ? [el('p', { class: 'muted note' }, 'no trip starts in this range')]
        : [
            table({
              caption: `Trips of ${id} that start in the range`,
              columns: [
                { label: 'start' },
                { label: 'end' },
                { label: 'ended by' },
                { label: 'distance km', num: true },
                { label: 'duration', num: true },
                { label: 'driving', num: true },
                { label: 'idle', num: true },
                { label: 'max km/h', num: true },
                { label: 'avg km/h', num: true },
                { label: 'harsh brakings', num: true },
                { label: 'overspeed s', num: true },
                { label: 'fuel used %', num: true },
                { label: 'cargo excursions', num: true },
                { label: 'track' },
              ],
              rows: answer.trips.map((t) => ({
                attributes: { 'data-trip-id': t.tripId },
                cells: [
                  time(t.startedAt),
                  time(t.endedAt),
                  t.endedBy.replace('_', ' '),
                  n(t.distanceKm, 2),
                  formatDuration(t.durationS),
                  formatDuration(t.drivingS),
                  formatDuration(t.idleS),
                  n(t.maxSpeedKmh),
                  n(t.avgSpeedKmh),
                  n(t.harshBrakings, 0),
                  n(t.overspeedS, 0),
                  n(t.fuelUsedPct),
                  `${n(t.cargoExcursions, 0)} (${formatDuration(t.cargoExcursionS)})`,
                  button(t.tripId, `Show the track of the trip starting ${time(t.startedAt)}`, 'Show'),
                ],
              })),
            }),
            button(undefined, 'Show the track of the whole range', 'Whole range'),
          ]),
      ...(answer.truncated
        ? [el('p', { class: 'muted note' }, 'more trips than shown: narrow the range')]
        : []),
    );
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

  const PANELS = [
    statePart,
    mapPart,
    tripsPart,
    ...chartParts.map((c) => c.part),
    diagnosticsPart,
    alerts.part,
  ];
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
        load(tripsPart, loadTrips),
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
