/**
 * Built-in truck routes between real cities, as polylines with a road type per segment.
 * A route leaves its depot, calls at each city in turn (a stop to load or unload), and
 * the truck drives it back to the depot before starting again.
 *
 * Legs between two cities are built the way roads look from a map: urban streets out of
 * the city, a primary road to the motorway junction, motorway most of the way, and the
 * same in reverse on arrival. Interior points are offset sideways by a few per cent of
 * the leg (deterministically), so the polyline bends like a road instead of a ruler line.
 * Positions are interpolated linearly in latitude/longitude on each segment, so a point
 * of the route is exactly on the polyline (the unit tests check this).
 */
import { hashString } from '../rng.ts';

export type RoadType = 'motorway' | 'primary' | 'urban';

/** Speed limit for trucks by road type, km/h (fleet policy: governors set at 90). */
export const ROAD_SPEED_LIMIT_KMH: Record<RoadType, number> = { motorway: 88, primary: 70, urban: 45 };

export interface City {
  name: string;
  lat: number;
  lon: number;
}

export interface RouteSegment {
  fromLat: number;
  fromLon: number;
  toLat: number;
  toLon: number;
  road: RoadType;
  /** Distance from the route start to the segment start, km. */
  startKm: number;
  lengthKm: number;
  /** Initial bearing in the forward direction, degrees [0, 360). */
  bearingDeg: number;
}

export interface Route {
  id: string;
  depotId: string;
  cities: readonly City[];
  segments: readonly RouteSegment[];
  /** Distance of every city (stop) from the route start, km; first is 0, last is the length. */
  stopsKm: readonly number[];
  lengthKm: number;
}

/** Mean Earth radius (IUGG), km: the sphere every distance of the project is measured on. */
export const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

export function bearingDeg(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const y = Math.sin((lon2 - lon1) * RAD) * Math.cos(lat2 * RAD);
  const x =
    Math.cos(lat1 * RAD) * Math.sin(lat2 * RAD) -
    Math.sin(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.cos((lon2 - lon1) * RAD);
  const deg = Math.atan2(y, x) / RAD;
  return ((deg % 360) + 360) % 360;
}

/** Fractions of a leg where the road type changes, and the type of each piece. */
const LEG_PROFILE: readonly { at: number; road: RoadType }[] = [
  { at: 0.03, road: 'urban' },
  { at: 0.1, road: 'primary' },
  { at: 0.3, road: 'motorway' },
  { at: 0.55, road: 'motorway' },
  { at: 0.8, road: 'motorway' },
  { at: 0.92, road: 'motorway' },
  { at: 0.97, road: 'primary' },
  { at: 1, road: 'urban' },
];

function buildLeg(from: City, to: City): { lat: number; lon: number; road: RoadType }[] {
  const key = hashString(`${from.name}>${to.name}`);
  const dLat = to.lat - from.lat;
  const dLon = to.lon - from.lon;
  const points: { lat: number; lon: number; road: RoadType }[] = [];
  LEG_PROFILE.forEach(({ at, road }, i) => {
    // Sideways offset, largest mid-leg and zero at both cities: -4 %..+4 % of the leg.
    const wobble = at < 1 ? ((((key >>> (i * 3)) & 7) - 3.5) / 3.5) * 0.04 * Math.sin(Math.PI * at) : 0;
    points.push({
      lat: from.lat + dLat * at - dLon * wobble,
      lon: from.lon + dLon * at + dLat * wobble,
      road,
    });
  });
  return points;
}

export function buildRoute(id: string, depotId: string, cities: readonly City[]): Route {
  const segments: RouteSegment[] = [];
  const stopsKm: number[] = [0];
  let km = 0;
  for (let c = 0; c + 1 < cities.length; c++) {
    const from = cities[c] as City;
    let prev = { lat: from.lat, lon: from.lon };
    for (const point of buildLeg(from, cities[c + 1] as City)) {
      const lengthKm = haversineKm(prev.lat, prev.lon, point.lat, point.lon);
      segments.push({
        fromLat: prev.lat,
        fromLon: prev.lon,
        toLat: point.lat,
        toLon: point.lon,
        road: point.road,
        startKm: km,
        lengthKm,
        bearingDeg: bearingDeg(prev.lat, prev.lon, point.lat, point.lon),
      });
      km += lengthKm;
      prev = point;
    }
    stopsKm.push(km);
  }
  return { id, depotId, cities, segments, stopsKm, lengthKm: km };
}

/** The segment holding the point `km` from the start (binary search). */
export function segmentAt(route: Route, km: number): RouteSegment {
  const { segments } = route;
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((segments[mid] as RouteSegment).startKm <= km) lo = mid;
    else hi = mid - 1;
  }
  return segments[lo] as RouteSegment;
}

/** The position `km` from the start, on the polyline. */
export function positionAt(route: Route, km: number): { lat: number; lon: number; segment: RouteSegment } {
  const segment = segmentAt(route, km);
  const t = segment.lengthKm > 0 ? Math.min(1, Math.max(0, (km - segment.startKm) / segment.lengthKm)) : 0;
  return {
    lat: segment.fromLat + (segment.toLat - segment.fromLat) * t,
    lon: segment.fromLon + (segment.toLon - segment.fromLon) * t,
    segment,
  };
}

const city = (name: string, lat: number, lon: number): City => ({ name, lat, lon });

const ROTTERDAM = city('Rotterdam', 51.9244, 4.4777);
const LYON = city('Lyon', 45.764, 4.8357);
const SACRAMENTO = city('Sacramento', 38.5816, -121.4944);

/** Route sets: each depot serves a few routes. Trucks are spread over them round-robin. */
export const ROUTES: readonly Route[] = [
  buildRoute('nl-ruhr', 'depot-rotterdam', [
    ROTTERDAM,
    city('Utrecht', 52.0907, 5.1214),
    city('Arnhem', 51.9851, 5.8987),
    city('Duisburg', 51.4344, 6.7623),
    city('Dortmund', 51.5136, 7.4653),
  ]),
  buildRoute('nl-flanders', 'depot-rotterdam', [
    ROTTERDAM,
    city('Antwerp', 51.2194, 4.4025),
    city('Brussels', 50.8503, 4.3517),
    city('Lille', 50.6292, 3.0573),
  ]),
  buildRoute('rhone', 'depot-lyon', [
    LYON,
    city('Valence', 44.9334, 4.8924),
    city('Avignon', 43.9493, 4.8055),
    city('Marseille', 43.2965, 5.3698),
  ]),
  buildRoute('burgundy', 'depot-lyon', [LYON, city('Macon', 46.3069, 4.8287), city('Dijon', 47.322, 5.0415)]),
  buildRoute('central-valley', 'depot-sacramento', [
    SACRAMENTO,
    city('Stockton', 37.9577, -121.2908),
    city('Modesto', 37.6391, -120.9969),
    city('Fresno', 36.7378, -119.7871),
  ]),
  buildRoute('bay-area', 'depot-sacramento', [
    SACRAMENTO,
    city('Vacaville', 38.3566, -121.9877),
    city('Oakland', 37.8044, -122.2712),
  ]),
];
