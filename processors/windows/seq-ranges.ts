/**
 * A set of non-negative integers stored as sorted, disjoint, inclusive ranges flattened
 * into one array: [lo0, hi0, lo1, hi1, …]. It is the dedup memory of a window: a
 * device numbers its events with a `seq` that grows by one per new event and that a
 * resend repeats, so the seqs of one device in one window collapse into one or a few
 * ranges — a few numbers instead of one eventId string per event.
 */

/** Adds `seq`; returns false if it was already present (a duplicate). */
export function addSeq(ranges: number[], seq: number): boolean {
  const n = ranges.length;
  if (n === 0) {
    ranges.push(seq, seq);
    return true;
  }
  const lastHi = ranges[n - 1] as number;
  // Fast paths: in-order events extend or follow the last range.
  if (seq === lastHi + 1) {
    ranges[n - 1] = seq;
    return true;
  }
  if (seq > lastHi + 1) {
    ranges.push(seq, seq);
    return true;
  }
  // Binary search for the first range whose hi >= seq (exists, since seq <= lastHi).
  let lo = 0;
  let hi = n / 2 - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ranges[2 * mid + 1] as number) < seq) lo = mid + 1;
    else hi = mid;
  }
  const start = ranges[2 * lo] as number;
  if (seq >= start) return false;
  const joinsNext = seq === start - 1;
  const joinsPrev = lo > 0 && ranges[2 * lo - 1] === seq - 1;
  if (joinsPrev && joinsNext) {
    ranges[2 * lo - 1] = ranges[2 * lo + 1] as number;
    ranges.splice(2 * lo, 2);
  } else if (joinsPrev) {
    ranges[2 * lo - 1] = seq;
  } else if (joinsNext) {
    ranges[2 * lo] = seq;
  } else {
    ranges.splice(2 * lo, 0, seq, seq);
  }
  return true;
}

export function hasSeq(ranges: readonly number[], seq: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (seq < (ranges[i] as number)) return false;
    if (seq <= (ranges[i + 1] as number)) return true;
  }
  return false;
}
