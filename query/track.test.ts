import { describe, expect, it } from 'vitest';
import { mercatorPixels, simplifyTrack, type TrackPoint, trackBucketMs } from './track.ts';

/** Distance (px) from p to the segment a-b. */
function segmentDistance(
  p: { x: number; y: number },
  a: { x: number; y: number },
  b: { x: number; y: number },
): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = dx * dx + dy * dy;
  const t = len === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** A winding road: 2,000 positions 1 s apart, with a sharp turn in the middle. */
function road(): TrackPoint[] {
  const points: TrackPoint[] = [];
  for (let i = 0; i < 2_000; i++) {
    const turn = i < 1_000 ? 0 : (i - 1_000) * 0.0004;
    points.push({ t: i * 1000, lat: 51 + i * 0.0003 - turn * 2, lon: 4 + Math.sin(i / 80) * 0.01 + turn });
  }
  return points;
}

describe('track simplification', () => {
  it('projects like Leaflet: the world is 256 × 2^zoom pixels, Greenwich and the equator in the middle', () => {
    expect(mercatorPixels(0, 0, 0)).toEqual({ x: 128, y: 128 });
    expect(mercatorPixels(0, 180, 1).x).toBe(512);
    expect(mercatorPixels(85.0511287798, -180, 2).y).toBeCloseTo(0, 6);
  });

  it('keeps every dropped position within the tolerance of the simplified line, in pixels of the zoom', () => {
    const points = road();
    for (const zoom of [5, 9, 13]) {
      const simple = simplifyTrack(points, zoom);
      expect(simple[0]).toBe(points[0]);
      expect(simple.at(-1)).toBe(points.at(-1));
      // In time order, a subset of the input.
      for (let i = 1; i < simple.length; i++)
        expect((simple[i] as TrackPoint).t).toBeGreaterThan((simple[i - 1] as TrackPoint).t);
      const px = (p: TrackPoint) => mercatorPixels(p.lat, p.lon, zoom);
      let segment = 0;
      for (const p of points) {
        while ((simple[segment + 1] as TrackPoint).t < p.t) segment++;
        const d = segmentDistance(
          px(p),
          px(simple[segment] as TrackPoint),
          px(simple[segment + 1] as TrackPoint),
        );
        expect(d).toBeLessThanOrEqual(1 + 1e-9);
      }
    }
  });

  it('keeps fewer positions the further out the map is zoomed, and all of them without a zoom', () => {
    const points = road();
    const counts = [4, 8, 12, 16].map((zoom) => simplifyTrack(points, zoom).length);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] as number);
    expect(counts[0]).toBeLessThan(20);
    expect(simplifyTrack(points, undefined)).toEqual(points);
  });

  it('thins a long range to at most the cap before the positions leave the database', () => {
    expect(trackBucketMs(3_600_000, 20_000)).toBe(180);
    expect(trackBucketMs(7 * 86_400_000, 20_000)).toBe(30_240);
    expect(trackBucketMs(10, 20_000)).toBe(1);
  });
});
