// Types of labels.js for the unit test (query/dashboard/labels.test.ts); the page imports the JS.
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface Candidate extends Box {
  id: string;
  priority: number;
}
export function overlaps(a: Box, b: Box): boolean;
export function placeLabels(
  candidates: readonly Candidate[],
  view: { width: number; height: number; gap?: number; cell?: number; reserved?: readonly Box[] },
): (Box & { id: string })[];
