/**
 * Label placement for the map, pure: labels that do not overlap. Candidates come with a
 * priority (higher first: the selected device, sites, then cities by population) and an
 * anchor point in screen pixels; each is tried at a few positions around its anchor
 * (right, left, above, below) and kept at the first one that overlaps neither a kept
 * label nor a reserved box (markers) and lies inside the viewport. Greedy in priority
 * order, so an important label is never pushed out by a lesser one. A uniform grid of
 * buckets keeps the overlap test near-linear for the few hundred labels of a view.
 */

/** Offsets of the positions tried around the anchor, in order (gap: pixels from the anchor). */
function positions(width, height, gap) {
  return [
    { dx: gap, dy: -height / 2 }, // right
    { dx: -gap - width, dy: -height / 2 }, // left
    { dx: -width / 2, dy: -gap - height }, // above
    { dx: -width / 2, dy: gap }, // below
  ];
}

export function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * @param {{id: string, x: number, y: number, width: number, height: number, priority: number}[]} candidates
 * @param {{width: number, height: number, gap?: number, cell?: number, reserved?: {x: number, y: number, width: number, height: number}[]}} view
 * @returns {{id: string, x: number, y: number, width: number, height: number}[]} the kept labels' boxes (top-left corner)
 */
export function placeLabels(candidates, view) {
  // More than half a device marker (14 px and its border): a label never sits on its own marker.
  const gap = view.gap ?? 10;
  const cell = view.cell ?? 64;
  const grid = new Map();
  const cellsOf = (box) => {
    const keys = [];
    for (let cx = Math.floor(box.x / cell); cx <= Math.floor((box.x + box.width) / cell); cx++)
      for (let cy = Math.floor(box.y / cell); cy <= Math.floor((box.y + box.height) / cell); cy++)
        keys.push(`${cx}:${cy}`);
    return keys;
  };
  const add = (box) => {
    for (const key of cellsOf(box)) {
      const list = grid.get(key) ?? [];
      list.push(box);
      grid.set(key, list);
    }
  };
  const free = (box) =>
    cellsOf(box).every((key) => (grid.get(key) ?? []).every((other) => !overlaps(box, other)));
  for (const box of view.reserved ?? []) add(box);
  const kept = [];
  const ordered = [...candidates].sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  for (const c of ordered) {
    for (const { dx, dy } of positions(c.width, c.height, gap)) {
      const box = { id: c.id, x: c.x + dx, y: c.y + dy, width: c.width, height: c.height };
      const inside =
        box.x >= 0 && box.y >= 0 && box.x + box.width <= view.width && box.y + box.height <= view.height;
      if (inside && free(box)) {
        add(box);
        kept.push(box);
        break;
      }
    }
  }
  return kept;
}
