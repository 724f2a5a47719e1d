import { describe, expect, it } from 'vitest';
import { MinHeap } from './heap.ts';
import { createRng } from './rng.ts';

describe('the min-heap', () => {
  it('pops in key order, ties in insertion order, whatever mix of push, pop and replaceTop', () => {
    const rng = createRng(1);
    const heap = new MinHeap<number>();
    const reference: { key: number; order: number; item: number }[] = [];
    let order = 0;
    const popped: number[] = [];
    const expected: number[] = [];
    const takeReference = () => {
      reference.sort((a, b) => a.key - b.key || a.order - b.order);
      return reference.shift();
    };
    for (let i = 0; i < 5_000; i++) {
      const op = rng.int(3);
      const key = rng.int(50);
      if (op === 0 || heap.size === 0) {
        heap.push(key, i);
        reference.push({ key, order: order++, item: i });
      } else if (op === 1) {
        popped.push(heap.pop() as number);
        expected.push((takeReference() as { item: number }).item);
      } else {
        const top = takeReference() as { item: number };
        expect(heap.peek()).toBe(top.item);
        heap.replaceTop(key, top.item);
        reference.push({ key, order: order++, item: top.item });
      }
      expect(heap.size).toBe(reference.length);
    }
    while (heap.size > 0) {
      popped.push(heap.pop() as number);
      expected.push((takeReference() as { item: number }).item);
    }
    expect(popped).toEqual(expected);
    expect(heap.peekKey()).toBe(Number.POSITIVE_INFINITY);
  });
});
