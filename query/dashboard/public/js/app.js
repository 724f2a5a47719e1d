/**
 * The built-in dashboard of `fleetgrid serve` (docs/dashboards.md): drill-down pages
 * fleet → site → device, each with its own URL, refreshed on a timer. Every page only
 * calls the public /api/v1 endpoints, so what it shows is what the API answers (the
 * browser tests check exactly that). Each section loads on its own and shows its own error.
 *
 * Modules: api.js (requests, token), range.js (the range, cut to the stored data),
 * router.js (history API routes), pages/*.js (one per page), map.js, charts.js, alerts.js
 * (the alerts panel and its actions), live.js (the live stream), health.js, labels.js (label
 * placement), dom.js, format.js.
 */
import { api, captureToken } from './api.js';
import { el, h } from './dom.js';
import { time } from './format.js';
import { startLive } from './live.js';
import { devicePage } from './pages/device.js';
import { fleetPage } from './pages/fleet.js';
import { sitePage } from './pages/site.js';
import { currentRange, RANGES, rangeKey, refreshExtent } from './range.js';
import { hrefOf, matchRoute, startRouter } from './router.js';

const state = { page: undefined, generation: 0, timer: undefined, refreshes: 0, range: undefined };
let reference;

const ctx = {
  /** The range of the current refresh: every section of one refresh uses the same. */
  range: () => ({ from: state.range.from, to: state.range.to }),
  /** Alert thresholds and the power curve (GET /api/v1/reference), asked once. */
  reference: () => {
    reference ??= api('reference').catch((error) => {
      reference = undefined;
      throw error;
    });
    return reference;
  },
  navigate: (url) => navigate(url),
  setCrumbs,
};

function setCrumbs(crumbs) {
  const items = [{ text: 'Fleet', page: 'fleet' }, ...crumbs];
  document.getElementById('crumbs').replaceChildren(
    h(
      'ol',
      {},
      items.map((item, i) =>
        i === items.length - 1
          ? el('li', { 'aria-current': 'page' }, item.text)
          : h('li', {}, el('a', { href: hrefOf(item.page, item.id) }, item.text)),
      ),
    ),
  );
}

function render(route) {
  state.page?.destroy?.();
  state.generation++;
  const page =
    route.page === 'site'
      ? sitePage(ctx, route.id)
      : route.page === 'device'
        ? devicePage(ctx, route.id)
        : fleetPage(ctx);
  state.page = page;
  const main = document.getElementById('page');
  const title = el('h1', { id: 'page-title', tabindex: '-1', class: 'page-title' }, page.title);
  main.replaceChildren(title, ...page.sections);
  main.dataset.page = route.page;
  document.body.dataset.page = route.page;
  document.title = route.page === 'fleet' ? 'fleetgrid' : `${page.title} · fleetgrid`;
  setCrumbs(page.crumbs);
  state.refreshes = 0;
  document.body.dataset.refreshes = '0';
  return refresh();
}

let navigate;

async function refresh() {
  clearTimeout(state.timer);
  const generation = state.generation;
  await refreshExtent().catch(() => undefined);
  state.range = currentRange();
  // The range of this refresh, for people (the note) and for the tests (the API's answers for it).
  document.body.dataset.from = state.range.from;
  document.body.dataset.to = state.range.to;
  document.getElementById('range-note').textContent = state.range.clipped
    ? `from the first stored event, ${time(state.range.from)} UTC`
    : '';
  await state.page.refresh();
  if (generation !== state.generation) return;
  state.refreshes++;
  // The time from the navigation to the first complete page (query/dashboard/bench.ts reads it).
  if (state.refreshes === 1 && !document.body.dataset.loadMs)
    document.body.dataset.loadMs = String(Math.round(performance.now()));
  document.body.dataset.refreshes = String(state.refreshes);
  document.getElementById('updated').textContent = `updated ${time(new Date().toISOString())} UTC`;
  const every = Number(document.getElementById('refresh').value);
  if (every > 0) state.timer = setTimeout(refresh, every);
}

function start() {
  captureToken();
  // Alerts and truck positions by push (live.js); the refresh timer keeps the rest current.
  startLive();
  const select = document.getElementById('range');
  select.replaceChildren(...RANGES.map((r) => el('option', { value: r.key }, r.label)));
  select.value = rangeKey();
  select.addEventListener('change', () => {
    const params = new URLSearchParams(location.search);
    params.set('range', select.value);
    history.replaceState(history.state, '', `${location.pathname}?${params}`);
    refresh();
  });
  document.getElementById('refresh').addEventListener('change', refresh);
  if (!window.L || !window.uPlot || !window.topojson || !window.L?.markerClusterGroup) {
    document
      .getElementById('page')
      .append(
        el('p', { class: 'error' }, 'Leaflet, uPlot or topojson did not load (vendor/ files missing?)'),
      );
  }
  navigate = startRouter((route) => {
    render(route).then(() => document.getElementById('page-title')?.focus({ preventScroll: true }));
  });
  render(matchRoute(location.pathname));
}

start();
