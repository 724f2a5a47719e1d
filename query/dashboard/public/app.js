/**
 * The built-in dashboard of `fleetgrid serve`: key figures per kind, truck positions, a
 * chart per kind, open alerts and pipeline health, refreshed on a timer. It only calls
 * the public /api/v1 endpoints (the page is a client like any other), so what it shows
 * is what the API answers; the browser test (test/dashboards/builtin.int.test.ts)
 * checks exactly that. Each section loads on its own: one failing endpoint shows an
 * error in its section and leaves the others alone.
 *
 * An API token (when `fleetgrid serve` runs with API_TOKEN) is passed once in the URL
 * fragment, `/#token=…`, which never reaches a server log, and kept for the tab's
 * session. Map tiles are opt-in (`?tiles=https://…/{z}/{x}/{y}.png`): no third-party
 * request leaves the page unless the operator asks for one.
 */
const L = window.L;
const uPlot = window.uPlot;

const state = {
  timer: undefined,
  refreshes: 0,
  map: undefined,
  markers: undefined,
  charts: {},
  selected: { truck: undefined, turbine: undefined, solar: undefined },
};

// --- API access -----------------------------------------------------------------------------
function token() {
  const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem('fleetgrid-token', decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('fleetgrid-token');
}

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
  const url = `/api/v1/${path}${query.size > 0 ? `?${query}` : ''}`;
  const headers = { accept: 'application/json' };
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${url}: ${response.status} ${body.message ?? response.statusText}`);
  return body;
}

// --- formatting (the browser test applies the same rules) ----------------------------------
/** en-US grouping, at most `digits` decimals; null → an en dash. */
export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '–';
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(Number(value));
}

function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 120) return `${formatNumber(seconds, 0)} s`;
  if (seconds < 7200) return `${formatNumber(seconds / 60, 1)} min`;
  return `${formatNumber(seconds / 3600, 1)} h`;
}

const time = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '–');

function el(tag, attributes = {}, text = undefined) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(section, error) {
  const node = document.querySelector(`[data-error-for="${section}"]`);
  if (!node) return;
  node.hidden = error === undefined;
  node.textContent = error === undefined ? '' : `Could not load: ${error.message ?? error}`;
}

function range() {
  const span = Number(document.getElementById('range').value);
  const to = Date.now();
  return { from: new Date(to - span).toISOString(), to: new Date(to).toISOString() };
}

// --- key figures ------------------------------------------------------------------------------
async function loadFigures() {
  const summary = await api('fleet/summary', range());
  for (const node of document.querySelectorAll('[data-figure]')) {
    const [kind, field] = node.dataset.figure.split('.');
    const value = summary[kind]?.[field] ?? null;
    const scale = Number(node.dataset.scale ?? 1);
    const unit = node.dataset.unit ? ` ${node.dataset.unit}` : '';
    node.dataset.value = JSON.stringify(value);
    node.textContent =
      value === null ? '–' : `${formatNumber(value * scale, Number(node.dataset.digits))}${unit}`;
  }
}

// --- devices, map and selectors -----------------------------------------------------------------
async function allDevices(kind) {
  const devices = [];
  let cursor;
  // 20 pages of 1 000: the largest load-test fleet, with room to spare; the page stays bounded.
  for (let page = 0; page < 20; page++) {
    const answer = await api('devices', { kind, limit: 1000, cursor });
    devices.push(...answer.devices);
    cursor = answer.nextCursor;
    if (!cursor) break;
  }
  return devices;
}

function speedColor(speed) {
  if (speed === null || speed === undefined || speed < 1) return '#6b7585';
  if (speed < 50) return '#2e7d32';
  if (speed < 85) return '#f9a825';
  return '#c62828';
}

function ensureMap() {
  if (state.map) return;
  state.map = L.map('map', { worldCopyJump: true, attributionControl: false }).setView([48, 5], 4);
  const tiles = new URLSearchParams(location.search).get('tiles');
  if (tiles) L.tileLayer(tiles, { maxZoom: 18 }).addTo(state.map);
  state.markers = L.layerGroup().addTo(state.map);
  state.graticule = L.layerGroup().addTo(state.map);
}

/**
 * Without tiles a light graticule gives the positions a frame of reference: 1° apart on a
 * regional view, coarser on a continental one, so there are never more than ~30 lines.
 */
function drawGraticule(bounds) {
  state.graticule.clearLayers();
  const span = Math.max(bounds.getNorth() - bounds.getSouth(), bounds.getEast() - bounds.getWest());
  const step = [1, 2, 5, 10, 15, 30].find((s) => span / s <= 15) ?? 30;
  const snap = (v, up) => (up ? Math.ceil(v / step) : Math.floor(v / step)) * step;
  const south = Math.max(-90, snap(bounds.getSouth(), false) - step);
  const north = Math.min(90, snap(bounds.getNorth(), true) + step);
  const west = snap(bounds.getWest(), false) - step;
  const east = snap(bounds.getEast(), true) + step;
  const style = { color: '#c5cfdb', weight: 1, interactive: false };
  const line = (points) => L.polyline(points, style).addTo(state.graticule);
  for (let lat = south; lat <= north; lat += step)
    line([
      [lat, west],
      [lat, east],
    ]);
  for (let lon = west; lon <= east; lon += step)
    line([
      [south, lon],
      [north, lon],
    ]);
}

function drawTrucks(trucks) {
  ensureMap();
  state.markers.clearLayers();
  const placed = trucks.filter((t) => Number.isFinite(t.lat) && Number.isFinite(t.lon));
  const sites = new Map();
  for (const truck of placed) {
    const marker = L.circleMarker([truck.lat, truck.lon], {
      radius: 6,
      color: '#fff',
      weight: 1,
      fillColor: speedColor(truck.speedKmh),
      fillOpacity: 0.9,
    });
    marker.bindPopup(
      `<strong>${truck.deviceId}</strong><br>${truck.siteId}<br>` +
        `${formatNumber(truck.speedKmh, 1)} km/h · fuel ${formatNumber(truck.fuelPct, 0)} %<br>` +
        `engine ${truck.engineOn ? 'on' : 'off'} · ${time(truck.lastSeen)}`,
    );
    marker.options.deviceId = truck.deviceId;
    marker.addTo(state.markers);
    const site = sites.get(truck.siteId) ?? [];
    site.push([truck.lat, truck.lon]);
    sites.set(truck.siteId, site);
  }
  document.getElementById('truck-count').textContent = `${placed.length} of ${trucks.length} placed`;
  document.getElementById('map').dataset.markers = String(placed.length);
  if (placed.length > 0) {
    const bounds = L.latLngBounds(placed.map((t) => [t.lat, t.lon]));
    // Fit once; afterwards the operator's pan and zoom are left alone.
    if (state.refreshes === 0) state.map.fitBounds(bounds.pad(0.2), { maxZoom: 9 });
    drawGraticule(state.map.getBounds().extend(bounds));
  }
  for (const [siteId, points] of sites) {
    const center = L.latLngBounds(points).getCenter();
    L.tooltip({ permanent: true, direction: 'right', className: 'site-label', offset: [8, 0] })
      .setLatLng(center)
      .setContent(`${siteId} (${points.length})`)
      .addTo(state.markers);
  }
}

function fillSelect(id, values, key) {
  const select = document.getElementById(id);
  const current = state.selected[key] ?? select.value;
  const wanted = values.includes(current) ? current : values[0];
  if ([...select.options].map((o) => o.value).join() !== values.join()) {
    select.replaceChildren(...values.map((v) => el('option', { value: v }, v)));
  }
  if (wanted !== undefined) select.value = wanted;
  state.selected[key] = wanted;
  return wanted;
}

async function loadDevices() {
  const [trucks, turbines, solar] = await Promise.all([
    allDevices('truck'),
    allDevices('turbine'),
    allDevices('solar'),
  ]);
  drawTrucks(trucks);
  fillSelect('truck-select', trucks.map((d) => d.deviceId).sort(), 'truck');
  fillSelect('turbine-select', turbines.map((d) => d.deviceId).sort(), 'turbine');
  fillSelect('solar-select', [...new Set(solar.map((d) => d.siteId))].sort(), 'solar');
}

// --- charts -------------------------------------------------------------------------------------
function drawChart(key, label, unit, xs, ys, span, bars = false) {
  const node = document.getElementById(`chart-${key}`);
  node.dataset.points = String(xs.length);
  const width = Math.max(280, node.clientWidth);
  const series = {
    label,
    stroke: '#1f6feb',
    fill: bars ? 'rgba(31,111,235,0.35)' : 'rgba(31,111,235,0.08)',
    width: 1.5,
    value: (_u, v) => (v === null ? '–' : `${formatNumber(v, 1)} ${unit}`),
  };
  if (bars && uPlot.paths?.bars) series.paths = uPlot.paths.bars({ size: [0.8, 40] });
  const options = {
    width,
    height: 220,
    series: [{}, series],
    axes: [{}, { values: (_u, ticks) => ticks.map((v) => formatNumber(v, 1)) }],
    // The x axis always spans the selected range: a few points must not stretch to years.
    scales: { x: { time: true, range: () => [Date.parse(span.from) / 1000, Date.parse(span.to) / 1000] } },
    legend: { show: true },
  };
  state.charts[key]?.destroy();
  state.charts[key] = new uPlot(options, [xs, ys], node);
}

async function loadSeriesChart(key, deviceId, metric, label, unit) {
  const note = document.getElementById(`chart-${key}-note`);
  if (!deviceId) {
    note.textContent = `no ${key} reported yet`;
    return;
  }
  const span = range();
  const series = await api(`devices/${encodeURIComponent(deviceId)}/series`, {
    metric,
    step: 'auto',
    ...span,
  });
  const points = series.points ?? [];
  const xs = points.map((p) => Date.parse(p.t) / 1000);
  const ys = points.map((p) => (series.step === 'raw' ? p.value : p.avg));
  drawChart(key, label, unit, xs, ys, span);
  note.textContent = `${points.length} points, step ${series.step}${series.truncated ? ' (truncated)' : ''}`;
}

async function loadSolarChart(siteId) {
  const note = document.getElementById('chart-solar-note');
  if (!siteId) {
    note.textContent = 'no solar array reported yet';
    return;
  }
  const span = range();
  const energy = await api(`sites/${encodeURIComponent(siteId)}/energy`, { step: 'auto', ...span });
  const xs = energy.points.map((p) => Date.parse(p.t) / 1000);
  const ys = energy.points.map((p) => p.solarKwh);
  drawChart('solar', 'solar energy', 'kWh', xs, ys, span, true);
  note.textContent = `${formatNumber(energy.totals.solarKwh, 1)} kWh in the range, step ${energy.step}`;
}

async function loadCharts() {
  await Promise.all([
    loadSeriesChart('truck', state.selected.truck, 'speedKmh', 'speed', 'km/h'),
    loadSeriesChart('turbine', state.selected.turbine, 'powerKw', 'power', 'kW'),
    loadSolarChart(state.selected.solar),
  ]);
}

// --- alerts and health ----------------------------------------------------------------------------
async function loadAlerts() {
  const answer = await api('alerts', { state: 'open', limit: 200 });
  const rows = answer.alerts.map((a) => {
    const tr = el('tr', { 'data-alert-id': a.alertId });
    tr.append(
      el('td', {}, time(a.raisedAt)),
      el('td', {}, a.rule),
      el('td', {}, a.deviceId),
      el('td', {}, a.siteId),
      el('td', { class: 'num' }, formatNumber(a.value, 1)),
      el('td', { class: 'num' }, formatNumber(a.threshold, 1)),
    );
    return tr;
  });
  document.getElementById('alert-rows').replaceChildren(...rows);
  document.getElementById('alert-count').textContent = String(answer.alerts.length);
}

async function loadHealth() {
  const health = await api('pipeline/health');
  const newest = document.getElementById('health-newest');
  newest.textContent = time(health.freshness.newestEvent);
  newest.dataset.value = health.freshness.newestEvent ?? '';
  document.getElementById('health-freshness').textContent = formatAge(health.freshness.seconds);
  const dead = document.getElementById('health-dead-letters');
  dead.textContent = formatNumber(health.deadLetters.total, 0);
  dead.dataset.value = String(health.deadLetters.total);
  const lag = health.consumerLag.available
    ? health.consumerLag.groups.map((g) =>
        el(
          'li',
          { 'data-group': g.groupId, 'data-value': g.lag },
          `${g.groupId}: ${formatNumber(g.lag, 0)}${g.error ? ` (${g.error})` : ''}`,
        ),
      )
    : [el('li', { class: 'muted' }, health.consumerLag.reason)];
  document.getElementById('health-lag').replaceChildren(...lag);
  const pressure = health.backpressure.available
    ? health.backpressure.services.map((s) =>
        s.error
          ? el('li', { class: 'error', 'data-service': s.service }, `${s.service}: ${s.error}`)
          : el(
              'li',
              { class: `state-${s.state}`, 'data-service': s.service, 'data-state': s.state },
              `${s.service}: ${s.state}, ${formatNumber(s.pausedPartitions, 0)} paused, ${formatNumber(s.bufferedRows, 0)} rows buffered`,
            ),
      )
    : [el('li', { class: 'muted' }, health.backpressure.reason)];
  document.getElementById('health-backpressure').replaceChildren(...pressure);
  const codes = health.deadLetters.byCode.map((c) =>
    el('li', {}, `${c.code} (${c.stage}): ${formatNumber(c.records, 0)}, last ${time(c.last)}`),
  );
  document
    .getElementById('health-dlq')
    .replaceChildren(...(codes.length > 0 ? codes : [el('li', { class: 'muted' }, 'none')]));
}

// --- refresh loop -----------------------------------------------------------------------------------
async function section(name, load) {
  try {
    await load();
    showError(name, undefined);
  } catch (error) {
    showError(name, error);
  }
}

async function refresh() {
  clearTimeout(state.timer);
  await Promise.all([
    section('figures', loadFigures),
    section('map', loadDevices).then(() => section('charts', loadCharts)),
    section('alerts', loadAlerts),
    section('health', loadHealth),
  ]);
  state.refreshes++;
  document.body.dataset.refreshes = String(state.refreshes);
  document.getElementById('updated').textContent = `updated ${time(new Date().toISOString())} UTC`;
  const every = Number(document.getElementById('refresh').value);
  if (every > 0) state.timer = setTimeout(refresh, every);
}

function start() {
  for (const [id, key] of [
    ['truck-select', 'truck'],
    ['turbine-select', 'turbine'],
    ['solar-select', 'solar'],
  ]) {
    document.getElementById(id).addEventListener('change', (event) => {
      state.selected[key] = event.target.value;
      section('charts', loadCharts);
    });
  }
  document.getElementById('range').addEventListener('change', refresh);
  document.getElementById('refresh').addEventListener('change', refresh);
  if (!L || !uPlot) {
    showError('map', new Error('Leaflet or uPlot did not load (vendor/ files missing?)'));
  }
  refresh();
}

start();
