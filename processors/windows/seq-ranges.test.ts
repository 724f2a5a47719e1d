import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addSeq, hasSeq } from './seq-ranges.ts';

describe('seq ranges', () => {
  it('collapses consecutive seqs into one range', () => {
    const ranges: number[] = [];
    for (let seq = 10; seq < 20; seq++) expect(addSeq(ranges, seq)).toBe(true);
    expect(ranges).toEqual([10, 19]);
  });

  it('reports a seq already present as a duplicate and leaves the set unchanged', () => {
    const ranges: number[] = [];
    addSeq(ranges, 1);
    addSeq(ranges, 2);
    expect(addSeq(ranges, 1)).toBe(false);
    expect(ranges).toEqual([1, 2]);
  });

  it('fills gaps and merges neighbouring ranges', () => {
    const ranges: number[] = [];
    for (const seq of [1, 2, 5, 6, 9]) addSeq(ranges, seq);
    expect(ranges).toEqual([1, 2, 5, 6, 9, 9]);
    addSeq(ranges, 4);
    addSeq(ranges, 3);
    expect(ranges).toEqual([1, 6, 9, 9]);
    addSeq(ranges, 0);
    addSeq(ranges, 8);
    expect(ranges).toEqual([0, 6, 8, 9]);
  });

  it('behaves like a set for any insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 120 }), (seqs) => {
        const ranges: number[] = [];
        const reference = new Set<number>();
        for (const seq of seqs) {
          expect(addSeq(ranges, seq)).toBe(!reference.has(seq));
          reference.add(seq);
        }
        for (let seq = 0; seq <= 60; seq++) expect(hasSeq(ranges, seq)).toBe(reference.has(seq));
        // sorted, disjoint and not adjacent
        for (let i = 2; i < ranges.length; i += 2)
          expect(ranges[i] as number).toBeGreaterThan((ranges[i - 1] as number) + 1);
      }),
      { numRuns: 200 },
    );
  });
});
