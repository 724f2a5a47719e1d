import { describe, expect, it } from 'vitest';
import { overlaps, placeLabels } from './public/js/labels.js';

/** A deterministic pseudo-random sequence (LCG), so the test is the same every run. */
function lcg(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) % 2 ** 32;
    return s / 2 ** 32;
  };
}

describe('map label placement', () => {
  it('keeps no two labels overlapping, all inside the view, among hundreds of crowded candidates', () => {
    const random = lcg(7);
    const candidates = Array.from({ length: 400 }, (_, i) => ({
      id: `c${i}`,
      x: random() * 800,
      y: random() * 500,
      width: 30 + random() * 80,
      height: 14,
      priority: random(),
    }));
    const kept = placeLabels(candidates, { width: 800, height: 500 });
    expect(kept.length).toBeGreaterThan(40);
    for (let i = 0; i < kept.length; i++) {
      const a = kept[i] as (typeof kept)[number];
      expect(a.x >= 0 && a.y >= 0 && a.x + a.width <= 800 && a.y + a.height <= 500).toBe(true);
      for (let j = i + 1; j < kept.length; j++)
        expect(overlaps(a, kept[j] as (typeof kept)[number])).toBe(false);
    }
  });

  it('places the higher priority first: of two labels at one spot the important one stays where it wants', () => {
    const kept = placeLabels(
      [
        { id: 'town', x: 100, y: 100, width: 60, height: 14, priority: 1 },
        { id: 'depot', x: 100, y: 100, width: 60, height: 14, priority: 10 },
      ],
      { width: 400, height: 300, gap: 6 },
    );
    expect(kept[0]).toEqual({ id: 'depot', x: 106, y: 93, width: 60, height: 14 });
    // The lesser one moves to the other side rather than disappearing.
    expect(kept[1]).toEqual({ id: 'town', x: 34, y: 93, width: 60, height: 14 });
  });

  it('keeps labels off reserved boxes (markers) and drops what does not fit', () => {
    const kept = placeLabels(
      [
        { id: 'a', x: 50, y: 50, width: 40, height: 14, priority: 1 },
        { id: 'edge', x: 395, y: 5, width: 300, height: 14, priority: 2 },
      ],
      { width: 400, height: 300, reserved: [{ x: 50, y: 40, width: 60, height: 20 }] },
    );
    expect(kept.map((k) => k.id)).toEqual(['a']);
    expect(overlaps(kept[0] as (typeof kept)[number], { x: 50, y: 40, width: 60, height: 20 })).toBe(false);
  });
});
