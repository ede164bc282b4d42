// The X6 graph: node shapes with ports, containers (loop/parallel) that embed
// blocks, history (undo/redo), selection and run-status colouring.
/* global X6 */
import { holdingSize } from './containers.js';
import { fitLabel } from './labels.js';
import { MAX_SCALE, MIN_SCALE } from './view.js';

export const BLOCK_W = 170;
export const BLOCK_H = 54;
export const CONTAINER_W = 420;
export const CONTAINER_H = 240;
// Stacking: containers at the back, then edges, then blocks on top, so a click on
// a block selects it even where an edge crosses it (and edges inside a container
// still show above its body).
const CONTAINER_Z = 1;
export const EDGE_Z = 5;
const BLOCK_Z = 10;

const COLORS = {
  trigger: '#e8f1ff', action: '#ffffff', logic: '#fff6e0', container: '#f5f0ff',
};
export const STATUS_FILL = {
  running: '#fff3bf', succeeded: '#d3f9d8', failed: '#ffc9c9', skipped: '#e9ecef', retrying: '#ffe8cc',
};

const portAttrs = {
  circle: { r: 6, magnet: true, stroke: '#5f6b7a', strokeWidth: 1.5, fill: '#fff' },
};
const PORT_GROUPS = {
  in: { position: 'left', attrs: { circle: { ...portAttrs.circle, magnet: 'passive' } } },
  out: {
    position: 'right',
    attrs: { circle: portAttrs.circle, text: { fontSize: 10, fill: '#5f6b7a' } },
    label: { position: { name: 'right', args: { x: 8 } } },
  },
};

// Ports a block offers right now: condition ports follow its `cases` config,
// any block with on_error: continue also offers `error`.
export function outPorts(type, config, typeInfo) {
  let ports = typeInfo?.ports?.length ? [...typeInfo.ports] : ['default'];
  if (type === 'condition') {
    const cases = Array.isArray(config?.cases) ? config.cases : null;
    ports = cases
      ? // as the engine: the case names, then the `else` port (named by `else:`, default "else")
        [...cases.map((c) => String(c?.name ?? '')).filter(Boolean), String(config.else ?? 'else')]
      : ['true', 'false'];
  }
  ports = ports.map((p) => (p === 'default' ? 'out' : p));
  if (config?.on_error === 'continue' && !ports.includes('error')) ports.push('error');
  return ports;
}

// One out port, labelled with its name (but the plain `out`).
export function portItem(id) {
  return { id, group: 'out', attrs: { text: { text: id === 'out' ? '' : id } } };
}

function portItems(ports, hasIn) {
  return [...(hasIn ? [{ id: 'in', group: 'in' }] : []), ...ports.map(portItem)];
}

export function createGraph(container) {
  X6.Config.autoInsertCSS = false; // x6.css is a static file: the CSP forbids inline <style>
  const graph = new X6.Graph({
    container,
    autoResize: true,
    async: false, // one synchronous draw on load beats X6's frame-sliced batches here
    grid: { size: 10, visible: true },
    panning: { enabled: true, eventTypes: ['leftMouseDown', 'rightMouseDown'] }, // drag the blank canvas to pan
    mousewheel: { enabled: true, modifiers: ['ctrl', 'meta'], minScale: MIN_SCALE, maxScale: MAX_SCALE },
    connecting: {
      snap: { radius: 24 },
      allowBlank: false,
      allowLoop: false,
      allowNode: false,
      allowEdge: false,
      allowMulti: false,
      highlight: true,
      router: { name: 'normal' },
      connector: { name: 'smooth' },
      createEdge() {
        return this.createEdge({
          shape: 'edge',
          attrs: EDGE_ATTRS,
          zIndex: EDGE_Z,
        });
      },
      validateConnection({ sourcePort, targetPort, sourceCell, targetCell }) {
        return targetPort === 'in' && sourcePort !== 'in' && sourceCell !== targetCell;
      },
    },
    embedding: {
      enabled: true,
      // A block goes into a container wholly inside its box, and stays in its own
      // while its centre is inside (the container then grows to hold it: main.js,
      // fitParent): dragged near the edge it had left the body.
      findParent({ node }) {
        const box = node.getBBox();
        const own = node.getParent();
        return this.getNodes().filter((n) => n !== node && n.getData()?.container
          && (n.getBBox().containsRect(box) || (n === own && n.getBBox().containsPoint(box.getCenter()))));
      },
    },
    highlighting: {
      embedding: { name: 'stroke', args: { padding: -1, attrs: { stroke: '#2f9e44', 'stroke-width': 3 } } },
      magnetAvailable: { name: 'stroke', args: { attrs: { stroke: '#1971c2', 'stroke-width': 2 } } },
    },
  });
  // The UMD build drops the plugins' Graph.prototype helpers (graph.undo() etc.),
  // so the editor talks to the plugin instances, kept on graph.fy.
  const history = new X6.History({ enabled: true, beforeAddCommand: (_e, args) => !args?.options?.ignoreHistory });
  const selection = new X6.Selection({ enabled: true, multiple: true, rubberband: false, showNodeSelectionBox: false });
  const keyboard = new X6.Keyboard({ enabled: true, global: false });
  graph.use(history);
  graph.use(selection);
  graph.use(new X6.Snapline({ enabled: true }));
  graph.use(keyboard);
  graph.use(resizingContainers());
  // The keyboard plugin only focuses the canvas on a click; the keys are keys.js's.
  graph.fy = { history, selection, keyboard };
  return graph;
}

// A Loop or Parallel is resized from its bottom-right corner (the other handles
// are hidden: app.css; the right one would cover its `out` port), never smaller
// than what it holds. One undo step (X6 batches the resize).
function resizingContainers() {
  return new X6.Transform({
    resizing: {
      enabled: (node) => !!node.getData()?.container,
      minWidth: (node) => holdingSize(node).width,
      minHeight: (node) => holdingSize(node).height,
      allowReverse: false, // dragged past its top-left, it had flipped over
    },
  });
}

// Removing a block removes its edges too: one undo step brings all of them back
// (each edge had been a step of its own, and one Undo restored a block unwired).
// A container goes with what it holds, nested containers included, as in n8n and
// Sim: its blocks had stayed behind as unconnected top-level blocks, run on every
// run. Innermost first, so Undo adds each container back before its blocks.
export function removeAsOneStep(graph, cells) {
  if (!cells.length) return;
  const all = new Set();
  const add = (cell) => {
    if (all.has(cell)) return;
    for (const child of cell.getChildren() ?? []) add(child);
    all.add(cell);
  };
  cells.forEach(add);
  graph.startBatch('remove');
  graph.removeCells([...all]);
  graph.stopBatch('remove');
}

// A block's `name` (its display name, when set) above its id and type; clipped to
// what fits the block's width.
const NAME_CHARS = 24;
export function labelFor(bid, type, name) {
  const shown = typeof name === 'string' ? name.trim().replace(/\s+/g, ' ') : '';
  if (!shown) return `${bid}\n${type}`;
  const clipped = shown.length > NAME_CHARS ? `${shown.slice(0, NAME_CHARS - 1)}…` : shown;
  return `${clipped}\n${bid} · ${type}`;
}

// The label clipped to the block's width, and its whole id, type and name as the
// block's tooltip (X6's `title` attribute: an SVG <title> in the block's body; the
// label lets the pointer through to it).
function labelAttrs(bid, type, name, width, container) {
  const text = fitLabel(labelFor(bid, type, name), width, container ? 600 : 400);
  const named = typeof name === 'string' && name.trim() ? `${name.trim()} — ` : '';
  return { text, title: `${named}${bid} · ${type}` };
}

// The label follows the block's data, whoever changes it (the panel, Undo, Redo).
export function relabel(node) {
  const { bid, type, config, container } = node.getData() ?? {};
  const { text, title } = labelAttrs(bid, type, config?.name, node.getSize().width, container);
  if (node.attr('label/text') !== text) node.attr('label/text', text, { ignoreHistory: true });
  if (node.attr('body/title') !== title) node.attr('body/title', title, { ignoreHistory: true });
}

// One block on the canvas. The X6 cell id is the block id at creation; the block
// id proper lives in data.bid so renaming never rewires edges.
// The X6 metadata of one block (used by addBlock, and in bulk when loading).
export function blockMeta({ bid, type, config, x, y, w, h }, typeInfo) {
  const container = !!typeInfo?.container;
  const category = typeInfo?.category ?? 'action';
  const hasIn = category !== 'trigger';
  const width = w ?? (container ? CONTAINER_W : BLOCK_W);
  const label = labelAttrs(bid, type, config?.name, width, container);
  return {
    id: bid,
    shape: 'rect',
    x, y,
    width,
    height: h ?? (container ? CONTAINER_H : BLOCK_H),
    zIndex: container ? CONTAINER_Z : BLOCK_Z,
    attrs: {
      body: {
        title: label.title,
        tabindex: 0, // a Tab stop: keyboard-only use reaches every block (keys.js)
        fill: COLORS[category] ?? '#fff', stroke: '#5f6b7a', strokeWidth: 1.2, rx: 6, ry: 6,
        ...(container ? { strokeDasharray: '6 3' } : {}),
      },
      label: container
        ? { text: label.text, pointerEvents: 'none', refX: 10, refY: 10, textAnchor: 'start', textVerticalAnchor: 'top', fontSize: 12, fontWeight: 600 }
        : { text: label.text, pointerEvents: 'none', fontSize: 12 },
    },
    ports: { groups: PORT_GROUPS, items: portItems(outPorts(type, config, typeInfo), hasIn) },
    data: { bid, type, config: config ?? {}, container },
  };
}

export function addBlock(graph, spec, typeInfo) {
  const meta = blockMeta(spec, typeInfo);
  if (graph.getCellById(meta.id)) delete meta.id; // a renamed block kept the old cell id
  return graph.addNode(meta);
}

export const EDGE_ATTRS = { line: { stroke: '#5f6b7a', strokeWidth: 1.6, targetMarker: { name: 'classic', size: 7 } } };

export function findByBid(graph, bid) {
  return graph.getNodes().find((n) => n.getData()?.bid === bid) ?? null;
}

// Names no block the editor adds may get (the user may still type one, and is told
// why it is refused): the reference roots (engine/schema.py RESERVED_IDS), and what a
// loop's body, or a parallel's over items, reads before any block
// (engine/validate_keys.py hidden_block_problems) — a palette loop named `loop` was
// refused as soon as another loop followed it.
const NOT_DEFAULT_IDS = new Set(['input', 'env', 'workflow', 'loop', 'state', 'item']);

export function uniqueBid(graph, base) {
  const clean = String(base).toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '') || 'block';
  const taken = new Set(graph.getNodes().map((n) => n.getData()?.bid));
  const free = (c) => !taken.has(c) && !graph.getCellById(c);
  if (!NOT_DEFAULT_IDS.has(clean) && free(clean)) return clean;
  for (let i = NOT_DEFAULT_IDS.has(clean) ? 1 : 2; ; i += 1) {
    const c = `${clean}_${i}`;
    if (free(c)) return c;
  }
}

// The selected block gets a blue outline (X6's selection box would sit on top of
// the ports and swallow the drag that starts an edge).
export function markSelected(node, selected) {
  if (!node || node.getData()?.invalid) return;
  node.attr('body/stroke', selected ? '#1971c2' : '#5f6b7a', { ignoreHistory: true });
  node.attr('body/strokeWidth', selected ? 2.5 : 1.2, { ignoreHistory: true });
}

export function setStatus(node, status) {
  if (!node) return;
  const fill = STATUS_FILL[status];
  if (!node.getData()?.baseFill) node.setData({ baseFill: node.attr('body/fill') }, { silent: true, ignoreHistory: true });
  node.attr('body/fill', fill ?? node.getData().baseFill, { ignoreHistory: true });
  node.attr('body/data-status', status ?? '', { ignoreHistory: true });
}
