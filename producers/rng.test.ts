import { describe, expect, it } from 'vitest';
import { createRng, deviceRng, eventUuid, hashString } from './rng.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('seeded randomness', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(seqA);
  });

  it('draws uniforms in [0, 1) with a mean near one half and normals with unit spread', () => {
    const rng = createRng(7);
    let sum = 0;
    let sumSq = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      sum += u;
      const z = rng.normal();
      sumSq += z * z;
    }
    expect(sum / n).toBeCloseTo(0.5, 1);
    expect(sumSq / n).toBeCloseTo(1, 1);
  });

  it('keeps device generators independent of each other', () => {
    const a = deviceRng(1, 'truck-00001', 'model');
    const b = deviceRng(1, 'truck-00002', 'model');
    expect(a.uint32()).not.toBe(b.uint32());
    expect(hashString('abc')).toBe(hashString('abc'));
    expect(hashString('abc', 1)).not.toBe(hashString('abc', 2));
  });

  it('derives version-8 UUIDs that repeat for the same device and seq and differ otherwise', () => {
    const ids = new Set<string>();
    for (let seq = 0; seq < 10_000; seq++) {
      const id = eventUuid(12345, seq);
      expect(id).toMatch(UUID);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
    expect(eventUuid(12345, 17)).toBe(eventUuid(12345, 17));
    expect(eventUuid(12345, 17)).not.toBe(eventUuid(12346, 17));
    expect(eventUuid(12345, 17, 99)).not.toBe(eventUuid(12345, 17));
    expect(eventUuid(1, 2 ** 40)).not.toBe(eventUuid(1, 0));
  });
});
