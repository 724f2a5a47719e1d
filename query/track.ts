/**
 * A device's track for a map, pure: positions in time order, simplified for the zoom level
 * the map shows them at. Positions are projected to Web Mercator pixels of that zoom (the
 * projection Leaflet draws with, 256 × 2^zoom pixels around the world), and the polyline is
 * simplified there with Douglas–Peucker (simplify-js) at a tolerance in pixels: a point is
 * dropped only when the line without it stays within that many pixels of it, so the drawn
 * track does not change visibly. The first and last positions are always kept. Without a
 * zoom the positions are returned as they are. Trips (issue 17, part 2) reuse this per trip.
 */
import simplify from 'simplify-js';

export interface TrackPoint {
  t: number;
  lat: number;
  lon: number;
}

export const MAX_ZOOM = 22;
/** Default tolerance: one pixel, below what the eye can tell apart on a map. */
export const DEFAULT_TOLERANCE_PX = 1;

/** Web Mercator pixel coordinates of a position at a zoom level (Leaflet's EPSG:3857). */
export function mercatorPixels(lat: number, lon: number, zoom: number): { x: number; y: number } {
  const size = 256 * 2 ** zoom;
  // Leaflet clips latitudes to ±85.0511° (the square world); so do we.
  const clipped = Math.max(-85.0511287798, Math.min(85.0511287798, lat));
  const sin = Math.sin((clipped * Math.PI) / 180);
  return {
    x: ((lon + 180) / 360) * size,
    y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size,
  };
}

/** The track simplified for `zoom` (undefined: unchanged). Points must be in time order. */
export function simplifyTrack(
  points: readonly TrackPoint[],
  zoom: number | undefined,
  tolerancePx = DEFAULT_TOLERANCE_PX,
): TrackPoint[] {
  if (zoom === undefined || points.length <= 2) return [...points];
  const projected = points.map((p) => ({ ...mercatorPixels(p.lat, p.lon, zoom), point: p }));
  // highQuality: Douglas–Peucker alone (no radial pre-pass, which can move corners).
  return (simplify(projected, tolerancePx, true) as typeof projected).map((p) => p.point);
}

/**
 * Bucket width (ms) that thins a range to at most `maxPoints` positions before they leave
 * the database (one position per bucket, its last). 1 ms when the range fits anyway.
 */
export function trackBucketMs(spanMs: number, maxPoints: number): number {
  return Math.max(1, Math.ceil(spanMs / maxPoints));
}
