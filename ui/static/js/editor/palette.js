// The palette: every registered block type, dragged onto the canvas with native
// HTML5 drag-and-drop, or clicked to add it in the middle of the view. Landing
// inside a Loop/Parallel embeds the block there.
import { el } from '../api.js';
import { embedCovered, placeInside } from './containers.js';
import { addBlock, BLOCK_H, BLOCK_W, CONTAINER_H, CONTAINER_W, uniqueBid } from './graph.js';

const MIME = 'application/x-flowyard-block';
const CATEGORY_ORDER = ['trigger', 'action', 'logic', 'container'];

function defaultConfig(type, info) {
  // Required keys start empty so the properties panel shows what to fill in.
  const config = {};
  for (const key of info.required ?? []) {
    const schema = info.config_schema?.[key] ?? {};
    if (key === 'body') continue;
    config[key] = schema.default ?? '';
  }
  if (type === 'loop' && !('items' in config)) config.items = '';
  return config;
}

// onPick(type): an item clicked (or Enter / Space on it).
export function renderPalette(root, types, onPick) {
  const pick = (item, type) => { if (item.getAttribute('aria-disabled') !== 'true') onPick?.(type); };
  root.replaceChildren(el('h2', { text: 'Blocks' }));
  const groups = {};
  for (const [type, info] of Object.entries(types)) (groups[info.category] ??= []).push([type, info]);
  const cats = Object.keys(groups).sort((a, b) => CATEGORY_ORDER.indexOf(a) - CATEGORY_ORDER.indexOf(b));
  for (const cat of cats) {
    root.append(el('h3', { text: cat }));
    for (const [type, info] of groups[cat]) {
      root.append(el('div', {
        class: `palette-item cat-${cat}`,
        draggable: 'true',
        role: 'button',
        tabindex: '0',
        title: info.description || type,
        dataset: { type },
        onclick: (e) => pick(e.currentTarget, type),
        onkeydown: (e) => {
          if (e.key !== 'Enter' && e.key !== ' ') return;
          e.preventDefault();
          pick(e.currentTarget, type);
        },
        ondragstart: (e) => {
          e.dataTransfer.setData(MIME, type);
          e.dataTransfer.setData('text/plain', type);
          e.dataTransfer.effectAllowed = 'copy';
        },
      }, el('strong', { text: type }), el('small', { text: (info.description || '').split('.')[0] })));
    }
  }
}

// A file that did not load: no block may be added (see main.js: lock).
export function lockPalette(root) {
  root.classList.add('locked');
  for (const item of root.querySelectorAll('.palette-item')) {
    item.setAttribute('aria-disabled', 'true');
    item.draggable = false;
  }
}

// The innermost container under a canvas point, if any.
function containerAt(graph, point, ignore) {
  const hits = graph.getNodesFromPoint(point.x, point.y).filter((n) => n !== ignore && n.getData()?.container);
  hits.sort((a, b) => a.getBBox().width * a.getBBox().height - b.getBBox().width * b.getBBox().height);
  return hits[0] ?? null;
}

export function enableDrop(graph, canvasEl, types, onAdded) {
  canvasEl.addEventListener('dragover', (e) => {
    if ([...e.dataTransfer.types].includes(MIME) || [...e.dataTransfer.types].includes('text/plain')) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  });
  canvasEl.addEventListener('drop', (e) => {
    const type = e.dataTransfer.getData(MIME) || e.dataTransfer.getData('text/plain');
    if (!types[type]) return;
    e.preventDefault();
    const p = graph.clientToLocal(e.clientX, e.clientY);
    onAdded?.(place(graph, types, type, p.x - 40, p.y - 20));
  });
  // A click adds the block centred in what the canvas shows now (panned, zoomed).
  return (type) => {
    if (!types[type]) return;
    const r = canvasEl.getBoundingClientRect();
    const c = graph.clientToLocal(r.left + r.width / 2, r.top + r.height / 2);
    const container = !!types[type].container;
    let x = Math.round(c.x - (container ? CONTAINER_W : BLOCK_W) / 2);
    let y = Math.round(c.y - (container ? CONTAINER_H : BLOCK_H) / 2);
    // Clicked twice: the second must not hide exactly under the first.
    while (graph.getNodes().some((n) => n.getPosition().x === x && n.getPosition().y === y)) { x += 20; y += 20; }
    onAdded?.(place(graph, types, type, x, y));
  };
}

// One block of `type` at (x, y) (its top-left), embedded in the container under
// that point if any; a container takes the blocks it covers wholly (containers.js).
// One undo step.
function place(graph, types, type, x, y) {
  const info = types[type];
  const bid = uniqueBid(graph, type);
  const parent = containerAt(graph, { x: x + 40, y: y + 20 });
  graph.startBatch('drop');
  const node = addBlock(graph, { bid, type, config: defaultConfig(type, info), x, y }, info);
  if (parent) {
    parent.addChild(node);
    placeInside(parent, node);
  }
  if (info.container) embedCovered(graph, node);
  graph.stopBatch('drop');
  return node;
}
