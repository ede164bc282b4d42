// Loop and Parallel boxes show what their body holds: a block lying wholly inside
// a container's box is in its body, whether it was dragged in or the container was
// dropped (or moved) over it. A container dropped over blocks had drawn them inside
// while the file kept them top level, run on every run.
import { EDGE_Z } from './graph.js';

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

// Grow a container so a child dropped near its edge stays inside it.
export function fitParent(parent, child) {
  const p = parent.getBBox();
  const c = child.getBBox();
  const right = Math.max(p.x + p.width, c.x + c.width + 20);
  const bottom = Math.max(p.y + p.height, c.y + c.height + 20);
  if (right !== p.x + p.width || bottom !== p.y + p.height) parent.resize(right - p.x, bottom - p.y);
}
