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

// Grow a container so a child dropped near its edge stays inside it.
export function fitParent(parent, child) {
  const p = parent.getBBox();
  const c = child.getBBox();
  const right = Math.max(p.x + p.width, c.x + c.width + 20);
  const bottom = Math.max(p.y + p.height, c.y + c.height + 20);
  if (right !== p.x + p.width || bottom !== p.y + p.height) parent.resize(right - p.x, bottom - p.y);
}
