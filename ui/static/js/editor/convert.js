// Workflow document <-> graph. Keeps the document's block and edge order so a
// save from the editor diffs as the logic change alone (layout is written last
// by the server).
import { stringifyExact } from '../exact_json.js';
import { BLOCK_H, BLOCK_W, blockMeta, CONTAINER_H, CONTAINER_W, EDGE_ATTRS, EDGE_Z } from './graph.js';

const EDGE_RE = /^\s*([a-z][a-z0-9_]*)(?:\.([A-Za-z0-9_-]+))?\s*->\s*([a-z][a-z0-9_]*)\s*$/;
// A container's `body` comes from what it holds; any other block's `body` (the HTTP
// block's raw request body) is a field like the rest and is saved as edited.
const isContainer = (types, type) => Boolean(types[type]?.container);

export function parseEdge(text) {
  const m = EDGE_RE.exec(String(text));
  return m ? { source: m[1], port: m[2] ?? null, target: m[3] } : null;
}

function childrenOf(blocks, types) {
  const parent = {};
  for (const [bid, b] of Object.entries(blocks)) {
    if (!b || typeof b !== 'object' || !isContainer(types, b.type)) continue;
    if (Array.isArray(b.body)) for (const c of b.body) parent[c] = bid;
    if (b.branches && typeof b.branches === 'object') {
      for (const list of Object.values(b.branches)) if (Array.isArray(list)) for (const c of list) parent[c] = bid;
    }
  }
  // A file whose bodies contain each other (`a` in b's body, `b` in a's) is invalid
  // and still opens: the cycle is cut so drawing it cannot recurse for ever.
  for (const id of Object.keys(parent)) {
    const seen = new Set([id]);
    for (let p = parent[id]; p !== undefined; p = parent[p]) {
      if (seen.has(p)) { delete parent[id]; break; }
      seen.add(p);
    }
  }
  return parent;
}

// Positions for blocks without a layout entry: columns by depth along edges.
function autoLayout(doc, parent) {
  const blocks = doc.blocks ?? {};
  const edges = (doc.edges ?? []).map(parseEdge).filter(Boolean);
  const depth = {};
  const ids = Object.keys(blocks);
  for (const id of ids) depth[id] = 0;
  // Longest path from the sources, in topological order (Kahn): each edge is followed
  // once. Relaxing every edge until nothing changed took one pass per block of a chain
  // whose edges are listed bottom-up, block count × edge count steps (16 million
  // for 4,000 blocks, seconds before the editor drew anything). Blocks on a cycle (an
  // invalid file, still opened) keep the depth their other inputs gave them.
  const next = {};
  const inputs = {};
  for (const id of ids) { next[id] = []; inputs[id] = 0; }
  for (const e of edges) {
    // Own keys only: an edge from a missing block `constructor` is not Object's.
    if (!Object.hasOwn(depth, e.source) || !Object.hasOwn(depth, e.target)) continue;
    if (parent[e.source] !== parent[e.target]) continue;
    next[e.source].push(e.target);
    inputs[e.target] += 1;
  }
  const ready = ids.filter((id) => inputs[id] === 0);
  for (let i = 0; i < ready.length; i += 1) {
    const id = ready[i];
    for (const t of next[id]) {
      depth[t] = Math.max(depth[t], depth[id] + 1);
      inputs[t] -= 1;
      if (inputs[t] === 0) ready.push(t);
    }
  }
  const pos = {};
  const sizes = {};
  const nesting = (id) => (parent[id] ? 1 + nesting(parent[id]) : 0);
  const scopes = [...new Set(ids.map((id) => parent[id] ?? ''))];
  // The deepest bodies first, so each container knows its size before its own scope
  // is laid out; columns as wide, and rows as tall, as what they hold (a container
  // placed like a block had top-level blocks drawn inside it, one drag from joining).
  scopes.sort((a, b) => (b ? nesting(b) + 1 : 0) - (a ? nesting(a) + 1 : 0));
  // Each scope's blocks and each column's, grouped in one pass, in document order
  // (filtering all blocks per scope, then per column, was quadratic again).
  const membersOf = new Map(scopes.map((scope) => [scope, []]));
  for (const id of ids) membersOf.get(parent[id] ?? '').push(id);
  for (const scope of scopes) {
    const size = (id) => sizes[id] ?? { w: BLOCK_W, h: BLOCK_H };
    const byColumn = new Map();
    for (const id of membersOf.get(scope)) {
      if (!byColumn.has(depth[id])) byColumn.set(depth[id], []);
      byColumn.get(depth[id]).push(id);
    }
    const columns = [...byColumn.keys()].sort((a, b) => a - b);
    let x = 0;
    let right = 0;
    let bottom = 0;
    for (const d of columns) {
      let y = 0;
      let width = BLOCK_W;
      for (const id of byColumn.get(d)) {
        pos[id] = { dx: x, dy: y };
        y += size(id).h + 40;
        width = Math.max(width, size(id).w);
        bottom = Math.max(bottom, pos[id].dy + size(id).h);
      }
      right = x + width;
      x += width + 60;
    }
    if (scope) sizes[scope] = { w: Math.max(CONTAINER_W, right + 60), h: Math.max(CONTAINER_H, bottom + 70) };
  }
  return { pos, sizes };
}

// What the canvas cannot show, so a save would drop it from the file: said to the
// user on load (main.js) instead of lost silently.
function droppedItem(what, why) {
  return { block: null, field: what.startsWith('edge') ? 'edges' : null, dropped: true, what, message: `${what} is not drawn (${why}): saving removes it from the file` };
}

const shown = (v) => (typeof v === 'string' ? v : stringifyExact(v));

// Draws the document; returns what it could not draw (see droppedItem).
export function docToGraph(graph, doc, types) {
  const blocks = doc.blocks && typeof doc.blocks === 'object' ? doc.blocks : {};
  const layout = doc.layout && typeof doc.layout === 'object' ? doc.layout : {};
  const parent = childrenOf(blocks, types);
  const { pos, sizes } = autoLayout(doc, parent);
  const nodes = {};
  // Top-level blocks laid out in a grid of columns; a container's children relative to it.
  const absolute = (id) => {
    if (Array.isArray(layout[id])) return { x: layout[id][0], y: layout[id][1], w: layout[id][2], h: layout[id][3] };
    if (parent[id]) {
      const p = absolute(parent[id]);
      return { x: p.x + 20 + pos[id].dx, y: p.y + 50 + pos[id].dy };
    }
    return { x: 40 + pos[id].dx, y: 40 + pos[id].dy };
  };
  // One fromJSON call for the whole document: far cheaper than a node at a time.
  const cells = [];
  const dropped = [];
  for (const [bid, b] of Object.entries(blocks)) {
    if (!b || typeof b !== 'object' || Array.isArray(b)) {
      dropped.push(droppedItem(`block ${bid}`, 'it is not a mapping'));
      continue;
    }
    const { type, ...rest } = b;
    const config = {};
    for (const [k, v] of Object.entries(rest)) if (!(k === 'body' && isContainer(types, type))) config[k] = v;
    const p = absolute(bid);
    const s = sizes[bid];
    nodes[bid] = blockMeta({ bid, type, config, x: p.x, y: p.y, w: p.w ?? s?.w, h: p.h ?? s?.h }, types[type]);
    // Placed by autoLayout, not by the file: remembered so a save does not write
    // a position the user never chose (the block gets one once it is moved).
    if (!Array.isArray(layout[bid])) nodes[bid].data.autoBox = boxOf(nodes[bid]);
    // Placed by the file: its entry as written, kept while the block stays there (a
    // `[40.5, 80]`, a block's own size, a container's position without one), so a
    // save that moved nothing writes it back unchanged, not rounded or resized.
    else nodes[bid].data.fileLayout = { box: boxOf(nodes[bid]), entry: layout[bid] };
    cells.push(nodes[bid]);
  }
  for (const [child, par] of Object.entries(parent)) {
    if (!nodes[par]) continue;
    if (!nodes[child]) {
      dropped.push(droppedItem(`${child} in ${par}'s body`, `no block '${child}'`));
      continue;
    }
    nodes[child].parent = par;
    (nodes[par].children ??= []).push(child);
  }
  for (const text of Array.isArray(doc.edges) ? doc.edges : []) {
    const e = parseEdge(text);
    if (!e) {
      dropped.push(droppedItem(`edge ${shown(text)}`, 'not "block[.port] -> block"'));
      continue;
    }
    const missing = [e.source, e.target].filter((b) => !nodes[b]);
    if (missing.length) {
      dropped.push(droppedItem(`edge ${shown(text).trim()}`, `no block ${missing.map((b) => `'${b}'`).join(' or ')}`));
      continue;
    }
    const port = e.port ?? 'out';
    const items = nodes[e.source].ports.items;
    if (!items.some((i) => i.id === port)) items.push({ id: port, group: 'out', attrs: { text: { text: port } } });
    cells.push({ shape: 'edge', source: { cell: e.source, port }, target: { cell: e.target, port: 'in' }, attrs: EDGE_ATTRS, zIndex: EDGE_Z });
  }
  graph.fromJSON({ cells });
  return dropped;
}

function boxOf({ x, y, width, height }) {
  return [x, y, width, height].map(Math.round).join(',');
}

function edgeText(graph, edge) {
  const src = graph.getCellById(edge.getSourceCellId());
  const tgt = graph.getCellById(edge.getTargetCellId());
  if (!src || !tgt) return null;
  const port = edge.getSourcePortId();
  const s = src.getData().bid + (port && port !== 'out' ? `.${port}` : '');
  return `${s} -> ${tgt.getData().bid}`;
}

// An edge's text as edgeText writes it, however the file spaces it.
function edgeKey(text) {
  const e = parseEdge(text);
  return e ? `${e.source}${e.port ? `.${e.port}` : ''} -> ${e.target}` : String(text).replace(/\s+/g, ' ').trim();
}

function ordered(list, previous) {
  const rank = new Map(previous.map((v, i) => [v, i]));
  return [...list].sort((a, b) => (rank.get(a) ?? 1e9) - (rank.get(b) ?? 1e9));
}

export function graphToDoc(graph, base, types) {
  const doc = {};
  for (const [k, v] of Object.entries(base ?? {})) if (!['blocks', 'edges', 'layout'].includes(k)) doc[k] = v;
  doc.version ??= 1;
  const baseBlocks = Object.keys(base?.blocks ?? {});
  const nodes = graph.getNodes();
  const byBid = new Map(nodes.map((n) => [n.getData().bid, n]));
  const blocks = {};
  const layout = {};
  for (const bid of ordered([...byBid.keys()], baseBlocks)) {
    const node = byBid.get(bid);
    const { type, config } = node.getData();
    const block = { type };
    // An empty text is a new block's required key still to fill in (palette.js), left
    // out; the file's own `text: ""` is a value (an email sent with an empty body).
    const fileBlock = base?.blocks?.[bid] ?? {};
    for (const [k, v] of Object.entries(config ?? {})) {
      if (k === 'type' || (k === 'body' && isContainer(types, type)) || v === undefined) continue;
      if (v !== '' || fileBlock[k] === '') block[k] = v;
    }
    if (isContainer(types, type)) {
      const prev = fileBlock;
      const kids = (node.getChildren() ?? []).filter((c) => c.isNode()).map((c) => c.getData().bid);
      if (block.branches && typeof block.branches === 'object') {
        const assigned = new Set();
        for (const [name, list] of Object.entries(block.branches)) {
          block.branches[name] = (Array.isArray(list) ? list : []).filter((c) => kids.includes(c));
          block.branches[name].forEach((c) => assigned.add(c));
        }
        const first = Object.keys(block.branches)[0];
        if (first) block.branches[first].push(...kids.filter((c) => !assigned.has(c)));
      } else {
        block.body = ordered(kids, Array.isArray(prev.body) ? prev.body : []);
      }
    }
    // In the file's key order (a renamed container kept `body` where it was).
    const fileKeys = Object.keys(fileBlock);
    blocks[bid] = Object.fromEntries(ordered(Object.keys(block), fileKeys).map((k) => [k, block[k]]));
    const { x, y } = node.getPosition();
    const { width, height } = node.getSize();
    const box = boxOf({ x, y, width, height });
    if (node.getData().autoBox === box) continue; // still where autoLayout put it
    const placed = node.getData().fileLayout;
    if (placed?.box === box) { layout[bid] = placed.entry; continue; } // still where the file put it
    layout[bid] = types[type]?.container ? [Math.round(x), Math.round(y), Math.round(width), Math.round(height)] : [Math.round(x), Math.round(y)];
  }
  // An entry the file has for no block (hand-written, or kept for a block coming back)
  // is the file's to keep: dropping it rewrote a file whose edits were all undone. A
  // block the file had and the canvas no longer has (deleted, renamed) loses its entry.
  for (const [key, value] of Object.entries(base?.layout ?? {})) {
    if (!byBid.has(key) && !Object.hasOwn(base?.blocks ?? {}, key)) layout[key] = value;
  }
  doc.blocks = blocks;
  // An edge the file has keeps its text and its place: `a->b` is the edge the canvas
  // calls `a -> b`, and taking it for a new one moved it last and rewrote the file's
  // whole `edges` section (its comments lost) on a save that changed no edge.
  const asWritten = new Map();
  for (const text of base?.edges ?? []) if (!asWritten.has(edgeKey(text))) asWritten.set(edgeKey(text), text);
  const edges = graph.getEdges().map((e) => edgeText(graph, e)).filter(Boolean);
  doc.edges = ordered([...new Set(edges)], [...asWritten.keys()]).map((t) => asWritten.get(t) ?? t);
  // In the file's order, new blocks last (as blocks are), so a save diffs as the move alone.
  if (Object.keys(layout).length || base?.layout) doc.layout = Object.fromEntries(ordered(Object.keys(layout), Object.keys(base?.layout ?? {})).map((k) => [k, layout[k]]));
  return doc;
}
