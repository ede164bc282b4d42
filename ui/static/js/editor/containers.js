// Loop and Parallel boxes show what their body holds: a block lying wholly inside
// a container's box is in its body, whether it was dragged in or the container was
// dropped (or moved) over it. A container dropped over blocks had drawn them inside
// while the file kept them top level, run on every run.
import { BLOCK_H, BLOCK_W, EDGE_Z } from './graph.js';

const sameParent = (a, b) => (a.getParent()?.id ?? null) === (b.getParent()?.id ?? null);

// A container held by another is drawn above it, and its own containers above it
// (below the edges: those between its blocks must show).
function drawAbove(node, z) {
  node.setZIndex(Math.min(z, EDGE_Z - 1));
  for (const child of node.getChildren() ?? []) if (child.isNode() && child.getData()?.container) drawAbove(child, z + 1);
}

// Embeds the blocks beside `container` (same parent) that its box covers wholly;
// the blocks it took, by id.
export function embedCovered(graph, container) {
  const box = container.getBBox();
  const taken = [];
  for (const node of graph.getNodes()) {
    if (node === container || !sameParent(node, container) || !box.containsRect(node.getBBox())) continue;
    container.addChild(node);
    if (node.getData()?.container) drawAbove(node, container.getZIndex() + 1);
    taken.push(node.getData()?.bid);
  }
  return taken;
}

// A parallel's `branches` typed in the panel name its blocks: those not in its box
// are moved into it (below what it holds), as dragging them in would. They had
// been left out of the saved branches without a word, which then said "branch 'b'
// has no blocks". Ids of no block, and the container's own ancestors, are left to
// the save's validation. The ids moved in.
export function embedListed(graph, container, branches) {
  if (!branches || typeof branches !== 'object' || Array.isArray(branches)) return [];
  const listed = new Set(Object.values(branches).flatMap((ids) => (Array.isArray(ids) ? ids : [])));
  const moved = [];
  for (const node of graph.getNodes()) {
    const bid = node.getData()?.bid;
    if (!listed.has(bid) || node === container || node.getParent() === container || isAncestor(node, container)) continue;
    const box = container.getBBox();
    const kids = (container.getChildren() ?? []).filter((c) => c.isNode()).map((c) => c.getBBox());
    const top = kids.length ? Math.max(...kids.map((k) => k.y + k.height)) + 30 : box.y + 50;
    node.setPosition(box.x + 20, top, { deep: true }); // a container takes what it holds along
    container.addChild(node);
    fitParent(container, node);
    moved.push(bid);
  }
  return moved;
}

function isAncestor(node, of) {
  for (let p = of.getParent(); p; p = p.getParent()) if (p === node) return true;
  return false;
}

// The least size that keeps a container's blocks inside it, 20px from its right
// and bottom edges (it is resized from its bottom-right corner); room for one
// block when empty.
export function holdingSize(container) {
  const box = container.getBBox();
  let width = BLOCK_W + 40;
  let height = BLOCK_H + 70;
  for (const child of container.getChildren() ?? []) {
    if (!child.isNode()) continue;
    const c = child.getBBox();
    width = Math.max(width, c.x + c.width + 20 - box.x);
    height = Math.max(height, c.y + c.height + 20 - box.y);
  }
  return { width, height };
}

// Grow a container so a child dropped near its edge stays inside it, `margin`
// from its right and bottom edges.
export function fitParent(parent, child, margin = 20) {
  const p = parent.getBBox();
  const c = child.getBBox();
  const right = Math.max(p.x + p.width, c.x + c.width + margin);
  const bottom = Math.max(p.y + p.height, c.y + c.height + margin);
  if (right !== p.x + p.width || bottom !== p.y + p.height) parent.resize(right - p.x, bottom - p.y);
}

// What a container keeps clear around a block dropped into it: its label (two
// lines from its top) and its ports (mid-height on its left and right edges),
// further than the 24px within which a dragged edge snaps to a port (graph.js). A
// Loop dropped near a Parallel's top-left had hidden the Parallel's label and put
// the two `in` ports 10px apart: a drag aimed at one landed on the other.
const HEADER = 50;
const PORT_CLEARANCE = 40;

// Moves a block dropped into `parent` below its label and in from its ports, and
// grows `parent` to hold it as far from its right-hand ports.
export function placeInside(parent, node) {
  const p = parent.getBBox();
  const c = node.getBBox();
  const x = Math.max(c.x, p.x + PORT_CLEARANCE);
  const y = Math.max(c.y, p.y + HEADER);
  if (x !== c.x || y !== c.y) node.setPosition(x, y, { deep: true });
  fitParent(parent, node, PORT_CLEARANCE);
}
