/**
 * A binary min-heap ordered by a numeric key, ties broken by insertion order, so that
 * the fleet's schedule (which device ticks next, which held message is released next)
 * is deterministic.
 */
interface Entry<T> {
  key: number;
  order: number;
  item: T;
}

export class MinHeap<T> {
  private entries: Entry<T>[] = [];
  private counter = 0;

  get size(): number {
    return this.entries.length;
  }

  /** The smallest key, or +Infinity when empty. */
  peekKey(): number {
    return this.entries.length > 0 ? (this.entries[0] as Entry<T>).key : Number.POSITIVE_INFINITY;
  }

  push(key: number, item: T): void {
    this.entries.push({ key, order: this.counter++, item });
    this.up(this.entries.length - 1);
  }

  pop(): T | undefined {
    const entries = this.entries;
    const top = entries[0];
    if (top === undefined) return undefined;
    const last = entries.pop() as Entry<T>;
    if (entries.length > 0) {
      entries[0] = last;
      this.down(0);
    }
    return top.item;
  }

  /** The item with the smallest key (undefined when empty), left in place. */
  peek(): T | undefined {
    return this.entries[0]?.item;
  }

  /**
   * Gives the top item a new key (and a fresh tie-break order) and restores the heap:
   * a pop and a push in one sift, the fleet's per-tick operation.
   */
  replaceTop(key: number, item: T): void {
    const top = this.entries[0];
    if (top === undefined) {
      this.push(key, item);
      return;
    }
    this.entries[0] = { key, order: this.counter++, item };
    this.down(0);
  }

  private static less<T>(a: Entry<T>, b: Entry<T>): boolean {
    return a.key < b.key || (a.key === b.key && a.order < b.order);
  }

  private up(index: number): void {
    const entries = this.entries;
    const entry = entries[index] as Entry<T>;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = entries[parent] as Entry<T>;
      if (!MinHeap.less(entry, above)) break;
      entries[i] = above;
      i = parent;
    }
    entries[i] = entry;
  }

  private down(index: number): void {
    const entries = this.entries;
    const n = entries.length;
    const entry = entries[index] as Entry<T>;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && MinHeap.less(entries[right] as Entry<T>, entries[left] as Entry<T>)) child = right;
      const below = entries[child] as Entry<T>;
      if (!MinHeap.less(below, entry)) break;
      entries[i] = below;
      i = child;
    }
    entries[i] = entry;
  }
}
